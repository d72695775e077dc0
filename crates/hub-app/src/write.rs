//! One write, start to finish: claim the idempotency key, call the port, dead-letter a
//! failure, store the answer for repeats, answer.

use hub_core::{
    CallContext, Claim, ClaimToken, CommentLookup, Delivery, DlqStatus, IdempotencyKey, IdempotencyStore,
    StoredResponse,
};
use tracing::Instrument as _;

use crate::answer::{Failed, Failure, WriteAnswer};
use crate::dead_letter;
use crate::fingerprint::{self, KeySource};
use crate::hub::Hub;
use crate::operation::{WriteOp, Written};

/// What becomes of the idempotency claim once the write is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    /// Store the answer: repeats get it again.
    Complete,
    /// Forget the claim: the write provably did nothing, the key may be used again.
    Release,
    /// Leave the claim to lapse: the outcome is unknown and nothing durable records it.
    Leave,
}

/// An answer and what it does to the claim.
struct Decided {
    answer: WriteAnswer,
    disposition: Disposition,
}

/// One write to run: who asks, with which key, for what.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    /// The request's context (its id, conversation); the key is added to it.
    pub ctx: CallContext,
    /// The caller's name (a key is bound to its caller); `None` when the hub runs without callers.
    pub caller: Option<String>,
    /// The caller's key, or one the hub derived.
    pub key: KeySource,
    /// The write.
    pub op: WriteOp,
}

