//! Idempotency keys and request fingerprints: a key is bound to its caller, its
//! operation, the ids it acts on and its canonical body.

use hub_core::{Fingerprint, IdempotencyKey, Operation};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::dlq_payload;
use crate::operation::WriteOp;

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
/// assert_eq!(hub_app::fingerprint::canonical_json(&a), r#"{"a":[true,{"c":"x","d":null}],"b":1}"#);
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
/// use hub_app::fingerprint::fingerprint;
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

/// The scope each write's fingerprint starts with: the route it is offered on by the
/// hub's HTTP API, kept as the one name of the operation's request shape (fingerprints
/// stored by earlier hubs stay valid).
pub fn scope(operation: Operation) -> &'static str {
    match operation {
        Operation::CreateTicket => "POST /v1/tickets",
        Operation::AddComment => "POST /v1/tickets/{ticket_id}/comments",
        Operation::CreateDraftTransaction => "POST /v1/transactions/drafts",
        Operation::CommitTransaction => "POST /v1/transactions/drafts/{draft_id}/commit",
        Operation::CancelDraft => "POST /v1/transactions/drafts/{draft_id}/cancel",
        other => other.as_str(),
    }
}

/// The fingerprint a key used for `op` by `caller` is bound to: the operation's scope,
/// the ids in its path and its body (the dead-letter payload, without its version).
///
/// ```
/// use hub_app::{WriteOp, fingerprint::of_write};
/// let commit = |d: &str| WriteOp::Commit(d.parse().unwrap());
/// assert_eq!(of_write(&commit("D-1"), Some("crm")), of_write(&commit("D-1"), Some("crm")));
/// assert_ne!(of_write(&commit("D-1"), Some("crm")), of_write(&commit("D-2"), Some("crm")));
/// assert_ne!(of_write(&commit("D-1"), Some("crm")), of_write(&commit("D-1"), Some("billing")));
/// ```
pub fn of_write(op: &WriteOp, caller: Option<&str>) -> Fingerprint {
    let route = scope(op.operation());
    let fp = match op {
        WriteOp::Commit(draft) | WriteOp::Cancel(draft) => fingerprint(route, &[draft.as_str()], &Value::Null),
        WriteOp::CreateTicket(_) | WriteOp::AddComment { .. } | WriteOp::CreateDraft(_) => {
            fingerprint(route, &[], &dlq_payload::body(op))
        }
    };
    for_caller(&fp, caller)
}

/// `fingerprint` bound to the caller that sent it (the token's configured name; no name
/// when the hub runs without tokens), so one caller's key never matches another's
/// request, even for the same route, ids and body.
///
/// ```
/// use serde_json::json;
/// use hub_app::fingerprint::{fingerprint, for_caller};
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
