//! The idempotent write cycle against in-memory ports (and, where the order of store
//! calls matters, mockall).

use std::sync::Arc;
use std::time::Duration;

use hub_core::mock::MockIdempotencyStore;
use hub_core::testing::Gate;
use hub_core::*;
use mockall::Sequence;

use super::*;
use crate::dead_letter::{APPLIED_UNREADABLE, OUTCOME_UNKNOWN};
use crate::fingerprint::{derive_key, of_write};
use crate::hub::Settings;
use crate::test_support::{Rig, body, ctx};

fn key(k: &str) -> KeySource {
    KeySource::Client(IdempotencyKey::parse(k).unwrap())
}

fn draft() -> WriteOp {
    WriteOp::CreateDraft(NewDraft {
        customer_id: CustomerId::parse("C-1").unwrap(),
        money: Money::new("500.10".parse().unwrap(), Currency::parse("EUR").unwrap()),
        description: "refund".into(),
        metadata: serde_json::Map::new(),
    })
}

fn comment() -> WriteOp {
    WriteOp::AddComment {
        ticket_id: TicketId::parse("T-1").unwrap(),
        comment: NewComment {
            body: "hello".into(),
            public: true,
        },
    }
}

fn ticket() -> WriteOp {
    WriteOp::CreateTicket(NewTicket {
        customer_id: CustomerId::parse("C-1").unwrap(),
        subject: "s".into(),
        description: "d".into(),
        priority: Priority::Normal,
    })
}

fn request(rid: &str, caller: &str, key: KeySource, op: WriteOp) -> WriteRequest {
    WriteRequest {
        ctx: ctx(rid),
        caller: Some(caller.to_owned()),
        key,
        op,
    }
}

#[tokio::test]
async fn a_key_answers_the_first_outcome_again_without_sending() {
    let rig = Rig::new();
    let first = rig.hub.write(request("r1", "crm", key("k-1"), draft())).await;
    assert!(!first.replayed);
    assert_eq!(body(&first)["draft_id"], "D-1");
    let again = rig.hub.write(request("r2", "crm", key("k-1"), draft())).await;
    assert!(again.replayed);
    assert_eq!(again.response, first.response);
    assert_eq!(rig.upstream.calls(), 1);
    // The upstream got the caller's key.
    assert_eq!(
        rig.upstream.contexts()[0].idempotency_key.as_ref().unwrap().as_str(),
        "k-1"
    );
}

#[tokio::test]
async fn a_key_is_bound_to_its_caller_and_request() {
    let rig = Rig::new();
    rig.hub.write(request("r1", "crm", key("k-1"), draft())).await;
    for other in [
        request("r2", "billing", key("k-1"), draft()),
        request("r3", "crm", key("k-1"), comment()),
    ] {
        let answer = rig.hub.write(other).await;
        assert_eq!(body(&answer)["failure"], "key_mismatch");
    }
    assert_eq!(rig.upstream.calls(), 1);
}

#[tokio::test]
async fn a_write_without_a_key_is_never_stored() {
    let rig = Rig::new();
    let derived = KeySource::Derived(derive_key());
    let k = derived.key().as_str().to_owned();
    rig.hub.write(request("r1", "crm", derived, draft())).await;
    assert!(!rig.keys.holds(&k));
    assert_eq!(rig.upstream.calls(), 1);
}

#[tokio::test]
async fn a_failure_that_may_have_landed_is_dead_lettered_and_followed() {
    let rig = Rig::new();
    rig.upstream.fail_with(Error::CircuitOpen {
        retry_in: Duration::from_secs(5),
    });
    let first = rig.hub.write(request("r1", "crm", key("k-1"), draft())).await;
    let id = body(&first)["dlq_id"].as_str().unwrap().to_owned();
    assert_eq!(body(&first)["failure"], "circuit_open");
    assert_eq!(first.retry_after_s, Some(5));
    let entry = rig.dlq.entry(&id).unwrap();
    assert_eq!(
        (
            entry.failure.operation.as_str(),
            entry.failure.idempotency_key.as_deref()
        ),
        ("create_draft_transaction", Some("k-1"))
    );
    assert_eq!(entry.failure.payload["version"], 1);
    assert_eq!(rig.events.all()[0].topic, Topic::DlqEnqueued);

    // Pending: the stored failure again, without its invitation to retry.
    let held = rig.hub.write(request("r2", "crm", key("k-1"), draft())).await;
    assert!(held.replayed);
    assert_eq!(body(&held)["dlq_id"], id.as_str());
    assert!(body(&held).get("retry_after_s").is_none());

    // Replayed by the supervisor: the replay's result.
    rig.upstream.succeed();
    let replayed = rig
        .hub
        .replay(&DlqId::parse(&id).unwrap(), "ops", ctx("r3"), false)
        .await
        .unwrap();
    assert!(matches!(replayed, crate::replay::Replayed::Done(_)));
    let after = rig.hub.write(request("r4", "crm", key("k-1"), draft())).await;
    assert!(after.replayed);
    assert_eq!(body(&after)["draft_id"], "D-1");
    assert_eq!(rig.upstream.calls(), 2);
    // The replay reused the write's key.
    let last = rig.upstream.last_context();
    assert_eq!(last.idempotency_key.unwrap().as_str(), "k-1");
}

