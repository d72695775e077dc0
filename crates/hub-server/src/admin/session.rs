//! Signed-in supervisors: random session ids held in memory with an idle and an absolute expiry.
//!
//! The cookie carries only the session id; the store keeps its SHA-256 digest, the
//! token's identity (name and role, never the token), the session's CSRF token and a
//! one-shot flash message. Time is passed in, so expiry is tested without sleeping.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::random::{self, RandomError};
use crate::auth::Principal;

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

#[derive(Debug)]
struct Entry {
    principal: Principal,
    csrf: String,
    created: Instant,
    last_seen: Instant,
    flash: Option<Flash>,
}

/// A live session as a request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Active {
    /// Who signed in.
    pub principal: Principal,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// The session id's digest (the store's key).
    key: [u8; 32],
}

/// The sessions of this instance (in memory: a restart signs everyone out).
///
/// ```
/// use std::time::{Duration, Instant};
/// use hub_server::admin::session::{SessionSettings, Sessions};
/// use hub_server::auth::{Principal, Role};
/// let sessions = Sessions::new(SessionSettings::default());
/// let t0 = Instant::now();
/// let ops = Principal { name: "ops".into(), role: Role::Admin };
/// let id = sessions.create(ops, t0).unwrap();
/// assert_eq!(sessions.lookup(&id, t0).unwrap().principal.name, "ops");
/// assert!(sessions.lookup(&id, t0 + Duration::from_secs(9 * 3600)).is_none());
/// ```
#[derive(Debug)]
pub struct Sessions {
    settings: SessionSettings,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl Default for Sessions {
    fn default() -> Self {
        Self::new(SessionSettings::default())
    }
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    /// An empty store.
    pub fn new(settings: SessionSettings) -> Self {
        Self {
            settings,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn live(&self, e: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(e.last_seen) < self.settings.idle
            && now.saturating_duration_since(e.created) < self.settings.lifetime
    }

    /// Starts a session for `principal`; returns its new id (for the cookie only).
    pub fn create(&self, principal: Principal, now: Instant) -> Result<String, RandomError> {
        let id = random::token()?;
        let csrf = random::token()?;
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|_, e| self.live(e, now));
        while entries.len() >= self.settings.max_sessions.max(1) {
            let Some(oldest) = entries.iter().min_by_key(|(_, e)| e.last_seen).map(|(k, _)| *k) else {
                break;
            };
            entries.remove(&oldest);
        }
        entries.insert(
            key(&id),
            Entry {
                principal,
                csrf,
                created: now,
                last_seen: now,
                flash: None,
            },
        );
        Ok(id)
    }

    /// The live session `id` names, marked as used at `now`; an ended one is removed.
    pub fn lookup(&self, id: &str, now: Instant) -> Option<Active> {
        self.find(id, now, true)
    }

    /// Like [`Self::lookup`] without marking the session as used: the page's own
    /// periodic refresh must not keep an unattended session alive.
    pub fn peek(&self, id: &str, now: Instant) -> Option<Active> {
        self.find(id, now, false)
    }

    fn find(&self, id: &str, now: Instant, used: bool) -> Option<Active> {
        let k = key(id);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get_mut(&k)?;
        if !self.live(entry, now) {
            entries.remove(&k);
            return None;
        }
        if used {
            entry.last_seen = now;
        }
        Some(Active {
            principal: entry.principal.clone(),
            csrf: entry.csrf.clone(),
            key: k,
        })
    }

    /// Leaves `flash` for the session's next page.
    pub fn set_flash(&self, session: &Active, flash: Flash) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = entries.get_mut(&session.key) {
            e.flash = Some(flash);
        }
    }

    /// Takes the session's flash message, if any (shown once).
    pub fn take_flash(&self, session: &Active) -> Option<Flash> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.get_mut(&session.key).and_then(|e| e.flash.take())
    }

