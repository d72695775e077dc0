//! Small helpers to read credentials from request headers and compare them in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use subtle::ConstantTimeEq;

/// Compares two secrets without leaking where they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The decoded `user:password` of `Authorization: Basic`, if present and well formed.
pub(crate) fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The token of `Authorization: Bearer`, if present.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A header's value as text.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

/// The `Idempotency-Key` header, if sent and not empty.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Option<&str> {
    header(headers, "idempotency-key").filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_basic_and_bearer() {
        let mut h = HeaderMap::new();
        let encoded = STANDARD.encode("a@b.c/token:xyz");
        h.insert(AUTHORIZATION, format!("Basic {encoded}").parse().unwrap());
        assert_eq!(basic(&h), Some(("a@b.c/token".to_owned(), "xyz".to_owned())));
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, "Bearer tok".parse().unwrap());
        assert_eq!(bearer(&h), Some("tok"));
        assert!(same("x", "x") && !same("x", "y"));
    }
}
