//! Validators of cached reads: a strong `ETag` over the answer's bytes, and a matching
//! `If-None-Match` answered `304 Not Modified` (RFC 9110 §8.8.3, §13.1.2).

use axum::body::{Body, Bytes};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use hub_core::{CacheOutcome, Encoded};
use serde::Serialize;

use crate::problem::{Problem, ProblemCode};
use crate::routes::{CACHE_STATUS, cache_status};

/// The request's `If-None-Match`, if any (taken without copying the other headers).
#[derive(Debug, Clone, Default)]
pub struct IfNoneMatch(pub Option<HeaderValue>);

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.headers.get(header::IF_NONE_MATCH).cloned()))
    }
}

/// The strong entity tag of `body`: a 64-bit FNV-1a hash in hex, quoted. The same bytes
/// give the same tag in every instance and version of the hub.
///
/// ```
/// use hub_server::conditional::etag;
/// assert_ne!(etag(b"{}"), etag(b"[]"));
/// assert_eq!(etag(b"{}").len(), 18);
/// ```
pub fn etag(body: &[u8]) -> ETag {
    ETag::of_fingerprint(hub_core::fingerprint::Fnv1a::of(body))
}

/// A strong entity tag as [`etag`] makes it: 16 hex digits in quotes, kept on the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ETag([u8; 18]);

impl ETag {
    /// The tag of a body whose [`Fnv1a`](hub_core::fingerprint::Fnv1a) fingerprint is
    /// `hash` (a cached entry keeps it, so a hit does not hash its body again).
    pub fn of_fingerprint(hash: u64) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut tag = [b'"'; 18];
        for (i, digit) in tag[1..17].iter_mut().enumerate() {
            *digit = HEX[usize::try_from((hash >> (60 - 4 * i)) & 0xf).unwrap_or(0)];
        }
        ETag(tag)
    }
}

impl std::fmt::Display for ETag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

impl std::ops::Deref for ETag {
    type Target = str;

