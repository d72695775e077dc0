//! `Idempotency-Key` on the wire: reading the header (or deriving a key when it is absent).

use axum::http::{HeaderMap, HeaderName};
use hub_app::KeySource;
use hub_app::fingerprint::derive_key;
use hub_core::IdempotencyKey;

use crate::problem::{Problem, ProblemCode};

/// `Idempotency-Key`.
pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// `Idempotent-Replayed`, set on answers that repeat a stored response.
pub static IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Reads `Idempotency-Key`: 400 `idempotency_key_missing` when `required` and absent;
/// 422 naming the header when malformed; a derived `hub-{uuid v7}` key when absent.
pub fn key_from_headers(headers: &HeaderMap, required: bool) -> Result<KeySource, Problem> {
    match headers.get(&IDEMPOTENCY_KEY) {
        Some(v) => {
            let raw = v.to_str().unwrap_or("");
            IdempotencyKey::parse(raw)
                .map(KeySource::Client)
                .map_err(|e| Problem::invalid_body("Idempotency-Key", e))
        }
        None if required => Err(Problem::new(
            ProblemCode::IdempotencyKeyMissing,
            "this route requires an Idempotency-Key header",
        )),
        None => Ok(KeySource::Derived(derive_key())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_headers() {
        let mut h = HeaderMap::new();
        assert!(matches!(key_from_headers(&h, false), Ok(KeySource::Derived(_))));
        let p = key_from_headers(&h, true).unwrap_err();
        assert_eq!((p.code, p.status), (ProblemCode::IdempotencyKeyMissing, 400));
        h.insert(&IDEMPOTENCY_KEY, "k-1".parse().unwrap());
        assert_eq!(
            key_from_headers(&h, true).unwrap(),
            KeySource::Client(IdempotencyKey::parse("k-1").unwrap())
        );
        h.insert(&IDEMPOTENCY_KEY, "has space".parse().unwrap());
        let p = key_from_headers(&h, false).unwrap_err();
        assert_eq!((p.code, p.status), (ProblemCode::InvalidBody, 422));
        assert!(p.detail.starts_with("Idempotency-Key"));
    }
}
