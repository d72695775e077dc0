//! Recursive, case-insensitive redaction of sensitive fields in JSON values.
//!
//! A key is sensitive when, lower-cased and stripped of everything but letters and
//! digits, it contains one of [`SENSITIVE`] (so `API-Key`, `apiKey`, `x_api_key`,
//! `clientSecret` and `refresh_token` all are). Values under a sensitive key are
//! replaced whole, whatever their type; everything else is walked to any depth.

use serde_json::Value;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Normalised fragments that make a key sensitive.
pub const SENSITIVE: &[&str] = &[
    "apikey",
    "clientsecret",
    "password",
    "passwd",
    "token",
    "authorization",
    "secret",
    "hmacsecret",
    "privatekey",
    "cookie",
    "signature",
    "credential",
];

/// Whether a JSON object key names a secret.
///
/// ```
/// use hub_core::redact::is_sensitive_key;
/// assert!(is_sensitive_key("API-Key"));
/// assert!(is_sensitive_key("refresh_token"));
/// assert!(!is_sensitive_key("customer_id"));
/// ```
pub fn is_sensitive_key(key: &str) -> bool {
    let normalised: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SENSITIVE.iter().any(|s| normalised.contains(s))
}

/// Redacts `value` in place.
///
/// ```
/// use serde_json::json;
/// let mut v = json!({"user": "ann", "nested": [{"Password": "hunter2", "ok": 1}]});
/// hub_core::redact::redact_in_place(&mut v);
/// assert_eq!(v, json!({"user": "ann", "nested": [{"Password": "[REDACTED]", "ok": 1}]}));
/// ```
pub fn redact_in_place(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if is_sensitive_key(key) {
                    *v = Value::String(REDACTED.to_owned());
                } else {
                    redact_in_place(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_in_place),
        _ => {}
    }
}

/// Returns a redacted copy of `value`.
pub fn redacted(value: &Value) -> Value {
    let mut copy = value.clone();
    redact_in_place(&mut copy);
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn every_named_key_in_any_case_and_spelling() {
        for key in [
            "api_key",
            "API_KEY",
            "apiKey",
            "X-Api-Key",
            "client_secret",
            "ClientSecret",
            "password",
            "PASSWORD",
            "token",
            "access_token",
            "refreshToken",
            "authorization",
            "Authorization",
            "secret",
            "webhook_secret",
            "hmac_secret",
            "HMAC-Secret",
        ] {
            assert!(is_sensitive_key(key), "{key}");
        }
        for key in ["customer_id", "subject", "amount", "description", "idempotency_key"] {
            assert!(!is_sensitive_key(key), "{key}");
        }
    }

    #[test]
    fn whole_subtrees_under_a_sensitive_key_go() {
        let v = redacted(&json!({"credentials": {"user": "a", "pass": "b"}, "list": [[{"token": 5}]]}));
        assert_eq!(v, json!({"credentials": REDACTED, "list": [[{"token": REDACTED}]]}));
    }

    const CANARY: &str = "canary-7f3e";

    /// Random JSON trees in which some keys are sensitive and hold the canary.
    fn tree() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            "[a-z]{0,8}".prop_map(Value::String),
        ];
        let key = prop_oneof![
            "[a-z_]{1,8}",
            prop::sample::select(vec![
                "password",
                "Api-Key",
                "TOKEN",
                "x_client_secret",
                "hmacSecret",
                "Authorization"
            ])
            .prop_map(str::to_owned),
        ];
        leaf.prop_recursive(6, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..5).prop_map(|kvs| {
                    Value::Object(
                        kvs.into_iter()
                            .map(|(k, v)| {
                                if is_sensitive_key(&k) {
                                    (k, json!({"v": CANARY, "w": [CANARY]}))
                                } else {
                                    (k, v)
                                }
                            })
                            .collect(),
                    )
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn no_sensitive_value_survives_at_any_depth(v in tree()) {
            let out = redacted(&v);
            prop_assert!(!out.to_string().contains(CANARY));
            // Redaction is idempotent.
            prop_assert_eq!(redacted(&out), out);
        }
    }
}
