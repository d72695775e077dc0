//! What every chaos scenario stands on: canary secrets, a run directory, hub-sim started
//! with the canaries as its credentials, and hubs started (and restarted) on a store.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::harness::http::Client;
use crate::harness::{Binaries, Harness, HubProc, HubSpec, Tokens, pause, random_hex, run_dir, secrets_env};

/// The Redis it uses.
pub(crate) const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Where the hub's agent e-mail is (not a secret: it names the account).
const AGENT_EMAIL: &str = "agent@example.com";

/// A distinctive value for every secret the hub holds or accepts, fresh each run.
#[derive(Debug, Clone)]
pub(crate) struct Canaries {
    pub(crate) tokens: Tokens,
    pub(crate) generic_api_key: String,
    zendesk_api_token: String,
    jira_api_token: String,
    status_client_secret: String,
    sales_client_secret: String,
    sales_hmac_secret: String,
    /// `whsec_<base64>` the sim signs webhooks with and the hub verifies them with.
    pub(crate) webhook_secret: String,
    webhook_key: String,
    /// `whsec_<base64>` the hub signs its supervisor alerts with.
    notify_secret: String,
    notify_key: String,
}

impl Canaries {
    pub(crate) fn new() -> Self {
        let c = |what: &str| format!("canary-{what}-{}", random_hex());
        let webhook_key = c("webhook-key");
        let notify_key = c("notify-key");
        Self {
            tokens: Tokens {
                read: c("read-token"),
                write: c("write-token"),
                admin: c("admin-token"),
            },
            generic_api_key: c("generic-api-key"),
            zendesk_api_token: c("zendesk-api-token"),
            jira_api_token: c("jira-api-token"),
            status_client_secret: c("status-client-secret"),
            sales_client_secret: c("sales-client-secret"),
            sales_hmac_secret: c("sales-hmac-secret"),
            webhook_secret: format!("whsec_{}", base64(webhook_key.as_bytes())),
            webhook_key,
            notify_secret: format!("whsec_{}", base64(notify_key.as_bytes())),
            notify_key,
        }
    }

    /// hub-sim's `--credentials` file: the canaries where the sim checks a secret.
    fn sim_credentials(&self) -> Value {
        json!({
            "generic_api_key": self.generic_api_key,
            "zendesk_email": AGENT_EMAIL,
            "zendesk_api_token": self.zendesk_api_token,
            "jira_email": AGENT_EMAIL,
            "jira_api_token": self.jira_api_token,
            "status_client_secret": self.status_client_secret,
            "sales_client_secret": self.sales_client_secret,
            "sales_hmac_secret": self.sales_hmac_secret,
        })
    }

    /// The variables `config/demo.toml`'s `env:` references resolve to.
    fn hub_env(&self) -> Vec<(String, String)> {
        let mut env = secrets_env(&self.tokens);
        for (k, v) in [
            ("DEMO_GENERIC_API_KEY", &self.generic_api_key),
            ("DEMO_ZENDESK_API_TOKEN", &self.zendesk_api_token),
            ("DEMO_JIRA_API_TOKEN", &self.jira_api_token),
            ("DEMO_STATUS_CLIENT_SECRET", &self.status_client_secret),
            ("DEMO_SALES_CLIENT_SECRET", &self.sales_client_secret),
            ("DEMO_SALES_HMAC_SECRET", &self.sales_hmac_secret),
            ("DEMO_WEBHOOK_SECRET", &self.webhook_secret),
        ] {
            set(&mut env, k, v);
        }
        set(&mut env, "DEMO_AGENT_EMAIL", AGENT_EMAIL);
        // The template signs alerts with the webhook secret; give alerts their own.
        set(&mut env, "DEMO_NOTIFY_SECRET", &self.notify_secret);
        env
    }

