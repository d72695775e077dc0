//! Cached reads as a client sees them: the same body and headers on a hit as on the miss,
//! an `ETag` and `304` on a matching `If-None-Match`, and one background refresh per entry
//! near its expiry that keeps readers off the upstream (and, when it fails, the entry
//! served until it expires, then stale).

use std::time::{Duration, Instant};

use http::Method;
use hub_sim::{FaultKind, FaultRule, RequestFilter, System};
use hub_tests::{Hub, Options, READ_TOKEN, Resp};

/// The status system's requests for one transaction.
fn status_reads(id: &str) -> RequestFilter {
    RequestFilter {
        system: Some(System::Status),
        path_prefix: Some(format!("/status/transactions/{id}")),
        ..RequestFilter::default()
    }
}

async fn get_if_none_match(hub: &Hub, path: &str, tag: &str) -> Resp {
    hub.send(Method::GET, path, Some(READ_TOKEN), None, &[("if-none-match", tag)])
        .await
}

#[tokio::test]
async fn every_cached_read_has_an_etag_and_a_matching_if_none_match_is_304() {
    let hub = Hub::start(Options::default()).await;
    for path in [
        "/v1/transactions/TXN-5001",
        "/v1/customers/CUST-1001/transactions?limit=5",
        "/v1/tickets/TCK-1001",
    ] {
        let miss = hub.get(path, READ_TOKEN).await;
        assert_eq!(miss.status, 200, "{path}: {}", String::from_utf8_lossy(&miss.body));
        assert_eq!(miss.header("cache-status"), Some("integration-hub; fwd=miss"), "{path}");
        assert_eq!(miss.header("content-type"), Some("application/json"), "{path}");
        let tag = miss.header("etag").expect("an ETag").to_owned();
        assert!(
            tag.starts_with('"') && tag.ends_with('"'),
            "{path}: a strong tag, {tag}"
        );

        // A hit answers the same bytes with the same validator.
        let hit = hub.get(path, READ_TOKEN).await;
        assert_eq!(hit.header("cache-status"), Some("integration-hub; hit"), "{path}");
        assert_eq!(hit.body, miss.body, "{path}");
        assert_eq!(hit.header("etag"), Some(tag.as_str()), "{path}");
        assert_eq!(hit.header("content-type"), Some("application/json"), "{path}");

        // The tag itself, the weak form, or in a list: 304 with the validators, no body.
        for header in [
            tag.clone(),
            format!("W/{tag}"),
            format!("\"other\", {tag}"),
            "*".to_owned(),
        ] {
            let not_modified = get_if_none_match(&hub, path, &header).await;
            assert_eq!(not_modified.status, 304, "{path}: If-None-Match {header}");
            assert!(not_modified.body.is_empty(), "{path}");
            assert_eq!(not_modified.header("etag"), Some(tag.as_str()), "{path}");
            assert_eq!(
                not_modified.header("cache-status"),
                Some("integration-hub; hit"),
                "{path}"
            );
            assert!(not_modified.header("x-request-id").is_some(), "{path}");
        }
        // Another tag: the full answer.
        let changed = get_if_none_match(&hub, path, "\"0000000000000000\"").await;
        assert_eq!((changed.status, &changed.body), (200, &miss.body), "{path}");
    }
    // The transaction's body is the contract's, field for field.
    let txn = hub.get("/v1/transactions/TXN-5001", READ_TOKEN).await.json();
    let fields: Vec<&str> = txn.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        [
            "amount",
            "completed_at",
            "created_at",
            "currency",
            "status",
            "transaction_id"
        ]
    );
    hub.stop().await;
}

#[tokio::test]
async fn a_hit_in_the_refresh_window_refreshes_its_entry_once_in_the_background() {
    // The whole TTL is the refresh window: every hit is near expiry, no clock needed.
    let hub = Hub::start(Options {
        status_ttl_s: Some(300),
        refresh_ahead_percent: Some(100),
        ..Options::default()
    })
    .await;
    let path = "/v1/transactions/TXN-5004";
    let control = hub.sim.control();
    let first = hub.get(path, READ_TOKEN).await;
    assert_eq!(first.header("cache-status"), Some("integration-hub; fwd=miss"));
    // The refresh takes a second at the sim: every reader meanwhile is served from the entry.
    control
        .add_fault(
            FaultRule::new(FaultKind::Latency)
                .system(System::Status)
                .ms(1000)
                .times(1),
        )
        .unwrap();
    for _ in 0..20 {
        let r = hub.get(path, READ_TOKEN).await;
        assert_eq!(r.header("cache-status"), Some("integration-hub; hit"));
        assert_eq!(r.body, first.body);
    }
    control
        .wait_for_requests(&status_reads("TXN-5004"), 2, Duration::from_secs(10))
        .await
        .expect("a background refresh");
    // Once the refreshed entry is in, a hit refreshes it in turn: one refresh per entry.
    let mut reads = 0;
    while control.requests(&status_reads("TXN-5004")).len() < 3 {
        let r = hub.get(path, READ_TOKEN).await;
        assert_eq!(r.header("cache-status"), Some("integration-hub; hit"));
        reads += 1;
        assert!(reads < 10_000, "the refreshed entry was never refreshed");
        tokio::task::yield_now().await;
    }
    hub.stop().await;
}

#[tokio::test]
async fn a_failed_refresh_is_not_repeated_and_the_entry_is_served_then_stale() {
    let hub = Hub::start(Options {
        status_ttl_s: Some(1),
        refresh_ahead_percent: Some(100),
        max_attempts: 1,
        ..Options::default()
    })
    .await;
    let path = "/v1/transactions/TXN-5005";
    let control = hub.sim.control();
    let first = hub.get(path, READ_TOKEN).await;
    assert_eq!(first.status, 200);
    control.set_outage(System::Status, true);
    let hit = hub.get(path, READ_TOKEN).await;
    assert_eq!(hit.body, first.body);
    control
        .wait_for_requests(&status_reads("TXN-5005"), 2, Duration::from_secs(10))
        .await
        .expect("the refresh was tried");
    // Until the entry expires, readers are served from it and the failed refresh is not
    // repeated; once it has expired, the reader's own call fails too and it is served stale.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = hub.get(path, READ_TOKEN).await;
        assert_eq!((r.status, &r.body), (200, &first.body));
        if r.header("cache-status") == Some("integration-hub; hit; stale") {
            break;
        }
        assert_eq!(r.header("cache-status"), Some("integration-hub; hit"));
        assert_eq!(
            control.requests(&status_reads("TXN-5005")).len(),
            2,
            "one refresh per entry"
        );
        assert!(Instant::now() < deadline, "never served stale");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        control.requests(&status_reads("TXN-5005")).len(),
        3,
        "the refresh, then the expired read's own call"
    );
    hub.stop().await;
}
