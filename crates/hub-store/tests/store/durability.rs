//! Dead-letter entries survive the process that wrote them being killed with SIGKILL.
//!
//! The parent re-runs this test binary as a child (selecting [`child_process`] and
//! naming the database in an environment variable); the child enqueues entries and
//! prints each id once `enqueue` has returned; the parent kills it mid-stream, reopens
//! the database and finds every printed entry.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hub_core::{DeadLetterQueue, DlqId, DlqStatus};
use hub_store::{Backend, StoreConfig, Stores};

use crate::support::TestDb;

const CHILD_DB: &str = "HUB_STORE_TEST_CHILD_DATABASE_URL";
const SEEN_BEFORE_KILL: usize = 20;

/// The child's side: does nothing unless the parent set [`CHILD_DB`].
#[tokio::test]
async fn child_process() {
    let Ok(url) = std::env::var(CHILD_DB) else {
        return;
    };
    let stores = Stores::open(StoreConfig::with_database_url(&url)).await.unwrap();
    let mut out = std::io::stdout();
    for n in 0.. {
        let entry = stores
            .dlq
            .enqueue(crate::dlq::failure("ticketing", n), None)
            .await
            .unwrap();
        writeln!(out, "ENQUEUED {}", entry.id).unwrap();
        out.flush().unwrap();
    }
}

async fn entries_survive_a_killed_writer(backend: Backend) {
    let db = TestDb::create(backend).await;
    // Migrate first, so the child only writes.
    Stores::open(StoreConfig::with_database_url(&db.url))
        .await
        .unwrap()
        .database
        .close()
        .await;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "durability::child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB, &db.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kept open until the kill, so the child is still writing when it dies.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ids = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(id) = line.strip_prefix("ENQUEUED ") {
            ids.push(DlqId::parse(id).unwrap());
            if ids.len() == SEEN_BEFORE_KILL {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the child wrote too slowly");
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no flush, no clean shutdown
    let status = child.wait().unwrap();
    drop(lines);
    assert!(!status.success());
    assert_eq!(ids.len(), SEEN_BEFORE_KILL, "the child stopped early");

    let stores = Stores::open(StoreConfig::with_database_url(&db.url)).await.unwrap();
    for id in &ids {
        let entry = stores.dlq.get(id).await.unwrap();
        assert_eq!(entry.map(|e| e.status), Some(DlqStatus::Pending), "{id} was lost");
    }
    assert!(stores.dlq.pending_count().await.unwrap() >= SEEN_BEFORE_KILL as u64);
    stores.database.close().await;
    db.drop_it().await;
}

#[tokio::test]
async fn sqlite_entries_survive_a_killed_writer() {
    entries_survive_a_killed_writer(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_entries_survive_a_killed_writer() {
    entries_survive_a_killed_writer(Backend::Postgres).await;
}
