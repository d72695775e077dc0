//! The ledger ties requests and effects to the caller's `X-Request-Id`, even where the
//! system ignores idempotency keys (Zendesk comments, through ticket updates).

use hub_sim::{EffectFilter, EffectKind, RequestFilter, System};

use crate::support::{JSON, basic, call, start};

#[tokio::test]
async fn effects_and_requests_carry_the_request_id() {
    let sim = start().await;
    let auth = basic("agent@example.com/token", "sim-zendesk-token");
    let url = format!("{}/api/v2/tickets/1.json", sim.url(System::Zendesk));
    let body = br#"{"ticket": {"comment": {"body": "hello", "public": false}}}"#;
    let headers = [("authorization", auth.as_str()), JSON, ("x-request-id", "req-42")];
    assert_eq!(call("PUT", &url, &headers, body).await.status, 200);
    // Without the header: recorded without a request id.
    let headers = [("authorization", auth.as_str()), JSON];
    assert_eq!(call("PUT", &url, &headers, body).await.status, 200);

    let all = sim.control().effects(&EffectFilter::kind(EffectKind::CommentAdded));
    let ids: Vec<Option<&str>> = all.iter().map(|e| e.request_id.as_deref()).collect();
    assert_eq!(ids, [Some("req-42"), None]);
    assert_eq!(all[0].idempotency_key, None);
    let one = sim.control().effects(&EffectFilter {
        request_id: Some("req-42".to_owned()),
        ..EffectFilter::default()
    });
    assert_eq!(one, all[..1]);
    let requests = sim.control().requests(&RequestFilter {
        request_id: Some("req-42".to_owned()),
        ..RequestFilter::default()
    });
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "PUT");

    // The control API filters and shows the same.
    let r = call(
        "GET",
        &format!("{}/_sim/ledger/effects?request_id=req-42", sim.base_url()),
        &[],
        b"",
    )
    .await;
    let effects = r.json()["effects"].as_array().cloned().unwrap();
    assert_eq!(effects.len(), 1);
    assert_eq!(effects[0]["request_id"], "req-42");
}
