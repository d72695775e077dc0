//! Aggregation and rate limiting of supervisor alerts: the failures of one (adapter,
//! operation) within a window become one alert with a count and a few sample ids.
//!
//! The first failure of a quiet pair is sent at once; later ones are counted and sent as
//! one alert when the window closes; a window with no failure ends the episode, so the
//! next failure is again sent at once. An outage of 10,000 failures over five minutes
//! with a one-minute window is six messages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tracing::Instrument as _;

use hub_core::{Alert, Notifier, Operation};
use time::OffsetDateTime;

/// How alerts are aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertSettings {
    /// How long failures are gathered into one alert.
    pub window: Duration,
    /// How many dead-letter ids an alert carries as examples.
    pub max_samples: usize,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            max_samples: 5,
        }
    }
}

/// One kind of failure of one operation: its summary keeps kinds apart.
type Key = (Operation, String);

/// The occurrences gathered in the current window of one pair.
#[derive(Debug)]
struct Window {
    summary: String,
    count: u64,
    first_at: OffsetDateTime,
    last_at: OffsetDateTime,
    samples: Vec<String>,
}

/// Gathers failures and hands aggregated alerts to a [`Notifier`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use hub_app::alerts::{AlertSettings, Supervisor};
/// use hub_core::{Operation, mock::MockNotifier};
/// let mut notifier = MockNotifier::new();
/// notifier.expect_notify().times(1).returning(|_| Ok(()));
/// let supervisor = Supervisor::new(Arc::new(notifier), AlertSettings::default());
/// supervisor.record(Operation::CreateTicket, "writes dead-lettered", Some("dlq-1"));
/// # tokio::task::yield_now().await;
/// # }
/// ```
#[derive(Clone)]
pub struct Supervisor {
    notifier: Arc<dyn Notifier>,
    settings: AlertSettings,
    open: Arc<Mutex<HashMap<Key, Window>>>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    /// Aggregates into `notifier` with `settings`.
    pub fn new(notifier: Arc<dyn Notifier>, settings: AlertSettings) -> Self {
        Self {
            notifier,
            settings,
            open: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Records one failure; never waits (delivery runs in a task of the pair's own).
    pub fn record(&self, operation: Operation, summary: &str, sample_id: Option<&str>) {
        let (adapter, operation_name) = (operation.adapter().as_str(), operation.as_str());
        let now = OffsetDateTime::now_utc();
        let key = (operation, summary.to_owned());
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(w) = open.get_mut(&key) {
            if w.count == 0 {
                w.first_at = now;
                w.summary = summary.to_owned();
            }
            w.count += 1;
            w.last_at = now;
            if let Some(id) = sample_id
                && w.samples.len() < self.settings.max_samples
            {
                w.samples.push(id.to_owned());
            }
            return;
        }
        let first = Alert {
            adapter: adapter.to_owned(),
            operation: operation_name.to_owned(),
            summary: summary.to_owned(),
            count: 1,
            first_at: now,
            last_at: now,
            sample_dlq_ids: sample_id
                .map(str::to_owned)
                .into_iter()
                .take(self.settings.max_samples)
                .collect(),
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(target: "supervisor", adapter, operation = operation_name, summary, "supervisor alert (no runtime to deliver it)");
            return;
        };
        open.insert(
            key.clone(),
            Window {
                summary: summary.to_owned(),
                count: 0,
                first_at: now,
                last_at: now,
                samples: Vec::new(),
            },
        );
        drop(open);
        let this = self.clone();
        // The first alert's delivery gets a trace of its own, linked to the failure's span
        // (a child would hold the request's spans open until the webhook answers).
        let span = tracing::info_span!(parent: None, "supervisor alert", hub.adapter = adapter, hub.operation = operation_name);
        span.follows_from(tracing::Span::current());
        runtime.spawn(async move { this.episode(key, first, span).await });
    }

    /// Sends the first alert (in `span`), then one per window while failures continue.
    async fn episode(self, key: Key, first: Alert, span: tracing::Span) {
        self.send(&first).instrument(span).await;
        loop {
            tokio::time::sleep(self.settings.window).await;
            let alert = {
                let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
                match open.get_mut(&key) {
                    Some(w) if w.count > 0 => {
                        let alert = Alert {
                            adapter: key.0.adapter().as_str().to_owned(),
                            operation: key.0.as_str().to_owned(),
                            summary: w.summary.clone(),
                            count: w.count,
                            first_at: w.first_at,
                            last_at: w.last_at,
                            sample_dlq_ids: std::mem::take(&mut w.samples),
                        };
                        w.count = 0;
                        alert
                    }
                    _ => {
                        open.remove(&key);
                        return;
                    }
                }
            };
            self.send(&alert).await;
        }
    }

    async fn send(&self, alert: &Alert) {
        if let Err(e) = self.notifier.notify(alert).await {
            tracing::warn!(error = %e, adapter = %alert.adapter, operation = %alert.operation, "supervisor alert not delivered");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_core::testing::Inbox;

    fn counts(inbox: &Inbox) -> Vec<(String, u64, usize)> {
        inbox
            .all()
            .iter()
            .map(|a| (a.operation.clone(), a.count, a.sample_dlq_ids.len()))
            .collect()
    }

    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_outage_of_ten_thousand_failures_is_a_handful_of_alerts() {
        let inbox = Arc::new(Inbox::default());
        let s = Supervisor::new(inbox.clone(), AlertSettings::default());
        // 10,000 failures spread over five minutes (one every 30 ms), on one operation,
        // and 3 on another.
        for i in 0..10_000u32 {
            s.record(
                Operation::CommitTransaction,
                "writes dead-lettered",
                Some(&format!("dlq-{i}")),
            );
            if i < 3 {
                s.record(Operation::CreateTicket, "writes dead-lettered", None);
            }
            tokio::time::advance(Duration::from_millis(30)).await;
        }
        tokio::time::sleep(Duration::from_secs(180)).await;
        settle().await;
        let alerts = counts(&inbox);
        let commits: Vec<_> = alerts.iter().filter(|a| a.0 == "commit_transaction").collect();
        assert!(commits.len() <= 7, "{alerts:?}");
        assert_eq!(commits.iter().map(|a| a.1).sum::<u64>(), 10_000);
        assert_eq!(commits[0], &("commit_transaction".to_owned(), 1, 1));
        assert!(commits.iter().all(|a| a.2 <= 5));
        let tickets: Vec<_> = alerts.iter().filter(|a| a.0 == "create_ticket").map(|a| a.1).collect();
        assert_eq!(tickets, vec![1, 2]);
        // Quiet for a window: the episode is over and the next failure is sent at once.
        s.record(Operation::CreateTicket, "writes dead-lettered", None);
        settle().await;
        assert_eq!(counts(&inbox).last().map(|a| a.1), Some(1));
        assert_eq!(counts(&inbox).len(), alerts.len() + 1);
    }
}
