//! A freshly started `hub-server` process (its own metrics recorder, unlike the tests in
//! this binary) exposes every adapter's circuit gauge before any circuit has changed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/demo.toml");

/// The demo configuration's credentials, any values.
pub(crate) const DEMO_ENV: [(&str, &str); 10] = [
    ("DEMO_READ_TOKEN", "r"),
    ("DEMO_WRITE_TOKEN", "w"),
    ("DEMO_ADMIN_TOKEN", "a"),
    ("DEMO_GENERIC_API_KEY", "k"),
    ("DEMO_STATUS_CLIENT_ID", "c"),
    ("DEMO_STATUS_CLIENT_SECRET", "s"),
    ("DEMO_SALES_CLIENT_ID", "c"),
    ("DEMO_SALES_CLIENT_SECRET", "s"),
    ("DEMO_SALES_HMAC_SECRET", "h"),
    (
        "DEMO_WEBHOOK_SECRET",
        "whsec_aHViLXNpbSB3ZWJob29rIHNpZ25pbmcga2V5LCAzMmI=",
    ),
];

/// A `hub-server` process on a copy of the demo configuration (so that its SQLite file
/// lands in a temporary directory), on a free port, with `env` besides the demo's
/// credentials and none of the caller's `HUB__` or `OTEL_` variables.
pub(crate) struct DemoHub {
    pub(crate) child: std::process::Child,
    pub(crate) port: u16,
    dir: std::path::PathBuf,
}

impl DemoHub {
    pub(crate) fn spawn(name: &str, env: &[(&str, String)]) -> Self {
        let dir = std::env::temp_dir().join(format!("hub-server-{name}-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("hub.toml");
        std::fs::copy(DEMO, &config).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hub-server"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("HUB__") || k.starts_with("OTEL_")) {
            cmd.env_remove(k);
        }
        let child = cmd
            .arg("--config")
            .arg(&config)
            .env("HUB__SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .envs(DEMO_ENV)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self { child, port, dir }
    }

    /// `GET path` with `headers` until it answers 200 (at most 30 s): its body.
    pub(crate) async fn wait_for(&self, path: &str, headers: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(body) = get_with(self.port, path, headers).await {
                return body;
            }
            assert!(Instant::now() < deadline, "the hub did not answer within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for DemoHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Found by `cargo xtask chaos`: the endpoints set their gauges to 0 before the recorder
/// was installed, so a restarted hub showed no `integration_circuit_breaker_state`.
#[tokio::test]
async fn a_fresh_hub_shows_every_circuit_closed() {
    let hub = DemoHub::spawn("fresh-metrics", &[]);
    let metrics = hub.wait_for("/metrics", "").await;
    drop(hub);
    for adapter in ["ticketing", "transaction_status", "transaction_create"] {
        let line = format!("integration_circuit_breaker_state{{adapter=\"{adapter}\"}} 0");
        assert!(metrics.lines().any(|l| l == line), "no {line:?} in:\n{metrics}");
    }
}

/// `GET path` on loopback with extra header lines (each ending in CRLF), the body of a 200.
pub(crate) async fn get_with(port: u16, path: &str, headers: &str) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n{headers}connection: close\r\n\r\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.map_err(|e| e.to_string())?;
    match out.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.to_owned()),
        _ => Err(out),
    }
}
