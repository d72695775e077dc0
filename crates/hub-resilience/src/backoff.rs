//! Exponential backoff with a choice of jitter, driven by an injectable random source.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// How a backoff delay is randomised (see AWS's "Exponential Backoff and Jitter").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jitter {
    /// Exactly the exponential delay.
    #[default]
    None,
    /// Uniform in `[0, delay]`.
    Full,
    /// Half the delay plus a uniform part of the other half: `[delay/2, delay]`.
    Equal,
    /// Uniform in `[initial, 3 × previous delay]`, capped at `max`.
    Decorrelated,
}

/// An exponential backoff: `initial × multiplier^(n-1)` before the n-th retry, capped at `max`.
///
/// The default is the contract's: from 2 s, ×2, capped at 10 s, without jitter (the
/// delays are exactly 2 s, 4 s, 8 s, 10 s, …); choose a [`Jitter`] to spread retries
/// from many callers.
///
/// ```
/// use std::time::Duration;
/// use hub_resilience::backoff::{Backoff, Jitter};
/// let delays: Vec<_> = Backoff::default().delays(None).take(4).collect();
/// assert_eq!(delays, [2, 4, 8, 10].map(Duration::from_secs));
///
/// let full = Backoff { jitter: Jitter::Full, ..Backoff::default() };
/// for d in full.delays(Some(7)).take(10) {
///     assert!(d <= Duration::from_secs(10));
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The delay before the first retry (before jitter).
    pub initial: Duration,
    /// The growth factor per retry (values below 1 are treated as 1).
    pub multiplier: f64,
    /// The largest delay.
    pub max: Duration,
    /// How the delay is randomised.
    pub jitter: Jitter,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(2),
            multiplier: 2.0,
            max: Duration::from_secs(10),
            jitter: Jitter::None,
        }
    }
}

impl Backoff {
    /// The delay before retry number `retry` (1-based) without jitter.
    pub fn base_delay(&self, retry: u32) -> Duration {
        let exp = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let factor = self.multiplier.max(1.0).powi(exp);
        let secs = self.initial.as_secs_f64() * factor;
        if !secs.is_finite() || secs >= self.max.as_secs_f64() {
            self.max
        } else {
            Duration::from_secs_f64(secs).min(self.max)
        }
    }

    /// The infinite sequence of delays, seeded with `seed` (deterministic, for tests)
    /// or, with `None`, from a fresh random seed.
    pub fn delays(&self, seed: Option<u64>) -> Delays {
        let rng = match seed {
            Some(s) => SmallRng::seed_from_u64(s),
            None => SmallRng::seed_from_u64(random_seed()),
        };
        self.delays_with(rng)
    }

    /// The infinite sequence of delays drawing on `rng`.
    pub fn delays_with<R: Rng>(&self, rng: R) -> Delays<R> {
        Delays {
            backoff: *self,
            retry: 0,
            prev: self.initial,
            rng,
        }
    }
}

/// The delays of a [`Backoff`], one per retry.
#[derive(Debug, Clone)]
pub struct Delays<R = SmallRng> {
    backoff: Backoff,
    retry: u32,
    prev: Duration,
    rng: R,
}

impl<R: Rng> Iterator for Delays<R> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.retry = self.retry.saturating_add(1);
        let b = &self.backoff;
        let base = b.base_delay(self.retry);
        let delay = match b.jitter {
            Jitter::None => base,
            Jitter::Full => uniform(&mut self.rng, Duration::ZERO, base),
            Jitter::Equal => {
                let half = base / 2;
                uniform(&mut self.rng, half, base)
            }
            Jitter::Decorrelated => {
                let low = b.initial.min(b.max);
                let high = self.prev.saturating_mul(3).min(b.max).max(low);
                uniform(&mut self.rng, low, high)
            }
        };
        self.prev = delay;
        Some(delay)
    }
}

fn uniform<R: Rng>(rng: &mut R, low: Duration, high: Duration) -> Duration {
    let lo = u64::try_from(low.as_nanos()).unwrap_or(u64::MAX);
    let hi = u64::try_from(high.as_nanos()).unwrap_or(u64::MAX);
    if hi <= lo {
        return low;
    }
    Duration::from_nanos(rng.random_range(lo..=hi))
}

/// A seed from the standard library's per-process random hasher keys.
fn random_seed() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0x9e37_79b9_7f4a_7c15);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn jitter() -> impl Strategy<Value = Jitter> {
        prop_oneof![
            Just(Jitter::None),
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Decorrelated)
        ]
    }

    #[test]
    fn defaults_follow_the_contract() {
        let d: Vec<_> = Backoff::default().delays(Some(1)).take(5).collect();
        assert_eq!(d, [2, 4, 8, 10, 10].map(Duration::from_secs));
    }

    #[test]
    fn same_seed_same_delays() {
        let b = Backoff {
            jitter: Jitter::Decorrelated,
            ..Backoff::default()
        };
        let a: Vec<_> = b.delays(Some(42)).take(8).collect();
        let c: Vec<_> = b.delays(Some(42)).take(8).collect();
        assert_eq!(a, c);
        let spread: std::collections::HashSet<_> = b.delays(Some(43)).take(50).collect();
        assert!(spread.len() > 10, "decorrelated jitter must vary: {spread:?}");
    }

    proptest! {
        #[test]
        fn delays_stay_within_their_jitter_bounds(
            jitter in jitter(),
            initial_ms in 1u64..5_000,
            multiplier in 1.0f64..4.0,
            max_extra_ms in 0u64..20_000,
            seed in any::<u64>(),
        ) {
            let b = Backoff {
                initial: Duration::from_millis(initial_ms),
                multiplier,
                max: Duration::from_millis(initial_ms + max_extra_ms),
                jitter,
            };
            let mut prev = b.initial;
            for (i, d) in b.delays(Some(seed)).take(12).enumerate() {
                let base = b.base_delay(u32::try_from(i + 1).unwrap_or(u32::MAX));
                prop_assert!(base <= b.max);
                prop_assert!(d <= b.max, "{d:?} > max");
                match jitter {
                    Jitter::None => prop_assert_eq!(d, base),
                    Jitter::Full => prop_assert!(d <= base),
                    Jitter::Equal => prop_assert!(d >= base / 2 && d <= base),
                    Jitter::Decorrelated => {
                        prop_assert!(d >= b.initial);
                        prop_assert!(d <= (prev * 3).min(b.max).max(b.initial));
                    }
                }
                prev = d;
            }
        }

        #[test]
        fn base_delays_grow_monotonically(initial_ms in 1u64..5_000, multiplier in 1.0f64..4.0, retries in 1u32..200) {
            let b = Backoff { initial: Duration::from_millis(initial_ms), multiplier, max: Duration::from_secs(10), jitter: Jitter::None };
            prop_assert!(b.base_delay(retries) <= b.base_delay(retries + 1));
        }
    }
}
