//! Replaying dead letters: entries stored by earlier hubs, unknown outcomes, long replays.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hub_core::testing::{FixedTrace, Gate};
use hub_core::*;
use serde_json::Value;

use super::*;
use crate::test_support::{Rig, ctx};

/// Enqueues the stored v1 fixture's entries as an earlier hub wrote them.
async fn seed_v1(rig: &Rig) -> Vec<DlqEntry> {
    let fixture: Vec<Value> = serde_json::from_str(include_str!("../../tests/fixtures/dlq_v1.json")).unwrap();
    let mut entries = Vec::new();
    for (i, e) in fixture.into_iter().enumerate() {
        let operation = Operation::parse(e["operation"].as_str().unwrap()).unwrap();
        let failure = NewDlqEntry {
            adapter: operation.adapter().as_str().into(),
            operation: operation.as_str().into(),
            payload: e["payload"].clone(),
            idempotency_key: Some(format!("key-{i}")),
            error: "the upstream did not answer in time".into(),
            error_code: "timeout".into(),
            attempts: 3,
            request_id: Some("req-0".into()),
            conversation_id: Some("conv-0".into()),
            traceparent: None,
        };
        entries.push(rig.dlq.enqueue(failure, None).await.unwrap());
    }
    entries
}

#[tokio::test]
async fn entries_stored_in_version_1_replay() {
    let rig = Rig::new();
    *rig.upstream.keyed_creates.lock().unwrap() = true;
    // The comment is looked for first, and is not there.
    *rig.upstream.comment_lookup.lock().unwrap() = Some(CommentLookup::Absent);
    for entry in seed_v1(&rig).await {
        let replayed = rig.hub.replay(&entry.id, "ops", ctx("r-replay"), false).await.unwrap();
        let Replayed::Done(done) = replayed else {
            panic!("{} did not replay: {replayed:?}", entry.failure.operation)
        };
        assert_eq!(done.status, DlqStatus::Replayed);
        assert!(done.result.is_some());
        // Sent again with the entry's own key and conversation.
        let sent = rig.upstream.last_context();
        assert_eq!(
            sent.idempotency_key.as_ref().map(IdempotencyKey::as_str),
            entry.failure.idempotency_key.as_deref()
        );
        assert_eq!(
            sent.conversation_id.as_ref().map(ConversationId::as_str),
            Some("conv-0")
        );
    }
    assert_eq!(rig.upstream.calls(), 5);
    assert_eq!(rig.dlq.pending_count().await.unwrap(), 0);
}

#[tokio::test]
async fn a_failed_replay_keeps_the_entry_pending_with_the_new_error() {
    let rig = Rig::new();
    let entry = seed_v1(&rig).await.remove(3);
    rig.upstream.fail_with(Error::Upstream {
        status: 503,
        retry_after: None,
    });
    let replayed = rig.hub.replay(&entry.id, "ops", ctx("r"), false).await.unwrap();
    assert!(matches!(
        replayed,
        Replayed::Failed {
            error: ReplayError::Upstream(_),
            ..
        }
    ));
    let after = rig.dlq.entry(entry.id.as_str()).unwrap();
    assert_eq!(
        (after.status, after.failure.error_code.as_str(), after.failure.attempts),
        (DlqStatus::Pending, "upstream_5xx", 4)
    );
}

/// A replayed ticket create that may have landed at a system that ignores keys is, from
/// then on, replayed only when forced; a commit (keyed upstream) stays an ordinary failure.
#[tokio::test]
async fn a_replay_that_may_have_landed_where_a_resend_is_unsafe_becomes_outcome_unknown() {
    let rig = Rig::new();
    let entries = seed_v1(&rig).await;
    rig.upstream.fail_with(Error::Upstream {
        status: 503,
        retry_after: None,
    });
    for (entry, code) in [(&entries[0], "outcome_unknown"), (&entries[3], "upstream_5xx")] {
        let replayed = rig.hub.replay(&entry.id, "ops", ctx("r"), false).await.unwrap();
        assert!(
            matches!(
                replayed,
                Replayed::Failed {
                    error: ReplayError::Upstream(_),
                    ..
                }
            ),
            "{replayed:?}"
        );
        let after = rig.dlq.entry(entry.id.as_str()).unwrap();
        assert_eq!(
            (after.status, after.failure.error_code.as_str()),
            (DlqStatus::Pending, code),
            "{}",
            entry.failure.operation
        );
    }
    let refused = rig.hub.replay(&entries[0].id, "ops", ctx("r2"), false).await.unwrap();
    assert!(matches!(
        refused,
        Replayed::Failed {
            error: ReplayError::OutcomeUnknown,
            ..
        }
    ));
}

