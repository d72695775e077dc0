//! Dead-lettered writes reach the supervisor as aggregated alerts; the operating metrics
//! move on `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use hub_app::alerts::{AlertSettings, Supervisor};
use hub_core::{ConnectCause, Error};
use serde_json::json;

use crate::support::*;
use crate::webhooks::{KEY, RecordingCache, deliver, now, receiver};

use hub_core::testing::Inbox;

/// Polls `check` until it holds, up to a deadline.
async fn eventually(mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "not before the deadline");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn dead_lettered_writes_alert_the_supervisor_once_per_window() {
    let hub = Hub::new();
    let inbox = Arc::new(Inbox::default());
    let settings = AlertSettings {
        window: Duration::from_secs(3600),
        max_samples: 5,
    };
    let mut state = hub.state.clone();
    state.hub.supervisor = Supervisor::new(inbox.clone(), settings);
    let srv = Server::start(state).await;
    hub.upstream.fail_with(Error::Connect(ConnectCause::Refused));
    for n in 0..20 {
        let res = srv
            .req("POST", "/v1/tickets")
            .token(WRITE)
            .json(json!({"customer_id": format!("C-{n}"), "subject": "s", "description": "d"}))
            .send()
            .await;
        assert!(res.problem(502, "upstream_unavailable")["dlq_id"].is_string());
    }
    eventually(|| !inbox.all().is_empty()).await;
    let alerts = inbox.all();
    // The first failure at once; the other 19 wait for the window to close.
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(
        (a.adapter.as_str(), a.operation.as_str(), a.count),
        ("ticketing", "create_ticket", 1)
    );
    assert_eq!(a.sample_dlq_ids, vec!["dlq-1".to_owned()]);
}

#[tokio::test]
async fn operating_metrics_move() {
    let Some(handle) = hub_telemetry::prometheus::handle() else {
        panic!("another recorder was installed in this test binary");
    };
    let hub = Hub::new();
    let cache = Arc::new(RecordingCache::default());
    let state = hub
        .state
        .clone()
        .with_webhooks(receiver(&cache))
        .with_metrics(Arc::new(move || handle.render()));
    let srv = Server::start(state).await;
    let body = br#"{"ticket_id":"T-1","status":"open"}"#;
    let ts = now();
    let forged = hub_app::webhooks::signature::sign(b"not the key", "msg_m", ts, body);
    assert_eq!(
        deliver(&srv, "ticket_updated", "msg_m", ts, &forged, body).await.status,
        401
    );
    let good = hub_app::webhooks::signature::sign(KEY, "msg_m", ts - 900, body);
    assert_eq!(
        deliver(&srv, "ticket_updated", "msg_m", ts - 900, &good, body)
            .await
            .status,
        401
    );
    for _ in 0..2 {
        let res = srv
            .req("POST", "/v1/tickets/T-1/comments")
            .token(WRITE)
            .header("idempotency-key", "metrics-replay-1")
            .json(json!({"comment": "hello"}))
            .send()
            .await;
        assert_eq!(res.status, 201, "{}", res.text());
    }
    let text = srv.req("GET", "/metrics").send().await.text();
    for needle in [
        "integration_webhook_verification_failures_total{reason=\"bad_signature\"}",
        "integration_webhook_verification_failures_total{reason=\"stale\"}",
        "integration_idempotent_replays_total{adapter=\"ticketing\",operation=\"add_comment\"}",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    for name in [
        "integration_webhook_verification_failures_total",
        "integration_idempotent_replays_total",
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no help in\n{text}"
        );
        assert!(text.contains(&format!("# TYPE {name} counter")), "{text}");
    }
    assert!(!text.contains("msg_m") && !text.contains("T-1"), "no ids in labels");
    promtool_check(&text);
}

/// `promtool check metrics` over the exposition (the end-to-end suite runs it over the
/// real hub's full exposition too). promtool must be there: `cargo xtask test` installs
/// it (Debian's `prometheus`) and sets `HUB_PROMTOOL`; without it this test fails.
fn promtool_check(text: &str) {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let promtool = std::env::var_os("HUB_PROMTOOL").unwrap_or_else(|| "promtool".into());
    let spawned = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = spawned.unwrap_or_else(|e| {
        panic!(
            "promtool ({}) could not be run: {e}. Run the tests with `cargo xtask test`, which installs \
             it, or `apt-get install prometheus` (or set HUB_PROMTOOL to a promtool binary)",
            promtool.to_string_lossy()
        )
    });
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
