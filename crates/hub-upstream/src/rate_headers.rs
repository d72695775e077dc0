//! Parsers for the rate-limit headers vendors send, as pure functions, and their mapping
//! to the rate budget's [`LearnedPolicy`].
//!
//! - Jira: `X-RateLimit-Reset` is an ISO 8601 time (`2026-12-04T10:15Z`, minutes only
//!   in Atlassian's documentation; seconds, fractions and offsets are accepted too);
//!   `Beta-Retry-After` (per-issue write limits) is a number of seconds, like `Retry-After`.
//! - Zendesk: `ratelimit-limit`, `ratelimit-remaining`, `ratelimit-reset` (seconds) for
//!   the account, and `Zendesk-RateLimit-{name}: total=100; remaining=99; resets=41` for
//!   endpoint limits.
//! - IETF (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "default";q=100;w=60`
//!   and `RateLimit: "default";r=50;t=30` (Jira's points-based limits send them with a
//!   `Beta-` prefix), and the older drafts' `RateLimit-Limit` (`100` or `100, 100;w=60`),
//!   `RateLimit-Remaining`, `RateLimit-Reset` (seconds).
//!
//! [`learned`] reads one family into a [`LearnedPolicy`]: a quota when the vendor says
//! how many requests a window of known length holds, what is left when it also says
//! when the window resets. Values that do not read are ignored; the budget clamps the rest.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use hub_resilience::rate_budget::{LearnedPolicy, Quota, Remaining};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// One rate window as a vendor reports it; a field is `None` when absent or unreadable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateWindow {
    /// Requests allowed in the window.
    pub limit: Option<u64>,
    /// Requests left in the window.
    pub remaining: Option<u64>,
    /// Time until the window resets.
    pub resets_in: Option<Duration>,
}

/// Jira's `X-RateLimit-Reset`: the time until the ISO 8601 instant `value` (zero when
/// it has passed).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use hub_upstream::rate_headers::jira_reset;
/// let now = UNIX_EPOCH + Duration::from_secs(1_796_379_240); // 2026-12-04T10:14:00Z
/// assert_eq!(jira_reset("2026-12-04T10:15Z", now), Some(Duration::from_secs(60)));
/// assert_eq!(jira_reset("2026-12-04T11:15:30+01:00", now), Some(Duration::from_secs(90)));
/// assert_eq!(jira_reset("soon", now), None);
/// ```
pub fn jira_reset(value: &str, now: SystemTime) -> Option<Duration> {
    let at = iso8601(value.trim())?;
    let at = SystemTime::from(at);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A number of seconds (`Beta-Retry-After`, `ratelimit-reset`): digits, optionally with
/// a fraction, rounded up to the millisecond.
///
/// ```
/// use std::time::Duration;
/// use hub_upstream::rate_headers::seconds;
/// assert_eq!(seconds(" 41 "), Some(Duration::from_secs(41)));
/// assert_eq!(seconds("1.0005"), Some(Duration::from_millis(1001)));
/// assert_eq!(seconds("-1"), None);
/// ```
pub fn seconds(value: &str) -> Option<Duration> {
    let value = value.trim();
    let (whole, frac) = value.split_once('.').map_or((value, None), |(w, f)| (w, Some(f)));
    let secs = digits(whole)?;
    let millis = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            let head: u64 = f
                .bytes()
                .chain(std::iter::repeat(b'0'))
                .take(3)
                .fold(0, |acc, b| acc * 10 + u64::from(b - b'0'));
            head + u64::from(f.bytes().skip(3).any(|b| b != b'0'))
        }
        Some(_) => return None,
    };
    Some(Duration::from_secs(secs).saturating_add(Duration::from_millis(millis)))
}

