//! How a cache entry is laid out in one Redis string: a version byte, three
//! big-endian `u64` times (fetched, fresh until, stale until), then the value.

use bytes::Bytes;
use hub_core::{CacheEntry, StoreError};

const VERSION: u8 = 1;
const HEADER: usize = 1 + 3 * 8;

/// The stored bytes of `entry`.
pub(super) fn encode(entry: &CacheEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + entry.value().len());
    out.push(VERSION);
    out.extend_from_slice(&entry.fetched_at_ms.to_be_bytes());
    out.extend_from_slice(&entry.fresh_until_ms.to_be_bytes());
    out.extend_from_slice(&entry.stale_until_ms.to_be_bytes());
    out.extend_from_slice(entry.value());
    out
}

/// The entry stored as `raw`.
pub(super) fn decode(raw: &[u8]) -> Result<CacheEntry, StoreError> {
    let corrupt = || StoreError::Corrupt {
        reason: "a cache entry in Redis has an unknown layout".to_owned(),
    };
    if raw.len() < HEADER || raw[0] != VERSION {
        return Err(corrupt());
    }
    let time = |at: usize| -> Result<u64, StoreError> {
        let bytes: [u8; 8] = raw[at..at + 8].try_into().map_err(|_| corrupt())?;
        Ok(u64::from_be_bytes(bytes))
    };
    // The fingerprint is computed again here rather than stored: the layout stays the
    // one every running instance reads.
    Ok(CacheEntry::new(
        Bytes::copy_from_slice(&raw[HEADER..]),
        time(1)?,
        time(9)?,
        time(17)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn entries_round_trip(value in proptest::collection::vec(any::<u8>(), 0..64), a: u64, b: u64, c: u64) {
            let entry = CacheEntry::new(Bytes::from(value), a, b, c);
            prop_assert_eq!(decode(&encode(&entry)).ok(), Some(entry));
        }
    }

    #[test]
    fn foreign_bytes_are_corrupt() {
        assert!(decode(b"plain string").is_err());
        assert!(decode(&[]).is_err());
    }
}
