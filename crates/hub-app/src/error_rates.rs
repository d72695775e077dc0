//! Each adapter's recent upstream outcomes in a sliding window, counted as the audit log records them.
//!
//! Every upstream call ends in exactly one [`AuditRecord`], so an [`AuditLog`] that counts
//! what passes through ([`CountingAudit`]) sees every outcome without another hook in the
//! adapters. The window is a ring of fixed buckets (default 30 × 10 s = the last five
//! minutes, moving in 10-second steps); time is passed in, so tests never sleep.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hub_core::{AuditLog, AuditOutcome, AuditQuery, AuditRecord, Page, StoreError};

/// Calls counted in the window for one adapter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Every call, whatever its outcome.
    pub calls: u64,
    /// Calls that failed (after their retries).
    pub failures: u64,
    /// Calls refused by the open circuit without reaching the upstream.
    pub rejected: u64,
}

impl Counts {
    /// The share of calls that did not succeed (failed or rejected), `None` without calls.
    ///
    /// ```
    /// use hub_app::error_rates::Counts;
    /// assert_eq!(Counts { calls: 4, failures: 1, rejected: 1 }.error_ratio(), Some(0.5));
    /// assert_eq!(Counts::default().error_ratio(), None);
    /// ```
    pub fn error_ratio(&self) -> Option<f64> {
        // Counts this large lose nothing that matters in a ratio.
        #[allow(clippy::cast_precision_loss)]
        (self.calls > 0).then(|| (self.failures + self.rejected) as f64 / self.calls as f64)
    }

    fn add(&mut self, other: &Self) {
        self.calls += other.calls;
        self.failures += other.failures;
        self.rejected += other.rejected;
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Which step since the origin this bucket currently holds.
    step: u64,
    counts: Counts,
}

/// Per-adapter outcome counts over a sliding window.
///
/// ```
/// use std::time::{Duration, Instant};
/// use hub_core::AuditOutcome;
/// use hub_app::error_rates::ErrorRates;
/// let start = Instant::now();
/// let rates = ErrorRates::new(Duration::from_secs(10), 30, start);
/// rates.observe("ticketing", AuditOutcome::Failure, start);
/// rates.observe("ticketing", AuditOutcome::Success, start);
/// assert_eq!(rates.snapshot(start)[0].1.error_ratio(), Some(0.5));
/// // Five minutes later both have left the window.
/// assert_eq!(rates.snapshot(start + Duration::from_secs(300))[0].1.calls, 0);
/// ```
#[derive(Debug)]
pub struct ErrorRates {
    step: Duration,
    buckets: usize,
    origin: Instant,
    adapters: Mutex<HashMap<String, Vec<Bucket>>>,
}

impl Default for ErrorRates {
    /// The last five minutes in 10-second steps.
    fn default() -> Self {
        Self::new(Duration::from_secs(10), 30, Instant::now())
    }
}

impl ErrorRates {
    /// A window of `buckets` steps of `step` each, counted from `origin`.
    pub fn new(step: Duration, buckets: usize, origin: Instant) -> Self {
        Self {
            step: step.max(Duration::from_millis(1)),
            buckets: buckets.max(1),
            origin,
            adapters: Mutex::new(HashMap::new()),
        }
    }

    /// How often the window moves on.
    pub fn step(&self) -> Duration {
        self.step
    }

    /// How far back the window reaches.
    pub fn window(&self) -> Duration {
        self.step
            .saturating_mul(u32::try_from(self.buckets).unwrap_or(u32::MAX))
    }

