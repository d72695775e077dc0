//! Request limits per credential, off by default, answered in each vendor's own header
//! style: Zendesk's, Jira Cloud's, and the IETF `RateLimit` fields for the other systems.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::state::lock;
use crate::system::System;

/// How a system announces its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateStyle {
    /// `X-Rate-Limit`, `X-Rate-Limit-Remaining`, `ratelimit-limit`, `ratelimit-remaining`,
    /// `ratelimit-reset` (seconds).
    Zendesk,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (ISO 8601, to
    /// the minute), `X-RateLimit-NearLimit` under 20 % left; on a 429 `RateLimit-Reason`.
    Jira,
    /// `RateLimit-Policy: "default";q=<limit>;w=<window>` and
    /// `RateLimit: "default";r=<remaining>;t=<reset>` (draft-ietf-httpapi-ratelimit-headers).
    Ietf,
}

impl RateStyle {
    /// The style of `system`: Zendesk's and Jira's own, the IETF fields for the rest.
    pub fn of(system: System) -> Self {
        match system {
            System::Zendesk => Self::Zendesk,
            System::Jira => Self::Jira,
            _ => Self::Ietf,
        }
    }
}

/// A system's limit: `limit` requests per credential in each window of `window_s`
/// seconds, starting with the credential's first request (simulated clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Requests allowed per window (at least 1).
    pub limit: u32,
    /// The window in seconds (at least 1).
    pub window_s: u32,
}

impl RateLimit {
    /// `limit` requests per `window_s` seconds, each at least 1.
    pub fn new(limit: u32, window_s: u32) -> Self {
        Self {
            limit: limit.max(1),
            window_s: window_s.max(1),
        }
    }
}

/// One system's limit as the control API lists it, with the 429s it sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveRateLimit {
    /// The limit.
    #[serde(flatten)]
    pub limit: RateLimit,
    /// The header style it is announced in.
    pub style: RateStyle,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started_ms: i128,
    used: u32,
}

/// What a limited system says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// `false`: answer 429.
    pub(crate) allowed: bool,
    /// The headers to add to the answer, whichever it is.
    pub(crate) headers: Vec<(&'static str, String)>,
}

/// The limits of every system and each credential's current window.
#[derive(Debug, Default)]
pub(crate) struct RateLimits {
    limits: Mutex<BTreeMap<System, RateLimit>>,
    windows: Mutex<HashMap<(System, [u8; 16]), Window>>,
}

impl RateLimits {
    pub(crate) fn set(&self, system: System, limit: Option<RateLimit>) {
        let mut limits = lock(&self.limits);
        match limit {
            Some(l) => limits.insert(system, RateLimit::new(l.limit, l.window_s)),
            None => limits.remove(&system),
        };
        lock(&self.windows).retain(|(s, _), _| *s != system);
    }

    pub(crate) fn list(&self) -> BTreeMap<System, ActiveRateLimit> {
        lock(&self.limits)
            .iter()
            .map(|(s, l)| {
                (
                    *s,
                    ActiveRateLimit {
                        limit: *l,
                        style: RateStyle::of(*s),
                    },
                )
            })
            .collect()
    }

    pub(crate) fn clear(&self) {
        lock(&self.limits).clear();
        lock(&self.windows).clear();
    }

    /// Counts a request of `credential` to `system` at `now`; `None` when the system has no limit.
    pub(crate) fn check(&self, system: System, credential: &str, now: OffsetDateTime) -> Option<Verdict> {
        let limit = *lock(&self.limits).get(&system)?;
        let now_ms = now.unix_timestamp_nanos() / 1_000_000;
        let window_ms = i128::from(limit.window_s) * 1_000;
        let mut windows = lock(&self.windows);
        let w = windows.entry((system, identity(credential))).or_insert(Window {
            started_ms: now_ms,
            used: 0,
        });
        if now_ms >= w.started_ms + window_ms || now_ms < w.started_ms {
            *w = Window {
                started_ms: now_ms,
                used: 0,
            };
        }
        let allowed = w.used < limit.limit;
        if allowed {
            w.used += 1;
        }
        let left_ms = w.started_ms + window_ms - now_ms;
        let reset_s = u64::try_from((left_ms + 999) / 1_000).unwrap_or(1).max(1);
        let remaining = limit.limit - w.used;
        drop(windows);
        let mut headers = headers(RateStyle::of(system), limit, remaining, reset_s, now);
        if !allowed {
            headers.push(("retry-after", reset_s.to_string()));
            if RateStyle::of(system) == RateStyle::Jira {
                headers.push(("ratelimit-reason", "jira-quota-tenant-based".to_owned()));
            }
        }
        Some(Verdict { allowed, headers })
    }
}

/// The credential a request carries (`Authorization`, else `X-Api-Key`, else none), hashed
/// so no secret is kept.
pub(crate) fn credential(headers: &http::HeaderMap) -> &str {
    crate::auth::header(headers, "authorization")
        .or_else(|| crate::auth::header(headers, "x-api-key"))
        .unwrap_or("")
}