impl Hub {
    /// Runs `request` as one idempotent write and answers.
    ///
    /// The write runs in a task of its own, so a caller that goes away mid-write cannot
    /// cut it short between the upstream call and the dead-letter queue or the key's
    /// record. Beyond `max_write_tasks` running writes, it is refused unsent.
    pub async fn write(&self, request: WriteRequest) -> WriteAnswer {
        let operation = request.op.operation();
        let rid = request.ctx.request_id.as_str().to_owned();
        let Ok(slot) = self.write_slots.clone().try_acquire_owned() else {
            metrics::counter!("integration_writes_refused_total").increment(1);
            return self.failed(&Failure::Overloaded, operation, &rid).answer;
        };
        let hub = self.clone();
        // The task carries the use case's span: the upstream calls are its children.
        let span = crate::spans::use_case(operation.as_str());
        let task = self.spawn_in_trace(
            async move {
                let answer = hub.run(request).await;
                drop(slot);
                tracing::Span::current().record("hub.idempotency.replayed", answer.replayed);
                answer
            }
            .instrument(span),
        );
        match task.await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::error!(error = %e, "the write task failed");
                self.failed(&Failure::Internal, operation, &rid).answer
            }
        }
    }

    async fn run(&self, request: WriteRequest) -> WriteAnswer {
        let WriteRequest { ctx, caller, key, op } = request;
        let ctx = ctx.with_idempotency_key(key.key().clone());
        let caller = caller.as_deref();
        match &key {
            KeySource::Derived(_) => self.finish(&ctx, &op, caller, None, None).await,
            KeySource::Client(k) => {
                let fingerprint = fingerprint::of_write(&op, caller);
                let failure = match self
                    .services
                    .idempotency
                    .claim(k, &fingerprint, self.settings.idempotency_lease)
                    .await
                {
                    Ok(Claim::Acquired(token)) => return self.finish(&ctx, &op, caller, Some((k, token)), None).await,
                    Ok(Claim::TakenOver(token)) => {
                        let earlier = self.after_takeover(&ctx, &op, caller).await;
                        return self.finish(&ctx, &op, caller, Some((k, token)), Some(earlier)).await;
                    }
                    Ok(Claim::Completed(stored)) => {
                        let operation = op.operation();
                        metrics::counter!("integration_idempotent_replays_total",
                            "adapter" => operation.adapter().as_str(), "operation" => operation.as_str())
                        .increment(1);
                        return self.follow_dead_letter(&op, &ctx, stored).await;
                    }
                    // Nothing was sent: the caller retries with the same key, or later.
                    Err(e) => Failure::KeysUnavailable(e),
                    Ok(Claim::InFlight) => Failure::InFlight,
                    Ok(Claim::Mismatch) => Failure::Mismatch,
                };
                self.failed(&failure, op.operation(), ctx.request_id.as_str()).answer
            }
        }
    }

    /// Sends the write unless the earlier request's outcome decided the answer, then
    /// records the outcome for the held claim.
    async fn finish(
        &self,
        ctx: &CallContext,
        op: &WriteOp,
        caller: Option<&str>,
        held: Option<(&IdempotencyKey, ClaimToken)>,
        earlier: Option<Option<Decided>>,
    ) -> WriteAnswer {
        let decided = match earlier {
            Some(Some(decided)) => decided,
            Some(None) | None => self.perform(ctx, op, caller).await,
        };
        if let Some((k, token)) = held {
            record_outcome(self.services.idempotency.as_ref(), k, &token, &decided).await;
        }
        decided.answer
    }

    /// A key's stored answer, or — when that answer dead-lettered the write — what became
    /// of the entry since: still pending, the stored failure without its invitation to
    /// retry (the supervisor holds the write); replayed, the replay's result as a success;
    /// discarded, a conflict with the supervisor's reason. Always a repeat.
    async fn follow_dead_letter(&self, op: &WriteOp, ctx: &CallContext, stored: StoredResponse) -> WriteAnswer {
        let repeat = |response| WriteAnswer {
            response,
            retry_after_s: None,
            replayed: true,
        };
        let Some(id) = self.format.dead_letter_of(&stored) else {
            return repeat(stored);
        };
        // The entry is gone (pruned) or the store cannot say: the stored answer stands.
        let Ok(Some(entry)) = self.services.dlq.get(&id).await else {
            return repeat(stored);
        };
        match entry.status {
            DlqStatus::Pending => repeat(self.format.held(stored)),
            DlqStatus::Replayed => {
                let body = entry.result.unwrap_or_default();
                repeat(self.format.success(op.operation(), &body))
            }
            DlqStatus::Discarded => {
                let failure = Failure::Discarded {
                    dlq_id: id,
                    reason: entry.reason,
                };
                repeat(
                    self.failed(&failure, op.operation(), ctx.request_id.as_str())
                        .answer
                        .response,
                )
            }
        }
    }

    /// After taking over a lapsed claim: the first request may have taken effect. Keyed
    /// upstreams deduplicate a resend (`None`: send). A comment is looked for upstream:
    /// found, it is the answer; absent, it is sent. Where nothing can be checked, nothing
    /// is sent: the write goes to the supervisor as `outcome_unknown`.
    async fn after_takeover(&self, ctx: &CallContext, op: &WriteOp, caller: Option<&str>) -> Option<Decided> {
        let operation = op.operation();
        metrics::counter!("integration_idempotency_takeovers_total",
            "adapter" => operation.adapter().as_str(), "operation" => operation.as_str())
        .increment(1);
        let rid = ctx.request_id.as_str();
        let safe = match op {
            WriteOp::AddComment { ticket_id, .. } => match self.ports.ticketing.find_comment(ctx, ticket_id).await {
                Ok(CommentLookup::Found(found)) => return Some(self.succeeded(op, &Written::Comment(found))),
                Ok(CommentLookup::Absent | CommentLookup::KeyHonoured) => true,
                Ok(CommentLookup::Uncheckable) => false,
                // Cannot look now: answer the failure and leave the claim to lapse again.
                Err(error) => return Some(self.failed(&Failure::Upstream { error, dlq_id: None }, operation, rid)),
            },
            other => other.resend_is_safe(&self.ports),
        };
        if safe {
            return None;
        }
        Some(
            match dead_letter::enqueue_outcome_unknown(self, ctx, op, caller).await {
                Ok(entry) => {
                    let mut decided = self.failed(&Failure::OutcomeUnknown { dlq_id: entry.id }, operation, rid);
                    decided.disposition = Disposition::Complete;
                    decided
                }
                Err(e) => self.failed(&Failure::DeadLettersUnavailable(e), operation, rid),
            },
        )
    }

    async fn perform(&self, ctx: &CallContext, op: &WriteOp, caller: Option<&str>) -> Decided {
        let operation = op.operation();
        let rid = ctx.request_id.as_str();
        let error = match op.call(&self.ports, ctx).await {
            Ok(written) => return self.succeeded(op, &written),
            Err(error) => error,
        };
        if error.delivery() == Delivery::Applied {
            // The upstream did it; only its answer is unusable. Never sent again, never
            // dead-lettered: the answer is kept for the key, and a person reconciles it.
            tracing::error!(
                adapter = operation.adapter().as_str(),
                operation = operation.as_str(),
                request_id = rid,
                error = %error,
                "a write took effect but its answer could not be read; reconcile it with the upstream"
            );
            self.supervisor.record(operation, dead_letter::APPLIED_UNREADABLE, None);
            let mut decided = self.failed(&Failure::Upstream { error, dlq_id: None }, operation, rid);
            decided.disposition = Disposition::Complete;
            return decided;
        }
        if dead_letter::should_dead_letter(&error) {
            // A write that may have landed at an upstream that would not deduplicate a
            // resend, and that cannot be checked: its replay must be forced.
            let unknown = error.delivery() == Delivery::Unknown && !op.resend_is_safe(&self.ports);
            let stored = if unknown {
                dead_letter::enqueue_outcome_unknown(self, ctx, op, caller).await
            } else {
                dead_letter::enqueue(self, ctx, op, &error, caller).await
            };
            return match stored {
                Ok(entry) => {
                    let failure = Failure::Upstream {
                        error,
                        dlq_id: Some(entry.id),
                    };
                    let mut decided = self.failed(&failure, operation, rid);
                    decided.disposition = Disposition::Complete;
                    decided
                }
                Err(store_err) => {
                    tracing::error!(error = %store_err, error_code = error.code(), "a failed write could not be dead-lettered");
                    self.failed(&Failure::NotKept { error }, operation, rid)
                }
            };
        }
        let disposition = if error.delivery() == Delivery::NotSent {
            Disposition::Release
        } else {
            Disposition::Complete
        };
        let mut decided = self.failed(&Failure::Upstream { error, dlq_id: None }, operation, rid);
        decided.disposition = disposition;
        decided
    }

    fn succeeded(&self, op: &WriteOp, written: &Written) -> Decided {
        let body = self.format.body(written);
        Decided {
            answer: WriteAnswer {
                response: self.format.success(op.operation(), &body),
                retry_after_s: None,
                replayed: false,
            },
            disposition: Disposition::Complete,
        }
    }

    /// The answer to `failure`, leaving the claim to lapse unless the caller says otherwise.
    fn failed(&self, failure: &Failure, operation: hub_core::Operation, request_id: &str) -> Decided {
        let rendered = self.format.failure(&Failed {
            failure,
            operation,
            request_id,
        });
        Decided {
            answer: WriteAnswer {
                response: rendered.response,
                retry_after_s: rendered.retry_after_s,
                replayed: false,
            },
            disposition: Disposition::Leave,
        }
    }
}

