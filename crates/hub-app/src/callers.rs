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
    digest: TokenDigest,
}

/// A token's SHA-256 digest as four words, compared with another in constant time by
/// word (one data-independent branch-free reduction, not one barrier per byte).
#[derive(Clone, Copy)]
struct TokenDigest([u64; 4]);

impl TokenDigest {
    fn of(token: &str) -> Self {
        Self::from_bytes(Sha256::digest(token.as_bytes()).into())
    }

    fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut words = [0u64; 4];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(chunk);
            *word = u64::from_le_bytes(eight);
        }
        Self(words)
    }

    /// The 32 bytes of the digest, as SHA-256 gave them.
    fn bytes(&self) -> [u8; 32] {
        let mut bytes = [0u8; 32];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(self.0) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    /// Whether the two digests are equal, in time independent of where they differ.
    fn ct_eq(&self, other: &Self) -> bool {
        let diff = self.0.iter().zip(other.0).fold(0u64, |acc, (a, b)| acc | (a ^ b));
        bool::from(diff.ct_eq(&0))
    }
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

impl Authenticator {
    /// Adds a token; the secret itself is not kept.
    #[must_use]
    pub fn with_token(mut self, name: &str, role: Role, token: &SecretString) -> Self {
        self.tokens.push(TokenEntry {
            name: name.into(),
            role,
            digest: TokenDigest::of(token.expose_secret()),
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
        let d = TokenDigest::of(presented);
        let mut found: Option<&TokenEntry> = None;
        for entry in &self.tokens {
            if entry.digest.ct_eq(&d) && found.is_none() {
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
            hasher.update(Sha256::digest(entry.digest.bytes()));
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Two digests compare equal exactly when their bytes are equal, wherever they
        /// differ, and a digest's bytes come back as they went in.
        #[test]
        fn digests_compare_as_their_bytes(a in any::<[u8; 32]>(), flip in 0usize..256, other in any::<[u8; 32]>()) {
            let mut near = a;
            near[flip / 8] ^= 1 << (flip % 8);
            let da = TokenDigest::from_bytes(a);
            prop_assert_eq!(da.bytes(), a);
            prop_assert!(da.ct_eq(&TokenDigest::from_bytes(a)));
            prop_assert!(!da.ct_eq(&TokenDigest::from_bytes(near)));
            prop_assert_eq!(da.ct_eq(&TokenDigest::from_bytes(other)), a == other);
        }

        /// A token is accepted by its own value only.
        #[test]
        fn a_token_is_its_own_value(token in "[ -~]{1,40}", other in "[ -~]{1,40}") {
            let auth = Authenticator::default()
                .with_token("a", Role::Read, &token.clone().into())
                .with_token("b", Role::Admin, &format!("{token}x").into());
            prop_assert_eq!(auth.authenticate(&token).map(|p| p.name), Some(Arc::from("a")));
            prop_assert_eq!(auth.authenticate(&other).is_some(), other == token || other == format!("{token}x"));
        }
    }

    /// A session's fingerprint is the digest of the name, role and the token's digest's
    /// digest: kept as before, so sessions signed in earlier stay valid.
    #[test]
    fn the_fingerprint_hashes_the_tokens_digest() {
        let auth = Authenticator::default().with_token("ops", Role::Admin, &"s3cret".to_owned().into());
        let mut hasher = Sha256::new();
        hasher.update(b"hub-admin-session-token-v1");
        for part in [&b"ops"[..], b"admin"] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        hasher.update(Sha256::digest(Sha256::digest(b"s3cret")));
        let expected: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(auth.token_fingerprint("ops"), Some(expected));
    }
}
