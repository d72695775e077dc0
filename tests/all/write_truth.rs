//! Writes whose upstream answered 2xx in a shape the hub did not expect: a field it can do
//! without is not a failure; an answer it cannot use still means the write happened —
//! 502 `upstream_answer_unreadable`, no DLQ entry, one effect, the same answer to a retry.

use http::Method;
use hub_sim::{EffectFilter, EffectKind, FaultKind, FaultRule, System};
use hub_tests::{ADMIN_TOKEN, Hub, Options, WRITE_TOKEN};
use serde_json::{Value, json};

/// How the upstream's 2xx answer is bent.
#[derive(Debug, Clone)]
enum Bend {
    /// Fields removed (JSON pointers).
    Remove(&'static [&'static str]),
    /// A field set to a value (an extra field, or a wrong type in a needed one).
    Set(&'static str, Value),
    /// The route runs, the answer is not JSON.
    NotJson,
}

/// One write of one dialect, and what the hub answers when its upstream's answer is bent.
struct Case {
    what: &'static str,
    system: System,
    method: &'static str,
    route: &'static str,
    effect: EffectKind,
    operation: &'static str,
}

fn fault(case: &Case, bend: &Bend) -> FaultRule {
    let rule = match bend {
        Bend::Remove(pointers) => pointers
            .iter()
            .fold(FaultRule::new(FaultKind::Reshape), |r, p| r.remove(p)),
        Bend::Set(pointer, value) => FaultRule::new(FaultKind::Reshape).set(pointer, value.clone()),
        Bend::NotJson => FaultRule::new(FaultKind::MalformedJson).after_handler(),
    };
    rule.system(case.system).route(case.method, case.route).times(1)
}

fn effects(hub: &Hub, kind: EffectKind) -> usize {
    hub.sim.control().effects(&EffectFilter::kind(kind)).len()
}

async fn dlq_size(hub: &Hub) -> usize {
    let list = hub.get("/v1/dlq?status=pending&limit=100", ADMIN_TOKEN).await;
    assert_eq!(list.status, 200, "{list:?}");
    list.json()["items"].as_array().map_or(0, Vec::len)
}

/// Sends `path` with `body` under `key`, with the upstream's answer bent by `bend`, and
/// checks the contract: `ok` → a 2xx; otherwise 502 `upstream_answer_unreadable`, audited
/// `applied_unreadable`, nothing dead-lettered, exactly one effect, and a retry with the
/// same key answered the same without sending anything.
/// [`check`] of `action` (`commit`, `cancel`) on a draft made for it.
async fn on_new_draft(hub: &Hub, case: &Case, action: &str, key: &str, bend: Bend, ok: bool) -> Value {
    let id = new_draft(hub).await;
    let path = format!("/v1/transactions/drafts/{id}/{action}");
    check(hub, case, &path, json!({}), key, bend, ok).await
}

async fn check(hub: &Hub, case: &Case, path: &str, body: Value, key: &str, bend: Bend, ok: bool) -> Value {
    let label = format!("{} {bend:?}", case.what);
    let effects_before = effects(hub, case.effect);
    let requests_before = hub.sim.control().requests(&Default::default()).len();
    hub.sim.control().add_fault(fault(case, &bend)).unwrap();
    let headers = [("idempotency-key", key)];
    let first = hub.post(path, WRITE_TOKEN, body.clone(), &headers).await;
    assert_eq!(effects(hub, case.effect), effects_before + 1, "{label}: one effect");
    assert_eq!(dlq_size(hub).await, 0, "{label}: nothing dead-lettered");
    let answer = first.json();
    if ok {
        assert!((200..300).contains(&first.status), "{label}: {first:?}");
        return answer;
    }
    assert_eq!(first.status, 502, "{label}: {first:?}");
    assert_eq!(answer["code"], "upstream_answer_unreadable", "{label}");
    assert!(answer.get("dlq_id").is_none(), "{label}: {answer}");
    let detail = answer["detail"].as_str().unwrap();
    assert!(detail.contains("accepted the write"), "{label}: {detail}");
    assert!(answer["request_id"].is_string(), "{label}");
    let requests_after_first = hub.sim.control().requests(&Default::default()).len();
    assert!(requests_after_first > requests_before);

    let retry = hub.post(path, WRITE_TOKEN, body, &headers).await;
    assert_eq!(
        (retry.status, retry.json()),
        (502, answer.clone()),
        "{label}: the same answer"
    );
    assert_eq!(retry.header("idempotent-replayed"), Some("true"), "{label}");
    assert_eq!(
        hub.sim.control().requests(&Default::default()).len(),
        requests_after_first,
        "{label}: a retry with the same key sends nothing"
    );
    assert_eq!(effects(hub, case.effect), effects_before + 1, "{label}");

    let audit = hub
        .get(
            &format!("/v1/audit?operation={}&limit=100", case.operation),
            ADMIN_TOKEN,
        )
        .await;
    let records = audit.json()["items"].as_array().cloned().unwrap_or_default();
    assert!(
        records
            .iter()
            .any(|r| r["outcome"] == "applied_unreadable" && r["request_id"].as_str() == answer["request_id"].as_str()),
        "{label}: audited as applied_unreadable: {records:?}"
    );
    answer
}

