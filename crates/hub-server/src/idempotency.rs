//! Idempotency keys: reading `Idempotency-Key`, deriving one when absent, and the
//! request fingerprint (caller, route, path ids, canonical body) a key is bound to.

use axum::http::{HeaderMap, HeaderName};
use hub_core::{Fingerprint, IdempotencyKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::problem::{Problem, ProblemCode};

/// `Idempotency-Key`.
pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// `Idempotent-Replayed`, set on answers that repeat a stored response.
pub static IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Where a write's key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The caller sent it: claimed in the store, replays answered from it.
    Client(IdempotencyKey),
    /// The hub generated it so the upstream always gets one; never stored (no one can repeat it).
    Derived(IdempotencyKey),
}

impl KeySource {
    /// The key, whoever chose it.
    pub fn key(&self) -> &IdempotencyKey {
        match self {
            Self::Client(k) | Self::Derived(k) => k,
        }
    }
}

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

/// A fresh key for a write whose caller sent none.
pub fn derive_key() -> IdempotencyKey {
    // "hub-" and a UUID are 40 visible ASCII characters: always a valid key.
    loop {
        if let Ok(k) = IdempotencyKey::parse(&format!("hub-{}", uuid::Uuid::now_v7())) {
            return k;
        }
    }
}

/// Writes `v` as JSON with object keys sorted and no whitespace, so two bodies that
/// differ only in key order or spacing have the same canonical form.
///
/// ```
/// let a: serde_json::Value = serde_json::from_str(r#"{"b": 1, "a": [true, {"d": null, "c": "x"}]}"#).unwrap();
/// assert_eq!(hub_server::idempotency::canonical_json(&a), r#"{"a":[true,{"c":"x","d":null}],"b":1}"#);
/// ```
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// SHA-256 over the route, its path ids and the canonical body, each length-prefixed so
/// no two different inputs share an encoding; as lower-case hex.
///
/// ```
/// use serde_json::json;
/// use hub_server::idempotency::fingerprint;
/// let a = fingerprint("POST /v1/transactions/drafts/{draft_id}/commit", &["D-1"], &json!(null));
/// let b = fingerprint("POST /v1/transactions/drafts/{draft_id}/commit", &["D-2"], &json!(null));
/// assert_ne!(a, b);
/// assert_eq!(a.0.len(), 64);
/// ```
pub fn fingerprint(route: &str, ids: &[&str], body: &Value) -> Fingerprint {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(route.as_bytes());
    for id in ids {
        field(id.as_bytes());
    }
    field(canonical_json(body).as_bytes());
    let digest = h.finalize();
    Fingerprint(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// `fingerprint` bound to the caller that sent it (the token's configured name; no name
/// when the hub runs without tokens), so one caller's key never matches another's
/// request, even for the same route, ids and body.
///
/// ```
/// use serde_json::json;
/// use hub_server::idempotency::{fingerprint, for_caller};
/// let fp = fingerprint("POST /v1/tickets", &[], &json!({"subject": "s"}));
/// assert_ne!(for_caller(&fp, Some("crm")), for_caller(&fp, Some("billing")));
/// assert_eq!(for_caller(&fp, Some("crm")), for_caller(&fp, Some("crm")));
/// assert_ne!(for_caller(&fp, Some("crm")), for_caller(&fp, None));
/// ```
pub fn for_caller(fingerprint: &Fingerprint, caller: Option<&str>) -> Fingerprint {
    let mut h = Sha256::new();
    match caller {
        Some(name) => {
            h.update([1u8]);
            h.update((name.len() as u64).to_be_bytes());
            h.update(name.as_bytes());
        }
        None => h.update([0u8]),
    }
    h.update(fingerprint.0.as_bytes());
    let digest = h.finalize();
    Fingerprint(digest.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

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

    #[test]
    fn derived_keys_are_unique() {
        assert_ne!(derive_key(), derive_key());
    }

    #[test]
    fn the_fingerprint_separates_fields() {
        let body = json!(null);
        assert_ne!(fingerprint("ab", &["c"], &body), fingerprint("a", &["bc"], &body));
        assert_ne!(
            fingerprint("r", &[], &json!({"a": 1})),
            fingerprint("r", &[], &json!({"a": "1"}))
        );
    }

    fn json_tree() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-z ]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-e]{1,3}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn key_order_and_whitespace_do_not_change_the_fingerprint(v in json_tree()) {
            let compact = serde_json::to_string(&v).unwrap();
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            let reparsed_compact: Value = serde_json::from_str(&compact).unwrap();
            let reparsed_pretty: Value = serde_json::from_str(&pretty).unwrap();
            prop_assert_eq!(
                fingerprint("r", &["x"], &reparsed_compact),
                fingerprint("r", &["x"], &reparsed_pretty)
            );
            // The canonical form is itself JSON meaning the same value.
            let back: Value = serde_json::from_str(&canonical_json(&v)).unwrap();
            prop_assert_eq!(back, v);
        }

        #[test]
        fn different_bodies_have_different_fingerprints(a in json_tree(), b in json_tree()) {
            prop_assert_eq!(fingerprint("r", &[], &a) == fingerprint("r", &[], &b), a == b);
        }
    }
}
