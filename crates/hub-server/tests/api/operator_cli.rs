//! The operator's command line: `migrate` and `dlq list|show|replay|discard`, directly
//! against a SQLite store and through a running hub's API, with their exit codes.

use std::path::PathBuf;

use hub_core::{DeadLetterQueue, NewDlqEntry};
use hub_store::{StoreConfig, Stores};
use serde_json::{Value, json};

use hub_sim::{Sim, SimConfig, SimHandle, System};

use crate::support::{ADMIN, DlqExt, Hub};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/hub.example.toml");

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hub-server-operator-cli-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn database_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("hub.sqlite3").display())
}

/// Runs the binary on the example configuration with the store at `db`.
fn run(args: &[&str], db: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    run_on(EXAMPLE, args, db, env)
}

/// Runs the binary on `config` with the store at `db`.
fn run_on(config: &str, args: &[&str], db: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut args = args.to_vec();
    args.extend(["--config", config]);
    let mut env = env.to_vec();
    env.insert(0, ("HUB__STORE__DATABASE_URL", db));
    crate::cli::run(&args, &env)
}

async fn run_async(args: Vec<String>, db: String, env: Vec<(String, String)>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run(&args, &db, &env)
    })
    .await
    .unwrap()
}

fn json_of(out: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn migrate_creates_a_fresh_sqlite_file() {
    let dir = temp_dir();
    let db = database_url(&dir);
    assert!(!dir.join("hub.sqlite3").exists());
    let (code, out, err) = run(&["migrate"], &db, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(dir.join("hub.sqlite3").exists());
    assert!(out.contains("created, and migrated"), "{out}");
    // Running it again is harmless.
    let (code, out, err) = run(&["migrate"], &db, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("at the latest schema version") && !out.contains("created"),
        "{out}"
    );
    // A store that cannot be opened is a runtime failure; a broken file a config error.
    // Under a regular file, no directory can be created, even by root.
    let under_a_file = format!("{db}/x/hub.sqlite3");
    let (code, _, err) = run(&["migrate"], &under_a_file, &[]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["migrate"], "mysql://nope", &[("HUB__STORE__NOPE", "1")]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn an_empty_store_lists_nothing() {
    let dir = temp_dir();
    let db = database_url(&dir);
    let (code, out, err) = run(&["dlq", "list", "--json"], &db, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), r#"{"items":[],"next_cursor":null}"#);
    let (code, out, _) = run(&["dlq", "list"], &db, &[]);
    assert_eq!(code, 0);
    assert_eq!(out, "no dead-letter entries\n");
}

#[test]
fn usage_errors_exit_1_and_help_documents_the_codes() {
    let db = database_url(&temp_dir());
    let (code, _, err) = run(&["dlq", "list", "--status", "sometimes"], &db, &[]);
    assert_eq!(code, 1, "{err}");
    let (code, out, _) = run(&["dlq", "--help"], &db, &[]);
    assert_eq!(code, 0);
    for text in ["--url", "HUB_ADMIN_TOKEN", "3 no such entry", "4 conflict"] {
        assert!(out.contains(text), "{text} in {out}");
    }
    let (code, _, err) = run(&["dlq", "list", "--url", "http://127.0.0.1:9"], &db, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("HUB_ADMIN_TOKEN"), "{err}");
}

async fn enqueue(db: &str) -> String {
    enqueue_entry(db, "create_ticket", json!({"subject": "printer on fire"})).await
}

async fn enqueue_entry(db: &str, operation: &str, payload: Value) -> String {
    let stores = Stores::open(StoreConfig::with_database_url(db)).await.unwrap();
    let entry = stores
        .dlq
        .enqueue(
            NewDlqEntry {
                adapter: "ticketing".into(),
                operation: operation.into(),
                payload,
                idempotency_key: Some("key-1".into()),
                error: "the upstream did not answer in time".into(),
                error_code: "timeout".into(),
                attempts: 3,
                request_id: Some("req-1".into()),
                conversation_id: Some("conv-1".into()),
                traceparent: None,
            },
            None,
        )
        .await
        .unwrap();
    stores.shutdown().await.unwrap();
    entry.id.as_str().to_owned()
}

#[tokio::test]
async fn list_show_and_discard_directly_in_the_store() {
    let dir = temp_dir();
    let db = database_url(&dir);
    let id = enqueue(&db).await;
    let go = |args: &[&str]| run_async(args.iter().map(|s| (*s).to_owned()).collect(), db.clone(), vec![]);

    let (code, out, err) = go(&["dlq", "list", "--json", "--status", "pending"]).await;
    assert_eq!(code, 0, "{err}");
    let page = json_of(&out);
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["items"][0]["id"], id.as_str());
    assert_eq!(page["next_cursor"], Value::Null);
    let (_, out, _) = go(&["dlq", "list", "--json", "--adapter", "transaction_create"]).await;
    assert_eq!(json_of(&out)["items"], json!([]));
    let (code, out, _) = go(&["dlq", "list"]).await;
    assert_eq!(code, 0);
    assert!(out.starts_with("ID"), "{out}");
    assert!(
        out.contains(&id) && out.contains("create_ticket") && out.contains("pending"),
        "{out}"
    );

    let (code, out, err) = go(&["dlq", "show", &id, "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let entry = json_of(&out);
    assert_eq!(entry["payload"], json!({"subject": "printer on fire"}));
    assert_eq!(entry["idempotency_key"], "key-1");
    assert_eq!(entry["status"], "pending");
    let (code, out, _) = go(&["dlq", "show", &id]).await;
    assert_eq!(code, 0);
    assert!(out.contains("printer on fire") && out.contains("status:"), "{out}");

    let (code, out, err) = go(&["dlq", "discard", &id, "--reason", "duplicate", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let entry = json_of(&out);
    assert_eq!(entry["status"], "discarded");
    assert_eq!(entry["reason"], "duplicate");
    let (code, _, err) = go(&["dlq", "discard", &id]).await;
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("discarded, not pending"), "{err}");
    // Direct replay composes the application alone (no API token or webhook key is
    // resolved) and goes through the same claim: a discarded entry is not replayed.
    let (code, _, err) = go(&["dlq", "replay", &id]).await;
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("discarded, not pending"), "{err}");

    let (code, _, err) = go(&["dlq", "show", "0193a1b2-unknown"]).await;
    assert_eq!(code, 3, "{err}");
    let (code, _, err) = go(&["dlq", "discard", "0193a1b2-unknown"]).await;
    assert_eq!(code, 3, "{err}");
}

#[tokio::test]
async fn list_and_show_redact_secret_named_payload_keys() {
    let db = database_url(&temp_dir());
    let id = enqueue_entry(&db, "create_ticket", crate::dlq::secret_payload()).await;
    let go = |args: &[&str]| run_async(args.iter().map(|s| (*s).to_owned()).collect(), db.clone(), vec![]);
    for args in [
        vec!["dlq", "show", id.as_str(), "--json"],
        vec!["dlq", "show", id.as_str()],
        vec!["dlq", "list", "--json"],
    ] {
        let (code, out, err) = go(&args).await;
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(
            out.contains("[REDACTED]") && out.contains("printer on fire"),
            "{args:?}: {out}"
        );
        assert!(!out.contains("canary-dlq-s3cret"), "{args:?}: {out}");
    }
    let (_, out, _) = go(&["dlq", "show", id.as_str(), "--json"]).await;
    assert_eq!(json_of(&out)["payload"]["metadata"]["nested"]["Api_Key"], "[REDACTED]");
    // The store keeps the value a replay sends.
    let stores = Stores::open(StoreConfig::with_database_url(&db)).await.unwrap();
    let stored = stores
        .dlq
        .get(&hub_core::DlqId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.failure.payload, crate::dlq::secret_payload());
    stores.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn through_a_running_hub() {
    let hub = Hub::new();
    let first = hub.dlq.seed("cancel_draft", json!({"draft_id": "D-1"}), Some("k-1"));
    let second = hub.dlq.seed("cancel_draft", json!({"draft_id": "D-2"}), Some("k-2"));
    let srv = hub.serve().await;
    let url = format!("http://{}", srv.addr);
    let db = database_url(&temp_dir());
    let go = |args: &[&str], token: Option<&str>| {
        let mut args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        args.extend([
            "--url".to_owned(),
            url.clone(),
            "--token-env".to_owned(),
            "OPS_TOKEN".to_owned(),
        ]);
        let env = token
            .map(|t| vec![("OPS_TOKEN".to_owned(), t.to_owned())])
            .unwrap_or_default();
        run_async(args, db.clone(), env)
    };

    let (code, out, err) = go(&["dlq", "list", "--json", "--status", "pending"], Some(ADMIN)).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_of(&out)["items"].as_array().unwrap().len(), 2, "{out}");
    let (code, out, err) = go(&["dlq", "show", first.as_str()], Some(ADMIN)).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("D-1"), "{out}");

    let (code, out, err) = go(&["dlq", "replay", first.as_str(), "--json"], Some(ADMIN)).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_of(&out)["status"], "replayed");
    let (code, _, err) = go(&["dlq", "replay", first.as_str()], Some(ADMIN)).await;
    assert_eq!(code, 4, "{err}");
    let third = hub.dlq.seed("cancel_draft", json!({"draft_id": "D-3"}), Some("k-3"));
    hub.upstream.fail_with(hub_core::Error::Timeout);
    let (code, _, err) = go(&["dlq", "replay", third.as_str()], Some(ADMIN)).await;
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        hub.dlq.get_sync(third.as_str()).unwrap().status,
        hub_core::DlqStatus::Pending
    );

    let (code, out, err) = go(
        &["dlq", "discard", second.as_str(), "--reason", "obsolete", "--json"],
        Some(ADMIN),
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_of(&out)["reason"], "obsolete");
    assert_eq!(
        hub.dlq.get_sync(second.as_str()).unwrap().reason.as_deref(),
        Some("obsolete")
    );
    let (code, _, err) = go(&["dlq", "discard", second.as_str()], Some(ADMIN)).await;
    assert_eq!(code, 4, "{err}");

    let (code, _, err) = go(&["dlq", "show", "dlq-404"], Some(ADMIN)).await;
    assert_eq!(code, 3, "{err}");
    let (code, _, err) = go(&["dlq", "list"], Some("not-a-token")).await;
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = go(&["dlq", "list"], None).await;
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains(ADMIN));
}

/// Writes into `dir` a configuration whose ticketing adapter is the sim's generic API and
/// whose transaction systems are a closed port (a replay there fails again); returns its path.
fn replay_config(dir: &std::path::Path, sim: &SimHandle) -> String {
    let generic = sim.url(System::Generic);
    let config = dir.join("hub.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[auth.tokens]]
name = "ops"
role = "admin"
token = "env:T_ADMIN"
[adapters.ticketing]
dialect = "generic"
base_url = "{generic}"
credentials = {{ api_key = "env:K" }}
[adapters.transaction_status]
dialect = "generic"
base_url = "http://127.0.0.1:9"
credentials = {{ client_id = "env:K", client_secret = "env:K" }}
[adapters.transaction_create]
dialect = "generic"
base_url = "http://127.0.0.1:9"
credentials = {{ client_id = "env:K", client_secret = "env:K", hmac_secret = "env:K" }}
[adapters.transaction_create.resilience]
max_attempts = 1
"#
        ),
    )
    .unwrap();
    config.to_str().unwrap().to_owned()
}

