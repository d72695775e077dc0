//! The SQL database behind the stores: a SQLite or PostgreSQL pool, opened and migrated.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use hub_core::StoreError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::config::StoreConfig;
use crate::error::{OpenError, db_error, redact_url};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which SQL engine a [`Database`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// An embedded SQLite file in WAL mode.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The backend a `database_url` names, by its scheme.
    ///
    /// ```
    /// use hub_store::Backend;
    /// assert_eq!(Backend::of_url("sqlite://hub.db").ok(), Some(Backend::Sqlite));
    /// assert_eq!(Backend::of_url("postgresql://db/hub").ok(), Some(Backend::Postgres));
    /// assert!(Backend::of_url("mysql://db/hub").is_err());
    /// ```
    pub fn of_url(url: &str) -> Result<Self, OpenError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(OpenError::UnsupportedScheme {
                url: redact_url(url),
                expected: "sqlite://path or postgres://…",
            })
        }
    }
}

/// A pool on one of the two engines.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool, once per engine, so one piece
/// of SQL (with `$1`-style placeholders, which SQLite accepts too) serves both.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db.pool() {
            $crate::db::Pool::Sqlite($pool) => $body,
            $crate::db::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// A migrated SQL database: cheap to clone, shared by every SQL store.
///
/// ```no_run
/// # async fn demo() -> Result<(), hub_store::OpenError> {
/// use hub_store::{Backend, Database, StoreConfig};
/// let db = Database::open(&StoreConfig::with_database_url("sqlite://data/hub.sqlite3")).await?;
/// assert_eq!(db.backend(), Backend::Sqlite);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Database {
    pool: Pool,
}

impl Database {
    /// Connects to `config.database_url` and runs the pending migrations.
    ///
    /// A SQLite file (and its directory) is created when missing and put in WAL mode
    /// with `synchronous = FULL`, so a committed write survives a crash of the process
    /// or of the machine. `sqlite::memory:` gives a private in-memory database (for
    /// other crates' tests) that lives as long as the pool.
    pub async fn open(config: &StoreConfig) -> Result<Self, OpenError> {
        let url = config.database_url.as_str();
        let shown = redact_url(url);
        let acquire = Duration::from_millis(config.acquire_timeout_ms);
        let max = config.max_connections.max(1);
        let min = config.min_connections.min(max);
        let connect_err = |e: sqlx::Error| OpenError::Connect {
            url: shown.clone(),
            reason: db_error(e).to_string(),
        };
        let invalid = |e: sqlx::Error| OpenError::InvalidUrl {
            url: shown.clone(),
            reason: e.to_string(),
        };
        let pool = match Backend::of_url(url)? {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(invalid)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_millis(config.sqlite_busy_timeout_ms))
                    .foreign_keys(true);
                create_parent_dir(options.get_filename())?;
                // An in-memory database lives as long as one of its connections: keep one.
                let in_memory = url.contains(":memory:");
                let pool = SqlitePoolOptions::new()
                    .max_connections(max)
                    .min_connections(if in_memory { min.max(1) } else { min })
                    .idle_timeout((!in_memory).then_some(Duration::from_secs(600)))
                    .max_lifetime((!in_memory).then_some(Duration::from_secs(1800)))
                    .acquire_timeout(acquire)
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                Pool::Sqlite(pool)
            }
            Backend::Postgres => {
                // Every statement is bounded: a hung database must not hold a write past
                // its deadline. Migrations run on the same pool and are short.
                let timeout = config.statement_timeout_ms.max(1).to_string();
                let options = PgConnectOptions::from_str(url)
                    .map_err(invalid)?
                    .options([("statement_timeout", timeout.as_str())]);
                let pool = PgPoolOptions::new()
                    .max_connections(max)
                    .min_connections(min)
                    .acquire_timeout(acquire)
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                Pool::Postgres(pool)
            }
        };
        let migrated = match &pool {
            Pool::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await,
            Pool::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await,
        };
        migrated.map_err(|e| OpenError::Migrate {
            url: shown.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self { pool })
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Whether the database answers a trivial query (for readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(drop).map_err(db_error))
    }

    /// Closes every connection; store calls fail as unavailable afterwards.
    pub async fn close(&self) {
        with_pool!(self, p => p.close().await);
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }
}

fn create_parent_dir(file: &Path) -> Result<(), OpenError> {
    let shown = file.display().to_string();
    if shown.is_empty() || shown == ":memory:" || shown.starts_with("file:") {
        return Ok(());
    }
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir).map_err(|e| OpenError::CreateDir {
            path: shown,
            reason: e.to_string(),
        }),
        _ => Ok(()),
    }
}

/// A value bound to a dynamically built statement.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
}

/// Builds `WHERE … ORDER BY … LIMIT` for the keyset-paginated listings.
#[derive(Debug, Default)]
pub(crate) struct Filter {
    clauses: Vec<String>,
    params: Vec<Param>,
}

impl Filter {
    /// The next placeholder, `$n`, bound to `value`.
    pub(crate) fn bind(&mut self, value: Param) -> String {
        self.params.push(value);
        format!("${}", self.params.len())
    }

    /// `column = value`.
    pub(crate) fn eq(&mut self, column: &str, value: Option<&str>) {
        if let Some(value) = value {
            let p = self.bind(Param::Text(value.to_owned()));
            self.clauses.push(format!("{column} = {p}"));
        }
    }

    /// Any other condition (placeholders from [`Filter::bind`]).
    pub(crate) fn push(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    /// The `WHERE …` text (empty without conditions) and the values to bind in order.
    pub(crate) fn finish(self) -> (String, Vec<Param>) {
        let sql = if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        };
        (sql, self.params)
    }
}

/// Binds `params` in order to `query`, for whichever engine it is.
macro_rules! bind_all {
    ($query:expr, $params:expr) => {{
        let mut q = $query;
        for p in $params {
            q = match p {
                $crate::db::Param::Text(s) => q.bind(s.clone()),
                $crate::db::Param::Int(i) => q.bind(*i),
            };
        }
        q
    }};
}
pub(crate) use bind_all;