fn ticket() -> Value {
    json!({"customer_id": "CUST-1001", "subject": "Refund", "description": "Please refund."})
}

async fn tickets_of(
    dialect: &'static str,
    system: System,
    create_route: &'static str,
    comment: (&'static str, &'static str),
) {
    let hub = Hub::start(Options {
        dialect,
        max_attempts: 3,
        ..Options::default()
    })
    .await;
    let create = Case {
        what: "create_ticket",
        system,
        method: "POST",
        route: create_route,
        effect: EffectKind::TicketCreated,
        operation: "create_ticket",
    };
    let id_pointer = match dialect {
        "zendesk" => "/ticket/id",
        "jira" => "/key",
        _ => "/id",
    };
    let extra = check(
        &hub,
        &create,
        "/v1/tickets",
        ticket(),
        &format!("{dialect}-t-1"),
        Bend::Set("/vendor_extra", json!({"x": [1]})),
        true,
    )
    .await;
    let ticket_id = extra["ticket_id"].as_str().unwrap().to_owned();
    check(
        &hub,
        &create,
        "/v1/tickets",
        ticket(),
        &format!("{dialect}-t-2"),
        Bend::Set(id_pointer, json!({"nested": true})),
        false,
    )
    .await;
    check(
        &hub,
        &create,
        "/v1/tickets",
        ticket(),
        &format!("{dialect}-t-3"),
        Bend::NotJson,
        false,
    )
    .await;

    let (comment_method, comment_route) = comment;
    let add = Case {
        what: "add_comment",
        system,
        method: comment_method,
        route: comment_route,
        effect: EffectKind::CommentAdded,
        operation: "add_comment",
    };
    let path = format!("/v1/tickets/{ticket_id}/comments");
    let body = json!({"comment": "Refund issued.", "is_public": true});
    check(
        &hub,
        &add,
        &path,
        body.clone(),
        &format!("{dialect}-c-1"),
        Bend::Set("/vendor_extra", json!(1)),
        true,
    )
    .await;
    let needed = match dialect {
        "zendesk" => "/audit",
        _ => "/id",
    };
    check(
        &hub,
        &add,
        &path,
        body.clone(),
        &format!("{dialect}-c-2"),
        Bend::Set(needed, json!([1, 2])),
        false,
    )
    .await;
    check(&hub, &add, &path, body, &format!("{dialect}-c-3"), Bend::NotJson, false).await;
    hub.stop().await;
}

#[tokio::test]
async fn generic_ticket_writes_accepted_upstream_are_never_failures_to_replay() {
    tickets_of(
        "generic",
        System::Generic,
        "/tickets",
        ("POST", "/tickets/{id}/comments"),
    )
    .await;
}

#[tokio::test]
async fn zendesk_ticket_writes_accepted_upstream_are_never_failures_to_replay() {
    tickets_of(
        "zendesk",
        System::Zendesk,
        "/api/v2/tickets.json",
        ("PUT", "/api/v2/tickets/{id}"),
    )
    .await;
}