/// A `Zendesk-RateLimit-{name}` value: `total=100; remaining=99; resets=41`. Unknown
/// parts are ignored; `None` when no known part reads.
///
/// ```
/// use std::time::Duration;
/// use hub_upstream::rate_headers::{RateWindow, zendesk_window};
/// assert_eq!(
///     zendesk_window("total=100; remaining=99; resets=41"),
///     Some(RateWindow { limit: Some(100), remaining: Some(99), resets_in: Some(Duration::from_secs(41)) })
/// );
/// ```
pub fn zendesk_window(value: &str) -> Option<RateWindow> {
    let mut w = RateWindow::default();
    for part in value.split([';', ',']) {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "total" => w.limit = digits(v.trim()),
            "remaining" => w.remaining = digits(v.trim()),
            "resets" => w.resets_in = seconds(v),
            _ => {}
        }
    }
    (w != RateWindow::default()).then_some(w)
}

/// Zendesk's account window from `ratelimit-*` (falling back to `x-rate-limit` and
/// `x-rate-limit-remaining`), and each `Zendesk-RateLimit-{name}` window by its lower-case
/// name (`tickets-index`).
pub fn zendesk(headers: &HeaderMap) -> (RateWindow, Vec<(String, RateWindow)>) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let account = RateWindow {
        limit: header("ratelimit-limit")
            .or_else(|| header("x-rate-limit"))
            .and_then(digits_trim),
        remaining: header("ratelimit-remaining")
            .or_else(|| header("x-rate-limit-remaining"))
            .and_then(digits_trim),
        resets_in: header("ratelimit-reset").and_then(seconds),
    };
    let named = headers
        .iter()
        .filter_map(|(name, value)| {
            let name = name.as_str().strip_prefix("zendesk-ratelimit-")?;
            Some((name.to_owned(), zendesk_window(value.to_str().ok()?)?))
        })
        .collect();
    (account, named)
}

/// Jira's window from `X-RateLimit-Limit`, `X-RateLimit-Remaining` and the ISO 8601
/// `X-RateLimit-Reset`, and `Beta-Retry-After` (per-issue write limits) if sent.
pub fn jira(headers: &HeaderMap, now: SystemTime) -> (RateWindow, Option<Duration>) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let window = RateWindow {
        limit: header("x-ratelimit-limit").and_then(digits_trim),
        remaining: header("x-ratelimit-remaining").and_then(digits_trim),
        resets_in: header("x-ratelimit-reset").and_then(|v| jira_reset(v, now)),
    };
    (window, header("beta-retry-after").and_then(seconds))
}

/// Which header family a vendor speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateFamily {
    /// Zendesk: `ratelimit-*` / `X-Rate-Limit*` for the account, per minute.
    Zendesk,
    /// Jira Cloud: `X-RateLimit-*` with an ISO 8601 reset, and the IETF fields with a
    /// `Beta-` prefix for its points-based quota.
    Jira,
    /// The IETF fields, and the older drafts' `RateLimit-Limit/Remaining/Reset`.
    Ietf,
}

/// What `headers` say about the account's limits, read as `family` writes them.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::{HeaderMap, HeaderValue};
/// use hub_resilience::rate_budget::{Quota, Remaining};
/// use hub_upstream::rate_headers::{RateFamily, learned};
/// let mut h = HeaderMap::new();
/// h.insert("ratelimit-policy", HeaderValue::from_static("\"default\";q=100;w=60"));
/// h.insert("ratelimit", HeaderValue::from_static("\"default\";r=50;t=30"));
/// let policy = learned(RateFamily::Ietf, &h, SystemTime::now());
/// assert_eq!(policy.quota, Some(Quota { limit: 100, window: Duration::from_secs(60) }));
/// assert_eq!(policy.remaining, Some(Remaining { remaining: 50, resets_in: Duration::from_secs(30) }));
/// ```
pub fn learned(family: RateFamily, headers: &HeaderMap, now: SystemTime) -> LearnedPolicy {
    match family {
        RateFamily::Zendesk => zendesk_policy(headers),
        RateFamily::Jira => jira_policy(headers, now),
        RateFamily::Ietf => ietf(headers, ""),
    }
}

