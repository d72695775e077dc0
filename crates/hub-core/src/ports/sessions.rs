//! The port to the store of the supervisor's page's sign-in sessions, shared by every hub instance on one database.
//!
//! A session is keyed by the digest of its id (the id itself, which only the browser's
//! cookie holds, is never stored). It is live until it has been unused for its idle
//! timeout or has reached its absolute lifetime, whichever comes first; an ended
//! session stays ended. Time comes from the store's injected clock.

use std::time::Duration;

use async_trait::async_trait;

use crate::store_error::StoreError;

/// A session to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The SHA-256 digest of the session id, as lower-case hex.
    pub key: String,
    /// Who signed in: the configured name of their token.
    pub principal: String,
    /// That token's role, by name.
    pub role: String,
    /// A digest of the token's identity at sign-in (name, role and a digest of its
    /// digest); the server revokes the session when the token no longer matches it.
    pub token_fingerprint: String,
    /// The token every form of the session carries (cross-site request forgery).
    pub csrf: String,
    /// The session ends when unused this long.
    pub idle: Duration,
    /// The session ends this long after it started, however busy.
    pub lifetime: Duration,
}

/// A live session as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The digest of its id.
    pub key: String,
    /// Who signed in.
    pub principal: String,
    /// Their role's name.
    pub role: String,
    /// The token's identity at sign-in.
    pub token_fingerprint: String,
    /// The session's CSRF token.
    pub csrf: String,
}

/// A message shown once, on the next page after an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// Whether the action succeeded.
    pub ok: bool,
    /// What happened.
    pub text: String,
}

impl Flash {
    /// A success message.
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            ok: true,
            text: text.into(),
        }
    }

    /// A failure message.
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            ok: false,
            text: text.into(),
        }
    }
}

/// Keeps sign-in sessions, so every instance sharing the store shares them.
///
/// ```
/// use hub_core::{SessionStore, StoreError};
/// async fn still_signed_in(store: &dyn SessionStore, key: &str) -> Result<bool, StoreError> {
///     // A page view counts as use; the page's own refresh would pass `touch: false`.
///     Ok(store.find(key, true).await?.is_some())
/// }
/// ```
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Starts `session` now. Ended sessions are removed first; then, while `max_sessions`
    /// or more are held, the least recently used one goes.
    async fn create(&self, session: NewSession, max_sessions: usize) -> Result<(), StoreError>;

    /// The live session `key` names; with `touch`, it is marked as used now. An ended
    /// session is removed and not found.
    async fn find(&self, key: &str, touch: bool) -> Result<Option<Session>, StoreError>;

    /// Leaves `flash` for the session's next page (replacing an unread one); nothing
    /// happens when the session is gone.
    async fn set_flash(&self, key: &str, flash: Flash) -> Result<(), StoreError>;

    /// Takes the session's flash message, if any: exactly one caller gets it.
    async fn take_flash(&self, key: &str) -> Result<Option<Flash>, StoreError>;

    /// Ends the session (sign-out, revocation).
    async fn end(&self, key: &str) -> Result<(), StoreError>;

    /// Removes ended sessions; returns how many went.
    async fn sweep(&self) -> Result<u64, StoreError>;

    /// How many sessions are held (ended ones included until swept).
    async fn count(&self) -> Result<u64, StoreError>;
}