/// Pauses between attempts to record a claim's outcome: a database blip must not leave
/// a finished write's key in flight (its lease would lapse into a takeover).
const RECORD_RETRY_DELAYS: [std::time::Duration; 3] = [
    std::time::Duration::from_millis(50),
    std::time::Duration::from_millis(250),
    std::time::Duration::from_millis(1000),
];

/// Completes or releases the claim `token` of `key` as `decided` says, retrying a store
/// that is briefly unavailable; a holder whose claim was taken over records nothing.
async fn record_outcome(store: &dyn IdempotencyStore, key: &IdempotencyKey, token: &ClaimToken, decided: &Decided) {
    let mut delays = RECORD_RETRY_DELAYS.iter();
    loop {
        let outcome = match decided.disposition {
            Disposition::Complete => store.complete(key, token, &decided.answer.response).await,
            Disposition::Release => store.release(key, token).await,
            Disposition::Leave => Ok(()),
        };
        match outcome {
            Ok(()) => return,
            Err(e) if e.is_transient() && delays.len() > 0 => {
                if let Some(delay) = delays.next() {
                    tokio::time::sleep(*delay).await;
                }
            }
            Err(e) => {
                // The key stays in flight until its lease lapses; the next claim is then a
                // takeover, which finds out what this write did before sending anything.
                metrics::counter!("integration_idempotency_record_failures_total").increment(1);
                tracing::error!(error = %e, "could not record the idempotency outcome");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
