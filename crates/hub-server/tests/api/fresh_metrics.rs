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

/// Found by `cargo xtask chaos`: the endpoints set their gauges to 0 before the recorder
/// was installed, so a restarted hub showed no `integration_circuit_breaker_state`.
#[tokio::test]
async fn a_fresh_hub_shows_every_circuit_closed() {
    let dir = std::env::temp_dir().join(format!("hub-server-fresh-metrics-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    // A copy, so that the SQLite file next to it lands in the temporary directory.
    let config = dir.join("hub.toml");
    std::fs::copy(DEMO, &config).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hub-server"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("HUB__")) {
        cmd.env_remove(k);
    }
    let mut child = cmd
        .arg("--config")
        .arg(&config)
        .env("HUB__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .envs(DEMO_ENV)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        if let Ok(m) = get(port, "/metrics").await {
            break m;
        }
        assert!(Instant::now() < deadline, "the hub did not answer within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    for adapter in ["ticketing", "transaction_status", "transaction_create"] {
        let line = format!("integration_circuit_breaker_state{{adapter=\"{adapter}\"}} 0");
        assert!(metrics.lines().any(|l| l == line), "no {line:?} in:\n{metrics}");
    }
}

/// `GET path` on loopback, the body of a 200.
async fn get(port: u16, path: &str) -> Result<String, String> {
    get_with(port, path, "").await
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