#[tokio::test]
async fn jira_ticket_writes_accepted_upstream_are_never_failures_to_replay() {
    tickets_of(
        "jira",
        System::Jira,
        "/rest/api/3/issue",
        ("POST", "/rest/api/3/issue/{key}/comment"),
    )
    .await;
}

fn draft() -> Value {
    json!({"customer_id": "CUST-1001", "amount": "250.00", "currency": "EUR", "description": "refund"})
}

async fn new_draft(hub: &Hub) -> String {
    let d = hub.post("/v1/transactions/drafts", WRITE_TOKEN, draft(), &[]).await;
    assert_eq!(d.status, 201, "{d:?}");
    d.json()["draft_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn transaction_writes_accepted_upstream_are_never_failures_to_replay() {
    let hub = Hub::start(Options::default()).await;
    let create = Case {
        what: "create_draft_transaction",
        system: System::Sales,
        method: "POST",
        route: "/transactions/drafts",
        effect: EffectKind::DraftCreated,
        operation: "create_draft_transaction",
    };
    // What the hub asked for may be left out of the answer: it is taken from the request.
    let d = check(
        &hub,
        &create,
        "/v1/transactions/drafts",
        draft(),
        "d-1",
        Bend::Remove(&["/amount", "/currency"]),
        true,
    )
    .await;
    assert_eq!(d["amount"], "250.00");
    check(
        &hub,
        &create,
        "/v1/transactions/drafts",
        draft(),
        "d-2",
        Bend::Set("/expires_at", json!(12)),
        false,
    )
    .await;
    check(
        &hub,
        &create,
        "/v1/transactions/drafts",
        draft(),
        "d-3",
        Bend::NotJson,
        false,
    )
    .await;

    let commit = Case {
        what: "commit_transaction",
        system: System::Sales,
        method: "POST",
        route: "/transactions/drafts/{id}/commit",
        effect: EffectKind::DraftCommitted,
        operation: "commit_transaction",
    };
    // The answer of the independent implementation that found this: no currency.
    let c = on_new_draft(&hub, &commit, "commit", "c-1", Bend::Remove(&["/currency"]), true).await;
    assert_eq!(c["amount"], "250.00");
    on_new_draft(
        &hub,
        &commit,
        "commit",
        "c-2",
        Bend::Set("/unknown", json!({"a": 1})),
        true,
    )
    .await;
    // An amount that is an object is not an amount, on the way out as on the way in.
    on_new_draft(
        &hub,
        &commit,
        "commit",
        "c-3",
        Bend::Set("/amount", json!({"value": "1.00"})),
        false,
    )
    .await;
    on_new_draft(&hub, &commit, "commit", "c-4", Bend::NotJson, false).await;

    let cancel = Case {
        what: "cancel_draft",
        system: System::Sales,
        method: "POST",
        route: "/transactions/drafts/{id}/cancel",
        effect: EffectKind::DraftCancelled,
        operation: "cancel_draft",
    };
    let c = on_new_draft(&hub, &cancel, "cancel", "x-1", Bend::Remove(&["/status"]), true).await;
    assert_eq!(c["status"], "cancelled");
    on_new_draft(&hub, &cancel, "cancel", "x-2", Bend::NotJson, false).await;

    // The supervisor heard that writes need reconciling.
    let alerts = hub
        .sim
        .control()
        .wait_for_notifications(1, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.body["summary"].as_str().is_some_and(|s| s.contains("reconcile"))),
        "{alerts:?}"
    );
    hub.stop().await;
}