/// A ticket to create, as a dead letter keeps it.
fn ticket_payload() -> Value {
    json!({"customer_id": "C-1001", "subject": "printer on fire", "description": "smoke", "priority": "high"})
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_directly_through_the_configured_adapters() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let dir = temp_dir();
    let db = database_url(&dir);
    let config = replay_config(&dir, &sim);
    let ok = enqueue_entry(&db, "create_ticket", ticket_payload()).await;
    let bad = enqueue_entry(&db, "drop_tables", json!({})).await;
    // transaction_create points at a closed port: the replay fails again.
    let down = enqueue_entry(&db, "cancel_draft", json!({"draft_id": "D-1"})).await;
    let go = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let (db, config) = (db.clone(), config.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                run_on(&config, &args, &db, &[("T_ADMIN", "tok"), ("K", "sim-generic-key")])
            })
            .await
            .unwrap()
        }
    };
    let (code, out, err) = go(&["dlq", "replay", &ok, "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let entry = json_of(&out);
    assert_eq!(entry["status"], "replayed", "{entry}");
    assert!(entry["result"]["ticket_id"].is_string(), "{entry}");
    assert_eq!(entry["acted_by"], "hub-server-cli");
    let (code, _, err) = go(&["dlq", "replay", &ok]).await;
    assert_eq!(code, 4, "{err}");
    // An entry that cannot be replayed is refused as a conflict and stays pending.
    let (code, _, err) = go(&["dlq", "replay", &bad]).await;
    assert_eq!(code, 4, "{err}");
    let (code, out, _) = go(&["dlq", "show", &bad, "--json"]).await;
    assert_eq!(code, 0);
    assert_eq!(json_of(&out)["status"], "pending");
    let (code, _, err) = go(&["dlq", "replay", &down]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("stays pending"), "{err}");
    let (_, out, _) = go(&["dlq", "show", &down, "--json"]).await;
    let entry = json_of(&out);
    assert_eq!(entry["status"], "pending");
    assert_ne!(entry["error_code"], "timeout", "the new error is recorded: {entry}");
}

/// With tracing on, a direct replay exports its span (named after the entry) before the
/// command exits, and its standard output is still the entry's JSON alone.
#[tokio::test(flavor = "multi_thread")]
async fn a_direct_replay_exports_its_span_before_the_command_exits() {
    let (collector_port, posts) = crate::traces_export::collector().await;
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let dir = temp_dir();
    let db = database_url(&dir);
    let config = replay_config(&dir, &sim);
    let id = enqueue_entry(&db, "create_ticket", ticket_payload()).await;
    let endpoint = format!("http://127.0.0.1:{collector_port}");
    let args = ["dlq", "replay", id.as_str(), "--json"].map(str::to_owned).to_vec();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env = [
            ("T_ADMIN", "tok"),
            ("K", "sim-generic-key"),
            ("HUB__TELEMETRY__OTLP_ENDPOINT", endpoint.as_str()),
        ];
        run_on(&config, &args, &db, &env)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_of(&out)["status"], "replayed", "stdout is the answer alone: {out}");
    let posts = posts.lock().unwrap();
    let exported = |needle: &[u8]| {
        posts
            .iter()
            .any(|(path, body)| path == "/v1/traces" && body.windows(needle.len()).any(|w| w == needle))
    };
    assert!(
        exported(b"hub.dlq.id") && exported(id.as_bytes()),
        "no replay span naming the entry reached the collector: {} posts",
        posts.len()
    );
}
