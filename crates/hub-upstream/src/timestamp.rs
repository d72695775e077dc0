//! Lenient parsing of the timestamps vendors send (RFC 3339, and Jira's `+0000` offsets).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// Parses RFC 3339 (`2026-01-05T12:00:00Z`, with or without fractions) or the ISO 8601
/// form Jira uses (`2026-01-05T12:00:00.000+0000`).
///
/// ```
/// use hub_upstream::timestamp::parse_vendor_time;
/// let a = parse_vendor_time("2026-01-05T12:00:00Z").unwrap();
/// let b = parse_vendor_time("2026-01-05T13:00:00.000+0100").unwrap();
/// assert_eq!(a, b);
/// assert!(parse_vendor_time("yesterday").is_none());
/// ```
pub fn parse_vendor_time(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let jira = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]][offset_hour sign:mandatory][offset_minute]"
    );
    OffsetDateTime::parse(s, jira).ok()
}

/// Serde helper: an optional vendor timestamp; unparseable values become `None`
/// (a timestamp is informative, not worth failing a read over).
pub mod option {
    use serde::{Deserialize, Deserializer};
    use time::OffsetDateTime;

    /// Deserialises an optional, leniently parsed timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
        let raw: Option<String> = Option::deserialize(d)?;
        Ok(raw.as_deref().and_then(super::parse_vendor_time))
    }
}

/// Serde helper: a required vendor timestamp; an unparseable value is a decode error.
pub mod required {
    use serde::{Deserialize, Deserializer};
    use time::OffsetDateTime;

    /// Deserialises a required, leniently parsed timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let raw = String::deserialize(d)?;
        super::parse_vendor_time(&raw).ok_or_else(|| serde::de::Error::custom("not an RFC 3339 timestamp"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn forms() {
        assert!(parse_vendor_time("2026-01-05T12:00:00.123456Z").is_some());
        assert!(parse_vendor_time("2026-01-05T12:00:00+02:00").is_some());
        assert!(parse_vendor_time("2026-01-05T12:00:00.000-0500").is_some());
        assert!(parse_vendor_time("2026-01-05").is_none());
        assert!(parse_vendor_time("").is_none());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_vendor_time(&s);
        }
    }
}