fn identity(credential: &str) -> [u8; 16] {
    let digest = Sha256::digest(credential.as_bytes());
    let mut id = [0; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

fn headers(
    style: RateStyle,
    limit: RateLimit,
    remaining: u32,
    reset_s: u64,
    now: OffsetDateTime,
) -> Vec<(&'static str, String)> {
    match style {
        RateStyle::Zendesk => vec![
            ("x-rate-limit", limit.limit.to_string()),
            ("x-rate-limit-remaining", remaining.to_string()),
            ("ratelimit-limit", limit.limit.to_string()),
            ("ratelimit-remaining", remaining.to_string()),
            ("ratelimit-reset", reset_s.to_string()),
        ],
        RateStyle::Jira => {
            let reset_at = now + time::Duration::seconds(i64::try_from(reset_s).unwrap_or(i64::MAX / 2));
            let mut h = vec![
                ("x-ratelimit-limit", limit.limit.to_string()),
                ("x-ratelimit-remaining", remaining.to_string()),
                ("x-ratelimit-reset", jira_minute(reset_at)),
            ];
            if u64::from(remaining) * 5 < u64::from(limit.limit) {
                h.push(("x-ratelimit-nearlimit", "true".to_owned()));
            }
            h
        }
        RateStyle::Ietf => vec![
            (
                "ratelimit-policy",
                format!("\"default\";q={};w={}", limit.limit, limit.window_s),
            ),
            ("ratelimit", format!("\"default\";r={remaining};t={reset_s}")),
        ],
    }
}

/// Jira's `X-RateLimit-Reset`: ISO 8601 to the minute, rounded up (`2026-12-04T10:15Z`).
pub(crate) fn jira_minute(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let at = if at.second() == 0 && at.nanosecond() == 0 {
        at
    } else {
        at + time::Duration::seconds(60 - i64::from(at.second()))
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    fn header<'a>(v: &'a Verdict, name: &str) -> Option<&'a str> {
        v.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_window_counts_per_credential_and_resets() {
        let limits = RateLimits::default();
        let t0 = datetime!(2026-12-04 10:14:30 UTC);
        assert_eq!(limits.check(System::Zendesk, "Basic a", t0), None, "off by default");
        limits.set(System::Zendesk, Some(RateLimit::new(2, 60)));
        let v = limits.check(System::Zendesk, "Basic a", t0).unwrap();
        assert!(v.allowed);
        assert_eq!(header(&v, "ratelimit-remaining"), Some("1"));
        assert_eq!(header(&v, "ratelimit-reset"), Some("60"));
        assert!(limits.check(System::Zendesk, "Basic a", t0).unwrap().allowed);
        let later = t0 + time::Duration::seconds(20);
        let v = limits.check(System::Zendesk, "Basic a", later).unwrap();
        assert!(!v.allowed);
        assert_eq!(header(&v, "retry-after"), Some("40"));
        assert_eq!(header(&v, "x-rate-limit-remaining"), Some("0"));
        // Another credential has its own window; the next window starts afresh.
        assert!(limits.check(System::Zendesk, "Basic b", later).unwrap().allowed);
        assert!(
            limits
                .check(System::Zendesk, "Basic a", t0 + time::Duration::seconds(60))
                .unwrap()
                .allowed
        );
    }

    #[test]
    fn each_style_as_its_vendor_writes_it() {
        let limits = RateLimits::default();
        let t0 = datetime!(2026-12-04 10:14:30 UTC);
        limits.set(System::Jira, Some(RateLimit::new(10, 60)));
        limits.set(System::Generic, Some(RateLimit::new(100, 60)));
        let mut last = None;
        for _ in 0..9 {
            last = limits.check(System::Jira, "Basic j", t0);
        }
        let v = last.unwrap();
        assert_eq!(header(&v, "x-ratelimit-remaining"), Some("1"));
        assert_eq!(header(&v, "x-ratelimit-reset"), Some("2026-12-04T10:16Z"));
        assert_eq!(header(&v, "x-ratelimit-nearlimit"), Some("true"));
        limits.check(System::Jira, "Basic j", t0);
        let v = limits.check(System::Jira, "Basic j", t0).unwrap();
        assert_eq!(header(&v, "ratelimit-reason"), Some("jira-quota-tenant-based"));
        let v = limits.check(System::Generic, "k", t0).unwrap();
        assert_eq!(header(&v, "ratelimit-policy"), Some("\"default\";q=100;w=60"));
        assert_eq!(header(&v, "ratelimit"), Some("\"default\";r=99;t=60"));
    }

    proptest! {
        /// Whatever the arrivals, no credential gets more than `limit` answers per window,
        /// and every refusal says when the window ends.
        #[test]
        fn never_more_than_the_limit_per_window(
            limit in 1u32..20,
            window_s in 1u32..120,
            arrivals in proptest::collection::vec((0i64..5_000, 0u8..3), 1..200),
        ) {
            let limits = RateLimits::default();
            limits.set(System::Generic, Some(RateLimit::new(limit, window_s)));
            let mut now = datetime!(2026-12-04 10:00 UTC);
            let mut allowed: HashMap<u8, Vec<OffsetDateTime>> = HashMap::new();
            for (gap_ms, who) in arrivals {
                now += time::Duration::milliseconds(gap_ms);
                let v = limits.check(System::Generic, &who.to_string(), now).unwrap();
                if v.allowed {
                    allowed.entry(who).or_default().push(now);
                } else {
                    let r: u64 = header(&v, "retry-after").unwrap().parse().unwrap();
                    prop_assert!((1..=u64::from(window_s)).contains(&r));
                }
            }
            for times in allowed.values() {
                for (i, t) in times.iter().enumerate() {
                    let within = times[i..].iter().take_while(|u| **u - *t < time::Duration::seconds(i64::from(window_s))).count();
                    // Fixed windows: at most two windows' worth in any span of one window.
                    prop_assert!(within <= 2 * limit as usize);
                }
            }
        }
    }
}
