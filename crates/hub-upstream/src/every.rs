//! A throttle for work that may be skipped when it was done recently: at most once per interval, whoever asks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Says a piece of work is due at most once per `interval`: the first caller after the
/// interval has passed gets `true`, concurrent and later callers `false` until it passes again.
#[derive(Debug)]
pub(crate) struct Every {
    interval: Duration,
    since: Instant,
    /// Milliseconds from `since` to the last time the work was due, plus one (0: never).
    last_ms: AtomicU64,
}

impl Every {
    /// Due at once, then at most once per `interval`.
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            since: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    /// Whether the work is due now; if so, it counts as done now.
    pub(crate) fn due(&self) -> bool {
        let now_ms = u64::try_from(self.since.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let interval_ms = u64::try_from(self.interval.as_millis()).unwrap_or(u64::MAX);
        let last = self.last_ms.load(Ordering::Acquire);
        if last != 0 && now_ms.saturating_sub(last) < interval_ms {
            return false;
        }
        self.last_ms
            .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn due_first_then_once_per_interval() {
        let every = Every::new(Duration::from_secs(1));
        assert!(every.due());
        assert!(!every.due());
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(!every.due());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(every.due());
        assert!(!every.due());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(every.due());
    }
}