    fn step_at(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(elapsed / self.step.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Counts one call of `adapter` that ended in `outcome` at `now`. A `Started` record
    /// is not an ending (the call's own record follows it) and is not counted.
    pub fn observe(&self, adapter: &str, outcome: AuditOutcome, now: Instant) {
        if outcome == AuditOutcome::Started {
            return;
        }
        let step = self.step_at(now);
        let mut adapters = self.adapters.lock().unwrap_or_else(PoisonError::into_inner);
        if !adapters.contains_key(adapter) {
            adapters.insert(adapter.to_owned(), vec![Bucket::default(); self.buckets]);
        }
        let Some(ring) = adapters.get_mut(adapter) else {
            return;
        };
        let len = ring.len() as u64;
        let Some(bucket) = usize::try_from(step % len).ok().and_then(|i| ring.get_mut(i)) else {
            return;
        };
        if bucket.step != step {
            *bucket = Bucket {
                step,
                counts: Counts::default(),
            };
        }
        bucket.counts.calls += 1;
        match outcome {
            AuditOutcome::Success | AuditOutcome::Started => {}
            // An answer the hub could not read is the upstream failing the hub, even
            // though the write itself took effect.
            AuditOutcome::Failure | AuditOutcome::AppliedUnreadable => bucket.counts.failures += 1,
            AuditOutcome::Rejected | AuditOutcome::RateLimited => bucket.counts.rejected += 1,
        }
    }

    /// Every adapter seen so far with its counts in the window ending at `now`, by name.
    pub fn snapshot(&self, now: Instant) -> Vec<(String, Counts)> {
        let current = self.step_at(now);
        let oldest = current.saturating_sub(self.buckets as u64 - 1);
        let adapters = self.adapters.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<(String, Counts)> = adapters
            .iter()
            .map(|(name, ring)| {
                let mut total = Counts::default();
                for b in ring.iter().filter(|b| (oldest..=current).contains(&b.step)) {
                    total.add(&b.counts);
                }
                (name.clone(), total)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// An [`AuditLog`] that counts each record's outcome into [`ErrorRates`], then passes it on.
pub struct CountingAudit {
    inner: Arc<dyn AuditLog>,
    rates: Arc<ErrorRates>,
}

impl CountingAudit {
    /// Counts into `rates` what is recorded in `inner`.
    pub fn new(inner: Arc<dyn AuditLog>, rates: Arc<ErrorRates>) -> Self {
        Self { inner, rates }
    }
}

#[async_trait]
impl AuditLog for CountingAudit {
    async fn record(&self, record: AuditRecord) -> Result<(), StoreError> {
        self.rates.observe(&record.adapter, record.outcome, Instant::now());
        self.inner.record(record).await
    }

    async fn query(&self, query: &AuditQuery) -> Result<Page<AuditRecord>, StoreError> {
        self.inner.query(query).await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush().await
    }

    async fn record_durable(&self, record: AuditRecord) -> Result<(), StoreError> {
        self.rates.observe(&record.adapter, record.outcome, Instant::now());
        self.inner.record_durable(record).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STEP: Duration = Duration::from_secs(10);

    fn outcome(i: u8) -> AuditOutcome {
        match i % 6 {
            0 => AuditOutcome::Success,
            1 => AuditOutcome::Failure,
            2 => AuditOutcome::Rejected,
            3 => AuditOutcome::AppliedUnreadable,
            4 => AuditOutcome::RateLimited,
            _ => AuditOutcome::Started,
        }
    }

    #[test]
    fn the_window_slides_one_step_at_a_time() {
        let t0 = Instant::now();
        let rates = ErrorRates::new(STEP, 3, t0);
        assert_eq!((rates.window(), rates.step()), (Duration::from_secs(30), STEP));
        rates.observe("a", AuditOutcome::Failure, t0);
        rates.observe("a", AuditOutcome::Success, t0 + Duration::from_secs(15));
        let at = |s: u64| rates.snapshot(t0 + Duration::from_secs(s))[0].1;
        assert_eq!(
            at(29),
            Counts {
                calls: 2,
                failures: 1,
                rejected: 0
            }
        );
        // The first call's step (0..10 s) leaves when the step 30..40 s begins.
        assert_eq!(
            at(30),
            Counts {
                calls: 1,
                failures: 0,
                rejected: 0
            }
        );
        assert_eq!(at(40), Counts::default());
        // A bucket reused much later starts from zero.
        rates.observe("a", AuditOutcome::Rejected, t0 + Duration::from_secs(300));
        assert_eq!(
            at(300),
            Counts {
                calls: 1,
                failures: 0,
                rejected: 1
            }
        );
    }

    #[test]
    fn adapters_are_counted_apart_and_listed_by_name() {
        let t0 = Instant::now();
        let rates = ErrorRates::new(STEP, 30, t0);
        rates.observe("ticketing", AuditOutcome::Failure, t0);
        rates.observe("ticketing", AuditOutcome::Failure, t0);
        rates.observe("transaction_status", AuditOutcome::Success, t0);
        let snap = rates.snapshot(t0);
        assert_eq!(
            snap.iter()
                .map(|(n, c)| (n.as_str(), c.calls, c.failures))
                .collect::<Vec<_>>(),
            vec![("ticketing", 2, 2), ("transaction_status", 1, 0)]
        );
        assert_eq!(snap[0].1.error_ratio(), Some(1.0));
    }

    /// Keeps what it is given.
    #[derive(Default)]
    struct Kept(Mutex<Vec<AuditRecord>>);

    #[async_trait]
    impl AuditLog for Kept {
        async fn record(&self, record: AuditRecord) -> Result<(), StoreError> {
            self.0.lock().unwrap().push(record);
            Ok(())
        }
        async fn query(&self, _: &AuditQuery) -> Result<Page<AuditRecord>, StoreError> {
            Ok(Page {
                items: self.0.lock().unwrap().clone(),
                next_cursor: None,
            })
        }
    }

    #[tokio::test]
    async fn the_counting_audit_log_counts_and_passes_records_on() {
        let inner = Arc::new(Kept::default());
        let rates = Arc::new(ErrorRates::default());
        let log = CountingAudit::new(inner.clone(), rates.clone());
        let record = |outcome| AuditRecord {
            at: time::OffsetDateTime::UNIX_EPOCH,
            adapter: "ticketing".to_owned(),
            operation: "create_ticket".to_owned(),
            outcome,
            http_status: None,
            attempts: 1,
            duration_ms: 1,
            request_id: None,
            conversation_id: None,
            params: serde_json::Value::Null,
            error: None,
            trace_id: None,
            calls: 1,
        };
        log.record(record(AuditOutcome::Failure)).await.unwrap();
        log.record(record(AuditOutcome::Success)).await.unwrap();
        assert_eq!(log.query(&AuditQuery::default()).await.unwrap().items.len(), 2);
        let snap = rates.snapshot(Instant::now());
        assert_eq!(
            snap[0].1,
            Counts {
                calls: 2,
                failures: 1,
                rejected: 0
            }
        );
    }

    proptest! {
        /// Against a model that keeps every event: the counts are those of the events whose
        /// step is one of the last `buckets` steps.
        #[test]
        fn matches_a_model_that_keeps_every_event(
            buckets in 1usize..8,
            events in proptest::collection::vec((0u64..40, 0u8..6, 0u8..2), 0..60),
            probe in 0u64..40,
        ) {
            let t0 = Instant::now();
            let rates = ErrorRates::new(STEP, buckets, t0);
            let mut now = 0u64;
            let mut kept: Vec<(u64, &str, AuditOutcome)> = Vec::new();
            for (advance_s, o, a) in events {
                now += advance_s;
                let adapter = if a == 0 { "a" } else { "b" };
                rates.observe(adapter, outcome(o), t0 + Duration::from_secs(now));
                kept.push((now / 10, adapter, outcome(o)));
            }
            let at = now + probe;
            let current = at / 10;
            for (name, counts) in rates.snapshot(t0 + Duration::from_secs(at)) {
                let mut model = Counts::default();
                for (step, adapter, o) in &kept {
                    if *adapter == name && *step + buckets as u64 > current {
                        match o {
                            AuditOutcome::Started => continue,
                            AuditOutcome::Success => {}
                            AuditOutcome::Failure | AuditOutcome::AppliedUnreadable => model.failures += 1,
                            AuditOutcome::Rejected | AuditOutcome::RateLimited => model.rejected += 1,
                        }
                        model.calls += 1;
                    }
                }
                prop_assert_eq!(counts, model, "adapter {}", name);
            }
        }
    }
}
