//! Opening the stores: the SQLite file is created in WAL mode, bad URLs are refused
//! without echoing passwords, and a clean shutdown keeps every audit record.

use hub_core::{AuditLog, AuditQuery, DeadLetterQueue};
use hub_store::{Backend, OpenError, StoreConfig, Stores};

use crate::support::TestDb;

#[tokio::test]
async fn the_sqlite_file_and_its_directory_are_created_in_wal_mode() {
    let db = TestDb::create(Backend::Sqlite).await;
    let path = std::path::PathBuf::from(db.url.trim_start_matches("sqlite://"));
    assert!(!path.exists());
    let stores = Stores::open(StoreConfig::with_database_url(&db.url)).await.unwrap();
    stores
        .dlq
        .enqueue(crate::dlq::failure("ticketing", 1), None)
        .await
        .unwrap();
    assert!(path.exists());
    let wal = path.with_file_name("hub.sqlite3-wal");
    assert!(wal.exists(), "no write-ahead log next to {}", path.display());
    stores.database.ping().await.unwrap();
    stores.database.close().await;
    // Reopening runs no migration twice and keeps the data.
    let again = Stores::open(StoreConfig::with_database_url(&db.url)).await.unwrap();
    assert_eq!(again.dlq.pending_count().await.unwrap(), 1);
    again.database.close().await;
    db.drop_it().await;
}

#[tokio::test]
async fn bad_urls_are_refused_without_their_password() {
    let unsupported = Stores::open(StoreConfig::with_database_url("mysql://hub:hunter2@db/hub")).await;
    assert!(
        matches!(unsupported, Err(OpenError::UnsupportedScheme { .. })),
        "{unsupported:?}"
    );
    let refused = Stores::open(StoreConfig {
        acquire_timeout_ms: 300,
        ..StoreConfig::with_database_url("postgres://hub:hunter2@127.0.0.1:1/hub")
    })
    .await;
    let Err(e @ OpenError::Connect { .. }) = refused else {
        panic!("{refused:?}");
    };
    let shown = e.to_string();
    assert!(
        !shown.contains("hunter2") && shown.contains("hub:***@127.0.0.1:1"),
        "{shown}"
    );
    let redis = Stores::open(StoreConfig {
        redis_url: Some("memcached://cache".to_owned()),
        ..StoreConfig::with_database_url("sqlite::memory:")
    })
    .await;
    assert!(matches!(redis, Err(OpenError::UnsupportedScheme { .. })), "{redis:?}");
}

/// Records `n` audit records in a SQLite store opened with `audit_batch_size`, shuts it
/// down, opens it again and returns how many records it lists.
async fn kept_over_a_restart(n: u32, audit_batch_size: usize) -> usize {
    let db = TestDb::create(Backend::Sqlite).await;
    let config = StoreConfig {
        audit_batch_size,
        audit_queue_capacity: 10_000,
        ..StoreConfig::with_database_url(&db.url)
    };
    let stores = Stores::open(config.clone()).await.unwrap();
    for i in 0..n {
        stores
            .audit
            .record(crate::audit::record(i, "ticketing", "get_ticket"))
            .await
            .unwrap();
    }
    stores.shutdown().await.unwrap();
    let again = Stores::open(config).await.unwrap();
    let listed = crate::audit::every_record(again.audit.as_ref(), 500).await.len();
    again.database.close().await;
    db.drop_it().await;
    listed
}

#[tokio::test]
async fn a_clean_shutdown_keeps_every_audit_record() {
    assert_eq!(kept_over_a_restart(100, 7).await, 100);
}