/// Zendesk's account limits are per minute: `ratelimit-limit` (or `X-Rate-Limit`) is a
/// quota per 60 s; what remains resets in `ratelimit-reset` seconds, or at the latest
/// when the minute ends (60 s) when it is not sent.
pub fn zendesk_policy(headers: &HeaderMap) -> LearnedPolicy {
    let (account, _) = zendesk(headers);
    let minute = Duration::from_secs(60);
    LearnedPolicy {
        // A limit of 0 says nothing usable (no quota lets nothing through); the remaining
        // count and its reset still narrow the budget.
        quota: account
            .limit
            .filter(|l| *l > 0)
            .map(|limit| Quota { limit, window: minute }),
        remaining: account.remaining.map(|remaining| Remaining {
            remaining,
            resets_in: account.resets_in.unwrap_or(minute),
        }),
    }
}

/// Jira's `X-RateLimit-Remaining` until `X-RateLimit-Reset` (its `X-RateLimit-Limit` is a
/// bucket size without a window, so no quota), narrowed further by the points-based
/// `Beta-RateLimit` / `Beta-RateLimit-Policy` (or unprefixed) IETF fields when sent.
pub fn jira_policy(headers: &HeaderMap, now: SystemTime) -> LearnedPolicy {
    let (window, _) = jira(headers, now);
    let bucket = LearnedPolicy {
        quota: None,
        remaining: window
            .remaining
            .zip(window.resets_in)
            .map(|(remaining, resets_in)| Remaining { remaining, resets_in }),
    };
    narrowest(narrowest(bucket, ietf(headers, "beta-")), ietf(headers, ""))
}

/// The IETF fields under `prefix` (`""` or `"beta-"`): `RateLimit-Policy` for the quota
/// and `RateLimit` for what is left, else the older `RateLimit-Limit` (a quota only with
/// a `w` parameter), `RateLimit-Remaining` and `RateLimit-Reset`.
fn ietf(headers: &HeaderMap, prefix: &str) -> LearnedPolicy {
    let header = |name: &str| headers.get(format!("{prefix}{name}")).and_then(|v| v.to_str().ok());
    let quota = header("ratelimit-policy")
        .and_then(ietf_policy)
        .or_else(|| header("ratelimit-limit").and_then(old_limit));
    let remaining = header("ratelimit").and_then(ietf_remaining).or_else(|| {
        Some(Remaining {
            remaining: header("ratelimit-remaining").and_then(digits_trim)?,
            resets_in: header("ratelimit-reset").and_then(seconds)?,
        })
    });
    LearnedPolicy { quota, remaining }
}

/// The most restrictive quota in a `RateLimit-Policy` value (`"default";q=100;w=60`):
/// the longest time per request. Items without `q`, with a zero `q` or `w`, or counting
/// something other than requests (`qu` other than `"requests"`) are skipped, and so is an
/// item without `w` (its window is unknown).
///
/// ```
/// use std::time::Duration;
/// use hub_resilience::rate_budget::Quota;
/// use hub_upstream::rate_headers::ietf_policy;
/// assert_eq!(
///     ietf_policy(r#""burst";q=100;w=60, "daily";q=1000;w=86400"#),
///     Some(Quota { limit: 1000, window: Duration::from_secs(86_400) })
/// );
/// assert_eq!(ietf_policy(r#""default";q=0;w=60"#), None);
/// ```
pub fn ietf_policy(value: &str) -> Option<Quota> {
    sf_items(value)
        .into_iter()
        .filter(|item| param_str(item, "qu").is_none_or(|u| u == "requests"))
        .filter_map(|item| {
            let limit = param(&item, "q").filter(|q| *q > 0)?;
            let window = param(&item, "w").filter(|w| *w > 0)?;
            Some(Quota {
                limit,
                window: Duration::from_secs(window),
            })
        })
        .max_by(|a, b| {
            // a.window / a.limit vs b.window / b.limit, without division.
            (u128::from(a.window.as_secs()) * u128::from(b.limit))
                .cmp(&(u128::from(b.window.as_secs()) * u128::from(a.limit)))
        })
}

