//! The HTTP control API: faults, ledger, clock, settings, reset, info.

use hub_sim::System;

use crate::support::{JSON, call, start};

#[tokio::test]
async fn faults_ledger_and_reset_over_http() {
    let sim = start().await;
    let ctl = format!("{}/_sim", sim.base_url());
    let rule = br#"{"kind":"error","system":"generic","method":"GET","route":"/tickets/{id}","status":500,"times":1}"#;
    let r = call("POST", &format!("{ctl}/faults"), &[JSON], rule).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.json()["id"].as_u64().unwrap();
    let bad_rule = br#"{"kind":"error","rate":2}"#;
    assert_eq!(
        call("POST", &format!("{ctl}/faults"), &[JSON], bad_rule).await.status,
        422
    );

    let url = format!("{}/tickets/TCK-1001?x=1", sim.url(System::Generic));
    let key = [("x-api-key", "sim-generic-key"), ("idempotency-key", "k-read")];
    assert_eq!(call("GET", &url, &key, b"").await.status, 500);
    assert_eq!(call("GET", &url, &key, b"").await.status, 200);

    let listed = call("GET", &format!("{ctl}/faults"), &[], b"").await.json();
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["fired"], 1);
    let ledger = call(
        "GET",
        &format!("{ctl}/ledger/requests?system=generic&status=500"),
        &[],
        b"",
    )
    .await
    .json();
    let requests = ledger["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["path"], "/generic/tickets/TCK-1001?x=1");
    assert_eq!(requests[0]["route"], "/tickets/{id}");
    assert_eq!(requests[0]["idempotency_key"], "k-read");
    assert_eq!(requests[0]["fault"], "error");
    assert_eq!(
        call("DELETE", &format!("{ctl}/faults/{id}"), &[], b"").await.status,
        204
    );
    assert_eq!(
        call("DELETE", &format!("{ctl}/faults/{id}"), &[], b"").await.status,
        404
    );

    let ticket = br#"{"subject":"s"}"#;
    let post = [("x-api-key", "sim-generic-key"), JSON, ("idempotency-key", "k-1")];
    call("POST", &format!("{}/tickets", sim.url(System::Generic)), &post, ticket).await;
    let effects = call(
        "GET",
        &format!("{ctl}/ledger/effects?kind=ticket_created&idempotency_key=k-1"),
        &[],
        b"",
    )
    .await
    .json();
    assert_eq!(effects["effects"].as_array().unwrap().len(), 1);
    assert_eq!(effects["effects"][0]["system"], "generic");

    call("POST", &format!("{ctl}/outage/generic"), &[], b"").await;
    assert_eq!(call("GET", &url, &key, b"").await.status, 503);
    call("DELETE", &format!("{ctl}/outage/generic"), &[], b"").await;
    assert_eq!(call("GET", &url, &key, b"").await.status, 200);

    let r = call("POST", &format!("{ctl}/reset"), &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(sim.control().requests(&Default::default()).is_empty());
    assert!(sim.control().effects(&Default::default()).is_empty());
    let gone = call(
        "GET",
        &format!("{}/tickets/TCK-1004", sim.url(System::Generic)),
        &key,
        b"",
    )
    .await;
    assert_eq!(gone.status, 404, "created tickets are gone after a reset");
}

#[tokio::test]
async fn clock_settings_tokens_and_info() {
    let sim = start().await;
    let ctl = format!("{}/_sim", sim.base_url());
    let r = call("POST", &format!("{ctl}/clock/advance"), &[JSON], br#"{"seconds":3600}"#)
        .await
        .json();
    assert_eq!(r["offset_s"], 3600);
    assert_eq!(
        call("GET", &format!("{ctl}/clock"), &[], b"").await.json()["offset_s"],
        3600
    );

    let s = call("PUT", &format!("{ctl}/settings"), &[JSON], br#"{"token_ttl_s":1}"#)
        .await
        .json();
    assert_eq!(s["token_ttl_s"], 1);
    assert_eq!(s["draft_ttl_s"], 900);
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let t = call(
        "POST",
        &format!("{}/oauth/token", sim.url(System::Sales)),
        &form,
        b"grant_type=client_credentials&client_id=hub-sales&client_secret=sim-sales-secret",
    )
    .await
    .json();
    assert_eq!(t["expires_in"], 1);
    let tokens = call("GET", &format!("{ctl}/ledger/tokens"), &[], b"").await.json();
    assert_eq!(tokens["sales"]["issued"], 1);
    assert_eq!(tokens["status"]["issued"], 0);

    let info = call("GET", &format!("{ctl}/info"), &[], b"").await.json();
    assert_eq!(info["base_url"], sim.base_url());
    assert_eq!(info["systems"].as_array().unwrap().len(), 7);
    assert_eq!(info["credentials"]["generic"]["api_key"], "sim-generic-key");
    assert_eq!(call("GET", &format!("{ctl}/health"), &[], b"").await.status, 200);
    assert_eq!(
        call("GET", &format!("{}/nowhere", sim.base_url()), &[], b"")
            .await
            .status,
        404
    );
    assert_eq!(
        call("GET", &format!("{}/nowhere", sim.url(System::Zendesk)), &[], b"")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn seed_transaction_status_and_clearing_by_system() {
    let sim = start().await;
    let ctl = format!("{}/_sim", sim.base_url());
    assert_eq!(
        call("POST", &format!("{ctl}/seed"), &[JSON], br#"{"seed":9}"#)
            .await
            .status,
        200
    );
    for rule in [
        &br#"{"kind":"error","system":"jira"}"#[..],
        br#"{"kind":"error","system":"zendesk"}"#,
    ] {
        assert_eq!(call("POST", &format!("{ctl}/faults"), &[JSON], rule).await.status, 201);
    }
    let removed = call("DELETE", &format!("{ctl}/faults?system=jira"), &[], b"")
        .await
        .json();
    assert_eq!(removed["removed"], 1);
    assert_eq!(sim.control().faults()[0].rule.system, Some(System::Zendesk));

    let r = call(
        "PUT",
        &format!("{ctl}/transactions/TXN-5002/status"),
        &[JSON],
        br#"{"status":"completed"}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    let missing = call(
        "PUT",
        &format!("{ctl}/transactions/TXN-0/status"),
        &[JSON],
        br#"{"status":"completed"}"#,
    )
    .await;
    assert_eq!(missing.status, 404);
    let t = format!("Bearer {}", crate::support::token(&sim, System::Status).await);
    let read = call(
        "GET",
        &format!("{}/transactions/TXN-5002", sim.url(System::Status)),
        &[("authorization", &t)],
        b"",
    )
    .await
    .json();
    assert_eq!(read["status"], "completed");
    assert!(
        read["completed_at"].is_string(),
        "a finished transaction gets its completion time"
    );
}

#[tokio::test]
async fn waiting_for_records_without_polling() {
    use std::time::Duration;

    use hub_sim::{EffectFilter, EffectKind, RequestFilter};

    let sim = start().await;
    let control = sim.control().clone();
    let waiter = tokio::spawn(async move {
        control
            .wait_for_effects(
                &EffectFilter::kind(EffectKind::TicketCreated),
                2,
                Duration::from_secs(10),
            )
            .await
    });
    let url = format!("{}/tickets", sim.url(System::Generic));
    let key = [("x-api-key", "sim-generic-key"), JSON];
    call("POST", &url, &key, br#"{"subject":"a"}"#).await;
    call("POST", &url, &key, br#"{"subject":"b"}"#).await;
    assert_eq!(waiter.await.unwrap().unwrap().len(), 2);

    let notes = sim.control().clone();
    let waiter = tokio::spawn(async move { notes.wait_for_notifications(1, Duration::from_secs(10)).await });
    call("POST", &sim.url(System::Notify), &[JSON], b"{}").await;
    assert_eq!(waiter.await.unwrap().unwrap().len(), 1);

    let missing = sim
        .control()
        .wait_for_requests(
            &RequestFilter {
                system: Some(System::Jira),
                ..Default::default()
            },
            1,
            Duration::from_millis(50),
        )
        .await;
    assert_eq!(missing.unwrap_err(), hub_sim::WaitTimeout { wanted: 1, found: 0 });
}
