//! Cross-site request forgery checks: a form's token compared in constant time, and the
//! browser's own `Sec-Fetch-Site` / `Origin` headers refused when they name another site.

use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

/// The hidden form field holding the token.
pub const FIELD: &str = "csrf";

/// Whether `presented` is exactly `expected`, compared in constant time (only the
/// lengths, which are public, are compared first). An empty expectation matches nothing.
///
/// ```
/// use hub_admin::csrf::verify;
/// assert!(verify("abc", Some("abc")));
/// assert!(!verify("abc", Some("abd")));
/// assert!(!verify("abc", None));
/// assert!(!verify("", Some("")));
/// ```
pub fn verify(expected: &str, presented: Option<&str>) -> bool {
    let Some(presented) = presented else {
        return false;
    };
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

/// Why a request was taken for a cross-site one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CrossSite {
    /// `Sec-Fetch-Site` says the request came from another origin.
    #[error("the browser says the form came from another site")]
    FetchSite,
    /// `Origin` is not this server's.
    #[error("the form came from another origin")]
    Origin,
}

/// Refuses a request whose browser headers name another origin. Where a header is absent
/// (older browsers, command-line clients) the CSRF token alone decides.
///
/// `Sec-Fetch-Site` must be `same-origin`; `Origin`, compared with `Host` (or the URI's
/// authority under HTTP/2), must be `http://` or `https://` and this host and port. A
/// proxy in front of the hub must therefore pass `Host` through unchanged.
///
/// ```
/// use axum::http::HeaderMap;
/// use hub_admin::csrf::{same_origin, CrossSite};
/// let mut h = HeaderMap::new();
/// h.insert("host", "127.0.0.1:8080".parse().unwrap());
/// assert_eq!(same_origin(&h, None), Ok(()));
/// h.insert("origin", "http://127.0.0.1:8080".parse().unwrap());
/// assert_eq!(same_origin(&h, None), Ok(()));
/// h.insert("origin", "https://evil.example".parse().unwrap());
/// assert_eq!(same_origin(&h, None), Err(CrossSite::Origin));
/// ```
pub fn same_origin(headers: &HeaderMap, authority: Option<&str>) -> Result<(), CrossSite> {
    if let Some(site) = headers.get("sec-fetch-site")
        && site.as_bytes() != b"same-origin"
    {
        return Err(CrossSite::FetchSite);
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or(authority)
        .ok_or(CrossSite::Origin)?;
    let origin = origin.to_str().map_err(|_| CrossSite::Origin)?;
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .ok_or(CrossSite::Origin)?;
    if rest.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(CrossSite::Origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `headers` as `name: value` pairs, with `Host: hub.example:8080`.
    fn check(headers: &[(&str, &str)], expected: Result<(), CrossSite>) {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "hub.example:8080".parse().unwrap());
        for (k, v) in headers {
            h.insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        assert_eq!(same_origin(&h, None), expected, "{headers:?}");
    }

    #[test]
    fn browser_headers() {
        check(&[], Ok(()));
        check(&[("sec-fetch-site", "same-origin")], Ok(()));
        check(&[("sec-fetch-site", "same-site")], Err(CrossSite::FetchSite));
        check(&[("sec-fetch-site", "cross-site")], Err(CrossSite::FetchSite));
        check(&[("sec-fetch-site", "none")], Err(CrossSite::FetchSite));
        check(&[("origin", "http://hub.example:8080")], Ok(()));
        check(&[("origin", "https://HUB.example:8080")], Ok(()));
        check(&[("origin", "http://hub.example")], Err(CrossSite::Origin));
        check(&[("origin", "http://hub.example:8080.evil")], Err(CrossSite::Origin));
        check(&[("origin", "null")], Err(CrossSite::Origin));
        check(&[("origin", "ftp://hub.example:8080")], Err(CrossSite::Origin));
        check(
            &[("sec-fetch-site", "same-origin"), ("origin", "http://evil.example")],
            Err(CrossSite::Origin),
        );
    }

    #[test]
    fn http2_uses_the_authority_when_host_is_absent() {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, "https://hub.example".parse().unwrap());
        assert_eq!(same_origin(&h, Some("hub.example")), Ok(()));
        assert_eq!(same_origin(&h, Some("other.example")), Err(CrossSite::Origin));
        assert_eq!(same_origin(&h, None), Err(CrossSite::Origin));
    }

    proptest! {
        #[test]
        fn only_the_exact_token_verifies(a in "[A-Za-z0-9_-]{0,50}", b in "[A-Za-z0-9_-]{0,50}") {
            prop_assert_eq!(verify(&a, Some(&b)), !a.is_empty() && a == b);
            prop_assert_eq!(verify(&a, Some(&a)), !a.is_empty());
        }
    }
}