    /// Ends the session.
    pub fn end(&self, session: &Active) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.remove(&session.key);
    }

    /// How many sessions are held (ended ones included until the next sign-in sweeps them).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn ops() -> Principal {
        Principal {
            name: "ops".to_owned(),
            role: Role::Admin,
        }
    }

    fn settings() -> SessionSettings {
        SessionSettings {
            idle: Duration::from_secs(100),
            lifetime: Duration::from_secs(250),
            max_sessions: 2,
        }
    }

    /// Looks the session up at each offset (seconds from t0) and says whether it was live.
    fn check(lookups: &[u64], expected: &[bool]) {
        let sessions = Sessions::new(settings());
        let t0 = Instant::now();
        let id = sessions.create(ops(), t0).unwrap();
        let seen: Vec<bool> = lookups
            .iter()
            .map(|s| sessions.lookup(&id, t0 + Duration::from_secs(*s)).is_some())
            .collect();
        assert_eq!(seen, expected, "lookups at {lookups:?}");
    }

    #[test]
    fn idle_expiry_counts_from_the_last_use() {
        check(&[99], &[true]);
        check(&[100], &[false]);
        check(&[90, 180, 189], &[true, true, true]);
        // Once ended, a session stays ended.
        check(&[101, 50], &[false, false]);
    }

    #[test]
    fn peeking_does_not_keep_a_session_alive() {
        let sessions = Sessions::new(settings());
        let t0 = Instant::now();
        let id = sessions.create(ops(), t0).unwrap();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(sessions.peek(&id, at(60)).is_some());
        assert!(sessions.peek(&id, at(99)).is_some());
        assert!(sessions.peek(&id, at(100)).is_none(), "idle since t0");
        assert!(sessions.lookup(&id, at(50)).is_none(), "and ended for good");
    }

    #[test]
    fn a_busy_session_still_ends_at_its_lifetime() {
        check(&[90, 180, 249, 250], &[true, true, true, false]);
    }

    #[test]
    fn ids_and_csrf_tokens_are_distinct_and_unknown_ids_find_nothing() {
        let sessions = Sessions::new(settings());
        let t0 = Instant::now();
        let a = sessions.create(ops(), t0).unwrap();
        let b = sessions.create(ops(), t0).unwrap();
        assert_ne!(a, b);
        let (sa, sb) = (sessions.lookup(&a, t0).unwrap(), sessions.lookup(&b, t0).unwrap());
        assert_ne!(sa.csrf, sb.csrf);
        assert_ne!(sa.csrf, a, "the CSRF token is not the session id");
        assert!(sessions.lookup("", t0).is_none());
        assert!(sessions.lookup(&format!("{a}x"), t0).is_none());
    }

    #[test]
    fn the_least_recently_used_session_makes_room() {
        let sessions = Sessions::new(settings());
        let t0 = Instant::now();
        let a = sessions.create(ops(), t0).unwrap();
        let b = sessions.create(ops(), t0 + Duration::from_secs(1)).unwrap();
        sessions.lookup(&a, t0 + Duration::from_secs(2));
        let c = sessions.create(ops(), t0 + Duration::from_secs(3)).unwrap();
        let at = t0 + Duration::from_secs(4);
        assert!(sessions.lookup(&a, at).is_some());
        assert!(sessions.lookup(&b, at).is_none());
        assert!(sessions.lookup(&c, at).is_some());
        assert_eq!(sessions.len(), 2);
    }

    #[test]
    fn flash_is_shown_once_and_end_signs_out() {
        let sessions = Sessions::new(settings());
        let t0 = Instant::now();
        let id = sessions.create(ops(), t0).unwrap();
        let s = sessions.lookup(&id, t0).unwrap();
        sessions.set_flash(&s, Flash::ok("replayed"));
        assert_eq!(sessions.take_flash(&s), Some(Flash::ok("replayed")));
        assert_eq!(sessions.take_flash(&s), None);
        sessions.end(&s);
        assert!(sessions.lookup(&id, t0).is_none());
        assert!(sessions.is_empty());
    }
}
