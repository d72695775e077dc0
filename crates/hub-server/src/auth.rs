//! Bearer-token authentication on the wire: the `Authorization` header and the one table
//! saying which role each route needs ([`crate::edge`] checks it).

use axum::http::{HeaderValue, Method};
pub use hub_app::callers::{Authenticator, Principal, Refused, Role, RouteRule, role_in};

use crate::problem::{Problem, ProblemCode};

const fn rule(method: &'static str, path: &'static str, role: Option<Role>) -> RouteRule {
    RouteRule::new(method, path, role)
}

/// Every route of the API with the role it needs: the router, the auth layer, the
/// OpenAPI test and the role-matrix tests all read this one table.
pub const ROUTES: &[RouteRule] = &[
    rule("POST", "/v1/tickets", Some(Role::Write)),
    rule("GET", "/v1/tickets/{ticket_id}", Some(Role::Read)),
    rule("POST", "/v1/tickets/{ticket_id}/comments", Some(Role::Write)),
    rule("GET", "/v1/transactions/{transaction_id}", Some(Role::Read)),
    rule("GET", "/v1/customers/{customer_id}/transactions", Some(Role::Read)),
    rule("POST", "/v1/transactions/drafts", Some(Role::Write)),
    rule("POST", "/v1/transactions/drafts/{draft_id}/commit", Some(Role::Write)),
    rule("POST", "/v1/transactions/drafts/{draft_id}/cancel", Some(Role::Write)),
    rule("GET", "/v1/dlq", Some(Role::Admin)),
    rule("GET", "/v1/dlq/{id}", Some(Role::Admin)),
    rule("POST", "/v1/dlq/{id}/replay", Some(Role::Admin)),
    rule("POST", "/v1/dlq/{id}/discard", Some(Role::Admin)),
    rule("GET", "/v1/audit", Some(Role::Admin)),
    rule("GET", "/v1/events", Some(Role::Read)),
    rule("POST", "/webhooks/transaction_updated", None),
    rule("POST", "/webhooks/ticket_updated", None),
    rule("GET", "/healthz", None),
    rule("GET", "/readyz", None),
    rule("GET", "/metrics", None),
    rule("GET", "/openapi.json", None),
];

/// Routes that also accept the bearer token as `?access_token=` (browsers' WebSocket API
/// cannot set headers). The query is never logged: spans and metrics carry the path only.
pub const QUERY_TOKEN_ROUTES: &[&str] = &["/v1/events"];

/// The `access_token` query parameter of `uri`, if any.
pub(crate) fn query_token(uri: &http::Uri) -> Option<String> {
    let axum::extract::Query(pairs) = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri).ok()?;
    pairs
        .into_iter()
        .find(|(k, _)| k == crate::events_ws::ACCESS_TOKEN_PARAM)
        .map(|(_, v)| v)
}

/// The role a route needs; unknown routes need admin (fail closed).
pub fn required_role(method: &Method, path: &str) -> Option<Role> {
    role_in(ROUTES, method.as_str(), path)
}

/// Why an `Authorization` header is not a usable bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    /// No `Authorization` header.
    #[error("the Authorization header is missing")]
    Missing,
    /// Not `Bearer <token>` with a non-empty token68.
    #[error("the Authorization header is not 'Bearer <token>'")]
    Malformed,
}

/// Extracts the token of `Authorization: Bearer <token>` (scheme case-insensitive, RFC 6750 token68).
///
/// ```
/// use hub_server::auth::{parse_bearer, BearerError};
/// assert_eq!(parse_bearer(Some("Bearer abc.DEF-1")), Ok("abc.DEF-1"));
/// assert_eq!(parse_bearer(Some("bearer  abc")), Ok("abc"));
/// assert_eq!(parse_bearer(Some("Basic abc")), Err(BearerError::Malformed));
/// assert_eq!(parse_bearer(None), Err(BearerError::Missing));
/// ```
pub fn parse_bearer(header: Option<&str>) -> Result<&str, BearerError> {
    let value = header.ok_or(BearerError::Missing)?;
    let (scheme, rest) = value.split_once(' ').ok_or(BearerError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Malformed);
    }
    let token = rest.trim_matches(' ');
    let token68 = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
    let body = token.trim_end_matches('=');
    if body.is_empty() || !body.bytes().all(token68) {
        return Err(BearerError::Malformed);
    }
    Ok(token)
}

/// Checks the request's `Authorization` value (`None` when it sent none) against the role
/// a route needs.
pub fn authorize(
    auth: &Authenticator,
    authorization: Option<&HeaderValue>,
    needed: Role,
) -> Result<Principal, Problem> {
    let raw = authorization.map(|v| v.to_str().unwrap_or(""));
    let token = parse_bearer(raw).map_err(|e| Problem::new(ProblemCode::Unauthorized, e.to_string()))?;
    authorize_token(auth, token, needed)
}