/// What is left in a `RateLimit` value (`"default";r=50;t=30`): the item with the
/// fewest remaining requests (`t` defaults to 0: no narrowing but zero remaining).
///
/// ```
/// use std::time::Duration;
/// use hub_resilience::rate_budget::Remaining;
/// use hub_upstream::rate_headers::ietf_remaining;
/// assert_eq!(
///     ietf_remaining(r#""default";r=50;t=30"#),
///     Some(Remaining { remaining: 50, resets_in: Duration::from_secs(30) })
/// );
/// ```
pub fn ietf_remaining(value: &str) -> Option<Remaining> {
    sf_items(value)
        .into_iter()
        .filter_map(|item| {
            Some(Remaining {
                remaining: param(&item, "r")?,
                resets_in: Duration::from_secs(param(&item, "t").unwrap_or(0)),
            })
        })
        .min_by_key(|r| (r.remaining, std::cmp::Reverse(r.resets_in)))
}

/// The older drafts' `RateLimit-Limit`: `100` (no window: nothing to learn) or
/// `100, 100;w=60, 1000;w=3600` (the first policy with a window).
fn old_limit(value: &str) -> Option<Quota> {
    let mut parts = value.split(',');
    let limit = digits_trim(parts.next()?)?;
    parts.find_map(|p| {
        let (q, params) = p.split_once(';')?;
        let w = params
            .split(';')
            .find_map(|kv| kv.trim().strip_prefix("w=").and_then(digits_trim))?;
        (digits_trim(q)? == limit && limit > 0 && w > 0).then(|| Quota {
            limit,
            window: Duration::from_secs(w),
        })
    })
}

/// Of two policies, for each part the one allowing less: the quota and the remaining
/// window with the longer time per request.
fn narrowest(a: LearnedPolicy, b: LearnedPolicy) -> LearnedPolicy {
    let quota = match (a.quota, b.quota) {
        (Some(x), Some(y)) => Some(
            if u128::from(x.window.as_secs()) * u128::from(y.limit)
                >= u128::from(y.window.as_secs()) * u128::from(x.limit)
            {
                x
            } else {
                y
            },
        ),
        (x, y) => x.or(y),
    };
    let remaining = match (a.remaining, b.remaining) {
        (Some(x), Some(y)) => Some(
            if x.resets_in.as_millis() * u128::from(y.remaining) >= y.resets_in.as_millis() * u128::from(x.remaining) {
                x
            } else {
                y
            },
        ),
        (x, y) => x.or(y),
    };
    LearnedPolicy { quota, remaining }
}

/// A structured-field list's members, split at commas and semicolons outside quotes:
/// each member is its parts, the first being its name.
fn sf_items(value: &str) -> Vec<Vec<&str>> {
    let mut items = Vec::new();
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' | ',' if !quoted => {
                parts.push(value[start..i].trim());
                start = i + 1;
                if c == ',' {
                    items.push(std::mem::take(&mut parts));
                }
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    items.push(parts);
    items
}

/// A parameter of an item as a non-negative integer (structured fields allow 15 digits).
fn param(item: &[&str], key: &str) -> Option<u64> {
    item.iter()
        .skip(1)
        .find_map(|p| p.split_once('=').filter(|(k, _)| k.trim() == key))
        .and_then(|(_, v)| digits_trim(v))
}

/// A parameter of an item as a string (quotes removed).
fn param_str<'a>(item: &[&'a str], key: &str) -> Option<&'a str> {
    item.iter()
        .skip(1)
        .find_map(|p| p.split_once('=').filter(|(k, _)| k.trim() == key))
        .map(|(_, v)| v.trim().trim_matches('"'))
}