/// An idempotency key is bound to its caller: another caller sending the same key and
/// body learns nothing of the first request and sends nothing.
#[tokio::test]
async fn another_callers_key_is_a_mismatch_that_reveals_nothing() {
    let hub = Hub::start(Options::default()).await;
    let key = [("idempotency-key", "order-123")];
    let first = hub.post("/v1/tickets", WRITE_TOKEN, ticket(), &key).await;
    assert_eq!(first.status, 201);
    let requests = hub.sim.control().requests(&Default::default()).len();
    // The admin token is another caller with the rights to write.
    let other = hub
        .send(Method::POST, "/v1/tickets", Some(ADMIN_TOKEN), Some(ticket()), &key)
        .await;
    assert_eq!(other.status, 422, "{other:?}");
    let problem = other.json();
    assert_eq!(problem["code"], "idempotency_mismatch");
    let ticket_id = first.json()["ticket_id"].as_str().unwrap().to_owned();
    assert!(!String::from_utf8_lossy(&other.body).contains(&ticket_id), "{problem}");
    assert_eq!(other.header("idempotent-replayed"), None);
    assert_eq!(hub.sim.control().requests(&Default::default()).len(), requests);
    // The first caller still gets its own answer.
    let again = hub.post("/v1/tickets", WRITE_TOKEN, ticket(), &key).await;
    assert_eq!((again.status, again.json()), (201, first.json()));
    assert_eq!(effects(&hub, EffectKind::TicketCreated), 1);
    hub.stop().await;
}

/// When the hub's own store cannot make a write's intent durable (its SQLite file locked
/// by another process), the write is refused with 503 `store_unavailable` and
/// `Retry-After`, and nothing reaches the upstream; once the lock goes, the same request
/// goes through.
#[tokio::test]
async fn a_write_whose_intent_cannot_be_recorded_is_refused_unsent() {
    use sqlx::Connection;
    let hub = Hub::start(Options {
        store: "sqlite_busy_timeout_ms = 50\naudit_write_timeout_ms = 300".to_owned(),
        ..Options::default()
    })
    .await;
    let url = format!("sqlite://{}", hub.dir.path().join("hub.sqlite3").display());
    let mut locker = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut locker).await.unwrap();

    // No Idempotency-Key: nothing but the audit record stands between it and the upstream.
    let refused = hub.post("/v1/tickets", WRITE_TOKEN, ticket(), &[]).await;
    assert_eq!(refused.status, 503, "{refused:?}");
    let problem = refused.json();
    assert_eq!(problem["code"], "store_unavailable");
    assert_eq!(refused.header("retry-after"), Some("2"));
    assert!(problem.get("dlq_id").is_none(), "{problem}");
    assert_eq!(
        hub.sim
            .control()
            .requests(&hub_sim::RequestFilter {
                system: Some(System::Generic),
                ..Default::default()
            })
            .len(),
        0,
        "nothing was sent"
    );

    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    drop(locker);
    let accepted = hub.post("/v1/tickets", WRITE_TOKEN, ticket(), &[]).await;
    assert_eq!(accepted.status, 201, "{accepted:?}");
    assert_eq!(effects(&hub, EffectKind::TicketCreated), 1);
    hub.stop().await;
}

