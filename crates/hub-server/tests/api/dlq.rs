//! `/v1/dlq`: list, get, replay with the entry's key, discard, conflicts.

use hub_core::{DlqStatus, Error};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn list_and_get() {
    let hub = Hub::new();
    let id = hub.dlq.seed("cancel_draft", json!({"draft_id": "D-1"}), Some("k-1"));
    let srv = hub.serve().await;
    let page = srv
        .req("GET", "/v1/dlq?status=pending&limit=10")
        .token(ADMIN)
        .send()
        .await
        .json();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["next_cursor"], serde_json::Value::Null);
    let entry = srv
        .req("GET", &format!("/v1/dlq/{id}"))
        .token(ADMIN)
        .send()
        .await
        .json();
    for field in [
        "id",
        "adapter",
        "operation",
        "payload",
        "idempotency_key",
        "error",
        "attempts",
        "created_at",
        "status",
        "conversation_id",
    ] {
        assert!(entry.get(field).is_some(), "{field} in {entry}");
    }
    assert_eq!(entry["status"], "pending");
    // Untraced: the trace id is there, null.
    assert_eq!(entry["trace_id"], serde_json::Value::Null);
    srv.req("GET", "/v1/dlq/nope")
        .token(ADMIN)
        .send()
        .await
        .problem(404, "not_found");
    srv.req("GET", "/v1/dlq?status=lost")
        .token(ADMIN)
        .send()
        .await
        .problem(422, "invalid_body");
}

/// An entry kept with the trace context of its failed write shows that trace's id (the
/// list and the entry alike).
#[tokio::test]
async fn a_traced_entry_shows_its_trace_id() {
    let hub = Hub::new();
    let untraced = hub.dlq.seed("cancel_draft", json!({"draft_id": "D-1"}), None);
    let traced = hub.dlq.insert(hub_core::NewDlqEntry {
        traceparent: Some(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                .parse()
                .unwrap(),
        ),
        ..hub.dlq.get_sync(untraced.as_str()).unwrap().failure
    });
    let srv = hub.serve().await;
    let entry = srv
        .req("GET", &format!("/v1/dlq/{}", traced.id))
        .token(ADMIN)
        .send()
        .await
        .json();
    assert_eq!(entry["trace_id"], "0af7651916cd43dd8448eb211c80319c");
    let page = srv.req("GET", "/v1/dlq").token(ADMIN).send().await.json();
    let ids: Vec<&serde_json::Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["trace_id"])
        .collect();
    assert_eq!(
        ids,
        [&json!("0af7651916cd43dd8448eb211c80319c"), &serde_json::Value::Null]
    );
}

#[tokio::test]
async fn replay_reuses_the_key_and_a_second_replay_is_refused() {
    let hub = Hub::new();
    let id = hub
        .dlq
        .seed("commit_transaction", json!({"draft_id": "D-1"}), Some("commit-key-7"));
    let srv = hub.serve().await;
    hub.upstream.fail_with(Error::Timeout);
    let p = srv
        .req("POST", &format!("/v1/dlq/{id}/replay"))
        .token(ADMIN)
        .send()
        .await
        .problem(504, "upstream_timeout");
    assert_eq!(p["dlq_id"], id.as_str());
    let entry = hub.dlq.get_sync(id.as_str()).unwrap();
    assert_eq!((entry.status, entry.failure.attempts), (DlqStatus::Pending, 4));
    hub.upstream.succeed();
    let res = srv
        .req("POST", &format!("/v1/dlq/{id}/replay"))
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    assert_eq!(body["status"], "replayed");
    assert_eq!(
        body["result"],
        json!({"transaction_id": "TX-9", "status": "completed", "amount": "500.10"})
    );
    let ctx = hub.upstream.last_context();
    assert_eq!(ctx.idempotency_key.unwrap().as_str(), "commit-key-7");
    assert_eq!(ctx.conversation_id.unwrap().as_str(), "conv-0");
    srv.req("POST", &format!("/v1/dlq/{id}/replay"))
        .token(ADMIN)
        .send()
        .await
        .problem(409, "dlq_conflict");
    assert_eq!(hub.upstream.calls(), 2);
}

