//! The rate budget shared by every hub instance: the GCRA as one Lua script per call on
//! Redis, with an in-process fallback when Redis is down or slow.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hub_resilience::clock::MonotonicClock;
use hub_resilience::rate_budget::gcra::{Params, micros};
use hub_resilience::rate_budget::{
    Admission, BudgetKey, Class, LearnedPolicy, LocalBudget, RateBudget, RateConfig, Snapshot,
};
use redis::aio::ConnectionManager;

use crate::config::StoreConfig;
use crate::error::OpenError;

static GCRA: &str = include_str!("gcra.lua");

/// How one adapter's shared budget behaves besides its rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedBudgetOptions {
    /// The adapter's name, the `adapter` label of the fallback counter.
    pub name: String,
    /// Keys are `{prefix}:{budget key}`; one prefix per deployment and adapter (or test).
    pub prefix: String,
    /// How long an admission waits for Redis before answering from the local fallback.
    pub timeout: Duration,
    /// How many instances share the budget: the fallback admits `rate / instances_hint`.
    pub instances_hint: u32,
}

impl SharedBudgetOptions {
    /// Options with a 50 ms timeout and one instance.
    pub fn new(name: &str, prefix: &str) -> Self {
        Self {
            name: name.to_owned(),
            prefix: prefix.to_owned(),
            timeout: Duration::from_millis(50),
            instances_hint: 1,
        }
    }
}

/// The [`RateBudget`] port on Redis (one node, 5.0 or newer), shared by every instance.
///
/// Each budget key is one hash, `{prefix}:{key}`, holding the GCRA's state in whole
/// microseconds of Redis's own clock (`TIME`), so instances need not agree on the time:
/// `tat`, `pause_until`, `quota_interval`, `quota_until`, `window_interval`,
/// `window_until`. Every call is one `EVALSHA` of `gcra.lua` (loaded on first use), the
/// formula of `hub_resilience::rate_budget::gcra`; the hash expires once nothing in it
/// matters any more. A pause or a learned limit written by one instance holds for all.
///
/// When Redis does not answer within `timeout` (or fails), the call is answered by a
/// local [`LocalBudget`] at `rate / instances_hint`, counted in
/// `integration_rate_budget_fallback_total{adapter}` and logged once per change (down,
/// then up again): no call fails because Redis did. Pauses and learned limits are always
/// applied to the local budget too, so a fallback honours what was learned before it.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use hub_resilience::clock::TokioClock;
/// use hub_resilience::rate_budget::{BudgetKey, Class, RateBudget, RateConfig};
/// use hub_store::{RedisBudget, SharedBudgetOptions, StoreConfig};
/// let budget = RedisBudget::open(
///     "redis://127.0.0.1:6379",
///     &StoreConfig::default(),
///     RateConfig::new(10.0, 20),
///     SharedBudgetOptions { instances_hint: 3, ..SharedBudgetOptions::new("zendesk", "hub:rate:zendesk") },
///     Arc::new(TokioClock::new()),
/// )?;
/// let key = BudgetKey::new("acme.zendesk.com:token-7f3a");
/// if let Some(wait) = budget.admit(&key, Class::Write, Duration::from_secs(2)).await.wait() {
///     tokio::time::sleep(wait).await; // then send
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisBudget {
    connection: ConnectionManager,
    options: SharedBudgetOptions,
    params: Params,
    script: redis::Script,
    fallback: Arc<LocalBudget>,
    degraded: Arc<AtomicBool>,
}

impl std::fmt::Debug for RedisBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBudget")
            .field("options", &self.options)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// Why a Redis call was not answered.
#[derive(Debug)]
enum Unanswered {
    TimedOut,
    Failed(redis::RedisError),
}

impl RedisBudget {
    /// A budget with `rate` on `url` (connection bounds from `config`), answering from a
    /// local budget on `clock` when Redis does not. Does not connect yet; needs a Tokio runtime.
    pub fn open(
        url: &str,
        config: &StoreConfig,
        rate: RateConfig,
        options: SharedBudgetOptions,
        clock: Arc<dyn MonotonicClock>,
    ) -> Result<Self, OpenError> {
        let (_, connection) = crate::redis_conn::connect(url, config)?;
        Ok(Self::with_connection(connection, rate, options, clock))
    }

    /// Another adapter's budget on the same connection.
    pub fn with_rate(&self, rate: RateConfig, options: SharedBudgetOptions, clock: Arc<dyn MonotonicClock>) -> Self {
        Self::with_connection(self.connection.clone(), rate, options, clock)
    }

