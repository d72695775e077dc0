//! Sales: HMAC signatures, drafts, commit idempotency, expiry, cancel, and the status system seeing commits.

use std::time::Duration;

use hub_sim::{EffectFilter, EffectKind, Settings, System};

use crate::support::{JSON, call, now_unix, sales, start, token};

const DRAFT: &[u8] = br#"{"customer_id":"CUST-1002","amount":0.10,"currency":"EUR","description":"Top-up","metadata":{"ticket":"TCK-1002"}}"#;

async fn draft(sim: &hub_sim::SimHandle, t: &str) -> String {
    let r = sales(sim, t, "POST", "/transactions/drafts", DRAFT, &[]).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let v = r.json();
    assert_eq!(v["status"], "pending_confirmation");
    assert_eq!(v["amount"], "0.10", "amounts stay exact decimal strings");
    assert!(v["expires_at"].is_string());
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn signatures_are_checked_over_the_bytes_on_the_wire() {
    let sim = start().await;
    let t = token(&sim, System::Sales).await;
    draft(&sim, &t).await;

    let url = format!("{}/transactions/drafts", sim.url(System::Sales));
    let path = "/sales/transactions/drafts";
    let bearer = format!("Bearer {t}");
    // One instant for the header and the signature, so a tick between them cannot be what fails.
    let now = now_unix();
    let ts = now.to_string();
    let sig = hub_sim::signature::sign_request(b"sim-sales-hmac-secret", now, "POST", path, DRAFT);
    let signed = |sig: &str, ts: &str| -> Vec<(String, String)> {
        vec![
            ("authorization".into(), bearer.clone()),
            ("x-hmac-timestamp".into(), ts.into()),
            ("x-hmac-signature".into(), sig.into()),
        ]
    };
    fn as_refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
        v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
    }

    // The body altered after signing.
    let altered = String::from_utf8_lossy(DRAFT).replace("0.10", "1000.10");
    let h = signed(&sig, &ts);
    let r = call("POST", &url, &as_refs(&h), altered.as_bytes()).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_signature");

    // Signed without the base URL's prefix.
    let no_prefix =
        hub_sim::signature::sign_request(b"sim-sales-hmac-secret", now, "POST", "/transactions/drafts", DRAFT);
    assert_eq!(
        call("POST", &url, &as_refs(&signed(&no_prefix, &ts)), DRAFT)
            .await
            .status,
        401
    );

    // A stale timestamp, correctly signed.
    let old = now_unix() - 301;
    let stale = hub_sim::signature::sign_request(b"sim-sales-hmac-secret", old, "POST", path, DRAFT);
    let r = call("POST", &url, &as_refs(&signed(&stale, &old.to_string())), DRAFT).await;
    assert_eq!(r.status, 401);
    assert!(r.json()["message"].as_str().unwrap().contains("stale"));

    // Missing signature headers; missing token.
    let only_token = [("authorization", bearer.as_str()), JSON];
    assert_eq!(call("POST", &url, &only_token, DRAFT).await.status, 401);
    assert_eq!(call("POST", &url, &[JSON], DRAFT).await.status, 401);

    // The query string is signed too, and percent-encoded ids are signed as sent.
    let r = sales(&sim, &t, "GET", "/transactions/drafts/DRF-1?expand=all", b"", &[]).await;
    assert_eq!(r.status, 200);
    let r = sales(&sim, &t, "GET", "/transactions/drafts/DRF%2D1", b"", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"], "DRF-1");
}

#[tokio::test]
async fn commit_is_idempotent_and_visible_to_the_status_system() {
    let sim = start().await;
    let t = token(&sim, System::Sales).await;
    let id = draft(&sim, &t).await;
    let other = draft(&sim, &t).await;
    let commit = format!("/transactions/drafts/{id}/commit");

    assert_eq!(
        sales(&sim, &t, "POST", &commit, b"", &[]).await.status,
        400,
        "commit needs a key"
    );
    let first = sales(&sim, &t, "POST", &commit, b"", &[("idempotency-key", "c-1")]).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let again = sales(&sim, &t, "POST", &commit, b"", &[("idempotency-key", "c-1")]).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let v = first.json();
    assert_eq!(v["status"], "completed");
    assert_eq!(v["amount"], "0.10");
    assert_eq!(v["currency"], "EUR");
    let txn = v["id"].as_str().unwrap().to_owned();

    let misuse = sales(
        &sim,
        &t,
        "POST",
        &format!("/transactions/drafts/{other}/commit"),
        b"",
        &[("idempotency-key", "c-1")],
    )
    .await;
    assert_eq!(misuse.status, 422);
    let twice = sales(&sim, &t, "POST", &commit, b"", &[("idempotency-key", "c-2")]).await;
    assert_eq!(twice.status, 409);
    assert_eq!(twice.json()["error"], "draft_already_committed");

    let commits = sim.control().effects(&EffectFilter::kind(EffectKind::DraftCommitted));
    assert_eq!(commits.len(), 1, "exactly one commit");
    assert_eq!(commits[0].related.as_deref(), Some(txn.as_str()));
    assert_eq!(commits[0].idempotency_key.as_deref(), Some("c-1"));

    let st = format!("Bearer {}", token(&sim, System::Status).await);
    let h = [("authorization", st.as_str())];
    let read = call(
        "GET",
        &format!("{}/transactions/{txn}", sim.url(System::Status)),
        &h,
        b"",
    )
    .await
    .json();
    assert_eq!(read["status"], "completed");
    assert_eq!(read["amount"], "0.10");
    let history = call(
        "GET",
        &format!("{}/customers/CUST-1002/transactions?limit=1", sim.url(System::Status)),
        &h,
        b"",
    )
    .await
    .json();
    assert_eq!(history["transactions"][0]["id"], txn.as_str());
}

#[tokio::test]
async fn concurrent_commits_with_one_key_conflict() {
    let sim = start().await;
    sim.control().set_settings(Settings {
        commit_delay_ms: 400,
        ..Settings::default()
    });
    let t = token(&sim, System::Sales).await;
    let id = draft(&sim, &t).await;
    let commit = format!("/transactions/drafts/{id}/commit");
    let key = [("idempotency-key", "c-race")];
    let (a, b) = tokio::join!(
        sales(&sim, &t, "POST", &commit, b"", &key),
        sales(&sim, &t, "POST", &commit, b"", &key)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
    assert_eq!(
        sim.control()
            .effects(&EffectFilter::kind(EffectKind::DraftCommitted))
            .len(),
        1
    );
}

#[tokio::test]
async fn drafts_expire_and_cancel() {
    let sim = start().await;
    let t = token(&sim, System::Sales).await;
    let expiring = draft(&sim, &t).await;
    let cancelled = draft(&sim, &t).await;

    let r = sales(
        &sim,
        &t,
        "POST",
        &format!("/transactions/drafts/{cancelled}/cancel"),
        b"",
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::json!({"id": cancelled, "status": "cancelled"}));
    let r = sales(
        &sim,
        &t,
        "POST",
        &format!("/transactions/drafts/{cancelled}/cancel"),
        b"",
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "cancelling twice is harmless");
    let r = sales(
        &sim,
        &t,
        "POST",
        &format!("/transactions/drafts/{cancelled}/commit"),
        b"",
        &[("idempotency-key", "k")],
    )
    .await;
    assert_eq!(r.json()["error"], "draft_cancelled");
    assert_eq!(
        sim.control()
            .effects(&EffectFilter::kind(EffectKind::DraftCancelled))
            .len(),
        1
    );

    sim.control().advance_clock(Duration::from_secs(901));
    let r = sales(&sim, &t, "GET", &format!("/transactions/drafts/{expiring}"), b"", &[]).await;
    assert_eq!(r.json()["status"], "expired");
    let r = sales(
        &sim,
        &t,
        "POST",
        &format!("/transactions/drafts/{expiring}/commit"),
        b"",
        &[("idempotency-key", "late")],
    )
    .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["error"], "draft_expired");
    assert!(
        sim.control()
            .effects(&EffectFilter::kind(EffectKind::DraftCommitted))
            .is_empty()
    );
}

#[tokio::test]
async fn draft_validation() {
    let sim = start().await;
    let t = token(&sim, System::Sales).await;
    for (body, status) in [
        (
            &br#"{"customer_id":"CUST-9","amount":"1.00","currency":"USD"}"#[..],
            422,
        ),
        (br#"{"customer_id":"CUST-1001","amount":"-1.00","currency":"USD"}"#, 422),
        (br#"{"customer_id":"CUST-1001","amount":"1.00","currency":"US"}"#, 422),
        (br#"{"customer_id":"CUST-1001","amount":1e3,"currency":"USD"}"#, 400),
        (
            br#"{"customer_id":"CUST-1001","amount":"123456789.12345678","currency":"usd"}"#,
            201,
        ),
    ] {
        let r = sales(&sim, &t, "POST", "/transactions/drafts", body, &[]).await;
        assert_eq!(r.status, status, "{}", String::from_utf8_lossy(body));
        if status == 201 {
            assert_eq!(r.json()["amount"], "123456789.12345678");
            assert_eq!(r.json()["currency"], "USD");
        }
    }
    let key = [("idempotency-key", "d-1")];
    let a = sales(&sim, &t, "POST", "/transactions/drafts", DRAFT, &key).await;
    let b = sales(&sim, &t, "POST", "/transactions/drafts", DRAFT, &key).await;
    assert_eq!(a.json()["id"], b.json()["id"]);
    let c = sales(
        &sim,
        &t,
        "POST",
        "/transactions/drafts",
        br#"{"customer_id":"CUST-1001","amount":"2","currency":"USD"}"#,
        &key,
    )
    .await;
    assert_eq!(c.status, 422);
}
