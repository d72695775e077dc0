//! Refusals by the hub itself (an open circuit, a spent rate budget) audited per second:
//! the first of each second per operation is recorded as it happens, the rest of that
//! second as one record with their number (`AuditRecord::calls`), so that a refusal
//! storm costs the audit log two records a second, not one per refused call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hub_core::{AuditLog, AuditOutcome, AuditRecord};
use tokio::time::Instant;

/// How long the refusals after a recorded one are held and counted.
pub(crate) const WINDOW: Duration = Duration::from_secs(1);

/// The refusals of one endpoint, by operation and outcome.
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    windows: Arc<Mutex<HashMap<Key, Window>>>,
}

type Key = (&'static str, AuditOutcome);

/// One second of refusals of one operation: opened by the refusal that was recorded.
#[derive(Debug)]
struct Window {
    opened: Instant,
    generation: u64,
    held: Option<Held>,
}

/// The refusals held in a window: the first's record, how many, and when the last was.
#[derive(Debug)]
struct Held {
    record: AuditRecord,
    calls: u32,
    first: Instant,
    last: Instant,
}

impl Held {
    /// The record standing for every held refusal.
    fn into_record(self) -> AuditRecord {
        let spread = self.last.saturating_duration_since(self.first);
        AuditRecord {
            calls: self.calls,
            duration_ms: u64::try_from(spread.as_millis()).unwrap_or(u64::MAX),
            ..self.record
        }
    }
}

impl Refusals {
    /// Takes a refusal of `operation` ending in `outcome`, whose record `record` makes
    /// (only when it is needed: a held refusal past the first is only counted): the first
    /// of its window is recorded now; later ones are held, and the first held one starts
    /// the task that records them all, with their number, when the window ends (through
    /// `audit`). The record to write now, or `None` when the refusal is held.
    pub(crate) fn admit(
        &self,
        operation: &'static str,
        outcome: AuditOutcome,
        record: impl FnOnce() -> AuditRecord,
        audit: &Arc<dyn AuditLog>,
    ) -> Option<AuditRecord> {
        let now = Instant::now();
        let key = (operation, outcome);
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let window = match windows.get_mut(&key) {
            Some(window) if now.saturating_duration_since(window.opened) < WINDOW => window,
            _ => {
                let generation = windows.get(&key).map_or(0, |w| w.generation + 1);
                let window = Window {
                    opened: now,
                    generation,
                    held: None,
                };
                // The ended window's task has not run yet: its refusals are written now.
                if let Some(earlier) = windows.insert(key, window).and_then(|w| w.held) {
                    tokio::spawn(write_held(earlier, Arc::clone(audit)));
                }
                return Some(record());
            }
        };
        match &mut window.held {
            Some(held) => {
                held.calls = held.calls.saturating_add(1);
                held.last = now;
            }
            None => {
                window.held = Some(Held {
                    record: record(),
                    calls: 1,
                    first: now,
                    last: now,
                });
                let ends = window.opened + WINDOW;
                let generation = window.generation;
                let windows = Arc::clone(&self.windows);
                let audit = Arc::clone(audit);
                tokio::spawn(async move {
                    tokio::time::sleep_until(ends).await;
                    let held = {
                        let mut windows = windows.lock().unwrap_or_else(PoisonError::into_inner);
                        match windows.get(&key) {
                            Some(w) if w.generation == generation => windows.remove(&key).and_then(|w| w.held),
                            // A later refusal opened the next window and recorded these.
                            _ => None,
                        }
                    };
                    if let Some(held) = held {
                        write_held(held, audit).await;
                    }
                });
            }
        }
        None
    }
}

/// Records the refusals `held`, as one record, in a task of its own: outside any
/// request's span, so the record takes no request's trace id.
async fn write_held(held: Held, audit: Arc<dyn AuditLog>) {
    let record = held.into_record();
    tracing::warn!(adapter = %record.adapter, operation = %record.operation,
        calls = record.calls, "upstream calls refused by the hub");
    if let Err(e) = audit.record(record).await {
        metrics::counter!("integration_audit_write_failures_total").increment(1);
        tracing::error!(error = %e, "could not record refused calls in the audit log");
    }
}

#[cfg(test)]
mod tests {
    use hub_core::testing::MemoryAudit;
    use time::OffsetDateTime;

    use super::*;

    fn refusal(request_id: &str) -> AuditRecord {
        AuditRecord {
            at: OffsetDateTime::UNIX_EPOCH,
            adapter: "transaction_status".to_owned(),
            operation: "get_transaction_status".to_owned(),
            outcome: AuditOutcome::Rejected,
            http_status: None,
            attempts: 0,
            duration_ms: 0,
            request_id: Some(request_id.to_owned()),
            conversation_id: None,
            params: serde_json::json!({}),
            error: Some("circuit_open: …".to_owned()),
            trace_id: None,
            calls: 1,
        }
    }

    fn admit(refusals: &Refusals, record: AuditRecord, audit: &Arc<dyn AuditLog>) -> Option<AuditRecord> {
        let operation = match record.operation.as_str() {
            "get_transaction_history" => "get_transaction_history",
            _ => "get_transaction_status",
        };
        refusals.admit(operation, record.outcome, || record, audit)
    }

    fn recorded(admitted: Option<AuditRecord>) -> Vec<(Option<String>, u32)> {
        admitted.map(|r| (r.request_id, r.calls)).into_iter().collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_storm_is_its_first_refusal_and_one_record_a_second_with_the_rest() {
        let memory = Arc::new(MemoryAudit::default());
        let audit: Arc<dyn AuditLog> = memory.clone();
        let refusals = Refusals::default();
        assert_eq!(
            recorded(admit(&refusals, refusal("r-0"), &audit)),
            [(Some("r-0".to_owned()), 1)]
        );
        for n in 1..=500 {
            assert!(admit(&refusals, refusal(&format!("r-{n}")), &audit).is_none());
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        assert!(memory.records().is_empty(), "held until the window ends");
        tokio::time::sleep(WINDOW).await;
        let written = memory.records();
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].calls, 500);
        assert_eq!(written[0].request_id.as_deref(), Some("r-1"));
        assert_eq!(written[0].duration_ms, 499);
        // The next second starts with a refusal recorded as it happens.
        assert_eq!(
            recorded(admit(&refusals, refusal("r-501"), &audit)),
            [(Some("r-501".to_owned()), 1)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_after_the_window_has_what_was_held_written_if_the_task_has_not() {
        let memory = Arc::new(MemoryAudit::default());
        let audit: Arc<dyn AuditLog> = memory.clone();
        let refusals = Refusals::default();
        let _ = admit(&refusals, refusal("r-0"), &audit);
        let _ = admit(&refusals, refusal("r-1"), &audit);
        let _ = admit(&refusals, refusal("r-2"), &audit);
        // The window ends; the next refusal comes before the held task has run.
        tokio::time::advance(WINDOW).await;
        let due = recorded(admit(&refusals, refusal("r-3"), &audit));
        assert_eq!(due, [(Some("r-3".to_owned()), 1)]);
        tokio::time::sleep(WINDOW * 2).await;
        let written: Vec<(Option<String>, u32)> =
            memory.records().into_iter().map(|r| (r.request_id, r.calls)).collect();
        assert_eq!(
            written,
            [(Some("r-1".to_owned()), 2)],
            "written once, not again by the ended window's task"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn operations_and_outcomes_have_windows_of_their_own() {
        let audit: Arc<dyn AuditLog> = Arc::new(MemoryAudit::default());
        let refusals = Refusals::default();
        let other_operation = AuditRecord {
            operation: "get_transaction_history".to_owned(),
            ..refusal("h-0")
        };
        let budget = AuditRecord {
            outcome: AuditOutcome::RateLimited,
            ..refusal("b-0")
        };
        let _ = admit(&refusals, refusal("r-0"), &audit);
        assert_eq!(recorded(admit(&refusals, other_operation, &audit)).len(), 1);
        assert_eq!(recorded(admit(&refusals, budget, &audit)).len(), 1);
    }
}
