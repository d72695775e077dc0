//! Parsers for the rate-limit headers Jira Cloud and Zendesk send, as pure functions.
//!
//! - Jira: `X-RateLimit-Reset` is an ISO 8601 time (`2026-12-04T10:15Z`, minutes only
//!   in Atlassian's documentation; seconds, fractions and offsets are accepted too);
//!   `Beta-Retry-After` (per-issue write limits) is a number of seconds, like `Retry-After`.
//! - Zendesk: `ratelimit-limit`, `ratelimit-remaining`, `ratelimit-reset` (seconds) for
//!   the account, and `Zendesk-RateLimit-{name}: total=100; remaining=99; resets=41` for
//!   endpoint limits.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
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
