//! `hub-server dlq …`: the dead-letter queue, through a running hub's API or directly in the store.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, Subcommand, ValueEnum};
use hub_app::{ReplayError, Replayed};
use hub_core::{DeadLetterQueue, DlqError, DlqFilter, DlqId, DlqStatus};
use hub_secrets::Secrets;
use hub_server::wire::{DlqEntryBody, DlqPage};
use hub_upstream::client::{ClientConfig, HttpClient};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::{Failure, help, load_config, open_stores, render};

/// The `dlq` subcommand's options (its help is on `Command::Dlq` in main.rs).
#[derive(Debug, Args)]
pub(crate) struct DlqArgs {
    /// A running hub's base URL; without it, the store of --config is used directly.
    #[arg(long, global = true, value_name = "URL")]
    url: Option<String>,
    /// The environment variable holding the admin token (with --url).
    #[arg(long, global = true, value_name = "NAME", default_value = "HUB_ADMIN_TOKEN")]
    token_env: String,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// List entries, newest first.
    #[command(after_help = help::DLQ_LIST)]
    List {
        /// Only entries in this status.
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Only this adapter.
        #[arg(long)]
        adapter: Option<String>,
        /// Only this operation (e.g. create_ticket).
        #[arg(long)]
        operation: Option<String>,
        /// At most this many (1..=200).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: u32,
        /// Continue after a previous page (its next_cursor).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show one entry, payload included.
    #[command(after_help = help::DLQ_SHOW)]
    Show {
        /// The entry's id.
        id: String,
    },
    /// Run a pending entry's write again, with its idempotency key.
    #[command(after_help = help::DLQ_REPLAY)]
    Replay {
        /// The entry's id.
        id: String,
        /// Send a write whose earlier outcome is unknown and cannot be checked upstream
        /// (a comment to a system that neither deduplicates nor can be asked). It may
        /// take effect twice.
        #[arg(long)]
        force: bool,
    },
    /// Give up a pending entry.
    #[command(after_help = help::DLQ_DISCARD)]
    Discard {
        /// The entry's id.
        id: String,
        /// Why it is given up (recorded on the entry).
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StatusArg {
    Pending,
    Replayed,
    Discarded,
}

impl From<StatusArg> for DlqStatus {
    fn from(s: StatusArg) -> Self {
        match s {
            StatusArg::Pending => Self::Pending,
            StatusArg::Replayed => Self::Replayed,
            StatusArg::Discarded => Self::Discarded,
        }
    }
}

/// Who the direct mode records as having acted.
const DIRECT_ACTOR: &str = "hub-server-cli";

/// Runs a `dlq` subcommand and prints its result.
pub(crate) async fn run(config: &Path, args: &DlqArgs) -> ExitCode {
    let result = match &args.url {
        Some(url) => over_http(url, args).await,
        None => direct(config, &args.action).await,
    };
    match result {
        Ok(value) => {
            if args.json {
                println!("{value}");
            } else {
                match &args.action {
                    Action::List { .. } => print!("{}", render::page(&value)),
                    _ => print!("{}", render::entry(&value)),
                }
            }
            ExitCode::SUCCESS
        }
        Err(f) => f.exit(),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, Failure> {
    serde_json::to_value(v).map_err(|e| Failure::Runtime(format!("encoding the answer: {e}")))
}

fn parse_id(raw: &str) -> Result<DlqId, Failure> {
    DlqId::parse(raw).map_err(|e| Failure::Usage(format!("invalid id {raw:?}: {e}")))
}

fn dlq_failure(id: &str, err: &DlqError) -> Failure {
    match err {
        DlqError::NotFound => Failure::NotFound(format!("no such dead-letter entry: {id}")),
        DlqError::Conflict { status, claimed } => Failure::Conflict(if *claimed {
            format!("entry {id} is being replayed by another request")
        } else {
            format!("entry {id} is {}, not pending", status.as_str())
        }),
        DlqError::Store(e) => Failure::Runtime(format!("store: {e}")),
    }
}

async fn direct(config: &Path, action: &Action) -> Result<Value, Failure> {
    let loaded = load_config(config)?;
    if let Action::Replay { id, force } = action {
        return direct_replay(&loaded, id, *force).await;
    }
    let stores = open_stores(&loaded).await?;
    let dlq: Arc<dyn DeadLetterQueue> = stores.dlq.clone();
    let result = direct_action(dlq.as_ref(), action).await;
    if let Err(e) = stores.shutdown().await {
        eprintln!("warning: closing the store: {e}");
    }
    result
}

async fn direct_action(dlq: &dyn DeadLetterQueue, action: &Action) -> Result<Value, Failure> {
    match action {
        Action::List {
            status,
            adapter,
            operation,
            limit,
            cursor,
        } => {
            let filter = DlqFilter {
                status: status.map(DlqStatus::from),
                adapter: adapter.clone(),
                operation: operation.clone(),
                limit: *limit,
                cursor: cursor.clone(),
            };
            let page = dlq
                .list(&filter)
                .await
                .map_err(|e| Failure::Runtime(format!("store: {e}")))?;
            to_json(&DlqPage {
                items: page.items.into_iter().map(DlqEntryBody::from).collect(),
                next_cursor: page.next_cursor,
            })
        }
        Action::Show { id } => match dlq.get(&parse_id(id)?).await {
            Ok(Some(entry)) => to_json(&DlqEntryBody::from(entry)),
            Ok(None) => Err(dlq_failure(id, &DlqError::NotFound)),
            Err(e) => Err(Failure::Runtime(format!("store: {e}"))),
        },
        Action::Discard { id, reason } => {
            let entry = dlq
                .discard(&parse_id(id)?, DIRECT_ACTOR, reason.clone())
                .await
                .map_err(|e| dlq_failure(id, &e))?;
            to_json(&DlqEntryBody::from(entry))
        }
        Action::Replay { .. } => Err(Failure::Usage("replay is handled separately".to_owned())),
    }
}

/// Composes the application from the configuration (the adapters' credentials only: no
/// API token or webhook key is needed) and replays one entry through hub-app, with the
/// claim/finish flow of `POST /v1/dlq/{id}/replay` — no router, no listener.
///
/// With `[telemetry]` on, the replay's spans are exported (its span links to the failed
/// write's trace, as a replay through the API does) and sent before the command returns;
/// no log line joins the answer on standard output.
async fn direct_replay(loaded: &hub_config::Loaded, raw_id: &str, force: bool) -> Result<Value, Failure> {
    let id = parse_id(raw_id)?;
    let secrets = Secrets::from_process_env().map_err(|e| Failure::Usage(format!("{}: {e}", loaded.file.display())))?;
    let traces = hub_runtime::traces::start(&loaded.config.telemetry).map_err(|e| match e {
        hub_runtime::traces::TracesError::Start(e) => Failure::Usage(format!("{}: {e}", loaded.file.display())),
        other => Failure::Runtime(other.to_string()),
    })?;
    if let Some(traces) = &traces {
        traces.install_alone();
    }
    let composed = hub_runtime::compose(
        &loaded.config,
        loaded.store_section(),
        Arc::new(secrets),
        Arc::new(hub_server::answer::HttpAnswers),
        None,
    )
    .await
    .map_err(|e| match e {
        hub_runtime::ComposeError::Store(e) => Failure::Runtime(format!("{}: store: {e}", loaded.file.display())),
        // A missing credential or an unusable adapter setting is the configuration's fault.
        other => Failure::Usage(format!("{}: {other}", loaded.file.display())),
    })?;
    let result = replay_with(&composed.app, raw_id, &id, force).await;
    if let Err(e) = composed.stores.shutdown().await {
        eprintln!("warning: closing the store: {e}");
    }
    let grace = Duration::from_secs(loaded.config.server.shutdown_grace_s);
    hub_runtime::traces::flush(traces, grace).await;
    result
}

async fn replay_with(hub: &hub_app::Hub, raw_id: &str, id: &DlqId, force: bool) -> Result<Value, Failure> {
    let ctx = hub_core::CallContext::new(hub_server::correlation::generate_request_id());
    match hub
        .replay(id, DIRECT_ACTOR, ctx, force)
        .await
        .map_err(|e| dlq_failure(raw_id, &e))?
    {
        Replayed::Done(entry) => to_json(&DlqEntryBody::from(*entry)),
        Replayed::Failed {
            error: ReplayError::Upstream(e),
            ..
        } => Err(Failure::Runtime(format!(
            "the replay failed again ({}): {e}; entry {raw_id} stays pending",
            e.code()
        ))),
        Replayed::Failed {
            error: ReplayError::Unreplayable(e),
            ..
        } => Err(Failure::Conflict(format!("entry {raw_id} cannot be replayed: {e}"))),
        Replayed::Failed {
            error: e @ ReplayError::OutcomeUnknown,
            ..
        } => Err(Failure::Conflict(format!("entry {raw_id}: {e} (--force)"))),
    }
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

async fn over_http(url: &str, args: &DlqArgs) -> Result<Value, Failure> {
    let token = std::env::var(&args.token_env).map_err(|_| {
        Failure::Usage(format!(
            "--url needs an admin token in the environment variable {}",
            args.token_env
        ))
    })?;
    let base = format!("{}/v1/dlq", url.trim_end_matches('/'));
    let (method, uri, body) = match &args.action {
        Action::List {
            status,
            adapter,
            operation,
            limit,
            cursor,
        } => {
            let mut q = vec![format!("limit={limit}")];
            if let Some(s) = status {
                q.push(format!("status={}", DlqStatus::from(*s).as_str()));
            }
            for (k, v) in [("adapter", adapter), ("operation", operation), ("cursor", cursor)] {
                if let Some(v) = v {
                    q.push(format!("{k}={}", enc(v)));
                }
            }
            (http::Method::GET, format!("{base}?{}", q.join("&")), None)
        }
        Action::Show { id } => (http::Method::GET, format!("{base}/{}", enc(id)), None),
        Action::Replay { id, force } => {
            let query = if *force { "?force=true" } else { "" };
            (http::Method::POST, format!("{base}/{}/replay{query}", enc(id)), None)
        }
        Action::Discard { id, reason } => (
            http::Method::POST,
            format!("{base}/{}/discard", enc(id)),
            Some(serde_json::json!({ "reason": reason }).to_string()),
        ),
    };
    let mut req = http::Request::builder()
        .method(method)
        .uri(&uri)
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .header(http::header::ACCEPT, "application/json");
    if body.is_some() {
        req = req.header(http::header::CONTENT_TYPE, "application/json");
    }
    let req = req
        .body(body.map(Bytes::from).unwrap_or_default())
        .map_err(|e| Failure::Usage(format!("invalid --url {url:?}: {e}")))?;
    let client =
        HttpClient::new(&ClientConfig::default()).map_err(|e| Failure::Runtime(format!("HTTP client: {e}")))?;
    let response = tokio::time::timeout(Duration::from_secs(180), client.send(req))
        .await
        .map_err(|_| Failure::Runtime(format!("{uri}: no answer within 180 s")))?
        .map_err(|e| Failure::Runtime(format!("{uri}: {e}")))?;
    let value: Option<Value> = serde_json::from_slice(&response.body).ok();
    let status = response.status;
    if status.is_success() {
        return value.ok_or_else(|| Failure::Runtime(format!("{uri}: the answer is not JSON")));
    }
    let detail = value
        .as_ref()
        .and_then(|v| v.get("detail").or_else(|| v.get("title")))
        .and_then(Value::as_str)
        .map_or_else(|| status.to_string(), |d| format!("{d} ({status})"));
    Err(match status.as_u16() {
        400 | 401 | 403 => Failure::Usage(format!("the hub refused the request: {detail}")),
        404 => Failure::NotFound(detail),
        409 => Failure::Conflict(detail),
        _ => Failure::Runtime(format!("the hub answered: {detail}")),
    })
}
