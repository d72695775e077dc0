//! Classification of upstream responses into the hub-core error taxonomy, and lenient JSON decoding.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};
use hub_core::Error;
use serde::de::DeserializeOwned;

use crate::client::Response;
use crate::rate_headers;
use crate::retry_after::{parse_rate_limit_reset, parse_retry_after};

/// How long the upstream asked us to wait: `Retry-After` (seconds or HTTP date), else
/// Jira's `Beta-Retry-After` (seconds), else `X-RateLimit-Reset` (epoch or delta
/// seconds, or Jira's ISO 8601 time).
pub fn requested_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("retry-after")
        .and_then(|v| parse_retry_after(v, now))
        .or_else(|| header("beta-retry-after").and_then(rate_headers::seconds))
        .or_else(|| {
            header("x-ratelimit-reset")
                .and_then(|v| parse_rate_limit_reset(v, now).or_else(|| rate_headers::jira_reset(v, now)))
        })
}

/// The error for a response that is not a success.
///
/// ```
/// use http::{HeaderMap, HeaderValue, StatusCode};
/// use hub_core::Error;
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", HeaderValue::from_static("7"));
/// let e = hub_upstream::response::classify_status(StatusCode::TOO_MANY_REQUESTS, &headers);
/// assert_eq!(e, Error::RateLimited { retry_after: Some(std::time::Duration::from_secs(7)) });
/// ```
pub fn classify_status(status: StatusCode, headers: &HeaderMap) -> Error {
    let wait = match status.as_u16() {
        429 | 500..=599 => requested_wait(headers, SystemTime::now()),
        _ => None,
    };
    Error::from_status(status.as_u16(), wait)
}

/// The response itself when it is a success, its classified error otherwise.
pub fn success(response: Response) -> Result<Response, Error> {
    success_with(response, None)
}

/// Reads a short, redacted reason out of a vendor's error body (the dialect knows its
/// shape); `None` when the body says nothing usable.
pub type RejectReason = fn(&[u8]) -> Option<String>;

/// Like [`success`], but a rejection ([`Error::Rejected`]) carries the reason `reader`
/// finds in the body, so the problem's `detail`, the audit record and the DLQ entry say
/// what the upstream refused rather than a bare status.
///
/// ```
/// use http::{HeaderMap, StatusCode};
/// use hub_core::Error;
/// use hub_upstream::client::Response;
/// let response = Response { status: StatusCode::BAD_REQUEST, headers: HeaderMap::new(), body: "summary: too long".into() };
/// let reader: hub_upstream::response::RejectReason = |b| std::str::from_utf8(b).ok().map(str::to_owned);
/// let e = hub_upstream::response::success_with(response, Some(reader)).unwrap_err();
/// assert_eq!(e, Error::Rejected { status: 400, reason: Some("summary: too long".into()) });
/// ```
pub fn success_with(response: Response, reader: Option<RejectReason>) -> Result<Response, Error> {
    if response.status.is_success() {
        return Ok(response);
    }
    let mut err = classify_status(response.status, &response.headers);
    if let (Error::Rejected { reason, .. }, Some(read)) = (&mut err, reader) {
        *reason = read(&response.body);
    }
    Err(err)
}

/// Decodes a JSON body: unknown fields are ignored (vendors add fields), but a missing
/// or ill-typed field the hub needs is a decode error. The message names the place and
/// the kind of fault (`missing field `currency``, `expected a string, found integer at
/// `ticket.status``), never a value from the body.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let what = match e.inner().classify() {
            serde_json::error::Category::Io => "i/o error".to_owned(),
            serde_json::error::Category::Syntax => "not JSON".to_owned(),
            serde_json::error::Category::Data => describe_data_error(&e.inner().to_string()),
            serde_json::error::Category::Eof => "truncated JSON".to_owned(),
        };
        let path = e.path().to_string();
        let reason = if path == "." {
            what
        } else {
            format!("{what} at `{path}`")
        };
        Error::Decode { reason }
    })
}

