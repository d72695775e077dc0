//! The generic cell rate algorithm as pure arithmetic on whole microseconds: the one
//! formula both the in-process budget and the Redis script (`hub-store`) compute.
//!
//! A budget's state is its theoretical arrival time (`tat`): the instant at which the
//! bucket would be empty again. Each admission moves it by the emission interval `T`
//! (1 / rate); a request may go when `max(tat, now) + T - capacity <= now`, where the
//! capacity is `T + τ` and the burst tolerance `τ = (burst - 1) × T` (reads get only
//! `(1 - write_reserve) × τ`). Learned vendor limits only ever lengthen `T` or move
//! `tat` later; a pause holds every admission until it ends.
//!
//! Every number fits in an IEEE double exactly (the Redis script runs on Lua numbers):
//! rates, bursts and learned durations are clamped so no sum exceeds 2^53.

use std::time::Duration;

use super::{Admission, Class, LearnedPolicy, RateConfig};

/// Microseconds in a second.
pub const MICROS_PER_S: u64 = 1_000_000;
/// The lowest configurable rate (one request per 1000 s).
pub const MIN_RATE_PER_S: f64 = 0.001;
/// The highest configurable rate.
pub const MAX_RATE_PER_S: f64 = 1_000_000.0;
/// The largest configurable burst.
pub const MAX_BURST: u32 = 100_000;
/// The longest a vendor's header may pause a budget or narrow it for (one day).
pub const MAX_LEARNED: Duration = Duration::from_secs(86_400);

/// The configuration as the formula uses it: whole microseconds, clamped to sane ranges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// The configured emission interval `T` (µs, at least 1).
    pub interval_us: u64,
    /// Requests the bucket holds (at least 1).
    pub burst: u64,
    /// The share of the burst tolerance reads may use, in [0, 1].
    pub read_share: f64,
    /// The longest pause or window a vendor may impose (µs).
    pub max_learned_us: u64,
    /// How long a learned quota holds without being told again (µs).
    pub learned_ttl_us: u64,
}

impl Params {
    /// Clamps `config` into the ranges the formula is exact on: a rate in
    /// [[`MIN_RATE_PER_S`], [`MAX_RATE_PER_S`]] (NaN reads as the minimum), a burst in
    /// [1, [`MAX_BURST`]], a write reserve in [0, 1] (NaN reads as the default 0.2),
    /// learned durations of at most [`MAX_LEARNED`].
    pub fn new(config: &RateConfig) -> Self {
        let rate = if config.requests_per_s.is_nan() {
            MIN_RATE_PER_S
        } else {
            config.requests_per_s.clamp(MIN_RATE_PER_S, MAX_RATE_PER_S)
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let interval_us = ((MICROS_PER_S as f64) / rate).round().max(1.0) as u64;
        let reserve = if config.write_reserve.is_nan() {
            RateConfig::DEFAULT_WRITE_RESERVE
        } else {
            config.write_reserve.clamp(0.0, 1.0)
        };
        Self {
            interval_us,
            burst: u64::from(config.burst.clamp(1, MAX_BURST)),
            read_share: 1.0 - reserve,
            max_learned_us: micros(config.max_learned.min(MAX_LEARNED)),
            learned_ttl_us: micros(config.learned_ttl.min(MAX_LEARNED)),
        }
    }
}

/// One budget's state; all instants are microseconds on the budget's own time line
/// (the in-process budget's monotonic clock, or Redis's `TIME`). Zero means "never".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct State {
    /// Theoretical arrival time: when the bucket is empty again.
    pub tat: u64,
    /// No admission before this instant.
    pub pause_until: u64,
    /// The learned quota's emission interval (µs per request)…
    pub quota_interval: u64,
    /// …held until this instant.
    pub quota_until: u64,
    /// The learned window's emission interval (what is left, spread to its reset)…
    pub window_interval: u64,
    /// …held until the window resets.
    pub window_until: u64,
}

/// The emission interval in force at `now`: the longest of the configured, the learned
/// quota's and the current window's.
pub fn interval(p: &Params, s: &State, now: u64) -> u64 {
    let quota = if now < s.quota_until { s.quota_interval } else { 0 };
    let window = if now < s.window_until { s.window_interval } else { 0 };
    p.interval_us.max(quota).max(window)
}