/// A comment whose outcome is unknown, to a ticketing system that can neither dedupe it
/// nor be asked (the port's default answer): not sent without `force`, and the entry says
/// why; with `force` it is sent once.
#[tokio::test]
async fn an_uncheckable_comment_is_replayed_only_when_forced() {
    let hub = Hub::new();
    let id = hub.dlq.seed(
        "add_comment",
        json!({"ticket_id": "T-1", "comment": {"body": "b", "public": true}}),
        Some("comment-key-1"),
    );
    let srv = hub.serve().await;
    let p = srv
        .req("POST", &format!("/v1/dlq/{id}/replay"))
        .token(ADMIN)
        .send()
        .await
        .problem(409, "dlq_conflict");
    assert!(p["detail"].as_str().unwrap().contains("force"), "{p}");
    let entry = hub.dlq.get_sync(id.as_str()).unwrap();
    assert_eq!(
        (entry.status, entry.failure.error_code.as_str()),
        (DlqStatus::Pending, "outcome_unknown")
    );
    assert_eq!(hub.upstream.calls(), 0, "nothing was sent");
    let res = srv
        .req("POST", &format!("/v1/dlq/{id}/replay?force=true"))
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["status"], "replayed");
    assert_eq!(hub.upstream.calls(), 1);
}

/// A replay the upstream accepted but answered unreadably took effect: the entry is
/// settled (`replayed`, its result saying so) and can never be replayed again.
#[tokio::test]
async fn a_replay_applied_with_an_unreadable_answer_settles_the_entry() {
    let hub = Hub::new();
    let id = hub
        .dlq
        .seed("commit_transaction", json!({"draft_id": "D-1"}), Some("commit-key-8"));
    let srv = hub.serve().await;
    hub.upstream.fail_with(Error::AnswerUnreadable {
        status: 200,
        reason: "missing field `id`".into(),
    });
    let res = srv
        .req("POST", &format!("/v1/dlq/{id}/replay"))
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    assert_eq!(body["status"], "replayed");
    assert_eq!(body["result"]["applied"], true);
    assert!(
        body["result"]["answer_unreadable"]
            .as_str()
            .unwrap()
            .contains("missing field")
    );
    hub.upstream.succeed();
    srv.req("POST", &format!("/v1/dlq/{id}/replay"))
        .token(ADMIN)
        .send()
        .await
        .problem(409, "dlq_conflict");
    assert_eq!(hub.upstream.calls(), 1);
}

#[tokio::test]
async fn discard_with_a_reason_then_conflict() {
    let hub = Hub::new();
    let id = hub.dlq.seed("cancel_draft", json!({"draft_id": "D-1"}), None);
    let srv = hub.serve().await;
    let res = srv
        .req("POST", &format!("/v1/dlq/{id}/discard"))
        .token(ADMIN)
        .json(json!({"reason": "duplicate"}))
        .send()
        .await;
    assert_eq!(res.status, 200);
    let body = res.json();
    assert_eq!(
        (
            body["status"].as_str(),
            body["reason"].as_str(),
            body["acted_by"].as_str()
        ),
        (Some("discarded"), Some("duplicate"), Some("ops"))
    );
    srv.req("POST", &format!("/v1/dlq/{id}/discard"))
        .token(ADMIN)
        .send()
        .await
        .problem(409, "dlq_conflict");
    srv.req("POST", &format!("/v1/dlq/{id}/replay"))
        .token(ADMIN)
        .send()
        .await
        .problem(409, "dlq_conflict");
}

#[tokio::test]
async fn an_unreplayable_entry_is_a_conflict_and_stays_pending() {
    let hub = Hub::new();
    let id = hub.dlq.seed("drop_tables", json!({}), None);
    let srv = hub.serve().await;
    srv.req("POST", &format!("/v1/dlq/{id}/replay"))
        .token(ADMIN)
        .send()
        .await
        .problem(409, "dlq_conflict");
    assert_eq!(hub.dlq.get_sync(id.as_str()).unwrap().status, DlqStatus::Pending);
    assert_eq!(hub.upstream.calls(), 0);
}

