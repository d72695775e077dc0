//! The ledger: every request the systems received and every effect they had, for tests to assert on.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::sync::futures::Notified;

use crate::faults::FaultKind;
use crate::system::System;

tokio::task_local! {
    /// The `X-Request-Id` of the request a system route is running for; the intercept
    /// middleware sets it around the route, and effects recorded inside carry it.
    pub(crate) static REQUEST_ID: Option<String>;
}

/// The request id of the route running in this task, if any.
pub(crate) fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok().flatten()
}

/// One request a simulated system received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Order of arrival in the ledger (shared with effects).
    pub seq: u64,
    /// When it was answered (simulated time).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The system.
    pub system: System,
    /// HTTP method.
    pub method: String,
    /// Path and query as received, prefix included.
    pub path: String,
    /// The matched route template relative to the prefix (`/api/v2/tickets/{id}`), or the path.
    pub route: String,
    /// Status answered; `None` when the connection was closed without an answer.
    pub status: Option<u16>,
    /// The `Idempotency-Key` header, if sent.
    pub idempotency_key: Option<String>,
    /// The `X-Request-Id` header, if sent (a hub sends its request id with every call).
    #[serde(default)]
    pub request_id: Option<String>,
    /// The W3C `traceparent` header, if sent (a hub with tracing on sends one per attempt).
    #[serde(default)]
    pub traceparent: Option<String>,
    /// The fault that took over the answer, if any.
    pub fault: Option<FaultKind>,
}

/// What kind of change a request made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectKind {
    /// A ticket or issue was created.
    TicketCreated,
    /// A comment was added to a ticket or issue.
    CommentAdded,
    /// A sales draft was created.
    DraftCreated,
    /// A sales draft was committed into a transaction.
    DraftCommitted,
    /// A sales draft was cancelled.
    DraftCancelled,
}

/// One change a request made, with the idempotency key it came with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectRecord {
    /// Order in the ledger (shared with requests).
    pub seq: u64,
    /// When (simulated time).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The system.
    pub system: System,
    /// What happened.
    pub kind: EffectKind,
    /// The id of what was created or changed (ticket, comment, draft).
    pub id: String,
    /// A related id: the ticket of a comment, the transaction a commit made.
    pub related: Option<String>,
    /// The `Idempotency-Key` the request carried.
    pub idempotency_key: Option<String>,
    /// The `X-Request-Id` the request carried: ties an effect to the caller's request even
    /// where the system ignores idempotency keys.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// Which request records to return; every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFilter {
    /// Only this system.
    pub system: Option<System>,
    /// Only this method (case-insensitive).
    pub method: Option<String>,
    /// Only paths starting with this (prefix included, e.g. `/sales/transactions/drafts`).
    pub path_prefix: Option<String>,
    /// Only this route template.
    pub route: Option<String>,
    /// Only this status.
    pub status: Option<u16>,
    /// Only this idempotency key.
    pub idempotency_key: Option<String>,
    /// Only this request id.
    pub request_id: Option<String>,
}

impl RequestFilter {
    fn matches(&self, r: &RequestRecord) -> bool {
        self.system.is_none_or(|s| s == r.system)
            && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(&r.method))
            && self.path_prefix.as_deref().is_none_or(|p| r.path.starts_with(p))
            && self.route.as_deref().is_none_or(|p| p == r.route)
            && self.status.is_none_or(|s| Some(s) == r.status)
            && self
                .idempotency_key
                .as_deref()
                .is_none_or(|k| Some(k) == r.idempotency_key.as_deref())
            && self
                .request_id
                .as_deref()
                .is_none_or(|k| Some(k) == r.request_id.as_deref())
    }
}

/// Which effect records to return; every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectFilter {
    /// Only this system.
    pub system: Option<System>,
    /// Only this kind.
    pub kind: Option<EffectKind>,
    /// Only this id.
    pub id: Option<String>,
    /// Only this idempotency key.
    pub idempotency_key: Option<String>,
    /// Only this request id.
    pub request_id: Option<String>,
}

impl EffectFilter {
    /// Effects of one kind.
    pub fn kind(kind: EffectKind) -> Self {
        Self {
            kind: Some(kind),
            ..Self::default()
        }
    }

    fn matches(&self, e: &EffectRecord) -> bool {
        self.system.is_none_or(|s| s == e.system)
            && self.kind.is_none_or(|k| k == e.kind)
            && self.id.as_deref().is_none_or(|i| i == e.id)
            && self
                .idempotency_key
                .as_deref()
                .is_none_or(|k| Some(k) == e.idempotency_key.as_deref())
            && self
                .request_id
                .as_deref()
                .is_none_or(|k| Some(k) == e.request_id.as_deref())
    }
}

