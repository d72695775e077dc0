//! Who calls the hub: configured tokens kept as SHA-256 digests, compared in constant
//! time, each naming a caller and its role.

use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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

/// One accepted token, kept only as its SHA-256 digest.
#[derive(Clone)]
struct TokenEntry {
    name: Arc<str>,
    role: Role,
    digest: [u8; 32],
}

/// Who called: the configured name of their token and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name in the configuration (used as the actor in DLQ records); shared
    /// with the configured token, so naming the caller of a request copies nothing.
    pub name: Arc<str>,
    /// Its role.
    pub role: Role,
}

/// The accepted tokens.
///
/// ```
/// use hub_app::callers::{Authenticator, Role};
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
            name: name.into(),
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
    /// use hub_app::callers::{Authenticator, Role};
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
        for entry in self.tokens.iter().filter(|t| &*t.name == name) {
            any = true;
            for part in [entry.name.as_bytes(), entry.role.as_str().as_bytes()] {
                hasher.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
                hasher.update(part);
            }
            hasher.update(Sha256::digest(entry.digest));
        }
        any.then(|| hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The principal of `token` if it may act with the role `needed`.
    pub fn authorize(&self, token: &str, needed: Role) -> Result<Principal, Refused> {
        let principal = self.authenticate(token).ok_or(Refused::Unknown)?;
        if principal.role < needed {
            return Err(Refused::Forbidden {
                needed,
                has: principal.role,
            });
        }
        Ok(principal)
    }
}

/// Why a token may not act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No configured token matches.
    #[error("the bearer token is not known")]
    Unknown,
    /// The token's role is below the one needed.
    #[error("this route needs the '{needed}' role; the token has '{has}'")]
    Forbidden {
        /// The least role needed.
        needed: Role,
        /// The token's role.
        has: Role,
    },
}

/// One entry point (a route of the API or of the supervisor's page) and the least role a
/// caller needs for it (`None`: open to anyone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRule {
    /// The method, upper case (`GET`, `POST`).
    pub method: &'static str,
    /// The path template, as the router and the OpenAPI document spell it.
    pub path: &'static str,
    /// The least role that may call it; `None` for open routes.
    pub role: Option<Role>,
}

impl RouteRule {
    /// A rule for `method path`.
    pub const fn new(method: &'static str, path: &'static str, role: Option<Role>) -> Self {
        Self { method, path, role }
    }
}

/// The role `routes` say `method path` needs; a route missing from them needs admin (fail
/// closed). HEAD is answered by the GET route and needs what GET needs.
///
/// ```
/// use hub_app::callers::{Role, RouteRule, role_in};
/// const ROUTES: &[RouteRule] = &[RouteRule::new("GET", "/open", None), RouteRule::new("GET", "/r", Some(Role::Read))];
/// assert_eq!(role_in(ROUTES, "HEAD", "/open"), None);
/// assert_eq!(role_in(ROUTES, "GET", "/r"), Some(Role::Read));
/// assert_eq!(role_in(ROUTES, "POST", "/r"), Some(Role::Admin));
/// ```
pub fn role_in(routes: &[RouteRule], method: &str, path: &str) -> Option<Role> {
    let method = if method == "HEAD" { "GET" } else { method };
    routes
        .iter()
        .find(|r| r.method == method && r.path == path)
        .map_or(Some(Role::Admin), |r| r.role)
}
