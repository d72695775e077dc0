//! The binary: `check-config` on good and broken files, exit codes, no secret echoed.

use std::path::PathBuf;
use std::process::Command;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/hub.example.toml");

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hub-server-cli-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join(name);
    std::fs::write(&f, text).unwrap();
    f
}

/// Runs the binary with `args` and `env` only: none of the caller's `HUB_*` or Vault
/// variables leak in. Exit code, stdout, stderr.
pub(crate) fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hub-server"));
    cmd.args(args)
        .env_remove("HUB_CONFIG")
        .env_remove("HUB_ADMIN_TOKEN")
        .env_remove("VAULT_ADDR")
        .env_remove("VAULT_TOKEN");
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("HUB__")) {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_example_passes() {
    let (code, out, err) = run(
        &["check-config", "--config", EXAMPLE],
        &[("HUB__SERVER__LISTEN", "0.0.0.0:9999")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(": ok (listen 0.0.0.0:9999"), "{out}");
    assert!(out.contains("overridden by the environment: server.listen"), "{out}");
}

#[test]
fn a_broken_file_names_file_key_and_reason() {
    let text = std::fs::read_to_string(EXAMPLE)
        .unwrap()
        .replace("token = \"env:HUB_TOKEN_SUPPORT\"", "token = \"canary-literal-5e1\"");
    let f = temp_file("hub.toml", &text);
    let (code, _, err) = run(&["check-config", "--config", f.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "{}: auth.tokens[0].token: not a secret reference",
            f.display()
        )),
        "{err}"
    );
    assert!(!err.contains("canary-literal-5e1"), "{err}");
    let text = std::fs::read_to_string(EXAMPLE)
        .unwrap()
        .replace("jitter = \"none\"", "jitter = \"sometimes\"");
    let f = temp_file("hub.toml", &text);
    let (code, _, err) = run(&["check-config", "--config", f.to_str().unwrap()], &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("adapters.ticketing.resilience.jitter: unknown variant `sometimes`"),
        "{err}"
    );
    let (code, _, err) = run(&["check-config", "--config", "/nonexistent/hub.toml"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/hub.toml: cannot read the file"), "{err}");
}

#[test]
fn resolving_secrets_reports_each_missing_one_without_values() {
    let (code, _, err) = run(
        &["check-config", "--resolve-secrets", "--config", EXAMPLE],
        &[
            ("HUB_TOKEN_SUPPORT", "canary-value-77"),
            ("TICKETING_API_KEY", "canary-value-78"),
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("auth.tokens[1].token: secret file:/run/secrets/hub_admin_token not found"),
        "{err}"
    );
    assert!(
        err.contains("adapters.transaction_status.credentials.client_secret"),
        "{err}"
    );
    assert!(!err.contains("auth.tokens[0]"), "{err}");
    assert!(!err.contains("canary-value"), "{err}");
}
