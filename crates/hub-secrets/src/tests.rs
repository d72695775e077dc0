//! Each source against its real medium: variables, files, and a Vault KV v2 stand-in over HTTP.

use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use secrecy::ExposeSecret;

use super::*;

const CANARY: &str = "canary-secret-value-41d7";

fn r(s: &str) -> SecretRef {
    s.parse().unwrap()
}

#[tokio::test]
async fn env_references() {
    let s = Secrets::new(EnvSource::from_pairs([("A", CANARY), ("EMPTY", "")]), None);
    assert_eq!(s.resolve(&r("env:A")).await.unwrap().expose_secret(), CANARY);
    assert_eq!(
        s.resolve(&r("env:B")).await.unwrap_err(),
        SecretError::NotFound("env:B".into())
    );
    assert!(matches!(
        s.resolve(&r("env:EMPTY")).await,
        Err(SecretError::NotFound(_))
    ));
    assert!(!format!("{s:?}").contains(CANARY));
}

#[tokio::test]
async fn file_references_drop_one_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    let s = Secrets::new(EnvSource::from_pairs([]), None);
    for (content, expected) in [("v1\n", "v1"), ("v2\r\n", "v2"), ("v3", "v3"), ("v4\n\n", "v4\n")] {
        let f = dir.path().join("secret");
        std::fs::write(&f, content).unwrap();
        let got = s.resolve(&r(&format!("file:{}", f.display()))).await.unwrap();
        assert_eq!(got.expose_secret(), expected);
    }
    let missing = format!("file:{}", dir.path().join("nope").display());
    assert!(matches!(s.resolve(&r(&missing)).await, Err(SecretError::NotFound(_))));
}

#[tokio::test]
async fn vault_without_configuration_says_so() {
    let s = Secrets::new(EnvSource::from_pairs([]), None);
    let e = s.resolve(&r("vault:secret/hub#k")).await.unwrap_err();
    assert!(e.to_string().contains("VAULT_ADDR"), "{e}");
    let env = EnvSource::from_pairs([("VAULT_ADDR", "http://127.0.0.1:1")]);
    assert!(VaultConfig::from_env(&env).is_err());
    assert!(VaultConfig::from_env(&EnvSource::from_pairs([])).unwrap().is_none());
}

/// A Vault KV v2 stand-in: `secret/hub/app` holds `{"api_key": CANARY, "n": 1}` for token `root-t`.
async fn fake_vault() -> String {
    async fn read(Path((mount, path)): Path<(String, String)>, headers: HeaderMap) -> Result<String, StatusCode> {
        if headers.get("x-vault-token").and_then(|v| v.to_str().ok()) != Some("root-t") {
            return Err(StatusCode::FORBIDDEN);
        }
        if mount == "secret" && path == "hub/app" {
            Ok(format!(
                r#"{{"data": {{"data": {{"api_key": "{CANARY}", "n": 1}}, "metadata": {{}}}}}}"#
            ))
        } else {
            Err(StatusCode::NOT_FOUND)
        }
    }
    let app = Router::new().route("/v1/{mount}/data/{*path}", get(read));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn vault(addr: &str, token: &str) -> Secrets {
    let env = EnvSource::from_pairs([("VAULT_ADDR", addr), ("VAULT_TOKEN", token)]);
    let mut config = VaultConfig::from_env(&env).unwrap().unwrap();
    config.timeout = Duration::from_secs(5);
    assert!(!format!("{config:?}").contains(token));
    Secrets::new(env, Some(VaultSource::new(config).unwrap()))
}

#[tokio::test]
async fn vault_kv2_references() {
    let addr = fake_vault().await;
    let s = vault(&addr, "root-t");
    assert_eq!(
        s.resolve(&r("vault:secret/hub/app#api_key"))
            .await
            .unwrap()
            .expose_secret(),
        CANARY
    );
    for (reference, expect_not_found) in [
        ("vault:secret/hub/app#missing", true),
        ("vault:secret/hub/other#api_key", true),
        ("vault:secret/hub/app#n", false),
    ] {
        let e = s.resolve(&r(reference)).await.unwrap_err();
        assert_eq!(
            matches!(e, SecretError::NotFound(_)),
            expect_not_found,
            "{reference}: {e}"
        );
        assert!(!e.to_string().contains(CANARY));
    }
    let denied = vault(&addr, "wrong-token")
        .resolve(&r("vault:secret/hub/app#api_key"))
        .await
        .unwrap_err();
    assert!(denied.to_string().contains("403"), "{denied}");
    let down = vault("http://127.0.0.1:1", "down-token")
        .resolve(&r("vault:secret/x#y"))
        .await
        .unwrap_err();
    assert!(down.to_string().contains("cannot reach Vault"), "{down}");
}
