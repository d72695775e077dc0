//! The `hub-sim` binary: prints the bound address first and serves it.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::support::call;

#[tokio::test]
async fn binary_prints_its_address_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hub-sim"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = first.strip_prefix("listening on ").unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"));
    assert!(!base.ends_with(":0"));
    assert_eq!(call("GET", &format!("{base}/_sim/health"), &[], b"").await.status, 200);
    let r = call(
        "GET",
        &format!("{base}/generic/tickets/TCK-1001"),
        &[("x-api-key", "sim-generic-key")],
        b"",
    )
    .await;
    assert_eq!(r.status, 200);
    child.kill().await.unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(stderr.is_empty(), "quiet unless asked: {stderr}");
}

#[tokio::test]
async fn credentials_come_from_a_file() {
    let path = std::env::temp_dir().join(format!("hub-sim-credentials-{}.json", std::process::id()));
    std::fs::write(&path, r#"{"generic_api_key": "canary-generic-key"}"#).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hub-sim"))
        .args(["--listen", "127.0.0.1:0", "--credentials"])
        .arg(&path)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    let url = format!(
        "{}/generic/tickets/TCK-1001",
        first.strip_prefix("listening on ").unwrap()
    );
    let canary = call("GET", &url, &[("x-api-key", "canary-generic-key")], b"").await;
    assert_eq!(canary.status, 200);
    let default = call("GET", &url, &[("x-api-key", "sim-generic-key")], b"").await;
    assert_eq!(default.status, 401, "the default is replaced");
    child.kill().await.unwrap();

    // A misspelt field is refused, naming the field.
    let path = std::env::temp_dir().join(format!("hub-sim-credentials-bad-{}.json", std::process::id()));
    std::fs::write(&path, r#"{"generic_api_kye": "x"}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hub-sim"))
        .args(["--listen", "127.0.0.1:0", "--credentials"])
        .arg(&path)
        .output()
        .await
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("generic_api_kye"), "{stderr}");
}