    fn deref(&self) -> &str {
        // Quotes and ASCII hex digits only.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Whether `if_none_match` matches `etag` by the weak comparison RFC 9110 prescribes for
/// it: `*`, or a listed tag whose opaque part equals `etag`'s (`W/` ignored). A value
/// that is not a list of entity tags matches nothing.
///
/// ```
/// use hub_server::conditional::none_match;
/// assert!(none_match(b"\"abc\"", "\"abc\""));
/// assert!(none_match(b"W/\"x\", \"abc\"", "\"abc\""));
/// assert!(none_match(b"*", "\"abc\""));
/// assert!(!none_match(b"\"abd\"", "\"abc\""));
/// ```
pub fn none_match(if_none_match: &[u8], etag: &str) -> bool {
    let mut rest = if_none_match.trim_ascii();
    if rest == b"*" {
        return true;
    }
    let etag = etag.as_bytes();
    loop {
        rest = rest.trim_ascii_start();
        if let Some(weak) = rest.strip_prefix(b"W/") {
            rest = weak;
        }
        let Some(open) = rest.strip_prefix(b"\"") else {
            return false;
        };
        let Some(close) = open.iter().position(|&b| b == b'"') else {
            return false;
        };
        // `etag` is quoted: compare with the quotes.
        if rest.get(..close + 2) == Some(etag) {
            return true;
        }
        rest = open[close + 1..].trim_ascii_start();
        match rest.strip_prefix(b",") {
            Some(next) => rest = next,
            None => return false,
        }
    }
}

/// A cached read's answer: `200` with `body` (JSON), its `ETag` and `Cache-Status`, or
/// `304` with the same headers and no body when `if_none_match` matches.
pub fn json(if_none_match: &IfNoneMatch, body: Bytes, cache: CacheOutcome) -> Response {
    let tag = etag(&body);
    answer(if_none_match, body, tag, cache)
}

/// [`json`] of an encoded value, tagged by the fingerprint it carries.
pub fn encoded<T>(if_none_match: &IfNoneMatch, value: Encoded<T>, cache: CacheOutcome) -> Response {
    let tag = ETag::of_fingerprint(value.fingerprint());
    answer(if_none_match, value.into_json(), tag, cache)
}

/// `body` under `tag`, or `304` when `if_none_match` matches it.
fn answer(if_none_match: &IfNoneMatch, body: Bytes, tag: ETag, cache: CacheOutcome) -> Response {
    let not_modified = if_none_match.0.as_ref().is_some_and(|v| none_match(v.as_bytes(), &tag));
    let mut res = if not_modified {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        res
    } else {
        let mut res = Response::new(Body::from(body));
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        res
    };
    if let Ok(tag) = HeaderValue::from_bytes(tag.as_bytes()) {
        res.headers_mut().insert(header::ETAG, tag);
    }
    res.headers_mut().insert(CACHE_STATUS.clone(), cache_status(cache));
    res
}

/// [`json`] of `value`'s JSON (a wire body encoded for this answer).
pub fn json_of(if_none_match: &IfNoneMatch, value: &impl Serialize, cache: CacheOutcome) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => json(if_none_match, body.into(), cache),
        Err(e) => Problem::new(ProblemCode::Internal, format!("the answer could not be encoded: {e}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Our tag anywhere in a list, weak or strong, with any spacing, matches.
        #[test]
        fn a_list_holding_the_tag_matches(
            before in proptest::collection::vec("[a-z0-9]{0,12}", 0..4),
            after in proptest::collection::vec("[a-z0-9]{0,12}", 0..4),
            weak in any::<bool>(),
            space in "[ \t]{0,2}",
            body in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let tag = etag(&body);
            let mut items: Vec<String> = before.iter().map(|t| format!("\"{t}\"")).collect();
            items.push(if weak { format!("W/{tag}") } else { tag.to_string() });
            items.extend(after.iter().map(|t| format!("W/\"{t}\"")));
            let header = items.join(&format!("{space},{space}"));
            prop_assert!(none_match(header.as_bytes(), &tag));
        }

        /// A list of other tags never matches, and no value makes the parser panic.
        #[test]
        fn other_tags_and_garbage_do_not_match(
            others in proptest::collection::vec("[a-z0-9]{0,12}", 0..5),
            garbage in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let tag = etag(b"the body");
            let header = others.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ");
            prop_assert!(!none_match(header.as_bytes(), &tag));
            let _ = none_match(&garbage, &tag);
        }
    }

    #[test]
    fn a_match_answers_304_with_the_validators_and_no_body() {
        let body = Bytes::from_static(br#"{"a":1}"#);
        let tag = etag(&body);
        let res = json(
            &IfNoneMatch(Some(HeaderValue::from_str(&tag).unwrap())),
            body.clone(),
            CacheOutcome::Hit,
        );
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(res.headers()[header::ETAG], &*tag);
        assert_eq!(res.headers()[&CACHE_STATUS], "integration-hub; hit");
        assert!(res.headers().get(header::CONTENT_TYPE).is_none());
        let other = json(
            &IfNoneMatch(Some(HeaderValue::from_static("\"0\""))),
            body,
            CacheOutcome::Miss,
        );
        assert_eq!(other.status(), StatusCode::OK);
        assert_eq!(other.headers()[header::CONTENT_TYPE], "application/json");
    }

    proptest! {
        /// A cached entry's answer, tagged by the fingerprint the entry keeps, has the
        /// headers and body of the same bytes tagged by hashing them.
        #[test]
        fn an_entrys_kept_fingerprint_tags_as_its_bytes_do(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let body = Bytes::from(body);
            let entry = hub_core::CacheEntry::new(body.clone(), 1, 2, 3);
            let hashed = json(&IfNoneMatch::default(), body, CacheOutcome::Hit);
            let kept = encoded(&IfNoneMatch::default(), Encoded::<()>::from_entry(&entry), CacheOutcome::Hit);
            prop_assert_eq!(hashed.status(), kept.status());
            prop_assert_eq!(hashed.headers(), kept.headers());
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let bodies = rt.block_on(async {
                use http_body_util::BodyExt as _;
                let a = hashed.into_body().collect().await.unwrap().to_bytes();
                let b = kept.into_body().collect().await.unwrap().to_bytes();
                (a, b)
            });
            prop_assert_eq!(bodies.0, bodies.1);
        }
    }

    #[test]
    fn malformed_lists_match_nothing() {
        let tag = etag(b"x");
        for v in ["", "\"", "W/", "abc", "\"a\" \"b\"", &tag[..tag.len() - 1]] {
            assert!(!none_match(v.as_bytes(), &tag), "{v:?}");
        }
        assert!(none_match(format!("{tag} , junk").as_bytes(), &tag));
    }
}
