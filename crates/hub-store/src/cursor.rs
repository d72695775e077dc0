//! Opaque keyset cursors for the newest-first listings: a position `(time, id)`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hub_core::StoreError;

/// Where a page ended: the last item's time (Unix µs) and id, the listing's sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) at_us: i64,
    pub(crate) id: String,
}

impl Cursor {
    /// The opaque text handed to callers.
    pub(crate) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}/{}", self.at_us, self.id))
    }

    /// Parses a cursor from [`Cursor::encode`]; anything else is the caller's mistake.
    pub(crate) fn decode(text: &str) -> Result<Self, StoreError> {
        let invalid = || StoreError::Invalid {
            reason: "malformed cursor".to_owned(),
        };
        let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        let raw = String::from_utf8(raw).map_err(|_| invalid())?;
        let (at, id) = raw.split_once('/').ok_or_else(invalid)?;
        Ok(Self {
            at_us: at.parse().map_err(|_| invalid())?,
            id: id.to_owned(),
        })
    }
}

/// The page size asked for, defaulted (0 → 50) and capped at 500.
pub(crate) fn page_size(limit: u32) -> i64 {
    i64::from(if limit == 0 { 50 } else { limit.min(500) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cursors_round_trip(at_us in any::<i64>(), id in "[A-Za-z0-9/._:-]{0,40}") {
            let c = Cursor { at_us, id };
            prop_assert_eq!(Cursor::decode(&c.encode()).ok(), Some(c));
        }
    }

    #[test]
    fn garbage_is_invalid() {
        for bad in ["", "!!", "bm8tc2xhc2g", "YWJjL3g"] {
            assert!(matches!(Cursor::decode(bad), Err(StoreError::Invalid { .. })), "{bad}");
        }
        assert_eq!(page_size(0), 50);
        assert_eq!(page_size(10_000), 500);
    }
}
