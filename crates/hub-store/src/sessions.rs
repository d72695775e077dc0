//! The supervisor's page's sign-in sessions on SQL, so every hub instance on one database shares a sign-in, and in memory for a single process.
//!
//! Each state change is one statement (a touch is an `UPDATE … WHERE live … RETURNING`,
//! taking the flash a `DELETE … RETURNING`), so two instances never both take the same
//! flash or revive an ended session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use hub_core::ports::sessions::Flash;
use hub_core::{NewSession, Session, SessionStore, StoreError};

use crate::clock::{Clock, duration_us, to_us};
use crate::db::{Database, with_pool};
use crate::error::db_error;

/// The longest idle timeout or lifetime kept (about 290 years), so that adding one to a
/// time never overflows in SQL.
const MAX_SPAN_US: i64 = i64::MAX / 64;

fn span_us(d: Duration) -> i64 {
    duration_us(d).min(MAX_SPAN_US)
}

/// `WHERE` condition of a live session at `$now`, the given placeholder.
fn live_at(now: &str) -> String {
    format!("last_seen_us + idle_us > {now} AND expires_us > {now}")
}

/// One row of `admin_sessions`, as found.
#[derive(Debug, sqlx::FromRow)]
struct Row {
    principal: String,
    role: String,
    token_fingerprint: String,
    csrf: String,
}

impl Row {
    fn into_session(self, key: &str) -> Session {
        Session {
            key: key.to_owned(),
            principal: self.principal,
            role: self.role,
            token_fingerprint: self.token_fingerprint,
            csrf: self.csrf,
        }
    }
}

/// The [`SessionStore`] port on the SQL [`Database`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::{sync::Arc, time::Duration};
/// use hub_core::{NewSession, SessionStore};
/// use hub_store::{Database, SqlAdminSessions, StoreConfig, clock::SystemClock};
/// let sessions = SqlAdminSessions::new(Database::open(&StoreConfig::default()).await?, Arc::new(SystemClock));
/// let key = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned();
/// sessions.create(NewSession {
///     key: key.clone(),
///     principal: "ops".into(),
///     role: "admin".into(),
///     token_fingerprint: "c0ffee".into(),
///     csrf: "form-token".into(),
///     idle: Duration::from_secs(8 * 3600),
///     lifetime: Duration::from_secs(24 * 3600),
/// }, 1024).await?;
/// assert_eq!(sessions.find(&key, true).await?.map(|s| s.principal), Some("ops".to_owned()));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqlAdminSessions {
    db: Database,
    clock: Arc<dyn Clock>,
}

impl SqlAdminSessions {
    /// The store in `db`, reading time from `clock`.
    pub fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    fn now(&self) -> i64 {
        to_us(self.clock.now())
    }

    async fn delete_ended(&self, now: i64) -> Result<u64, StoreError> {
        let sql = "DELETE FROM admin_sessions WHERE last_seen_us + idle_us <= $1 OR expires_us <= $1";
        with_pool!(self.db, p => sqlx::query(sql).bind(now).execute(p).await.map(|r| r.rows_affected()))
            .map_err(db_error)
    }
}

#[async_trait]
impl SessionStore for SqlAdminSessions {
    async fn create(&self, session: NewSession, max_sessions: usize) -> Result<(), StoreError> {
        let now = self.now();
        self.delete_ended(now).await?;
        let held: i64 = with_pool!(self.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM admin_sessions")
            .fetch_one(p)
            .await)
        .map_err(db_error)?;
        let max = i64::try_from(max_sessions.max(1)).unwrap_or(i64::MAX);
        let excess = held.saturating_sub(max).saturating_add(1);
        if excess > 0 {
            let sql = "DELETE FROM admin_sessions WHERE session_key IN \
                       (SELECT session_key FROM admin_sessions ORDER BY last_seen_us ASC, session_key ASC LIMIT $1)";
            with_pool!(self.db, p => sqlx::query(sql).bind(excess).execute(p).await.map(drop)).map_err(db_error)?;
        }
        let sql = "INSERT INTO admin_sessions \
                   (session_key, principal, role, token_fingerprint, csrf, created_us, last_seen_us, idle_us, expires_us) \
                   VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)";
        let expires = now.saturating_add(span_us(session.lifetime));
        with_pool!(self.db, p => sqlx::query(sql)
            .bind(&session.key)
            .bind(&session.principal)
            .bind(&session.role)
            .bind(&session.token_fingerprint)
            .bind(&session.csrf)
            .bind(now)
            .bind(span_us(session.idle))
            .bind(expires)
            .execute(p)
            .await
            .map(drop))
        .map_err(db_error)
    }

    async fn find(&self, key: &str, touch: bool) -> Result<Option<Session>, StoreError> {
        let now = self.now();
        let live = live_at("$2");
        let found = if touch {
            // Never moves last use backwards (another instance's clock may be ahead).
            let sql = format!(
                "UPDATE admin_sessions SET last_seen_us = CASE WHEN last_seen_us > $2 THEN last_seen_us ELSE $2 END \
                 WHERE session_key = $1 AND {live} RETURNING principal, role, token_fingerprint, csrf"
            );
            with_pool!(self.db, p => sqlx::query_as::<_, Row>(&sql).bind(key).bind(now).fetch_optional(p).await)
        } else {
            let sql = format!(
                "SELECT principal, role, token_fingerprint, csrf FROM admin_sessions WHERE session_key = $1 AND {live}"
            );
            with_pool!(self.db, p => sqlx::query_as::<_, Row>(&sql).bind(key).bind(now).fetch_optional(p).await)
        }
        .map_err(db_error)?;
        if let Some(row) = found {
            return Ok(Some(row.into_session(key)));
        }
        let sql =
            "DELETE FROM admin_sessions WHERE session_key = $1 AND (last_seen_us + idle_us <= $2 OR expires_us <= $2)";
        with_pool!(self.db, p => sqlx::query(sql).bind(key).bind(now).execute(p).await.map(drop)).map_err(db_error)?;
        Ok(None)
    }