/// `T + τ` for `class` at emission interval `t`: writes get the whole burst tolerance,
/// reads `floor(τ × read_share)`.
pub fn capacity(p: &Params, t: u64, class: Class) -> u64 {
    let tau = (p.burst - 1).saturating_mul(t);
    let tau = match class {
        Class::Write => tau,
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        Class::Read => ((tau as f64) * p.read_share).floor() as u64,
    };
    t.saturating_add(tau)
}

/// Admits one request of `class` arriving at `now`: now, after a wait of at most
/// `max_wait_us` (its slot is then reserved), or refused with the wait it would have
/// needed (nothing is consumed).
pub fn admit(p: &Params, s: &mut State, now: u64, class: Class, max_wait_us: u64) -> Admission {
    let t = interval(p, s, now);
    let new_tat = s.tat.max(now).saturating_add(t);
    let allow = new_tat
        .saturating_sub(capacity(p, t, class))
        .max(now)
        .max(s.pause_until);
    let wait = allow - now;
    if wait > max_wait_us {
        return Admission::Refused {
            retry_after: Duration::from_micros(wait),
        };
    }
    s.tat = new_tat;
    if wait == 0 {
        Admission::Now
    } else {
        Admission::Wait(Duration::from_micros(wait))
    }
}

/// Holds every admission for `for_us` (at most `max_learned`) from `now`; afterwards
/// requests resume at the emission interval, without a burst.
pub fn pause(p: &Params, s: &mut State, now: u64, for_us: u64) {
    let until = now.saturating_add(for_us.min(p.max_learned_us));
    s.pause_until = s.pause_until.max(until);
    let t = interval(p, s, now);
    let floor = until.saturating_add(capacity(p, t, Class::Write)).saturating_sub(t);
    s.tat = s.tat.max(floor);
}

/// Narrows the budget by what the vendor said at `now` (see [`LearnedPolicy`]).
///
/// A quota of `limit` per `window` sets an emission interval of `window / limit` for
/// `learned_ttl`; `remaining` requests until `resets_in` spread what is left evenly to
/// the reset and move `tat` so no more than `remaining` are admitted before it; zero
/// remaining is a pause until the reset. Zero limits and windows are ignored, durations
/// are clamped to `max_learned`; nothing here can widen the configured ceiling.
pub fn learn(p: &Params, s: &mut State, now: u64, policy: &LearnedPolicy) {
    if let Some(quota) = policy.quota {
        let window = micros(quota.window).min(p.max_learned_us);
        if quota.limit > 0 && window > 0 {
            s.quota_interval = window.div_ceil(quota.limit);
            s.quota_until = now.saturating_add(p.learned_ttl_us);
        }
    }
    if let Some(left) = policy.remaining {
        let reset = micros(left.resets_in).min(p.max_learned_us);
        if reset == 0 {
            return;
        }
        if left.remaining == 0 {
            pause(p, s, now, reset);
            return;
        }
        s.window_interval = reset.div_ceil(left.remaining);
        s.window_until = now.saturating_add(reset);
        let t = interval(p, s, now);
        let floor = now
            .saturating_add(capacity(p, t, Class::Write))
            .saturating_add(reset)
            .saturating_sub(left.remaining.saturating_add(1).saturating_mul(t));
        s.tat = s.tat.max(floor);
    }
}

/// What is left at `now`: writes admissible at once, the interval in force, the pause.
pub fn snapshot(p: &Params, s: &State, now: u64) -> super::Snapshot {
    let t = interval(p, s, now);
    let paused_for = s.pause_until.saturating_sub(now);
    let level = s.tat.saturating_sub(now);
    let remaining = if paused_for > 0 {
        0
    } else {
        capacity(p, t, Class::Write).saturating_sub(level) / t
    };
    super::Snapshot {
        remaining,
        interval: Duration::from_micros(t),
        paused_for: Duration::from_micros(paused_for),
        quota_interval: (now < s.quota_until).then(|| Duration::from_micros(s.quota_interval)),
        window_interval: (now < s.window_until).then(|| Duration::from_micros(s.window_interval)),
        window_resets_in: (now < s.window_until).then(|| Duration::from_micros(s.window_until - now)),
    }
}

/// Whole microseconds of `d`, saturating.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