/// Token requests one OAuth2 token endpoint received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCounts {
    /// Tokens issued.
    pub issued: u64,
    /// Token requests refused (bad client, bad grant, malformed).
    pub refused: u64,
}

/// Token request counters of both OAuth2 systems.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCounters {
    /// The transaction status system.
    pub status: TokenCounts,
    /// The sales system.
    pub sales: TokenCounts,
}

#[derive(Default)]
struct Records {
    requests: VecDeque<RequestRecord>,
    effects: VecDeque<EffectRecord>,
    dropped: u64,
    /// 429s sent because a configured rate limit was exceeded, per system.
    rate_limited: BTreeMap<System, u64>,
}

/// The ledger; appends take a short lock and never wait on I/O.
pub(crate) struct Ledger {
    seq: AtomicU64,
    capacity: usize,
    records: Mutex<Records>,
    /// Wakes those waiting for a record (requests, effects, notifications).
    changed: Notify,
}

impl Ledger {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            seq: AtomicU64::new(1),
            capacity: capacity.max(1),
            records: Mutex::new(Records::default()),
            changed: Notify::new(),
        }
    }

    /// Wakes every waiter; called after anything is recorded.
    pub(crate) fn changed(&self) {
        self.changed.notify_waiters();
    }

    /// Something to await for the next change (create it before checking, so no change is missed).
    pub(crate) fn on_change(&self) -> Notified<'_> {
        self.changed.notified()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn record_request(&self, record: RequestRecord) {
        let mut records = self.lock();
        if records.requests.len() >= self.capacity {
            records.requests.pop_front();
            records.dropped += 1;
        }
        records.requests.push_back(record);
        drop(records);
        self.changed();
    }

    pub(crate) fn record_effect(&self, record: EffectRecord) {
        let mut records = self.lock();
        if records.effects.len() >= self.capacity {
            records.effects.pop_front();
            records.dropped += 1;
        }
        records.effects.push_back(record);
        drop(records);
        self.changed();
    }

    pub(crate) fn requests(&self, filter: &RequestFilter) -> Vec<RequestRecord> {
        self.lock()
            .requests
            .iter()
            .filter(|r| filter.matches(r))
            .cloned()
            .collect()
    }

    pub(crate) fn effects(&self, filter: &EffectFilter) -> Vec<EffectRecord> {
        self.lock()
            .effects
            .iter()
            .filter(|e| filter.matches(e))
            .cloned()
            .collect()
    }

    /// How many records (requests or effects) were dropped because the ledger was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Counts one 429 sent because `system`'s rate limit was exceeded.
    pub(crate) fn record_rate_limited(&self, system: System) {
        *self.lock().rate_limited.entry(system).or_default() += 1;
    }

    /// 429s sent by rate limits since the last reset, per system (systems with none omitted).
    pub(crate) fn rate_limited(&self) -> BTreeMap<System, u64> {
        self.lock().rate_limited.clone()
    }

    pub(crate) fn clear(&self) {
        *self.lock() = Records::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(seq: u64, system: System, status: Option<u16>) -> RequestRecord {
        RequestRecord {
            seq,
            at: OffsetDateTime::UNIX_EPOCH,
            system,
            method: "POST".to_owned(),
            path: "/sales/transactions/drafts".to_owned(),
            route: "/transactions/drafts".to_owned(),
            status,
            idempotency_key: Some(format!("k{seq}")),
            request_id: Some(format!("r{seq}")),
            traceparent: None,
            fault: None,
        }
    }

    #[test]
    fn filters_and_capacity() {
        let ledger = Ledger::new(2);
        ledger.record_request(request(1, System::Sales, Some(201)));
        ledger.record_request(request(2, System::Sales, None));
        ledger.record_request(request(3, System::Jira, Some(201)));
        assert_eq!(ledger.dropped(), 1);
        let all = ledger.requests(&RequestFilter::default());
        assert_eq!(all.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 3]);
        let sales = ledger.requests(&RequestFilter {
            system: Some(System::Sales),
            method: Some("post".to_owned()),
            ..RequestFilter::default()
        });
        assert_eq!(sales.len(), 1);
        let keyed = ledger.requests(&RequestFilter {
            idempotency_key: Some("k3".to_owned()),
            status: Some(201),
            ..RequestFilter::default()
        });
        assert_eq!(keyed.len(), 1);
        let by_request = ledger.requests(&RequestFilter {
            request_id: Some("r2".to_owned()),
            ..RequestFilter::default()
        });
        assert_eq!(by_request.iter().map(|r| r.seq).collect::<Vec<_>>(), [2]);
    }
}