    /// Every string whose appearance would be a leak: each secret as configured, and the
    /// forms it takes on the wire (basic-auth credentials in base64, the webhook keys
    /// inside their `whsec_` wrapping).
    pub(crate) fn needles(&self) -> Vec<(&'static str, String)> {
        vec![
            ("read token", self.tokens.read.clone()),
            ("write token", self.tokens.write.clone()),
            ("admin token", self.tokens.admin.clone()),
            ("generic API key", self.generic_api_key.clone()),
            ("Zendesk API token", self.zendesk_api_token.clone()),
            (
                "Zendesk basic credentials",
                base64(format!("{AGENT_EMAIL}/token:{}", self.zendesk_api_token).as_bytes()),
            ),
            ("Jira API token", self.jira_api_token.clone()),
            (
                "Jira basic credentials",
                base64(format!("{AGENT_EMAIL}:{}", self.jira_api_token).as_bytes()),
            ),
            ("status client secret", self.status_client_secret.clone()),
            ("sales client secret", self.sales_client_secret.clone()),
            ("sales HMAC secret", self.sales_hmac_secret.clone()),
            ("webhook secret", self.webhook_secret.clone()),
            ("webhook key", self.webhook_key.clone()),
            ("notify secret", self.notify_secret.clone()),
            ("notify key", self.notify_key.clone()),
        ]
    }
}

fn set(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    env.retain(|(k, _)| k != key);
    env.push((key.to_owned(), value.to_owned()));
}

/// Standard base64 with padding.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Which store a hub runs on.
#[derive(Debug, Clone)]
pub(crate) enum Store {
    /// A SQLite file in the hub's directory, the in-process cache.
    Sqlite,
    /// A PostgreSQL schema and a Redis key prefix, shared by every hub given the same.
    Shared {
        /// The overrides that put the hub's store in the schema ([`crate::harness::Schema::hub_env`]).
        schema_env: Vec<(String, String)>,
        prefix: String,
    },
}

/// A scenario's sim, hubs and run directory; dropping it stops the processes.
pub(crate) struct Rig {
    harness: Harness,
    pub(crate) http: Client,
    pub(crate) sim: String,
    pub(crate) dir: PathBuf,
    pub(crate) canaries: Canaries,
    /// More environment for the hubs started from now on.
    pub(crate) extra_env: Vec<(String, String)>,
    quick: bool,
}

impl Rig {
    /// Builds (once), makes `target/chaos/run-*/<scenario>/`, starts hub-sim with canary credentials.
    pub(crate) fn start(scenario: &str, quick: bool) -> Result<Self> {
        let bins = Binaries::dev()?;
        let dir = chaos_run_dir()?.join(scenario);
        let mut harness = Harness::new(&bins, &dir)?;
        let canaries = Canaries::new();
        let credentials = dir.join("sim-credentials.json");
        std::fs::write(&credentials, canaries.sim_credentials().to_string())?;
        let sim = harness.start_sim(&[OsStr::new("--credentials"), credentials.as_os_str()])?;
        println!("run directory {}; hub-sim on {sim}", dir.display());
        Ok(Self {
            harness,
            http: Client::new(),
            sim,
            dir,
            canaries,
            extra_env: Vec::new(),
            quick,
        })
    }

    /// Starts a hub called `name` speaking `dialect` on `store`, with chaos settings.
    pub(crate) fn start_hub(&mut self, name: &str, dialect: &'static str, store: &Store) -> Result<HubProc> {
        let mut env = self.canaries.hub_env();
        env.extend(chaos_overrides(self.quick));
        if let Store::Shared { schema_env, prefix } = store {
            // Environment overrides: the hub refuses a password in its configuration file.
            env.extend(schema_env.iter().cloned());
            env.push(("HUB__STORE__REDIS_URL".to_owned(), REDIS_URL.to_owned()));
            env.push(("HUB__STORE__REDIS_KEY_PREFIX".to_owned(), prefix.clone()));
        }
        // Last, so a scenario may override the store's too (Redis through a proxy).
        env.extend(self.extra_env.iter().cloned());
        let hub = self.harness.start_hub(HubSpec {
            name,
            dialect,
            dir: self.dir.join(name),
            env,
            // Alerts get their own secret.
            edits: &[(
                "webhook_secret = \"env:DEMO_WEBHOOK_SECRET\"",
                "webhook_secret = \"env:DEMO_NOTIFY_SECRET\"",
            )],
        })?;
        println!("  {} ({}) on {}", hub.name, hub.dialect, hub.url);
        Ok(hub)
    }