/// What serde's message for a data error says, without the value it may quote: the
/// field names and expected types come from the hub's own types, values from the body.
fn describe_data_error(message: &str) -> String {
    // serde_json appends the position; it says nothing a reader of our logs needs.
    let message = message.rsplit_once(" at line ").map_or(message, |(m, _)| m);
    let expected = message.rsplit_once(", expected ").map(|(_, e)| e);
    if message.starts_with("missing field `") || message.starts_with("duplicate field `") {
        // `missing field `name``: the name is the hub's own field.
        return message.to_owned();
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let found: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
        return match expected {
            Some(e) => format!("expected {e}, found {found}"),
            None => format!("unexpected {found}"),
        };
    }
    let kind = if message.starts_with("unknown variant") {
        "unknown variant"
    } else if message.starts_with("invalid length") {
        "invalid length"
    } else {
        "invalid value"
    };
    match expected {
        Some(e) if !message.starts_with("unknown variant") => format!("{kind}, expected {e}"),
        _ => kind.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn statuses_and_waits() {
        let mut h = HeaderMap::new();
        assert_eq!(classify_status(StatusCode::NOT_FOUND, &h), Error::NotFound);
        assert_eq!(
            classify_status(StatusCode::TOO_MANY_REQUESTS, &h),
            Error::RateLimited { retry_after: None }
        );
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(
            classify_status(StatusCode::SERVICE_UNAVAILABLE, &h),
            Error::Upstream {
                status: 503,
                retry_after: Some(Duration::from_secs(3))
            }
        );
        // A Retry-After on a 4xx that is not 429 means nothing to us.
        assert_eq!(
            classify_status(StatusCode::CONFLICT, &h),
            Error::Rejected {
                status: 409,
                reason: None
            }
        );
    }

    /// Jira answers 429 with an ISO 8601 `X-RateLimit-Reset` or a `Beta-Retry-After`.
    #[test]
    fn jira_waits_are_read() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_796_379_240); // 2026-12-04T10:14:00Z
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", HeaderValue::from_static("2026-12-04T10:15Z"));
        assert_eq!(requested_wait(&h, now), Some(Duration::from_secs(60)));
        h.insert("beta-retry-after", HeaderValue::from_static("5"));
        assert_eq!(requested_wait(&h, now), Some(Duration::from_secs(5)));
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(requested_wait(&h, now), Some(Duration::from_secs(2)));
    }

    #[derive(serde::Deserialize, Debug)]
    struct Thing {
        id: String,
        #[allow(dead_code)]
        n: u32,
    }

    #[test]
    fn decoding_is_lenient_on_extras_strict_on_needs() {
        let t: Thing = decode(br#"{"id":"a","n":1,"extra":{"x":[1]}}"#).unwrap();
        assert_eq!(t.id, "a");
        let e = decode::<Thing>(br#"{"id":"a","n":"one"}"#).unwrap_err();
        assert_eq!(
            e,
            Error::Decode {
                reason: "expected u32, found string at `n`".into()
            }
        );
        let e = decode::<Thing>(br#"{"n":1}"#).unwrap_err();
        assert_eq!(
            e,
            Error::Decode {
                reason: "missing field `id`".into()
            }
        );
        let e = decode::<Vec<Thing>>(br#"[{"id":"a","n":1},{"id":"secret-value","n":-1}]"#).unwrap_err();
        assert_eq!(
            e,
            Error::Decode {
                reason: "invalid value, expected u32 at `[1].n`".into()
            }
        );
        let e = decode::<Thing>(br#"{"id":"a","#).unwrap_err();
        assert!(matches!(e, Error::Decode { .. }));
        assert!(!e.to_string().contains("\"id\""));
    }

    /// JSON values of any shape, with keys that sometimes name `Thing`'s fields and
    /// numbers spelled the ways upstreams spell them (huge, negative, exponents).
    fn any_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            "\\PC{0,20}".prop_map(serde_json::Value::String),
            "-?[0-9]{1,25}(\\.[0-9]{1,10})?([eE][+-]?[0-9]{1,4})?"
                .prop_filter_map("a JSON number", |n| serde_json::from_str(&n).ok()),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![Just("id".to_owned()), Just("n".to_owned()), "\\PC{0,8}"],
                    inner,
                    0..6
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_decode_to_a_typed_error_never_a_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            for result in [decode::<Thing>(&body).map(drop), decode::<serde_json::Value>(&body).map(drop)] {
                if let Err(e) = result {
                    proptest::prop_assert!(matches!(e, Error::Decode { .. }), "{e:?}");
                }
            }
        }

        #[test]
        fn decode_errors_never_quote_the_body(value in "[a-z]{12}") {
            for body in [
                format!(r#"{{"id":{{"x":"{value}"}},"n":1}}"#),
                format!(r#"{{"id":"a","n":"{value}"}}"#),
                format!(r#"{{"id":"a","n":1.5,"{value}":1}}"#),
                format!(r#"["{value}"]"#),
            ] {
                let e = decode::<Thing>(body.as_bytes()).unwrap_err();
                proptest::prop_assert!(!e.to_string().contains(&value), "{e}");
            }
        }

        #[test]
        fn arbitrary_json_decodes_or_fails_typed(value in any_json()) {
            let body = serde_json::to_vec(&value).unwrap();
            // serde reads a struct from an object by field names or from an array by
            // position, so `["a", 1]` is a `Thing` as much as `{"id":"a","n":1}`.
            let id = match &value {
                serde_json::Value::Array(items) => items.first(),
                _ => value.get("id"),
            };
            match decode::<Thing>(&body) {
                Ok(t) => proptest::prop_assert_eq!(id.and_then(serde_json::Value::as_str), Some(t.id.as_str())),
                Err(e) => proptest::prop_assert!(matches!(e, Error::Decode { .. }), "{e:?}"),
            }
        }
    }
}