/// Checks a presented token against the role a route needs.
pub fn authorize_token(auth: &Authenticator, token: &str, needed: Role) -> Result<Principal, Problem> {
    auth.authorize(token, needed).map_err(|e| match e {
        Refused::Unknown => Problem::new(ProblemCode::Unauthorized, e.to_string()),
        Refused::Forbidden { .. } => Problem::new(ProblemCode::Forbidden, e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A write's fingerprint is scoped by the route it is offered on: hub-app's table
    /// and this one must name the same routes, with the write role.
    #[test]
    fn every_write_scope_is_a_write_route() {
        use hub_core::Operation;
        let writes = Operation::ALL
            .into_iter()
            .filter(|op| hub_app::fingerprint::scope(*op).contains(' '));
        let mut n = 0;
        for op in writes {
            let (method, path) = hub_app::fingerprint::scope(op).split_once(' ').unwrap();
            let rule = ROUTES.iter().find(|r| r.method == method && r.path == path);
            assert_eq!(rule.and_then(|r| r.role), Some(Role::Write), "{op}: {method} {path}");
            n += 1;
        }
        assert_eq!(n, 5, "the five writes of the contract");
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Read < Role::Write && Role::Write < Role::Admin);
    }

    #[test]
    fn every_v1_route_needs_a_role_and_every_other_is_open() {
        for r in ROUTES {
            assert_eq!(r.path.starts_with("/v1/"), r.role.is_some(), "{r:?}");
            if r.path.starts_with("/v1/dlq") || r.path.starts_with("/v1/audit") {
                assert_eq!(r.role, Some(Role::Admin));
            }
            if r.path.starts_with("/v1/t") || r.path.starts_with("/v1/c") {
                let expected = if r.method == "GET" { Role::Read } else { Role::Write };
                assert_eq!(r.role, Some(expected), "{r:?}");
            }
        }
        assert_eq!(required_role(&Method::DELETE, "/v1/anything"), Some(Role::Admin));
        assert_eq!(
            required_role(&Method::HEAD, "/v1/tickets/{ticket_id}"),
            Some(Role::Read)
        );
        assert_eq!(required_role(&Method::HEAD, "/healthz"), None);
        assert!(
            ROUTES.iter().all(|r| !r.path.starts_with("/admin")),
            "the bearer table holds no page route"
        );
    }

    #[test]
    fn bearer_parsing() {
        for (input, expected) in [
            (Some("Bearer t"), Ok("t")),
            (Some("BEARER t=="), Ok("t==")),
            (Some("Bearer a/b+c~d"), Ok("a/b+c~d")),
            (Some("Bearer"), Err(BearerError::Malformed)),
            (Some("Bearer "), Err(BearerError::Malformed)),
            (Some("Bearer a b"), Err(BearerError::Malformed)),
            (Some("Bearer ==="), Err(BearerError::Malformed)),
            (Some("Token abc"), Err(BearerError::Malformed)),
            (Some(""), Err(BearerError::Malformed)),
            (None, Err(BearerError::Missing)),
        ] {
            assert_eq!(parse_bearer(input), expected, "{input:?}");
        }
    }

    #[test]
    fn the_first_matching_token_wins_and_roles_are_kept() {
        let auth = Authenticator::default()
            .with_token("r", Role::Read, &"tok-read".to_owned().into())
            .with_token("w", Role::Write, &"tok-write".to_owned().into());
        assert_eq!(auth.authenticate("tok-write").map(|p| p.name), Some("w".into()));
        assert_eq!(auth.authenticate("tok-read").map(|p| p.role), Some(Role::Read));
        assert_eq!(auth.authenticate(""), None);
        assert_eq!(auth.len(), 2);
    }

    proptest! {
        #[test]
        fn bearer_parsing_never_panics_and_accepts_exactly_token68(s in "\\PC{0,40}") {
            let header = format!("Bearer {s}");
            match parse_bearer(Some(&header)) {
                Ok(t) => {
                    prop_assert!(!t.is_empty());
                    prop_assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)));
                }
                Err(e) => prop_assert_eq!(e, BearerError::Malformed),
            }
        }

        #[test]
        fn only_the_exact_token_authenticates(token in "[A-Za-z0-9._~+/-]{1,40}", other in "[A-Za-z0-9._~+/-]{1,40}") {
            let auth = Authenticator::default().with_token("t", Role::Write, &token.clone().into());
            prop_assert!(auth.authenticate(&token).is_some());
            prop_assert_eq!(auth.authenticate(&other).is_some(), other == token);
        }
    }
}
