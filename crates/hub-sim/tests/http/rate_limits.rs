//! Rate limits per credential in each vendor's header style: off by default, set through
//! the control API, 429 with `Retry-After` when over, counted in the ledger.

use std::time::Duration;

use hub_sim::{RateLimit, RequestFilter, System};
use serde_json::json;

use crate::support::{JSON, Resp, basic, call, start};

const GENERIC_KEY: (&str, &str) = ("x-api-key", "sim-generic-key");

async fn control(sim: &hub_sim::SimHandle, method: &str, path: &str, body: &serde_json::Value) -> Resp {
    let url = format!("{}{path}", sim.base_url());
    call(method, &url, &[JSON], body.to_string().as_bytes()).await
}

#[tokio::test]
async fn zendesk_limits_each_credential_in_zendesk_headers() {
    let sim = start().await;
    let url = format!("{}/api/v2/tickets/1.json", sim.url(System::Zendesk));
    let auth = basic("agent@example.com/token", "sim-zendesk-token");
    let creds = [("authorization", auth.as_str())];
    let unlimited = call("GET", &url, &creds, b"").await;
    assert_eq!(unlimited.status, 200);
    assert_eq!(unlimited.header("ratelimit-remaining"), None, "off by default");

    let set = control(
        &sim,
        "PUT",
        "/_sim/rate_limits/zendesk",
        &json!({"limit": 3, "window_s": 60}),
    )
    .await;
    assert_eq!(set.status, 200);
    assert_eq!(set.json(), json!({"limit": 3, "window_s": 60, "style": "zendesk"}));
    for left in ["2", "1", "0"] {
        let r = call("GET", &url, &creds, b"").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-rate-limit"), Some("3"));
        assert_eq!(r.header("ratelimit-limit"), Some("3"));
        assert_eq!(r.header("x-rate-limit-remaining"), Some(left));
        assert_eq!(r.header("ratelimit-remaining"), Some(left));
        assert_eq!(r.header("ratelimit-reset"), Some("60"));
    }
    let over = call("GET", &url, &creds, b"").await;
    assert_eq!(over.status, 429);
    assert_eq!(over.header("retry-after"), Some("60"));
    assert_eq!(over.header("ratelimit-remaining"), Some("0"));
    // Another credential counts on its own (and is refused for its own reasons).
    let other = basic("someone@example.com/token", "nope");
    let r = call("GET", &url, &[("authorization", other.as_str())], b"").await;
    assert_eq!((r.status, r.header("ratelimit-remaining")), (401, Some("2")));

    let ledger = control(&sim, "GET", "/_sim/ledger/rate_limited", &json!({})).await;
    assert_eq!(ledger.json(), json!({"zendesk": 1}));
    let limited = sim.control().requests(&RequestFilter {
        status: Some(429),
        ..RequestFilter::default()
    });
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].fault, None, "a limit, not a fault rule");

    // The window ends on the simulated clock.
    sim.control().advance_clock(Duration::from_secs(60));
    let r = call("GET", &url, &creds, b"").await;
    assert_eq!((r.status, r.header("ratelimit-remaining")), (200, Some("2")));
}

#[tokio::test]
async fn jira_limits_in_jira_headers() {
    let sim = start().await;
    sim.control().set_rate_limit(System::Jira, Some(RateLimit::new(5, 120)));
    let url = format!("{}/rest/api/3/issue/SUP-1", sim.url(System::Jira));
    let auth = basic("agent@example.com", "sim-jira-token");
    let creds = [("authorization", auth.as_str())];
    let first = call("GET", &url, &creds, b"").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-ratelimit-limit"), Some("5"));
    assert_eq!(first.header("x-ratelimit-remaining"), Some("4"));
    assert_eq!(first.header("x-ratelimit-nearlimit"), None);
    let reset = first.header("x-ratelimit-reset").unwrap().to_owned();
    assert!(
        reset.len() == 17 && reset.ends_with('Z') && reset.as_bytes()[10] == b'T',
        "{reset}"
    );
    for _ in 0..3 {
        call("GET", &url, &creds, b"").await;
    }
    let last = call("GET", &url, &creds, b"").await;
    assert_eq!(last.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(last.header("x-ratelimit-nearlimit"), Some("true"), "under 20 % left");
    let over = call("GET", &url, &creds, b"").await;
    assert_eq!(over.status, 429);
    assert_eq!(over.header("retry-after"), Some("120"));
    assert_eq!(over.header("ratelimit-reason"), Some("jira-quota-tenant-based"));
    assert_eq!(over.header("x-ratelimit-reset"), Some(reset.as_str()));
    assert_eq!(sim.control().rate_limited().get(&System::Jira), Some(&1));
}

#[tokio::test]
async fn the_generic_api_limits_in_ietf_fields_and_a_reset_lifts_it() {
    let sim = start().await;
    let set = control(
        &sim,
        "PUT",
        "/_sim/rate_limits/generic",
        &json!({"limit": 2, "window_s": 30}),
    )
    .await;
    assert_eq!(set.json()["style"], "ietf");
    let url = format!("{}/tickets/TCK-1001", sim.url(System::Generic));
    let r = call("GET", &url, &[GENERIC_KEY], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("ratelimit-policy"), Some("\"default\";q=2;w=30"));
    assert_eq!(r.header("ratelimit"), Some("\"default\";r=1;t=30"));
    sim.control().advance_clock(Duration::from_secs(10));
    let r = call("GET", &url, &[GENERIC_KEY], b"").await;
    assert_eq!(r.header("ratelimit"), Some("\"default\";r=0;t=20"));
    let over = call("GET", &url, &[GENERIC_KEY], b"").await;
    assert_eq!(over.status, 429);
    assert_eq!(over.header("retry-after"), Some("20"));
    assert_eq!(over.json(), json!({"error": "rate_limited"}));
    // Other systems are not limited.
    let status = call("GET", &format!("{}/v1/sys/health", sim.url(System::Vault)), &[], b"").await;
    assert_eq!(status.status, 200);
    assert_eq!(status.header("ratelimit"), None);

    let listed = control(&sim, "GET", "/_sim/rate_limits", &json!({})).await;
    assert_eq!(
        listed.json(),
        json!({"generic": {"limit": 2, "window_s": 30, "style": "ietf"}})
    );
    let off = control(&sim, "DELETE", "/_sim/rate_limits/generic", &json!({})).await;
    assert_eq!(off.status, 200);
    assert_eq!(call("GET", &url, &[GENERIC_KEY], b"").await.status, 200);

    sim.control()
        .set_rate_limit(System::Generic, Some(RateLimit::new(1, 60)));
    sim.control().reset();
    assert!(sim.control().rate_limits().is_empty());
    assert!(sim.control().rate_limited().is_empty());
    let r = call("GET", &url, &[GENERIC_KEY], b"").await;
    assert_eq!((r.status, r.header("ratelimit")), (200, None));
}
