//! Signed-in supervisors: random session ids kept as digests in a shared session store, with an idle and an absolute expiry, revoked when their token changes.
//!
//! The cookie carries only the session id; the store ([`SessionStore`]: the SQL store,
//! so every hub instance on the same database shares a sign-in, or memory for a single
//! process) keeps its SHA-256 digest, the token's identity (name and role, and a digest
//! of the token's digest, never the token), the session's CSRF token and a one-shot
//! flash message. Time comes from the store's injected clock, so expiry is tested
//! without sleeping.

use std::sync::Arc;
use std::time::Duration;

use hub_core::{NewSession, SessionStore, StoreError};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use hub_core::ports::sessions::Flash;

use super::random::{self, RandomError};
use crate::callers::{Authenticator, Principal, Role};

/// How long sessions last and how many are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// A session unused this long has ended.
    pub idle: Duration,
    /// A session this old has ended, however busy.
    pub lifetime: Duration,
    /// At most this many sessions; the least recently used one goes first.
    pub max_sessions: usize,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(8 * 3600),
            lifetime: Duration::from_secs(24 * 3600),
            max_sessions: 1024,
        }
    }
}

/// Why a session could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// No session id could be drawn.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The session store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A live session as a request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Active {
    /// Who signed in.
    pub principal: Principal,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// The session id's digest (the store's key).
    key: String,
}