#[tokio::test]
async fn audit_lists_redacted_records_and_readiness_reports_stores() {
    let hub = Hub::new();
    hub.audit.push(hub_core::AuditRecord {
        at: time::OffsetDateTime::UNIX_EPOCH,
        adapter: "ticketing".into(),
        operation: "create_ticket".into(),
        outcome: hub_core::AuditOutcome::Success,
        http_status: Some(201),
        attempts: 1,
        duration_ms: 12,
        request_id: None,
        conversation_id: None,
        params: json!({"subject": "s", "api_key": "canary-audit-secret"}),
        error: None,
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        calls: 1,
    });
    let circuits = || vec![("ticketing".to_owned(), hub_server::CircuitState::HalfOpen)];
    let state = hub.state.clone().with_circuits(std::sync::Arc::new(circuits));
    let srv = Server::start(state).await;
    let res = srv
        .req("GET", "/v1/audit?adapter=ticketing&since=1970-01-01T00:00:00Z&limit=5")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(res.status, 200);
    assert!(!res.text().contains("canary-audit-secret"));
    assert_eq!(res.json()["items"][0]["params"]["subject"], "s");
    assert_eq!(res.json()["items"][0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    srv.req("GET", "/v1/audit?since=yesterday")
        .token(ADMIN)
        .send()
        .await
        .problem(422, "invalid_body");

    let ready = srv.req("GET", "/readyz").send().await;
    assert_eq!(ready.status, 200);
    assert_eq!(
        ready.json(),
        json!({"status": "ready", "stores": {"audit": "ok", "dlq": "ok"}, "adapters": {"ticketing": {"circuit": "half_open"}}})
    );
    *hub.dlq.down.lock().unwrap() = true;
    let not_ready = srv.req("GET", "/readyz").send().await;
    assert_eq!(not_ready.status, 503);
    assert_eq!(not_ready.json()["stores"]["dlq"], "unavailable");
}

#[tokio::test]
async fn discard_takes_no_body_an_empty_one_or_null() {
    // Regression (found by schemathesis): the document declares the body nullable, and
    // `null` was refused with 422.
    let hub = Hub::new();
    let srv = hub.serve().await;
    for body in ["", " ", "null", "{}"] {
        let id = hub.dlq.seed("cancel_draft", json!({"draft_id": "D-1"}), None);
        let res = srv
            .req("POST", &format!("/v1/dlq/{id}/discard"))
            .token(ADMIN)
            .header("content-type", "application/json")
            .raw(body)
            .send()
            .await;
        assert_eq!(res.status, 200, "{body:?}: {}", res.text());
        assert_eq!(res.json()["status"], "discarded", "{body:?}");
    }
    let id = hub.dlq.seed("cancel_draft", json!({"draft_id": "D-1"}), None);
    srv.req("POST", &format!("/v1/dlq/{id}/discard"))
        .token(ADMIN)
        .raw("\"a reason\"")
        .send()
        .await
        .problem(422, "invalid_body");
}

/// Remembers the payload each replay was handed, and answers with it.
#[derive(Default)]
struct RecordingReplayer(std::sync::Mutex<Vec<serde_json::Value>>);

#[async_trait::async_trait]
impl hub_app::replay::Replayer for RecordingReplayer {
    async fn replay(
        &self,
        entry: &hub_core::DlqEntry,
        _: &hub_core::CallContext,
        _force: bool,
    ) -> Result<serde_json::Value, hub_app::replay::ReplayError> {
        self.0.lock().unwrap().push(entry.failure.payload.clone());
        Ok(json!({"echo": entry.failure.payload}))
    }
}

/// A payload with a secret-named key deep inside, in a case audit redaction also catches.
pub(crate) fn secret_payload() -> serde_json::Value {
    json!({"subject": "printer on fire", "metadata": {"nested": {"Api_Key": "canary-dlq-s3cret"}}})
}

#[tokio::test]
async fn entries_are_shown_redacted_while_a_replay_sends_the_stored_values() {
    let hub = Hub::new();
    let replayer = std::sync::Arc::new(RecordingReplayer::default());
    let id = hub.dlq.seed("create_ticket", secret_payload(), Some("k-1"));
    let other = hub.dlq.seed("create_ticket", secret_payload(), Some("k-2"));
    let mut state = hub.state.clone();
    state.hub.replayer = replayer.clone();
    let srv = Server::start(state).await;
    let shown = |v: &serde_json::Value| {
        assert_eq!(v["payload"]["metadata"]["nested"]["Api_Key"], "[REDACTED]", "{v}");
        assert_eq!(v["payload"]["subject"], "printer on fire", "{v}");
    };

    let list = srv.req("GET", "/v1/dlq").token(ADMIN).send().await;
    assert!(!list.text().contains("canary-dlq-s3cret"), "{}", list.text());
    let items = list.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    items.iter().for_each(shown);
    let one = srv.req("GET", &format!("/v1/dlq/{id}")).token(ADMIN).send().await;
    assert!(!one.text().contains("canary-dlq-s3cret"));
    shown(&one.json());

    let replayed = srv
        .req("POST", &format!("/v1/dlq/{id}/replay"))
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(replayed.status, 200, "{}", replayed.text());
    assert!(!replayed.text().contains("canary-dlq-s3cret"), "{}", replayed.text());
    let body = replayed.json();
    shown(&body);
    assert_eq!(body["result"]["echo"]["metadata"]["nested"]["Api_Key"], "[REDACTED]");
    // The replay itself got the stored values, and the store still holds them.
    assert_eq!(*replayer.0.lock().unwrap(), vec![secret_payload()]);
    assert_eq!(hub.dlq.get_sync(id.as_str()).unwrap().failure.payload, secret_payload());

    let discarded = srv
        .req("POST", &format!("/v1/dlq/{other}/discard"))
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(discarded.status, 200);
    assert!(!discarded.text().contains("canary-dlq-s3cret"));
    shown(&discarded.json());
}
