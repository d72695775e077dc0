//! Transaction status: OAuth2 client credentials, expiry on the simulated clock, reads.

use std::time::Duration;

use hub_sim::{Settings, System, TokenCounts};

use crate::support::{FORM, JSON, basic, call, start, token};

#[tokio::test]
async fn token_endpoint_checks_the_client() {
    let sim = start().await;
    let url = format!("{}/oauth/token", sim.url(System::Status));
    let r = call(
        "POST",
        &url,
        &[FORM],
        b"grant_type=client_credentials&client_id=hub-status&client_secret=nope",
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_client");
    let r = call(
        "POST",
        &url,
        &[FORM],
        b"grant_type=password&client_id=hub-status&client_secret=sim-status-secret",
    )
    .await;
    assert_eq!(r.json()["error"], "unsupported_grant_type");
    let r = call("POST", &url, &[("content-type", "application/json")], b"{}").await;
    assert_eq!(r.status, 400);
    // client_secret_basic works too.
    let b = basic("hub-status", "sim-status-secret");
    let r = call(
        "POST",
        &url,
        &[FORM, ("authorization", &b)],
        b"grant_type=client_credentials",
    )
    .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(
        sim.control().token_requests().status,
        TokenCounts { issued: 1, refused: 3 }
    );
    assert_eq!(sim.control().token_requests().sales, TokenCounts::default());
}

#[tokio::test]
async fn tokens_expire_on_the_simulated_clock() {
    let sim = start().await;
    sim.control().set_settings(Settings {
        token_ttl_s: 1,
        ..Settings::default()
    });
    let t = token(&sim, System::Status).await;
    let url = format!("{}/transactions/TXN-5001", sim.url(System::Status));
    let bearer = format!("Bearer {t}");
    assert_eq!(call("GET", &url, &[("authorization", &bearer)], b"").await.status, 200);
    sim.control().advance_clock(Duration::from_secs(2));
    let r = call("GET", &url, &[("authorization", &bearer)], b"").await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().contains("invalid_token"));
    assert_eq!(call("GET", &url, &[], b"").await.status, 401);
    assert_eq!(
        call("GET", &url, &[("authorization", "Bearer made-up")], b"")
            .await
            .status,
        401
    );
    // A status token is not a sales token.
    let fresh = token(&sim, System::Status).await;
    let drafts = format!("{}/transactions/drafts", sim.url(System::Sales));
    let fresh = format!("Bearer {fresh}");
    assert_eq!(
        call("POST", &drafts, &[("authorization", &fresh)], b"{}").await.status,
        401
    );
}

#[tokio::test]
async fn transactions_and_history() {
    let sim = start().await;
    let t = format!("Bearer {}", token(&sim, System::Status).await);
    let h = [("authorization", t.as_str())];
    let base = sim.url(System::Status);
    let v = call("GET", &format!("{base}/transactions/TXN-5001"), &h, b"")
        .await
        .json();
    assert_eq!(v["id"], "TXN-5001");
    assert_eq!(v["amount"], "500.00");
    assert_eq!(v["currency"], "USD");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["created_at"], "2026-01-02T10:00:00Z");
    assert_eq!(v["completed_at"], "2026-01-02T10:02:00Z");
    let pending = call("GET", &format!("{base}/transactions/TXN-5002"), &h, b"")
        .await
        .json();
    assert_eq!(pending["completed_at"], serde_json::Value::Null);
    assert_eq!(
        call("GET", &format!("{base}/transactions/TXN-0"), &h, b"").await.status,
        404
    );

    let list = call(
        "GET",
        &format!("{base}/customers/CUST-1001/transactions?limit=2"),
        &h,
        b"",
    )
    .await
    .json();
    let ids: Vec<_> = list["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert_eq!(ids, ["TXN-5002", "TXN-5003"], "newest first");
    let all = call("GET", &format!("{base}/customers/CUST-1001/transactions"), &h, b"")
        .await
        .json();
    assert_eq!(all["transactions"].as_array().unwrap().len(), 3);
    let none = call("GET", &format!("{base}/customers/CUST-1005/transactions"), &h, b"")
        .await
        .json();
    assert_eq!(none["transactions"].as_array().unwrap().len(), 0);
    assert_eq!(
        call("GET", &format!("{base}/customers/CUST-9/transactions"), &h, b"")
            .await
            .status,
        404
    );
    assert_eq!(
        call(
            "GET",
            &format!("{base}/customers/CUST-1001/transactions?limit=0"),
            &h,
            b""
        )
        .await
        .status,
        400
    );
    assert_eq!(
        call(
            "GET",
            &format!("{base}/customers/CUST-1001/transactions?limit=x"),
            &h,
            b""
        )
        .await
        .status,
        400
    );
}

#[tokio::test]
async fn copies_of_a_transaction_are_readable_under_fresh_ids() {
    let sim = start().await;
    let ctl = format!("{}/_sim/transactions/copies", sim.base_url());
    let r = call("POST", &ctl, &[JSON], br#"{"count":3}"#).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json()["first"], "TXN-5008");
    assert_eq!(r.json()["last"], "TXN-5010");
    for bad in [&br#"{"count":0}"#[..], br#"{"count":1000001}"#] {
        assert_eq!(call("POST", &ctl, &[JSON], bad).await.status, 422);
    }
    let auth = format!("Bearer {}", token(&sim, System::Status).await);
    let h = [("authorization", auth.as_str())];
    let base = sim.url(System::Status);
    let copy = call("GET", &format!("{base}/transactions/TXN-5010"), &h, b"").await;
    assert_eq!(copy.status, 200, "{:?}", copy.body);
    let seed = call("GET", &format!("{base}/transactions/TXN-5001"), &h, b"")
        .await
        .json();
    assert_eq!(copy.json()["id"], "TXN-5010");
    assert_eq!(copy.json()["amount"], seed["amount"]);
    assert_eq!(copy.json()["customer_id"], seed["customer_id"]);
    assert_eq!(
        call("GET", &format!("{base}/transactions/TXN-5011"), &h, b"")
            .await
            .status,
        404
    );
}
