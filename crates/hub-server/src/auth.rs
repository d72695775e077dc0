//! Bearer-token authentication and role checks: tokens kept as SHA-256 digests,
//! compared in constant time, and one table saying which role each route needs.

use std::fmt;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::problem::{Problem, ProblemCode};

/// What a token may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// GETs on tickets and transactions.
    Read,
    /// Read, plus POSTs on tickets and transactions.
    Write,
    /// Everything, including `/v1/dlq` and `/v1/audit`.
    Admin,
}

impl Role {
    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One route of the API and the role it needs (`None`: open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRule {
    /// The HTTP method.
    pub method: &'static str,
    /// The path template, as the router and the OpenAPI document spell it.
    pub path: &'static str,
    /// The least role that may call it; `None` for open routes.
    pub role: Option<Role>,
}

const fn rule(method: &'static str, path: &'static str, role: Option<Role>) -> RouteRule {
    RouteRule { method, path, role }
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
fn query_token(uri: &http::Uri) -> Option<String> {
    let axum::extract::Query(pairs) = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri).ok()?;
    pairs
        .into_iter()
        .find(|(k, _)| k == crate::events_ws::ACCESS_TOKEN_PARAM)
        .map(|(_, v)| v)
}

/// The role a route needs; unknown routes need admin (fail closed).
pub fn required_role(method: &Method, path: &str) -> Option<Role> {
    role_in(ROUTES, method, path)
}

/// The role `routes` say a route needs; a route missing from them needs admin (fail
/// closed). HEAD is answered by the GET route and needs what GET needs.
pub fn role_in(routes: &[RouteRule], method: &Method, path: &str) -> Option<Role> {
    let method = if method == Method::HEAD { "GET" } else { method.as_str() };
    routes
        .iter()
        .find(|r| r.method == method && r.path == path)
        .map_or(Some(Role::Admin), |r| r.role)
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

/// One accepted token, kept only as its SHA-256 digest.
#[derive(Clone)]
struct TokenEntry {
    name: String,
    role: Role,
    digest: [u8; 32],
}

/// Who called: the configured name of their token and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name in the configuration (used as the actor in DLQ records).
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// The accepted tokens.
///
/// ```
/// use hub_server::auth::{Authenticator, Role};
/// let auth = Authenticator::default().with_token("ops", Role::Admin, &"s3cret-token".to_owned().into());
/// assert_eq!(auth.authenticate("s3cret-token").map(|p| p.role), Some(Role::Admin));
/// assert!(auth.authenticate("wrong").is_none());
/// assert!(!format!("{auth:?}").contains("s3cret"));
/// ```
#[derive(Clone, Default)]
pub struct Authenticator {
    tokens: Vec<TokenEntry>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.tokens.iter().map(|t| format!("{}:{}", t.name, t.role)))
            .finish()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Authenticator {
    /// Adds a token; the secret itself is not kept.
    #[must_use]
    pub fn with_token(mut self, name: &str, role: Role, token: &SecretString) -> Self {
        self.tokens.push(TokenEntry {
            name: name.to_owned(),
            role,
            digest: digest(token.expose_secret()),
        });
        self
    }

    /// How many tokens are accepted.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether no token is accepted (every `/v1` route then answers 401).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The principal a presented token belongs to. Every stored digest is compared,
    /// in constant time, whatever matches.
    pub fn authenticate(&self, presented: &str) -> Option<Principal> {
        let d = digest(presented);
        let mut found: Option<&TokenEntry> = None;
        for entry in &self.tokens {
            if bool::from(entry.digest.ct_eq(&d)) && found.is_none() {
                found = Some(entry);
            }
        }
        found.map(|e| Principal {
            name: e.name.clone(),
            role: e.role,
        })
    }

    /// A digest identifying the configured token named `name` (its name, role and a
    /// digest of its digest; every token of that name, should there be several), or
    /// `None` when no token has that name. A supervisor's session stores it at sign-in
    /// and ends when it no longer matches: the token was removed, replaced or its role
    /// changed. It reveals nothing of the token.
    ///
    /// ```
    /// use hub_server::auth::{Authenticator, Role};
    /// let before = Authenticator::default().with_token("ops", Role::Admin, &"old-token".to_owned().into());
    /// let after = Authenticator::default().with_token("ops", Role::Admin, &"new-token".to_owned().into());
    /// assert!(before.token_fingerprint("ops").is_some());
    /// assert_ne!(before.token_fingerprint("ops"), after.token_fingerprint("ops"));
    /// assert_eq!(before.token_fingerprint("nobody"), None);
    /// ```
    pub fn token_fingerprint(&self, name: &str) -> Option<String> {
        let mut hasher = Sha256::new();
        hasher.update(b"hub-admin-session-token-v1");
        let mut any = false;
        for entry in self.tokens.iter().filter(|t| t.name == name) {
            any = true;
            for part in [entry.name.as_bytes(), entry.role.as_str().as_bytes()] {
                hasher.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
                hasher.update(part);
            }
            hasher.update(Sha256::digest(entry.digest));
        }
        any.then(|| hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Checks the request's headers against the role a route needs.
    pub fn authorize(&self, headers: &HeaderMap, needed: Role) -> Result<Principal, Problem> {
        let raw = headers.get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
        let token = parse_bearer(raw).map_err(|e| Problem::new(ProblemCode::Unauthorized, e.to_string()))?;
        self.authorize_token(token, needed)
    }

    /// Checks a presented token against the role a route needs.
    pub fn authorize_token(&self, token: &str, needed: Role) -> Result<Principal, Problem> {
        let principal = self
            .authenticate(token)
            .ok_or_else(|| Problem::new(ProblemCode::Unauthorized, "the bearer token is not known"))?;
        if principal.role < needed {
            return Err(Problem::new(
                ProblemCode::Forbidden,
                format!(
                    "this route needs the '{needed}' role; the token has '{}'",
                    principal.role
                ),
            ));
        }
        Ok(principal)
    }
}

/// Route middleware: authenticates `/v1` routes and puts the [`Principal`] in the request.
///
/// Its state is the [`Authenticator`] alone, not the whole `AppState`: axum clones a
/// layer's state for every request, and the profile of the cached read showed the
/// `AppState` clones and drops (two dozen reference counts and a vector) as one of the
/// larger costs of a hit.
pub async fn layer(State(auth): State<Arc<Authenticator>>, mut req: Request, next: Next) -> Response {
    let (needed, query_route) = req.extensions().get::<MatchedPath>().map_or((None, false), |m| {
        (
            required_role(req.method(), m.as_str()),
            QUERY_TOKEN_ROUTES.contains(&m.as_str()),
        )
    });
    let Some(needed) = needed else {
        return next.run(req).await;
    };
    let from_query = if query_route && !req.headers().contains_key(header::AUTHORIZATION) {
        query_token(req.uri())
    } else {
        None
    };
    let authorized = match from_query {
        Some(token) => auth.authorize_token(&token, needed),
        None => auth.authorize(req.headers(), needed),
    };
    match authorized {
        Ok(principal) => {
            tracing::debug!(principal = %principal.name, role = %principal.role, "authenticated");
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Err(problem) => problem.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        assert_eq!(auth.authenticate("tok-write").map(|p| p.name), Some("w".to_owned()));
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