/// A batch size beyond what one `INSERT` can bind (SQLite: 32,766 values) is capped, so a
/// full queue written at once loses nothing.
#[tokio::test]
async fn a_batch_size_beyond_one_insert_loses_no_record() {
    assert_eq!(kept_over_a_restart(5_000, 100_000).await, 5_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_database_is_shared_by_the_pool_and_private_to_it() {
    let config = StoreConfig::with_database_url("sqlite::memory:");
    let (a, b) = (
        Stores::open(config.clone()).await.unwrap(),
        Stores::open(config).await.unwrap(),
    );
    let writes = (0..20).map(|n| {
        let dlq = a.dlq.clone();
        tokio::spawn(async move { dlq.enqueue(crate::dlq::failure("ticketing", n), None).await.unwrap() })
    });
    for write in writes.collect::<Vec<_>>() {
        let entry = write.await.unwrap();
        assert_eq!(a.dlq.get(&entry.id).await.unwrap(), Some(entry));
    }
    assert_eq!(a.dlq.pending_count().await.unwrap(), 20);
    assert_eq!(b.dlq.pending_count().await.unwrap(), 0);
}

/// On PostgreSQL every statement is bounded by `statement_timeout_ms`: a store call
/// blocked by another session's lock fails as unavailable instead of holding its caller
/// (were it to wait, the guard below would end the test as failed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_blocked_on_postgresql_times_out_as_unavailable() {
    use sqlx::Connection;
    let db = TestDb::create(Backend::Postgres).await;
    let config = StoreConfig {
        statement_timeout_ms: 200,
        ..StoreConfig::with_database_url(&db.url)
    };
    let stores = Stores::open(config).await.unwrap();
    let mut locker = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE dlq_entries IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    let blocked = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        stores.dlq.enqueue(crate::dlq::failure("ticketing", 1), None),
    )
    .await
    .expect("a blocked statement must time out");
    assert!(
        matches!(blocked, Err(hub_core::StoreError::Unavailable { .. })),
        "{blocked:?}"
    );
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    drop(locker);
    stores.database.close().await;
    db.drop_it().await;
}

/// Rows written before migration 0007 (the trace columns) read back without a trace
/// context, and audit rows standing for one call (migration 0008), on both engines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_from_before_the_trace_columns_have_no_trace() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::create(backend).await;
        let insert_dlq = "INSERT INTO dlq_entries (id, adapter, operation, payload, error, error_code, attempts, \
                          created_us, status) VALUES ('0193a3f0-0000-7000-8000-000000000001', 'ticketing', \
                          'create_ticket', '{}', 'timed out', 'upstream_timeout', 3, 0, 'pending')";
        let insert_audit = "INSERT INTO audit_records (at_us, adapter, operation, outcome, attempts, duration_ms, \
                            params) VALUES (0, 'ticketing', 'get_ticket_status', 'success', 1, 5, '{}')";
        match backend {
            Backend::Sqlite => {
                use std::str::FromStr as _;
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(&db.url)
                    .unwrap()
                    .create_if_missing(true);
                std::fs::create_dir_all(options.get_filename().parent().unwrap()).unwrap();
                let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
                before_0007(sqlx::migrate!("./migrations/sqlite"))
                    .run(&pool)
                    .await
                    .unwrap();
                sqlx::query(insert_dlq).execute(&pool).await.unwrap();
                sqlx::query(insert_audit).execute(&pool).await.unwrap();
                pool.close().await;
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
                before_0007(sqlx::migrate!("./migrations/postgres"))
                    .run(&pool)
                    .await
                    .unwrap();
                sqlx::query(insert_dlq).execute(&pool).await.unwrap();
                sqlx::query(insert_audit).execute(&pool).await.unwrap();
                pool.close().await;
            }
        }
        let stores = Stores::open(StoreConfig::with_database_url(&db.url)).await.unwrap();
        let id = hub_core::DlqId::parse("0193a3f0-0000-7000-8000-000000000001").unwrap();
        let entry = stores.dlq.get(&id).await.unwrap().expect("the old entry");
        assert_eq!(entry.failure.traceparent, None, "{backend:?}");
        let records = stores
            .audit
            .query(&AuditQuery {
                limit: 10,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(records.items.len(), 1, "{backend:?}");
        assert_eq!(records.items[0].trace_id, None, "{backend:?}");
        assert_eq!(records.items[0].calls, 1, "{backend:?}");
        stores.database.close().await;
        db.drop_it().await;
    }
}

/// `all` without migration 0007 and later.
fn before_0007(all: sqlx::migrate::Migrator) -> sqlx::migrate::Migrator {
    let earlier: Vec<sqlx::migrate::Migration> = all.migrations.iter().filter(|m| m.version < 7).cloned().collect();
    assert_eq!(earlier.len(), 6);
    sqlx::migrate::Migrator {
        migrations: earlier.into(),
        ..sqlx::migrate::Migrator::DEFAULT
    }
}