#[tokio::test]
async fn a_discarded_dead_letter_answers_the_supervisors_reason() {
    let rig = Rig::new();
    rig.upstream.fail_with(Error::ConnectionLost);
    let first = rig.hub.write(request("r1", "crm", key("k-1"), draft())).await;
    let id = DlqId::parse(body(&first)["dlq_id"].as_str().unwrap()).unwrap();
    rig.dlq.discard(&id, "ops", Some("duplicate".into())).await.unwrap();
    let after = rig.hub.write(request("r2", "crm", key("k-1"), draft())).await;
    assert!(after.replayed);
    assert_eq!(body(&after)["failure"], "discarded");
}

#[tokio::test]
async fn a_write_that_provably_did_nothing_frees_its_key() {
    let rig = Rig::new();
    rig.upstream.fail_with(Error::NotRecorded {
        reason: "audit down".into(),
    });
    let answer = rig.hub.write(request("r1", "crm", key("k-1"), draft())).await;
    assert_eq!(body(&answer)["failure"], "not_recorded");
    assert!(!rig.keys.holds("k-1"));
    assert!(rig.dlq.entries().is_empty());
}

#[tokio::test]
async fn a_refusal_is_kept_for_the_key_and_not_dead_lettered() {
    let rig = Rig::new();
    rig.upstream.fail_with(Error::Rejected {
        status: 422,
        reason: None,
    });
    rig.hub.write(request("r1", "crm", key("k-1"), draft())).await;
    assert!(rig.keys.answer("k-1").is_some());
    assert!(rig.dlq.entries().is_empty());
}

#[tokio::test]
async fn an_applied_write_with_an_unreadable_answer_is_never_resent() {
    let rig = Rig::new();
    rig.upstream.fail_with(Error::AnswerUnreadable {
        status: 200,
        reason: "draft_id: missing".into(),
    });
    let answer = rig.hub.write(request("r1", "crm", key("k-1"), draft())).await;
    assert_eq!(body(&answer)["failure"], "answer_unreadable");
    assert!(rig.dlq.entries().is_empty());
    assert!(rig.keys.answer("k-1").is_some());
    tokio::task::yield_now().await;
    let alerts = rig.inbox.all();
    assert_eq!(alerts[0].summary, APPLIED_UNREADABLE);
}

#[tokio::test]
async fn a_failure_that_cannot_be_kept_leaves_the_key_in_flight() {
    let rig = Rig::new();
    rig.upstream.fail_with(Error::Timeout);
    *rig.dlq.down.lock().unwrap() = true;
    let answer = rig.hub.write(request("r1", "crm", key("k-1"), draft())).await;
    assert_eq!(body(&answer)["failure"], "not_kept");
    assert!(rig.keys.holds("k-1"));
    assert!(rig.keys.answer("k-1").is_none());
}

#[tokio::test]
async fn nothing_is_sent_when_the_key_store_fails() {
    let rig = Rig::new();
    *rig.keys.down.lock().unwrap() = true;
    let answer = rig.hub.write(request("r1", "crm", key("k-1"), draft())).await;
    assert_eq!(
        (body(&answer)["failure"].as_str(), answer.retry_after_s),
        (Some("keys_unavailable"), Some(2))
    );
    assert_eq!(rig.upstream.calls(), 0);
}

#[tokio::test]
async fn a_second_request_while_the_first_runs_is_in_flight() {
    let rig = Rig::new();
    let gate = Arc::new(Gate::default());
    *rig.upstream.gate.lock().unwrap() = Some(gate.clone());
    let hub = rig.hub.clone();
    let first = tokio::spawn(async move { hub.write(request("r1", "crm", key("k-1"), draft())).await });
    while rig.upstream.calls() == 0 {
        tokio::task::yield_now().await;
    }
    let second = rig.hub.write(request("r2", "crm", key("k-1"), draft())).await;
    assert_eq!(body(&second)["failure"], "in_flight");
    gate.open();
    assert!(!first.await.unwrap().replayed);
}