/// The supervisors' sessions, over a [`SessionStore`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::{sync::Arc, time::Duration};
/// use hub_app::supervisor::sessions::{SessionSettings, Sessions};
/// use hub_app::callers::{Authenticator, Role};
/// use hub_store::{MemoryAdminSessions, clock::ManualClock};
/// let clock = Arc::new(ManualClock::new(time::OffsetDateTime::UNIX_EPOCH));
/// let sessions = Sessions::new(SessionSettings::default(), Arc::new(MemoryAdminSessions::new(clock.clone())));
/// let auth = Authenticator::default().with_token("ops", Role::Admin, &"s3cret".to_owned().into());
/// let ops = auth.authenticate("s3cret").unwrap();
/// let id = sessions.create(ops, &auth).await.unwrap();
/// assert_eq!(&*sessions.lookup(&id, &auth).await.unwrap().unwrap().principal.name, "ops");
/// clock.advance(Duration::from_secs(9 * 3600));
/// assert!(sessions.lookup(&id, &auth).await.unwrap().is_none(), "idle for 9 hours");
/// # }
/// ```
#[derive(Clone)]
pub struct Sessions {
    settings: SessionSettings,
    store: Arc<dyn SessionStore>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The store's key for session `id`: its SHA-256 digest in hex.
fn key(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn parse_role(raw: &str) -> Option<Role> {
    match raw {
        "read" => Some(Role::Read),
        "write" => Some(Role::Write),
        "admin" => Some(Role::Admin),
        _ => None,
    }
}

impl Sessions {
    /// Sessions kept in `store`.
    pub fn new(settings: SessionSettings, store: Arc<dyn SessionStore>) -> Self {
        Self { settings, store }
    }

    /// The settings.
    pub fn settings(&self) -> SessionSettings {
        self.settings
    }

    /// Starts a session for `principal`, remembering the identity of its token in
    /// `auth`; returns the new id (for the cookie only).
    pub async fn create(&self, principal: Principal, auth: &Authenticator) -> Result<String, SessionError> {
        let id = random::token()?;
        let csrf = random::token()?;
        let token_fingerprint = auth.token_fingerprint(&principal.name).unwrap_or_default();
        let session = NewSession {
            key: key(&id),
            principal: principal.name.to_string(),
            role: principal.role.as_str().to_owned(),
            token_fingerprint,
            csrf,
            idle: self.settings.idle,
            lifetime: self.settings.lifetime,
        };
        self.store.create(session, self.settings.max_sessions).await?;
        Ok(id)
    }

    /// The live session `id` names, marked as used now. A session whose token in `auth`
    /// was removed or changed since it signed in is ended and not found.
    pub async fn lookup(&self, id: &str, auth: &Authenticator) -> Result<Option<Active>, StoreError> {
        self.find(id, auth, true).await
    }

    /// Like [`Self::lookup`] without marking the session as used: the page's own
    /// periodic refresh must not keep an unattended session alive.
    pub async fn peek(&self, id: &str, auth: &Authenticator) -> Result<Option<Active>, StoreError> {
        self.find(id, auth, false).await
    }

    async fn find(&self, id: &str, auth: &Authenticator, touch: bool) -> Result<Option<Active>, StoreError> {
        if id.is_empty() {
            return Ok(None);
        }
        let k = key(id);
        let Some(found) = self.store.find(&k, touch).await? else {
            return Ok(None);
        };
        let current = auth.token_fingerprint(&found.principal).unwrap_or_default();
        let same_token = !current.is_empty()
            && !found.token_fingerprint.is_empty()
            && bool::from(current.as_bytes().ct_eq(found.token_fingerprint.as_bytes()));
        let role = parse_role(&found.role);
        let Some(role) = role.filter(|_| same_token) else {
            tracing::info!(principal = %found.principal, "supervisor session revoked: its token was removed or changed");
            self.store.end(&k).await?;
            return Ok(None);
        };
        Ok(Some(Active {
            principal: Principal {
                name: found.principal.into(),
                role,
            },
            csrf: found.csrf,
            key: k,
        }))
    }

    /// Leaves `flash` for the session's next page.
    pub async fn set_flash(&self, session: &Active, flash: Flash) -> Result<(), StoreError> {
        self.store.set_flash(&session.key, flash).await
    }

    /// Takes the session's flash message, if any (shown once).
    pub async fn take_flash(&self, session: &Active) -> Result<Option<Flash>, StoreError> {
        self.store.take_flash(&session.key).await
    }

    /// Ends the session.
    pub async fn end(&self, session: &Active) -> Result<(), StoreError> {
        self.store.end(&session.key).await
    }

    /// How many sessions are held (ended ones included until swept).
    pub async fn count(&self) -> Result<u64, StoreError> {
        self.store.count().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_store::MemoryAdminSessions;
    use hub_store::clock::ManualClock;

    const TOKEN: &str = "canary-session-token-1";

    fn auth_with(token: &str, role: Role) -> Authenticator {
        Authenticator::default()
            .with_token("ops", role, &token.to_owned().into())
            .with_token("other", Role::Admin, &"canary-other-token".to_owned().into())
    }

    fn sessions() -> (Sessions, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(time::OffsetDateTime::UNIX_EPOCH));
        let settings = SessionSettings {
            idle: Duration::from_secs(100),
            lifetime: Duration::from_secs(250),
            max_sessions: 8,
        };
        (
            Sessions::new(settings, Arc::new(MemoryAdminSessions::new(clock.clone()))),
            clock,
        )
    }

    async fn signed_in(s: &Sessions, auth: &Authenticator) -> String {
        s.create(auth.authenticate(TOKEN).unwrap(), auth).await.unwrap()
    }

    #[tokio::test]
    async fn the_settings_reach_the_store() {
        let (s, clock) = sessions();
        let auth = auth_with(TOKEN, Role::Admin);
        let id = signed_in(&s, &auth).await;
        clock.advance(Duration::from_secs(99));
        assert!(s.peek(&id, &auth).await.unwrap().is_some());
        clock.advance(Duration::from_secs(1));
        assert!(s.lookup(&id, &auth).await.unwrap().is_none(), "idle 100 s");
    }

    #[tokio::test]
    async fn a_changed_removed_or_downgraded_token_ends_the_session() {
        for (why, changed) in [
            ("replaced", auth_with("canary-session-token-2", Role::Admin)),
            ("downgraded", auth_with(TOKEN, Role::Read)),
            (
                "removed",
                Authenticator::default().with_token("other", Role::Admin, &"canary-other-token".to_owned().into()),
            ),
        ] {
            let (s, _) = sessions();
            let auth = auth_with(TOKEN, Role::Admin);
            let id = signed_in(&s, &auth).await;
            let active = s.lookup(&id, &auth).await.unwrap().unwrap();
            assert_eq!(active.principal.role, Role::Admin);
            // Another token changing does not matter.
            let unrelated = auth_with(TOKEN, Role::Admin).with_token("new", Role::Read, &"x".to_owned().into());
            assert!(s.lookup(&id, &unrelated).await.unwrap().is_some(), "{why}");
            assert!(s.lookup(&id, &changed).await.unwrap().is_none(), "{why}");
            assert!(
                s.lookup(&id, &auth).await.unwrap().is_none(),
                "{why}: ended for good, even if the token comes back"
            );
            assert_eq!(s.count().await.unwrap(), 0, "{why}");
        }
    }

    #[tokio::test]
    async fn ids_and_csrf_tokens_are_distinct_and_flashes_shown_once() {
        let (s, _) = sessions();
        let auth = auth_with(TOKEN, Role::Admin);
        let (a, b) = (signed_in(&s, &auth).await, signed_in(&s, &auth).await);
        assert_ne!(a, b);
        let sa = s.lookup(&a, &auth).await.unwrap().unwrap();
        let sb = s.lookup(&b, &auth).await.unwrap().unwrap();
        assert_ne!(sa.csrf, sb.csrf);
        assert_ne!(sa.csrf, a, "the CSRF token is not the session id");
        assert_ne!(sa.key, a, "the store sees only the id's digest");
        assert!(s.lookup("", &auth).await.unwrap().is_none());
        assert!(s.lookup(&format!("{a}x"), &auth).await.unwrap().is_none());
        s.set_flash(&sa, Flash::ok("replayed")).await.unwrap();
        assert_eq!(s.take_flash(&sb).await.unwrap(), None);
        assert_eq!(s.take_flash(&sa).await.unwrap(), Some(Flash::ok("replayed")));
        assert_eq!(s.take_flash(&sa).await.unwrap(), None);
        s.end(&sa).await.unwrap();
        assert!(s.lookup(&a, &auth).await.unwrap().is_none());
        assert_eq!(s.count().await.unwrap(), 1);
    }
}