#[tokio::test]
async fn an_unreadable_payload_is_reported_not_sent() {
    let rig = Rig::new();
    let failure = NewDlqEntry {
        adapter: "transaction_create".into(),
        operation: "cancel_draft".into(),
        payload: serde_json::json!({"draft_id": "D-1", "version": 9}),
        idempotency_key: None,
        error: "x".into(),
        error_code: "timeout".into(),
        attempts: 1,
        request_id: None,
        conversation_id: None,
        traceparent: None,
    };
    let entry = rig.dlq.enqueue(failure, None).await.unwrap();
    let replayed = rig.hub.replay(&entry.id, "ops", ctx("r"), false).await.unwrap();
    assert!(matches!(
        replayed,
        Replayed::Failed {
            error: ReplayError::Unreplayable(UnreplayableError::UnknownVersion(9)),
            ..
        }
    ));
    assert_eq!(rig.upstream.calls(), 0);
}

#[tokio::test]
async fn a_comment_found_upstream_is_not_sent_again() {
    let rig = Rig::new();
    let entry = seed_v1(&rig).await.remove(1);
    *rig.upstream.comment_lookup.lock().unwrap() = Some(CommentLookup::Found(CreatedComment {
        comment_id: CommentId::parse("C-5").unwrap(),
    }));
    let Replayed::Done(done) = rig.hub.replay(&entry.id, "ops", ctx("r"), false).await.unwrap() else {
        panic!("not replayed")
    };
    assert_eq!(done.result.unwrap()["comment_id"], "C-5");
    assert_eq!(rig.upstream.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_long_replay_renews_its_claim() {
    let rig = Rig::with_settings(crate::hub::Settings {
        replay_lease: Duration::from_secs(30),
        ..crate::hub::Settings::default()
    });
    let entry = seed_v1(&rig).await.remove(4);
    let gate = Arc::new(Gate::default());
    *rig.upstream.gate.lock().unwrap() = Some(gate.clone());
    let hub = rig.hub.clone();
    let id = entry.id.clone();
    let replay = tokio::spawn(async move { hub.replay(&id, "ops", ctx("r"), false).await });
    // Two and a half leases: renewed every third of one.
    tokio::time::sleep(Duration::from_secs(75)).await;
    gate.open();
    assert!(matches!(replay.await.unwrap().unwrap(), Replayed::Done(_)));
    assert_eq!(rig.dlq.renewals.load(Ordering::SeqCst), 7);
}

/// A dead letter keeps the trace context of the span its write failed in, and its replay
/// links to that span from its own trace; an untraced hub keeps none and links nothing.
#[tokio::test]
async fn a_replay_links_to_the_trace_of_the_write_that_failed() {
    let write_trace: TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        .parse()
        .unwrap();
    let replay_trace: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        .parse()
        .unwrap();
    let mut rig = Rig::new();
    let trace = Arc::new(FixedTrace::new(write_trace));
    rig.hub = rig.hub.clone().with_trace_context(trace.clone());
    let op = WriteOp::Cancel(DraftId::parse("D-1").unwrap());
    let entry = crate::dead_letter::enqueue(&rig.hub, &ctx("r-write"), &op, &Error::Timeout, None)
        .await
        .unwrap();
    assert_eq!(entry.failure.traceparent, Some(write_trace));
    assert!(trace.links().is_empty());

    *trace.current.lock().unwrap() = Some(replay_trace);
    let replayed = rig.hub.replay(&entry.id, "ops", ctx("r-replay"), false).await.unwrap();
    assert!(matches!(replayed, Replayed::Done(_)), "{replayed:?}");
    assert_eq!(trace.links(), [write_trace]);

    let untraced = Rig::new();
    let entry = crate::dead_letter::enqueue(&untraced.hub, &ctx("r-write"), &op, &Error::Timeout, None)
        .await
        .unwrap();
    assert_eq!(entry.failure.traceparent, None);
    let replayed = untraced
        .hub
        .replay(&entry.id, "ops", ctx("r-replay"), false)
        .await
        .unwrap();
    assert!(matches!(replayed, Replayed::Done(_)), "{replayed:?}");
}
