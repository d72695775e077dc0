//! Comments to upstreams that keep no idempotency key (Zendesk, Jira): after a lost
//! answer the hub looks for the comment upstream before anything sends it again.

use http::Method;
use hub_sim::{EffectFilter, EffectKind, FaultKind, FaultRule, System};
use hub_tests::{ADMIN_TOKEN, Hub, Options, WRITE_TOKEN};
use serde_json::{Value, json};

/// A dialect's comment route and the route the hub reads comments back through.
struct Vendor {
    dialect: &'static str,
    system: System,
    comment: (&'static str, &'static str),
    read_back: &'static str,
}

const ZENDESK: Vendor = Vendor {
    dialect: "zendesk",
    system: System::Zendesk,
    comment: ("PUT", "/api/v2/tickets/{id}"),
    read_back: "/api/v2/tickets/{id}/audits.json",
};

const JIRA: Vendor = Vendor {
    dialect: "jira",
    system: System::Jira,
    comment: ("POST", "/rest/api/3/issue/{key}/comment"),
    read_back: "/rest/api/3/issue/{key}/comment",
};

fn comments(hub: &Hub) -> usize {
    hub.sim
        .control()
        .effects(&EffectFilter::kind(EffectKind::CommentAdded))
        .len()
}

async fn start(v: &Vendor) -> (Hub, String) {
    let hub = Hub::start(Options {
        dialect: v.dialect,
        // One attempt per call and short waits: the lookups fail fast when told to.
        max_attempts: 1,
        attempt_ms: 2_000,
        ..Options::default()
    })
    .await;
    let created = hub
        .post(
            "/v1/tickets",
            WRITE_TOKEN,
            json!({"customer_id": "CUST-1001", "subject": "Refund", "description": "Please refund."}),
            &[],
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.json()["ticket_id"].as_str().unwrap().to_owned();
    (hub, id)
}

fn fault(v: &Vendor, kind: FaultKind, route: (&str, &str)) -> FaultRule {
    FaultRule::new(kind).system(v.system).route(route.0, route.1)
}

async fn comment(hub: &Hub, ticket: &str, key: &str) -> hub_tests::Resp {
    hub.post(
        &format!("/v1/tickets/{ticket}/comments"),
        WRITE_TOKEN,
        json!({"comment": "Refund issued.", "is_public": true}),
        &[("idempotency-key", key)],
    )
    .await
}

async fn replay(hub: &Hub, dlq_id: &str, query: &str) -> hub_tests::Resp {
    hub.send(
        Method::POST,
        &format!("/v1/dlq/{dlq_id}/replay{query}"),
        Some(ADMIN_TOKEN),
        None,
        &[],
    )
    .await
}

/// The answer is lost after the comment was stored: the hub finds it at once and
/// answers with its id; nothing is sent twice, nothing is dead-lettered.
async fn a_lost_answer_is_found_at_once(v: &Vendor) {
    let (hub, ticket) = start(v).await;
    let before = comments(&hub);
    hub.sim
        .control()
        .add_fault(fault(v, FaultKind::Reset, v.comment).after_handler().times(1))
        .unwrap();
    let res = comment(&hub, &ticket, &format!("{}-found", v.dialect)).await;
    assert_eq!(res.status, 201, "{}: {res:?}", v.dialect);
    assert_eq!(comments(&hub), before + 1);
    let found = hub
        .sim
        .control()
        .effects(&EffectFilter::kind(EffectKind::CommentAdded))
        .last()
        .map(|e| e.id.clone());
    assert_eq!(res.json()["comment_id"].as_str(), found.as_deref(), "{}", v.dialect);
    let dlq = hub.get("/v1/dlq?status=pending", ADMIN_TOKEN).await;
    assert_eq!(dlq.json()["items"], json!([]));
    hub.stop().await;
}

/// The answer is lost and the read-back fails too: dead-lettered. The replay finds the
/// comment, posts nothing, and settles the entry with the found comment's id.
async fn a_replay_finds_the_stored_comment(v: &Vendor) {
    let (hub, ticket) = start(v).await;
    let before = comments(&hub);
    let control = hub.sim.control();
    control
        .add_fault(fault(v, FaultKind::Reset, v.comment).after_handler().times(1))
        .unwrap();
    let lookup = control
        .add_fault(fault(v, FaultKind::Error, ("GET", v.read_back)).status(500))
        .unwrap();
    let res = comment(&hub, &ticket, &format!("{}-stored", v.dialect)).await;
    assert_eq!(res.status, 502, "{}: {res:?}", v.dialect);
    let dlq_id = res.json()["dlq_id"].as_str().unwrap().to_owned();
    assert_eq!(comments(&hub), before + 1);
    control.remove_fault(lookup);

    let replayed = replay(&hub, &dlq_id, "").await;
    assert_eq!(replayed.status, 200, "{}: {replayed:?}", v.dialect);
    let entry = replayed.json();
    assert_eq!(entry["status"], "replayed");
    let found = control
        .effects(&EffectFilter::kind(EffectKind::CommentAdded))
        .last()
        .map(|e| e.id.clone());
    assert_eq!(entry["result"]["comment_id"].as_str(), found.as_deref(), "{entry}");
    assert_eq!(comments(&hub), before + 1, "{}: the replay posted nothing", v.dialect);
    hub.stop().await;
}

/// The comment never arrived (the connection broke before the route ran) and the
/// read-back shows it absent: dead-lettered; the replay posts it exactly once.
async fn a_replay_posts_a_missing_comment_once(v: &Vendor) {
    let (hub, ticket) = start(v).await;
    let before = comments(&hub);
    hub.sim
        .control()
        .add_fault(fault(v, FaultKind::Reset, v.comment).times(1))
        .unwrap();
    let res = comment(&hub, &ticket, &format!("{}-missing", v.dialect)).await;
    assert_eq!(res.status, 502, "{}: {res:?}", v.dialect);
    let dlq_id = res.json()["dlq_id"].as_str().unwrap().to_owned();
    assert_eq!(comments(&hub), before);

    let replayed = replay(&hub, &dlq_id, "").await;
    assert_eq!(replayed.status, 200, "{}: {replayed:?}", v.dialect);
    let entry: Value = replayed.json();
    assert_eq!(entry["status"], "replayed");
    assert!(entry["result"]["comment_id"].is_string(), "{entry}");
    assert_eq!(comments(&hub), before + 1, "{}: posted once", v.dialect);
    hub.stop().await;
}

#[tokio::test]
async fn zendesk_comments_with_lost_answers_are_looked_up_not_resent() {
    a_lost_answer_is_found_at_once(&ZENDESK).await;
    a_replay_finds_the_stored_comment(&ZENDESK).await;
    a_replay_posts_a_missing_comment_once(&ZENDESK).await;
}

#[tokio::test]
async fn jira_comments_with_lost_answers_are_looked_up_not_resent() {
    a_lost_answer_is_found_at_once(&JIRA).await;
    a_replay_finds_the_stored_comment(&JIRA).await;
    a_replay_posts_a_missing_comment_once(&JIRA).await;
}

#[tokio::test]
async fn replay_force_is_true_or_false() {
    let hub = Hub::start(Options::default()).await;
    let bad = replay(&hub, "no-such-entry", "?force=maybe").await;
    assert_eq!(bad.status, 422, "{bad:?}");
    assert!(bad.json()["detail"].as_str().unwrap().starts_with("force"));
    hub.stop().await;
}