/// Claims `key` for the request `op` would make as caller `platform`, with a lease that
/// has already lapsed: a holder that stopped (or could not record its outcome) mid-write.
async fn lapsed_claim(hub: &Hub, key: &str, op: &hub_app::WriteOp) {
    let fp = hub_app::fingerprint::of_write(op, Some("platform"));
    let k = hub_core::IdempotencyKey::parse(key).unwrap();
    let claim = hub
        .hub
        .state
        .hub
        .services
        .idempotency
        .claim(&k, &fp, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert!(matches!(claim, hub_core::Claim::Acquired(_)), "{claim:?}");
}

fn new_ticket() -> hub_app::WriteOp {
    hub_app::WriteOp::CreateTicket(hub_core::NewTicket {
        customer_id: hub_core::CustomerId::parse("CUST-1001").unwrap(),
        subject: "Refund".to_owned(),
        description: "Please refund.".to_owned(),
        priority: hub_core::Priority::Normal,
    })
}

fn system_requests(hub: &Hub, system: System) -> usize {
    hub.sim
        .control()
        .requests(&hub_sim::RequestFilter {
            system: Some(system),
            ..Default::default()
        })
        .len()
}

/// A lapsed claim is taken over; whether the write is sent again depends on whether the
/// first attempt could have done it already and that can be ruled out: a keyed upstream
/// deduplicates (sent); Jira's creates keep no key and cannot be looked up (not sent,
/// dead-lettered `outcome_unknown`, replayed only when forced).
#[tokio::test]
async fn a_taken_over_claim_is_resent_only_where_that_cannot_do_it_twice() {
    // Generic: the upstream honours keys, so the takeover sends (once, under the key).
    let hub = Hub::start(Options::default()).await;
    lapsed_claim(&hub, "lapsed-generic", &new_ticket()).await;
    let res = hub
        .post(
            "/v1/tickets",
            WRITE_TOKEN,
            ticket(),
            &[("idempotency-key", "lapsed-generic")],
        )
        .await;
    assert_eq!(res.status, 201, "{res:?}");
    assert_eq!(effects(&hub, EffectKind::TicketCreated), 1);
    hub.stop().await;

    // Jira: nothing is sent; the write awaits the supervisor.
    let hub = Hub::start(Options {
        dialect: "jira",
        ..Options::default()
    })
    .await;
    lapsed_claim(&hub, "lapsed-jira", &new_ticket()).await;
    let before = system_requests(&hub, System::Jira);
    let headers = [("idempotency-key", "lapsed-jira")];
    let res = hub.post("/v1/tickets", WRITE_TOKEN, ticket(), &headers).await;
    assert_eq!(res.status, 409, "{res:?}");
    let problem = res.json();
    assert_eq!(problem["code"], "idempotency_in_flight");
    let dlq_id = problem["dlq_id"].as_str().unwrap().to_owned();
    assert_eq!(system_requests(&hub, System::Jira), before, "nothing was sent");
    let again = hub.post("/v1/tickets", WRITE_TOKEN, ticket(), &headers).await;
    assert_eq!((again.status, again.json()), (409, problem.clone()));
    let entry = hub.get(&format!("/v1/dlq/{dlq_id}"), ADMIN_TOKEN).await.json();
    assert_eq!(entry["error_code"], "outcome_unknown", "{entry}");
    let refused = hub
        .send(
            Method::POST,
            &format!("/v1/dlq/{dlq_id}/replay"),
            Some(ADMIN_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert_eq!(system_requests(&hub, System::Jira), before);
    let forced = hub
        .send(
            Method::POST,
            &format!("/v1/dlq/{dlq_id}/replay?force=true"),
            Some(ADMIN_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(forced.status, 200, "{forced:?}");
    assert_eq!(effects(&hub, EffectKind::TicketCreated), 1);
    hub.stop().await;
}

/// A lapsed claim of a comment to Zendesk (no keys) is resolved by looking: absent
/// upstream, the comment is sent once.
#[tokio::test]
async fn a_taken_over_comment_is_looked_for_before_it_is_sent() {
    let hub = Hub::start(Options {
        dialect: "zendesk",
        ..Options::default()
    })
    .await;
    let created = hub.post("/v1/tickets", WRITE_TOKEN, ticket(), &[]).await;
    let id = created.json()["ticket_id"].as_str().unwrap().to_owned();
    let op = hub_app::WriteOp::AddComment {
        ticket_id: hub_core::TicketId::parse(&id).unwrap(),
        comment: hub_core::NewComment {
            body: "Refund issued.".to_owned(),
            public: true,
        },
    };
    lapsed_claim(&hub, "lapsed-comment", &op).await;
    let before = effects(&hub, EffectKind::CommentAdded);
    let res = hub
        .post(
            &format!("/v1/tickets/{id}/comments"),
            WRITE_TOKEN,
            json!({"comment": "Refund issued.", "is_public": true}),
            &[("idempotency-key", "lapsed-comment")],
        )
        .await;
    assert_eq!(res.status, 201, "{res:?}");
    assert_eq!(effects(&hub, EffectKind::CommentAdded), before + 1);
    let looked = hub
        .sim
        .control()
        .requests(&hub_sim::RequestFilter {
            system: Some(System::Zendesk),
            ..Default::default()
        })
        .iter()
        .any(|r| r.method == "GET" && r.path.contains("/audits"));
    assert!(looked, "the takeover looked for the comment first");
    hub.stop().await;
}