    /// kill -9.
    pub(crate) fn kill9(&mut self, hub: &HubProc) -> Result<()> {
        self.harness.kill9(hub)
    }

    /// Starts a killed hub again: the same port, configuration and store.
    pub(crate) fn restart(&mut self, hub: &mut HubProc) -> Result<()> {
        self.harness.restart(hub)?;
        println!("  {} ({}) on {}", hub.name, hub.dialect, hub.url);
        Ok(())
    }

    /// Waits until every hub answers `/readyz` with 200.
    pub(crate) fn wait_ready(&mut self, hubs: &[&HubProc]) -> Result<()> {
        self.harness.wait_ready(hubs)
    }

    /// Every hub log of this scenario.
    pub(crate) fn hub_logs(&self) -> Vec<PathBuf> {
        let mut logs = Vec::new();
        collect_logs(&self.dir, &mut logs);
        logs.retain(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("hub"))
        });
        logs.sort();
        logs
    }

    /// `GET {sim}{path}` as JSON.
    pub(crate) fn sim_get(&self, path: &str) -> Result<Value> {
        let r = self.http.get(&format!("{}{path}", self.sim), None)?;
        if r.status != 200 {
            bail!("the sim answered GET {path} with {}", r.summary());
        }
        Ok(r.json())
    }

    /// `POST`/`DELETE` on the sim's control API.
    pub(crate) fn sim_send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let method = ureq::http::Method::from_bytes(method.as_bytes())?;
        let r = self
            .http
            .send(&method, &format!("{}{path}", self.sim), None, body, &[])?;
        if !(200..300).contains(&r.status) {
            bail!("the sim answered {method} {path} with {}", r.summary());
        }
        Ok(r.json())
    }
}

fn collect_logs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_logs(&p, out);
        } else if p.extension().is_some_and(|x| x == "log") {
            out.push(p);
        }
    }
}

/// Short backoff and circuit, as environment overrides of every adapter.
fn chaos_overrides(quick: bool) -> Vec<(String, String)> {
    // The shortest lease check-config allows with the 10 s deadlines of config/demo.toml
    // (twice the deadline plus 20 s), so that a write in flight when a hub is killed can
    // be asked again soon.
    let mut env = vec![("HUB__IDEMPOTENCY__LEASE_S".to_owned(), "40".to_owned())];
    for adapter in ["TICKETING", "TRANSACTION_STATUS", "TRANSACTION_CREATE"] {
        for (key, value) in [
            ("RESILIENCE__BACKOFF_INITIAL_MS", "20"),
            ("RESILIENCE__BACKOFF_MAX_MS", "80"),
            ("RESILIENCE__BREAKER_OPEN_S", if quick { "1" } else { "2" }),
        ] {
            env.push((format!("HUB__ADAPTERS__{adapter}__{key}"), value.to_owned()));
        }
    }
    env
}

/// `target/chaos/run-<unix seconds>`, one per `cargo xtask chaos`; the newest five are kept.
fn chaos_run_dir() -> Result<PathBuf> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    if let Some(d) = DIR.get() {
        return Ok(d.clone());
    }
    let dir = run_dir::fresh("chaos", "run-", 4)?;
    Ok(DIR.get_or_init(|| dir).clone())
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `limit`.
pub(crate) fn poll<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Result<Option<T>>) -> Result<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check()? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("{what}: not within {} s", limit.as_secs());
        }
        pause(Duration::from_millis(100))?;
    }
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(
            base64(b"hub-sim webhook signing key, 32b"),
            "aHViLXNpbSB3ZWJob29rIHNpZ25pbmcga2V5LCAzMmI="
        );
    }
}