    async fn set_flash(&self, key: &str, flash: Flash) -> Result<(), StoreError> {
        let sql = "INSERT INTO admin_session_flashes (session_key, ok, text) \
                   SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM admin_sessions WHERE session_key = $1) \
                   ON CONFLICT (session_key) DO UPDATE SET ok = excluded.ok, text = excluded.text";
        with_pool!(self.db, p => sqlx::query(sql)
            .bind(key)
            .bind(flash.ok)
            .bind(&flash.text)
            .execute(p)
            .await
            .map(drop))
        .map_err(db_error)
    }

    async fn take_flash(&self, key: &str) -> Result<Option<Flash>, StoreError> {
        let sql = "DELETE FROM admin_session_flashes WHERE session_key = $1 RETURNING ok, text";
        let taken: Option<(bool, String)> =
            with_pool!(self.db, p => sqlx::query_as(sql).bind(key).fetch_optional(p).await).map_err(db_error)?;
        Ok(taken.map(|(ok, text)| Flash { ok, text }))
    }

    async fn end(&self, key: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM admin_sessions WHERE session_key = $1";
        with_pool!(self.db, p => sqlx::query(sql).bind(key).execute(p).await.map(drop)).map_err(db_error)
    }

    async fn sweep(&self) -> Result<u64, StoreError> {
        self.delete_ended(self.now()).await
    }

    async fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = with_pool!(self.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM admin_sessions")
            .fetch_one(p)
            .await)
        .map_err(db_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[derive(Debug)]
struct Entry {
    session: Session,
    last_seen_us: i64,
    idle_us: i64,
    expires_us: i64,
    flash: Option<Flash>,
}

impl Entry {
    fn live(&self, now: i64) -> bool {
        self.last_seen_us.saturating_add(self.idle_us) > now && self.expires_us > now
    }
}

/// The [`SessionStore`] port in this process's memory: the same rules as
/// [`SqlAdminSessions`], for a single instance and for tests (a restart signs everyone out).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), hub_core::StoreError> {
/// use std::{sync::Arc, time::Duration};
/// use hub_core::{NewSession, SessionStore};
/// use hub_store::MemoryAdminSessions;
/// use hub_store::clock::ManualClock;
/// let clock = Arc::new(ManualClock::new(time::OffsetDateTime::UNIX_EPOCH));
/// let sessions = MemoryAdminSessions::new(clock.clone());
/// sessions.create(NewSession {
///     key: "k1".into(), principal: "ops".into(), role: "admin".into(),
///     token_fingerprint: "f".into(), csrf: "c".into(),
///     idle: Duration::from_secs(60), lifetime: Duration::from_secs(3600),
/// }, 16).await?;
/// clock.advance(Duration::from_secs(60));
/// assert!(sessions.find("k1", true).await?.is_none(), "idle for a minute");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MemoryAdminSessions {
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<String, Entry>>,
}

impl MemoryAdminSessions {
    /// An empty store reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn now(&self) -> i64 {
        to_us(self.clock.now())
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl SessionStore for MemoryAdminSessions {
    async fn create(&self, session: NewSession, max_sessions: usize) -> Result<(), StoreError> {
        let now = self.now();
        let mut entries = self.entries();
        entries.retain(|_, e| e.live(now));
        while entries.len() >= max_sessions.max(1) {
            let oldest = entries
                .iter()
                .min_by(|(ka, a), (kb, b)| a.last_seen_us.cmp(&b.last_seen_us).then_with(|| ka.cmp(kb)))
                .map(|(k, _)| k.clone());
            let Some(oldest) = oldest else { break };
            entries.remove(&oldest);
        }
        let entry = Entry {
            session: Session {
                key: session.key.clone(),
                principal: session.principal,
                role: session.role,
                token_fingerprint: session.token_fingerprint,
                csrf: session.csrf,
            },
            last_seen_us: now,
            idle_us: span_us(session.idle),
            expires_us: now.saturating_add(span_us(session.lifetime)),
            flash: None,
        };
        entries.insert(session.key, entry);
        Ok(())
    }

    async fn find(&self, key: &str, touch: bool) -> Result<Option<Session>, StoreError> {
        let now = self.now();
        let mut entries = self.entries();
        let Some(entry) = entries.get_mut(key) else {
            return Ok(None);
        };
        if !entry.live(now) {
            entries.remove(key);
            return Ok(None);
        }
        if touch {
            entry.last_seen_us = entry.last_seen_us.max(now);
        }
        Ok(Some(entry.session.clone()))
    }

    async fn set_flash(&self, key: &str, flash: Flash) -> Result<(), StoreError> {
        if let Some(e) = self.entries().get_mut(key) {
            e.flash = Some(flash);
        }
        Ok(())
    }

    async fn take_flash(&self, key: &str) -> Result<Option<Flash>, StoreError> {
        Ok(self.entries().get_mut(key).and_then(|e| e.flash.take()))
    }

    async fn end(&self, key: &str) -> Result<(), StoreError> {
        self.entries().remove(key);
        Ok(())
    }

    async fn sweep(&self) -> Result<u64, StoreError> {
        let now = self.now();
        let mut entries = self.entries();
        let before = entries.len();
        entries.retain(|_, e| e.live(now));
        Ok(u64::try_from(before - entries.len()).unwrap_or(0))
    }

    async fn count(&self) -> Result<u64, StoreError> {
        Ok(u64::try_from(self.entries().len()).unwrap_or(0))
    }
}
