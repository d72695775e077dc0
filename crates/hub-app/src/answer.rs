//! What a write answers: its outcome in the hub's terms, and the port through which the
//! shell (the HTTP API) writes an outcome as the bytes it stores and sends, so a repeat
//! of the key answers the same bytes.

mod plain;

use hub_core::{DlqId, Error, Operation, StoreError, StoredResponse};

pub use self::plain::PlainAnswers;
use crate::operation::Written;

/// Why a write was not done (or not done now).
#[derive(Debug)]
pub enum Failure {
    /// The hub runs as many writes as it allows; nothing was claimed or sent.
    Overloaded,
    /// The idempotency store failed before anything was sent.
    KeysUnavailable(StoreError),
    /// The key's first request is still running.
    InFlight,
    /// The key was used for a different request (caller, operation, ids or body).
    Mismatch,
    /// The upstream failed or refused; `dlq_id` when the write was dead-lettered.
    Upstream {
        /// What the adapter reported.
        error: Error,
        /// The entry that keeps it for replay.
        dlq_id: Option<DlqId>,
    },
    /// A lapsed claim's first request may have taken effect where the upstream can
    /// neither deduplicate nor be asked: nothing was sent, the supervisor decides.
    OutcomeUnknown {
        /// The entry that holds it.
        dlq_id: DlqId,
    },
    /// The write failed and could not be dead-lettered; the caller retries with its key.
    NotKept {
        /// The write's own failure.
        error: Error,
    },
    /// The dead-letter queue failed while recording an unknown outcome.
    DeadLettersUnavailable(StoreError),
    /// The write was dead-lettered and the supervisor discarded it.
    Discarded {
        /// The entry.
        dlq_id: DlqId,
        /// The supervisor's reason.
        reason: Option<String>,
    },
    /// The write's task ended without an answer (a bug or a panic).
    Internal,
}

/// A failure with what it was about, for the shell to write.
#[derive(Debug)]
pub struct Failed<'a> {
    /// What went wrong.
    pub failure: &'a Failure,
    /// The write's operation.
    pub operation: Operation,
    /// The request that failed.
    pub request_id: &'a str,
}

/// A written answer and the seconds a caller should wait before trying again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Status, content type and body.
    pub response: StoredResponse,
    /// `Retry-After`, when the caller is invited to retry.
    pub retry_after_s: Option<u64>,
}

/// How the shell writes answers. The HTTP API writes JSON bodies and RFC 9457 problems.
pub trait AnswerFormat: Send + Sync {
    /// The body of a successful write (also what a replayed dead letter's result holds).
    fn body(&self, written: &Written) -> serde_json::Value;
    /// The answer to a successful `operation` whose body is `body`.
    fn success(&self, operation: Operation, body: &serde_json::Value) -> StoredResponse;
    /// The answer to a failure.
    fn failure(&self, failed: &Failed<'_>) -> Rendered;
    /// The dead-letter entry a stored failure names, if any.
    fn dead_letter_of(&self, stored: &StoredResponse) -> Option<DlqId>;
    /// A stored failure without its invitation to retry (the supervisor holds the write).
    fn held(&self, stored: StoredResponse) -> StoredResponse;
}

/// What the caller is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteAnswer {
    /// Status, content type and body.
    pub response: StoredResponse,
    /// `Retry-After`, when the caller is invited to retry.
    pub retry_after_s: Option<u64>,
    /// The answer repeats one stored for the key (`Idempotent-Replayed`).
    pub replayed: bool,
}
