//! The page's two cookies: reading them from `Cookie` and writing `Set-Cookie` with fixed attributes.
//!
//! Both are `HttpOnly; Secure; SameSite=Strict; Path=/admin`. `Secure` is always set:
//! browsers send such cookies over HTTPS and to loopback over plain HTTP (a potentially
//! trustworthy origin), so the page works on `http://127.0.0.1` and anywhere else only
//! behind TLS — an admin session never travels in the clear.

use axum::http::{HeaderMap, HeaderValue, header};

/// The session id.
pub const SESSION: &str = "hub_admin_session";
/// The sign-in form's double-submit nonce (login CSRF), set with the form.
pub const LOGIN: &str = "hub_admin_login";
/// How long a sign-in form stays usable.
pub const LOGIN_MAX_AGE_S: u32 = 3600;

/// The value of cookie `name` in the request's `Cookie` headers (the first one sent).
///
/// ```
/// use axum::http::HeaderMap;
/// use hub_admin::cookie::get;
/// let mut h = HeaderMap::new();
/// h.insert("cookie", "a=1; hub_admin_session=xyz; b=2".parse().unwrap());
/// assert_eq!(get(&h, "hub_admin_session"), Some("xyz"));
/// assert_eq!(get(&h, "c"), None);
/// ```
pub fn get<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for `name=value`; `max_age_s` of `None` makes a browser-session cookie.
///
/// `value` must be a cookie-octet string (the page's values are base64url tokens).
///
/// ```
/// use hub_admin::cookie::set;
/// let v = set("hub_admin_session", "abc", None);
/// assert_eq!(v.to_str().unwrap(), "hub_admin_session=abc; Path=/admin; HttpOnly; Secure; SameSite=Strict");
/// ```
pub fn set(name: &str, value: &str, max_age_s: Option<u32>) -> HeaderValue {
    let age = max_age_s.map(|s| format!("; Max-Age={s}")).unwrap_or_default();
    let text = format!("{name}={value}; Path=/admin; HttpOnly; Secure; SameSite=Strict{age}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Path=/admin; Max-Age=0"))
}

/// `Set-Cookie` that removes cookie `name`.
pub fn clear(name: &str) -> HeaderValue {
    set(name, "", Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_cookies() {
        let mut h = HeaderMap::new();
        assert_eq!(get(&h, SESSION), None);
        h.append(header::COOKIE, "x=1;hub_admin_login=n1".parse().unwrap());
        h.append(
            header::COOKIE,
            "hub_admin_session=s1; hub_admin_login=n2".parse().unwrap(),
        );
        assert_eq!(get(&h, LOGIN), Some("n1"));
        assert_eq!(get(&h, SESSION), Some("s1"));
        assert_eq!(get(&h, "hub_admin"), None);
    }

    #[test]
    fn clearing_expires_at_once() {
        assert_eq!(
            clear(LOGIN).to_str().unwrap(),
            "hub_admin_login=; Path=/admin; HttpOnly; Secure; SameSite=Strict; Max-Age=0"
        );
    }
}