fn digits_trim(s: &str) -> Option<u64> {
    digits(s.trim())
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn fixed(s: &str, len: usize) -> Option<u32> {
    (s.len() == len)
        .then(|| digits(s))
        .flatten()
        .and_then(|n| u32::try_from(n).ok())
}

/// `YYYY-MM-DDTHH:MM[:SS[.f+]](Z|±HH:MM|±HHMM)`.
fn iso8601(s: &str) -> Option<OffsetDateTime> {
    let (date, rest) = s.split_once(['T', 't'])?;
    let mut d = date.split('-');
    let (y, m, day) = (fixed(d.next()?, 4)?, fixed(d.next()?, 2)?, fixed(d.next()?, 2)?);
    if d.next().is_some() {
        return None;
    }
    let date = Date::from_calendar_date(
        i32::try_from(y).ok()?,
        Month::try_from(u8::try_from(m).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let zone_at = rest.find(['Z', 'z', '+', '-'])?;
    let (clock, zone) = rest.split_at(zone_at);
    let offset = match zone {
        "Z" | "z" => UtcOffset::UTC,
        _ => {
            let sign: i32 = if zone.starts_with('-') { -1 } else { 1 };
            let hm = zone.get(1..)?.replace(':', "");
            let (h, m) = (fixed(hm.get(..2)?, 2)?, fixed(hm.get(2..)?, 2)?);
            let total = sign * i32::try_from(h * 3600 + m * 60).ok()?;
            UtcOffset::from_whole_seconds(total).ok()?
        }
    };
    let mut c = clock.split(':');
    let (h, min) = (fixed(c.next()?, 2)?, fixed(c.next()?, 2)?);
    let (sec, nanos) = match c.next() {
        None => (0, 0),
        Some(s) => {
            let (whole, frac) = s.split_once('.').map_or((s, None), |(w, f)| (w, Some(f)));
            let nanos = match frac {
                None => 0,
                Some(f) if !f.is_empty() && f.len() <= 9 => {
                    fixed(f, f.len())? * 10u32.pow(9 - u32::try_from(f.len()).ok()?)
                }
                Some(_) => return None,
            };
            (fixed(whole, 2)?, nanos)
        }
    };
    if c.next().is_some() {
        return None;
    }
    let time = Time::from_hms_nano(
        u8::try_from(h).ok()?,
        u8::try_from(min).ok()?,
        u8::try_from(sec).ok()?,
        nanos,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn headers_as_the_vendors_document_them() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-rate-limit", "700"),
            ("ratelimit-limit", "700"),
            ("x-rate-limit-remaining", "699"),
            ("ratelimit-remaining", "699"),
            ("ratelimit-reset", "41"),
            ("zendesk-ratelimit-tickets-index", "total=100; remaining=99; resets=41"),
        ] {
            h.insert(k, HeaderValue::from_static(v));
        }
        let (account, named) = zendesk(&h);
        let window = RateWindow {
            limit: Some(700),
            remaining: Some(699),
            resets_in: Some(Duration::from_secs(41)),
        };
        assert_eq!(account, window);
        assert_eq!(
            named,
            [(
                "tickets-index".to_owned(),
                RateWindow {
                    limit: Some(100),
                    remaining: Some(99),
                    ..window
                }
            )]
        );

        let now = UNIX_EPOCH + Duration::from_secs(1_796_379_240); // 2026-12-04T10:14:00Z
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-ratelimit-limit", "350"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "2026-12-04T10:16Z"),
            ("beta-retry-after", "7"),
        ] {
            h.insert(k, HeaderValue::from_static(v));
        }
        let (window, beta) = jira(&h, now);
        assert_eq!(
            window,
            RateWindow {
                limit: Some(350),
                remaining: Some(0),
                resets_in: Some(Duration::from_secs(120))
            }
        );
        assert_eq!(beta, Some(Duration::from_secs(7)));
        // A reset in the past is now.
        assert_eq!(jira_reset("2026-12-04T10:00Z", now), Some(Duration::ZERO));
    }

    #[test]
    fn malformed_values_read_as_absent() {
        let now = UNIX_EPOCH;
        for bad in [
            "",
            "2026-12-04",
            "2026-12-04T10:15",
            "2026-13-04T10:15Z",
            "2026-12-04T25:15Z",
            "2026-12-04T10:15:61Z",
            "2026-12-04T10:15+1:00",
            "2026-12-04T10:15:00.Z",
            "1796379240",
        ] {
            assert_eq!(jira_reset(bad, now), None, "{bad}");
        }
        assert_eq!(zendesk_window("garbage"), None);
        assert_eq!(zendesk_window("total=x; remaining=-1"), None);
        assert_eq!(seconds("1e3"), None);
    }

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn quota(limit: u64, s: u64) -> Option<Quota> {
        Some(Quota {
            limit,
            window: Duration::from_secs(s),
        })
    }

    fn left(remaining: u64, s: u64) -> Option<Remaining> {
        Some(Remaining {
            remaining,
            resets_in: Duration::from_secs(s),
        })
    }

    #[test]
    fn a_zero_zendesk_limit_is_no_quota_but_what_is_left_still_counts() {
        let now = UNIX_EPOCH;
        let p = learned(
            RateFamily::Zendesk,
            &map(&[
                ("ratelimit-limit", "0"),
                ("ratelimit-remaining", "0"),
                ("ratelimit-reset", "9"),
            ]),
            now,
        );
        assert_eq!((p.quota, p.remaining), (None, left(0, 9)));
    }

    #[test]
    fn each_family_maps_to_a_learned_policy() {
        let now = UNIX_EPOCH + Duration::from_secs(1_796_379_240); // 2026-12-04T10:14:00Z
        // Zendesk's documented account headers: 700 per minute, 699 left, reset in 41 s.
        let z = map(&[
            ("x-rate-limit", "700"),
            ("x-rate-limit-remaining", "699"),
            ("ratelimit-limit", "700"),
            ("ratelimit-remaining", "699"),
            ("ratelimit-reset", "41"),
            ("zendesk-ratelimit-tickets-index", "total=100; remaining=99; resets=41"),
        ]);
        let p = learned(RateFamily::Zendesk, &z, now);
        assert_eq!((p.quota, p.remaining), (quota(700, 60), left(699, 41)));
        // Without a reset, what is left lasts at most the minute.
        let p = learned(
            RateFamily::Zendesk,
            &map(&[("x-rate-limit", "200"), ("x-rate-limit-remaining", "3")]),
            now,
        );
        assert_eq!((p.quota, p.remaining), (quota(200, 60), left(3, 60)));

        // Jira: a bucket of 350 with 0 left until 10:16Z.
        let j = map(&[
            ("x-ratelimit-limit", "350"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "2026-12-04T10:16Z"),
            ("x-ratelimit-nearlimit", "true"),
            ("ratelimit-reason", "jira-burst-based"),
        ]);
        let p = learned(RateFamily::Jira, &j, now);
        assert_eq!((p.quota, p.remaining), (None, left(0, 120)));
        let j = map(&[
            ("x-ratelimit-limit", "350"),
            ("x-ratelimit-remaining", "349"),
            ("x-ratelimit-reset", "2026-12-04T10:15Z"),
            ("beta-ratelimit-policy", "\"tenant-app-quota\";q=100100;w=3600"),
            ("beta-ratelimit", "\"tenant-app-quota\";r=17842;t=2107"),
        ]);
        // With the points-based Beta fields (as Jira sent them), each part is the narrower:
        // 349 in 60 s allows less per second than 17842 in 2107 s.
        let p = learned(RateFamily::Jira, &j, now);
        assert_eq!((p.quota, p.remaining), (quota(100_100, 3600), left(349, 60)));

        // IETF, the current draft's example, and the older drafts' fields.
        let i = map(&[
            ("ratelimit-policy", "\"default\";q=100;w=10"),
            ("ratelimit", "\"default\";r=50;t=30"),
        ]);
        let p = learned(RateFamily::Ietf, &i, now);
        assert_eq!((p.quota, p.remaining), (quota(100, 10), left(50, 30)));
        let old = map(&[
            ("ratelimit-limit", "10, 10;w=1, 50;w=60"),
            ("ratelimit-remaining", "9"),
            ("ratelimit-reset", "1"),
        ]);
        let p = learned(RateFamily::Ietf, &old, now);
        assert_eq!((p.quota, p.remaining), (quota(10, 1), left(9, 1)));
        let p = learned(RateFamily::Ietf, &map(&[("ratelimit-limit", "100")]), now);
        assert!(p.is_empty(), "a limit without a window says nothing usable");
    }

    #[test]
    fn ietf_lists_pick_the_most_restrictive_item() {
        assert_eq!(
            ietf_policy(r#""a";q=10;w=1, "b";q=50;w=60;qu="requests", "c";q=5;w=60;qu="content-bytes""#),
            quota(50, 60)
        );
        assert_eq!(ietf_remaining(r#""a";r=9;t=1, "b";r=3;t=40"#), left(3, 40));
        assert_eq!(
            ietf_remaining(r#""a,b";r=2;t=5"#),
            left(2, 5),
            "a comma in a quoted name"
        );
        assert_eq!(ietf_remaining(r#""a";r=-1;t=5"#), None);
        assert_eq!(ietf_policy(r#""a";q=10"#), None);
    }

    proptest! {
        /// Any instant, written as Jira writes it (minutes, Z), reads back exactly.
        #[test]
        fn jira_reset_round_trips(minutes in 0i64..10_000_000, now_s in 0u64..700_000_000) {
            let at = OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(minutes);
            let text = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}Z",
                at.year(), u8::from(at.month()), at.day(), at.hour(), at.minute()
            );
            let now = UNIX_EPOCH + Duration::from_secs(now_s);
            let expected = (SystemTime::from(at)).duration_since(now).unwrap_or(Duration::ZERO);
            prop_assert_eq!(jira_reset(&text, now), Some(expected));
        }

        /// Whatever a header holds, the parsers answer a value or `None`, never a panic.
        #[test]
        fn arbitrary_values_never_panic(value in "\\PC{0,40}", now_s in 0u64..4_000_000_000) {
            let now = UNIX_EPOCH + Duration::from_secs(now_s);
            let _ = jira_reset(&value, now);
            let _ = seconds(&value);
            let _ = zendesk_window(&value);
            let _ = ietf_policy(&value);
            let _ = ietf_remaining(&value);
            let _ = old_limit(&value);
        }

        /// Any header values, in any family, give a policy (maybe empty) and never panic;
        /// whatever is learned has a non-zero window and limit.
        #[test]
        fn hostile_headers_never_panic(
            values in proptest::collection::vec("[ -~]{0,30}", 8),
            now_s in 0u64..4_000_000_000,
        ) {
            let names = [
                "ratelimit-policy", "ratelimit", "ratelimit-limit", "ratelimit-remaining",
                "ratelimit-reset", "x-ratelimit-remaining", "x-ratelimit-reset", "beta-ratelimit",
            ];
            let mut h = HeaderMap::new();
            for (name, value) in names.iter().zip(&values) {
                if let Ok(v) = HeaderValue::from_str(value) {
                    h.insert(*name, v);
                }
            }
            let now = UNIX_EPOCH + Duration::from_secs(now_s);
            for family in [RateFamily::Zendesk, RateFamily::Jira, RateFamily::Ietf] {
                let p = learned(family, &h, now);
                if let Some(q) = p.quota {
                    prop_assert!(q.limit > 0 && !q.window.is_zero());
                }
            }
        }

        /// Every documented shape reads back what was written, for any numbers.
        #[test]
        fn ietf_values_read_back(q in 1u64..1_000_000_000, w in 1u64..1_000_000, r in 0u64..1_000_000_000, t in 0u64..1_000_000) {
            prop_assert_eq!(ietf_policy(&format!("\"default\";q={q};w={w}")), quota(q, w));
            prop_assert_eq!(ietf_remaining(&format!("\"default\";r={r};t={t}")), left(r, t));
            prop_assert_eq!(ietf_remaining(&format!("\"x\";r={r};t={t}, \"y\";r={};t=1", r + 1)), left(r, t));
        }

        /// Whole seconds read exactly; the window parser reads what it was given.
        #[test]
        fn numbers_read_back(total in any::<u32>(), remaining in any::<u32>(), resets in any::<u32>()) {
            prop_assert_eq!(seconds(&resets.to_string()), Some(Duration::from_secs(u64::from(resets))));
            let w = zendesk_window(&format!("total={total}; remaining={remaining}; resets={resets}"));
            prop_assert_eq!(w, Some(RateWindow {
                limit: Some(u64::from(total)),
                remaining: Some(u64::from(remaining)),
                resets_in: Some(Duration::from_secs(u64::from(resets))),
            }));
        }
    }
}
