//! The test harness: a fresh database per test (a SQLite file in a temporary directory,
//! or a PostgreSQL schema), a manual clock, and cleanup even when the test fails.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use hub_store::clock::ManualClock;
use hub_store::{Backend, StoreConfig, Stores};
use sqlx::Connection as _;
use time::OffsetDateTime;
use time::macros::datetime;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where the tests' PostgreSQL is.
pub(crate) fn postgres_url() -> String {
    std::env::var("HUB_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/test".to_owned())
}

/// Where the tests' Redis is.
pub(crate) fn redis_url() -> String {
    std::env::var("HUB_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A fresh, empty database for one test.
#[derive(Debug)]
pub(crate) struct TestDb {
    /// The `database_url` that opens it.
    pub(crate) url: String,
    place: Place,
}

#[derive(Debug)]
enum Place {
    Dir(PathBuf),
    Schema(String),
}

impl TestDb {
    /// Creates one; fails (never skips) when PostgreSQL does not answer.
    pub(crate) async fn create(backend: Backend) -> Self {
        let name = format!("hub_store_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(&name);
                // Not created here: the store must create the file and its directory.
                let url = format!("sqlite://{}", dir.join("nested").join("hub.sqlite3").display());
                Self {
                    url,
                    place: Place::Dir(dir),
                }
            }
            Backend::Postgres => {
                let base = postgres_url();
                let mut admin = sqlx::PgConnection::connect(&base)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL at {base} does not answer: {e}"));
                sqlx::query(&format!("CREATE SCHEMA {name}"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let _ = admin.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-csearch_path%3D{name}");
                Self {
                    url,
                    place: Place::Schema(name),
                }
            }
        }
    }

    /// Removes it.
    pub(crate) async fn drop_it(self) {
        match self.place {
            Place::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Place::Schema(name) => {
                let mut admin = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
                sqlx::query(&format!("DROP SCHEMA {name} CASCADE"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let _ = admin.close().await;
            }
        }
    }
}

/// What a suite test gets: the stores on a fresh database and the clock they read.
#[derive(Debug, Clone)]
pub(crate) struct Env {
    pub(crate) stores: Stores,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) config: StoreConfig,
}

/// Where the manual clock starts.
pub(crate) const START: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

impl Env {
    /// Opens the stores on `db` with `config` (its `database_url` replaced).
    pub(crate) async fn open(db: &TestDb, mut config: StoreConfig, clock: Arc<ManualClock>) -> Self {
        config.database_url = db.url.clone();
        let stores = Stores::open_with_clock(config.clone(), clock.clone()).await.unwrap();
        Self { stores, clock, config }
    }

    /// Another set of stores (another pool) on the same database and clock.
    pub(crate) async fn reopen(&self) -> Stores {
        Stores::open_with_clock(self.config.clone(), self.clock.clone())
            .await
            .unwrap()
    }
}

/// Runs `body` on a fresh database of `backend` with `config`, then removes the
/// database whether the body passed or panicked (and then re-raises its panic).
pub(crate) async fn run_with<F, Fut>(backend: Backend, config: StoreConfig, body: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = TestDb::create(backend).await;
    let env = Env::open(&db, config, Arc::new(ManualClock::new(START))).await;
    let database = env.stores.database.clone();
    let outcome = tokio::spawn(body(env)).await;
    database.close().await;
    db.drop_it().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// [`run_with`] and the default configuration.
pub(crate) async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_with(backend, StoreConfig::default(), body).await;
}

/// Instantiates each named `async fn(Env)` of the calling module once per backend, as
/// `sqlite::name` and `postgres::name`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::support::run(hub_store::Backend::Sqlite, super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::support::run(hub_store::Backend::Postgres, super::$name).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;

/// A TCP proxy to the tests' Redis that can cut every connection and refuse new ones, or
/// freeze (stop forwarding without closing anything), to take Redis away from one
/// instance without touching anyone else's connections.
pub(crate) struct Proxy {
    port: u16,
    state: watch::Sender<Link>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Up,
    Frozen,
    Down,
}

impl Proxy {
    pub(crate) async fn start() -> Self {
        let target = redis_url()
            .trim_start_matches("redis://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (state, _) = watch::channel(Link::Up);
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let (state, links) = (state.clone(), links.clone());
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if *state.borrow() != Link::Up {
                        drop(client); // refused: closed at once
                        continue;
                    }
                    let target = target.clone();
                    let mut link = state.subscribe();
                    links.lock().unwrap().push(tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(&target).await else {
                            return;
                        };
                        // Biased, the state first: once `freeze` has returned, the next
                        // poll (a request arriving wakes it) stops before copying anything.
                        tokio::select! {
                            biased;
                            _ = async { link.wait_for(|s| *s == Link::Frozen).await.map(drop) } => {
                                // Silent: both sockets stay open, nothing moves.
                                std::future::pending::<()>().await;
                            }
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        }
                    }));
                }
            }
        });
        Self {
            port,
            state,
            links,
            accept,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Closes every connection and refuses new ones.
    pub(crate) fn cut(&self) {
        self.state.send_replace(Link::Down);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// Stops forwarding on every open connection, closing none, and refuses new ones.
    pub(crate) fn freeze(&self) {
        self.state.send_replace(Link::Frozen);
    }

    /// Forwards new connections again (frozen ones stay frozen).
    pub(crate) fn restore(&self) {
        self.state.send_replace(Link::Up);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