    fn with_connection(
        connection: ConnectionManager,
        rate: RateConfig,
        options: SharedBudgetOptions,
        clock: Arc<dyn MonotonicClock>,
    ) -> Self {
        let share = f64::from(options.instances_hint.max(1));
        let local = RateConfig {
            requests_per_s: rate.requests_per_s / share,
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            burst: ((f64::from(rate.burst) / share).floor() as u32).max(1),
            ..rate
        };
        Self {
            connection,
            params: Params::new(&rate),
            options,
            script: redis::Script::new(GCRA),
            fallback: Arc::new(LocalBudget::new(local, clock)),
            degraded: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The options in force.
    pub fn options(&self) -> &SharedBudgetOptions {
        &self.options
    }

    /// `true` while calls are answered by the local fallback.
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// The local fallback (rate ÷ `instances_hint`).
    pub fn fallback(&self) -> &LocalBudget {
        &self.fallback
    }

    fn key(&self, key: &BudgetKey) -> String {
        format!("{}:{}", self.options.prefix, key.as_str())
    }

    /// One script call for `key`: `op` and its arguments after the parameters.
    fn call(&self, key: &BudgetKey, op: &str) -> redis::ScriptInvocation<'_> {
        let p = &self.params;
        let mut call = self.script.key(self.key(key));
        call.arg(op)
            .arg(p.interval_us)
            .arg(p.burst)
            .arg(p.read_share.to_string())
            .arg(p.max_learned_us)
            .arg(p.learned_ttl_us);
        call
    }

    /// Runs one call within the timeout, noting a change between Redis and the fallback.
    async fn bounded<T>(&self, call: impl Future<Output = redis::RedisResult<T>>) -> Option<T> {
        let outcome = match tokio::time::timeout(self.options.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Unanswered::Failed(e)),
            Err(_) => Err(Unanswered::TimedOut),
        };
        match outcome {
            Ok(v) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!(adapter = %self.options.name, "rate budget: Redis answers again; the shared budget is back");
                }
                Some(v)
            }
            Err(why) => {
                metrics::counter!("integration_rate_budget_fallback_total", "adapter" => self.options.name.clone())
                    .increment(1);
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    let reason = match &why {
                        Unanswered::TimedOut => format!("no answer within {} ms", self.options.timeout.as_millis()),
                        Unanswered::Failed(e) => e.to_string(),
                    };
                    tracing::warn!(
                        adapter = %self.options.name,
                        %reason,
                        instances_hint = self.options.instances_hint,
                        "rate budget: Redis unavailable; admitting from the local budget at rate / instances_hint"
                    );
                }
                None
            }
        }
    }
}

#[async_trait]
impl RateBudget for RedisBudget {
    async fn admit(&self, key: &BudgetKey, class: Class, max_wait: Duration) -> Admission {
        let mut connection = self.connection.clone();
        let mut call = self.call(key, "admit");
        call.arg(class.as_str()).arg(micros(max_wait));
        match self.bounded(call.invoke_async::<(u8, u64)>(&mut connection)).await {
            Some((1, 0)) => Admission::Now,
            Some((1, wait)) => Admission::Wait(Duration::from_micros(wait)),
            Some((_, wait)) => Admission::Refused {
                retry_after: Duration::from_micros(wait),
            },
            None => self.fallback.admit_now(key, class, max_wait),
        }
    }

    async fn learn(&self, key: &BudgetKey, policy: &LearnedPolicy) {
        if policy.is_empty() {
            return; // most answers say nothing: no round trip for them
        }
        // The fallback admits this instance's share of the rate, so it learns its share
        // of what the vendor said too: alone, each instance would spend the whole window.
        self.fallback.learn_now(key, &policy.share(self.options.instances_hint));
        let mut connection = self.connection.clone();
        let mut call = self.call(key, "learn");
        match policy.quota {
            Some(q) => call.arg(q.limit).arg(micros(q.window)),
            None => call.arg(0).arg(0),
        };
        match policy.remaining {
            Some(r) => call.arg(1).arg(r.remaining).arg(micros(r.resets_in)),
            None => call.arg(0).arg(0).arg(0),
        };
        let _: Option<Vec<i64>> = self.bounded(call.invoke_async(&mut connection)).await;
    }

    async fn pause(&self, key: &BudgetKey, duration: Duration) {
        self.fallback.pause_now(key, duration);
        let mut connection = self.connection.clone();
        let mut call = self.call(key, "pause");
        call.arg(micros(duration));
        let _: Option<Vec<i64>> = self.bounded(call.invoke_async(&mut connection)).await;
    }

    async fn snapshot(&self, key: &BudgetKey) -> Snapshot {
        let mut connection = self.connection.clone();
        let call = self.call(key, "snapshot");
        let Some(v) = self.bounded(call.invoke_async::<Vec<i64>>(&mut connection)).await else {
            return self.fallback.snapshot_now(key);
        };
        let at = |i: usize| v.get(i).copied().unwrap_or(-1);
        let us = |i: usize| u64::try_from(at(i)).ok().map(Duration::from_micros);
        Snapshot {
            remaining: u64::try_from(at(0)).unwrap_or(0),
            interval: us(1).unwrap_or(Duration::ZERO),
            paused_for: us(2).unwrap_or(Duration::ZERO),
            quota_interval: us(3),
            window_interval: us(4),
            window_resets_in: us(5),
        }
    }
}
