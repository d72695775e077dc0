//! How long a connection has carried no request, whatever its protocol: the one timer
//! that closes an idle keep-alive connection and bounds a client's wait for its request's
//! headers (hyper's HTTP/1.1 header read timeout would arm and cancel a timer per request).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// The requests one connection is carrying, and when the last one started or ended.
#[derive(Debug)]
pub(crate) struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Whether a request has ever started on it.
    carried: AtomicBool,
    /// Microseconds from `opened` to the last request's start or end.
    last_us: AtomicU64,
}

impl Activity {
    /// A connection opened now, carrying nothing yet.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            carried: AtomicBool::new(false),
            last_us: AtomicU64::new(0),
        })
    }

    /// A request has started; it counts as in flight until the returned guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.carried.store(true, Ordering::Release);
        self.touch();
        Busy(Arc::clone(self))
    }

    /// Whether a request has ever started on the connection.
    pub(crate) fn carried_any(&self) -> bool {
        self.carried.load(Ordering::Acquire)
    }

    fn touch(&self) {
        let us = u64::try_from(self.opened.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.last_us.fetch_max(us, Ordering::AcqRel);
    }

    fn last(&self) -> Instant {
        self.opened + Duration::from_micros(self.last_us.load(Ordering::Acquire))
    }

    /// Completes once no request has been in flight for `limit`.
    pub(crate) async fn idle_for(&self, limit: Duration) {
        loop {
            if self.in_flight.load(Ordering::Acquire) > 0 {
                tokio::time::sleep(limit).await;
                continue;
            }
            let until = self.last() + limit;
            if Instant::now() >= until {
                return;
            }
            tokio::time::sleep_until(until).await;
            if self.in_flight.load(Ordering::Acquire) == 0 && Instant::now() >= self.last() + limit {
                return;
            }
        }
    }
}

/// One request in flight on a connection.
#[derive(Debug)]
pub(crate) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(30);

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_carries_nothing_is_idle_after_the_limit() {
        let activity = Activity::new();
        let opened = Instant::now();
        activity.idle_for(LIMIT).await;
        assert_eq!(opened.elapsed(), LIMIT);
        assert!(!activity.carried_any());
    }

    #[tokio::test(start_paused = true)]
    async fn the_limit_counts_from_the_end_of_the_last_request() {
        let activity = Activity::new();
        let opened = Instant::now();
        let busy = activity.enter();
        let watcher = {
            let activity = Arc::clone(&activity);
            tokio::spawn(async move { activity.idle_for(LIMIT).await })
        };
        // A request running longer than the limit keeps the connection busy.
        tokio::time::sleep(LIMIT * 3 + Duration::from_secs(1)).await;
        assert!(!watcher.is_finished());
        drop(busy);
        watcher.await.unwrap();
        let ended = LIMIT * 3 + Duration::from_secs(1);
        assert_eq!(opened.elapsed(), ended + LIMIT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_started_within_the_limit_postpones_it() {
        let activity = Activity::new();
        let opened = Instant::now();
        let watcher = {
            let activity = Arc::clone(&activity);
            tokio::spawn(async move { activity.idle_for(LIMIT).await })
        };
        tokio::time::sleep(LIMIT / 2).await;
        drop(activity.enter());
        assert!(activity.carried_any());
        watcher.await.unwrap();
        assert_eq!(opened.elapsed(), LIMIT / 2 + LIMIT);
    }
}
