//! Vault KV v2 reads and the notification sink.

use hub_sim::System;
use serde_json::json;

use crate::support::{JSON, call, start};

#[tokio::test]
async fn vault_reads_kv_v2_secrets() {
    let sim = start().await;
    let url = format!("{}/v1/secret/data/hub/sales", sim.url(System::Vault));
    assert_eq!(call("GET", &url, &[], b"").await.status, 403);
    assert_eq!(call("GET", &url, &[("x-vault-token", "wrong")], b"").await.status, 403);
    let h = [("x-vault-token", "sim-vault-token")];
    let v = call("GET", &url, &h, b"").await.json();
    assert_eq!(v["data"]["data"]["hmac_secret"], "sim-sales-hmac-secret");
    assert_eq!(v["data"]["metadata"]["version"], 1);

    let put = format!("{}/_sim/vault/kv/team/api", sim.base_url());
    let r = call("PUT", &put, &[JSON], br#"{"token":"abc"}"#).await;
    assert_eq!(r.json()["version"], 1);
    sim.control()
        .set_vault_secret("kv", "team/api", json!({"token": "def"}).as_object().unwrap().clone());
    let v = call(
        "GET",
        &format!("{}/v1/kv/data/team/api", sim.url(System::Vault)),
        &h,
        b"",
    )
    .await
    .json();
    assert_eq!(v["data"]["data"]["token"], "def");
    assert_eq!(v["data"]["metadata"]["version"], 2);
    assert_eq!(
        call("GET", &format!("{}/v1/kv/data/none", sim.url(System::Vault)), &h, b"")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn notifications_are_recorded() {
    let sim = start().await;
    let url = format!("{}/supervisor", sim.url(System::Notify));
    let r = call(
        "POST",
        &url,
        &[JSON, ("x-signature", "abc")],
        br#"{"text":"DLQ entry 42 pending"}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    call(
        "POST",
        &sim.url(System::Notify),
        &[("content-type", "text/plain")],
        b"plain",
    )
    .await;
    let notes = sim.control().notifications();
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0].path, "/notify/supervisor");
    assert_eq!(notes[0].headers["x-signature"], "abc");
    assert_eq!(notes[0].body["text"], "DLQ entry 42 pending");
    assert_eq!(notes[1].body, "plain");
    let over_http = call("GET", &format!("{}/_sim/notifications", sim.base_url()), &[], b"")
        .await
        .json();
    assert_eq!(over_http["notifications"].as_array().unwrap().len(), 2);
}