#[tokio::test]
async fn writes_beyond_the_cap_are_refused_unsent() {
    let rig = Rig::with_settings(Settings {
        max_write_tasks: 1,
        ..Settings::default()
    });
    let gate = Arc::new(Gate::default());
    *rig.upstream.gate.lock().unwrap() = Some(gate.clone());
    let hub = rig.hub.clone();
    let first = tokio::spawn(async move { hub.write(request("r1", "crm", key("k-1"), draft())).await });
    while rig.upstream.calls() == 0 {
        tokio::task::yield_now().await;
    }
    let refused = rig.hub.write(request("r2", "crm", key("k-2"), draft())).await;
    assert_eq!(
        (body(&refused)["failure"].as_str(), refused.retry_after_s),
        (Some("overloaded"), Some(1))
    );
    assert!(!rig.keys.holds("k-2"));
    gate.open();
    first.await.unwrap();
    assert_eq!(rig.upstream.calls(), 1);
}

#[tokio::test]
async fn a_takeover_finds_a_comment_that_landed_instead_of_sending_it_again() {
    let rig = Rig::new();
    rig.upstream.fail_with(Error::NotRecorded { reason: "x".into() });
    // A first request that claimed the key and died: its claim lapses.
    rig.keys
        .claim(
            &IdempotencyKey::parse("k-1").unwrap(),
            &of_write(&comment(), Some("crm")),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    rig.keys.lapse("k-1");
    *rig.upstream.comment_lookup.lock().unwrap() = Some(CommentLookup::Found(CreatedComment {
        comment_id: CommentId::parse("C-77").unwrap(),
    }));
    let answer = rig.hub.write(request("r2", "crm", key("k-1"), comment())).await;
    assert_eq!(body(&answer)["comment_id"], "C-77");
    assert_eq!(rig.upstream.calls(), 0);
    assert!(rig.keys.answer("k-1").is_some());
}

#[tokio::test]
async fn a_takeover_of_an_unkeyed_create_waits_for_the_supervisor() {
    let rig = Rig::new();
    rig.keys
        .claim(
            &IdempotencyKey::parse("k-1").unwrap(),
            &of_write(&ticket(), Some("crm")),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    rig.keys.lapse("k-1");
    let answer = rig.hub.write(request("r2", "crm", key("k-1"), ticket())).await;
    assert_eq!(body(&answer)["failure"], "outcome_unknown");
    assert_eq!(rig.upstream.calls(), 0);
    let entry = &rig.dlq.entries()[0];
    assert_eq!(entry.failure.error_code, OUTCOME_UNKNOWN);
    // A plain replay refuses; a forced one sends.
    let refused = rig.hub.replay(&entry.id, "ops", ctx("r3"), false).await.unwrap();
    assert!(matches!(
        refused,
        crate::replay::Replayed::Failed {
            error: crate::replay::ReplayError::OutcomeUnknown,
            ..
        }
    ));
    assert_eq!(rig.upstream.calls(), 0);
    let forced = rig.hub.replay(&entry.id, "ops", ctx("r4"), true).await.unwrap();
    assert!(matches!(forced, crate::replay::Replayed::Done(_)));
    assert_eq!(rig.upstream.calls(), 1);
}

#[tokio::test]
async fn the_key_store_is_claimed_before_the_send_and_completed_after() {
    // The order of the store's calls is the contract: claim, (send), complete.
    let rig = Rig::new();
    let mut store = MockIdempotencyStore::new();
    let mut seq = Sequence::new();
    store
        .expect_claim()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(Claim::Acquired(ClaimToken("t-1".into()))));
    store
        .expect_complete()
        .withf(|k, t, answer| k.as_str() == "k-1" && t.0 == "t-1" && answer.body.starts_with(b"{"))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    store.expect_release().never();
    let mut hub = rig.hub.clone();
    hub.services.idempotency = Arc::new(store);
    hub.write(request("r1", "crm", key("k-1"), draft())).await;
    assert_eq!(rig.upstream.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn recording_an_outcome_outlasts_a_brief_store_outage() {
    let rig = Rig::new();
    let mut store = MockIdempotencyStore::new();
    store
        .expect_claim()
        .returning(|_, _, _| Ok(Claim::Acquired(ClaimToken("t-1".into()))));
    let mut failures = 2;
    store.expect_complete().times(3).returning(move |_, _, _| {
        if failures > 0 {
            failures -= 1;
            Err(StoreError::Unavailable { reason: "blip".into() })
        } else {
            Ok(())
        }
    });
    let mut hub = rig.hub.clone();
    hub.services.idempotency = Arc::new(store);
    hub.write(request("r1", "crm", key("k-1"), draft())).await;
}

#[tokio::test]
async fn an_upstream_the_hub_lacks_refuses_unsent_and_frees_the_key() {
    let rig = Rig::new();
    let mut hub = rig.hub.clone();
    hub.ports = crate::ports::Ports::default();
    let answer = hub.write(request("r1", "crm", key("k-1"), ticket())).await;
    let b = body(&answer);
    assert_eq!(
        (b["failure"].as_str(), answer.response.status),
        (Some("invalid_input"), 422)
    );
    assert!(b["detail"].as_str().unwrap().contains("ticketing"), "{b}");
    assert!(!rig.keys.holds("k-1"));
    assert!(rig.dlq.entries().is_empty());
}

/// What one step of the model does.
#[derive(Debug, Clone)]
enum Step {
    /// A write with key `0..6` (a ticket create for `0..3`, else a comment), the
    /// upstream answering `1` (see [`outcome`]).
    Write(usize, u8),
    /// The dead-letter queue goes down (`true`) or comes back.
    DlqDown(bool),
    /// Key `0..6`'s in-flight claim lapses (its holder died).
    Lapse(usize),
    /// The supervisor replays every pending entry (unforced), the upstream answering `1`.
    ReplayAll(u8),
}

/// The upstream's answer: success, or an error of each delivery kind.
fn outcome(n: u8) -> Option<Error> {
    match n % 6 {
        0 => None,
        1 => Some(Error::Timeout),
        2 => Some(Error::CircuitOpen {
            retry_in: Duration::from_secs(1),
        }),
        3 => Some(Error::Rejected {
            status: 422,
            reason: None,
        }),
        4 => Some(Error::NotRecorded { reason: "slow".into() }),
        _ => Some(Error::AnswerUnreadable {
            status: 201,
            reason: "ticket: missing".into(),
        }),
    }
}

/// Whether a send answered this way may have taken effect upstream.
fn may_have_applied(answer: &Option<Error>) -> bool {
    answer
        .as_ref()
        .is_none_or(|e| matches!(e.delivery(), Delivery::Unknown | Delivery::Applied))
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        6 => (0..6usize, any::<u8>()).prop_map(|(k, o)| Step::Write(k, o)),
        1 => any::<bool>().prop_map(Step::DlqDown),
        1 => (0..6usize).prop_map(Step::Lapse),
        1 => any::<u8>().prop_map(Step::ReplayAll),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]

    /// Ticket creates and comments at an upstream that ignores keys and cannot be asked:
    /// whatever the sequence of answers, store outages, lapsed claims and unforced
    /// replays, once a send may have taken effect nothing is sent again for that key.
    #[test]
    fn nothing_that_may_have_landed_is_sent_twice(steps in proptest::collection::vec(step(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let rig = Rig::new();
            // Per key: the answers of the sends made for it, in order.
            let mut sends: std::collections::BTreeMap<String, Vec<Option<Error>>> = Default::default();
            let mut sent_for = |rig: &Rig, key: &str, before: usize, answer: Option<Error>| {
                if rig.upstream.calls() > before {
                    sends.entry(key.to_owned()).or_default().push(answer);
                }
            };
            for (n, s) in steps.into_iter().enumerate() {
                match s {
                    Step::Write(k, o) => {
                        let answer = outcome(o);
                        *rig.upstream.fail.lock().unwrap() = answer.clone();
                        let before = rig.upstream.calls();
                        let key_name = format!("k-{k}");
                        let op = if k < 3 { ticket() } else { comment() };
                        rig.hub.write(request(&format!("r-{n}"), "crm", key(&key_name), op)).await;
                        sent_for(&rig, &key_name, before, answer);
                    }
                    Step::DlqDown(down) => *rig.dlq.down.lock().unwrap() = down,
                    Step::Lapse(k) => rig.keys.lapse(&format!("k-{k}")),
                    Step::ReplayAll(o) => {
                        let answer = outcome(o);
                        *rig.upstream.fail.lock().unwrap() = answer.clone();
                        for entry in rig.dlq.entries().into_iter().filter(|e| e.status == DlqStatus::Pending) {
                            let before = rig.upstream.calls();
                            let _ = rig.hub.replay(&entry.id, "ops", ctx(&format!("replay-{n}")), false).await;
                            let key_name = entry.failure.idempotency_key.clone().unwrap_or_default();
                            sent_for(&rig, &key_name, before, answer.clone());
                        }
                    }
                }
            }
            for (key, answers) in sends {
                if let Some(first) = answers.iter().position(may_have_applied) {
                    assert_eq!(
                        answers.len(),
                        first + 1,
                        "{key}: sent again after a send that may have landed: {answers:?}"
                    );
                }
            }
        });
    }
}
