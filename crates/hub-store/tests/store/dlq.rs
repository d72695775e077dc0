//! The dead-letter queue's behaviour, on both backends.

use std::time::Duration;

use hub_core::{DeadLetterQueue, DlqError, DlqFilter, DlqId, DlqStatus, NewDlqEntry, ReplayOutcome, StoreError};
use serde_json::json;

use crate::support::{Env, START, on_both_backends};

on_both_backends!(
    an_entry_round_trips_exactly,
    listing_is_newest_first_filtered_and_paged,
    a_claim_excludes_other_replays_until_its_lease_lapses,
    a_failed_replay_stays_pending_with_the_new_error,
    discarding_is_final_and_unknown_ids_are_not_found,
    a_renewed_claim_outlives_its_first_lease,
);

/// A replay that runs long renews its claim: no second replay can take the entry past
/// the first lease, and the holder still finishes it; a lapsed claim cannot be renewed.
async fn a_renewed_claim_outlives_its_first_lease(env: Env) {
    let dlq = &env.stores.dlq;
    let id = dlq.enqueue(failure("ticketing", 1), None).await.unwrap().id;
    let lease = Duration::from_secs(30);
    let claim = dlq.claim_replay(&id, "alice", lease).await.unwrap();
    env.clock.advance(Duration::from_secs(20));
    dlq.renew_replay(&claim, lease).await.unwrap();
    env.clock.advance(Duration::from_secs(20));
    assert!(matches!(
        dlq.claim_replay(&id, "bob", lease).await,
        Err(DlqError::Conflict { claimed: true, .. })
    ));
    let done = dlq
        .finish_replay(
            &claim,
            ReplayOutcome::Succeeded {
                result: json!({"ok": true}),
            },
        )
        .await
        .unwrap();
    assert_eq!(done.status, DlqStatus::Replayed);

    let other = dlq.enqueue(failure("ticketing", 2), None).await.unwrap().id;
    let lapsed = dlq.claim_replay(&other, "alice", lease).await.unwrap();
    env.clock.advance(lease);
    assert!(
        dlq.renew_replay(&lapsed, lease).await.is_err(),
        "a lapsed claim is not renewed"
    );
}

pub(crate) fn failure(adapter: &str, n: u32) -> NewDlqEntry {
    NewDlqEntry {
        adapter: adapter.to_owned(),
        operation: "create_ticket".to_owned(),
        payload: json!({"subject": format!("Refund {n}"), "amount": "500.00", "nested": {"n": n, "big": 12345678901234567890_u64}}),
        idempotency_key: Some(format!("key-{n}")),
        error: "upstream timed out".to_owned(),
        error_code: "upstream_timeout".to_owned(),
        attempts: 3,
        request_id: Some(format!("req-{n}")),
        conversation_id: Some("conv-1".to_owned()),
        // The traceparent (since migration 0007) round-trips, and so does its absence.
        traceparent: (n % 2 == 1).then(|| {
            format!("00-0af7651916cd43dd{n:016x}-b7ad6b7169203331-01")
                .parse()
                .unwrap()
        }),
    }
}

async fn an_entry_round_trips_exactly(env: Env) {
    let dlq = &env.stores.dlq;
    let new = failure("ticketing", 1);
    let entry = dlq.enqueue(new.clone(), Some("system".to_owned())).await.unwrap();
    assert_eq!(entry.failure, new);
    assert!(entry.failure.traceparent.is_some());
    assert_eq!(entry.status, DlqStatus::Pending);
    assert_eq!(entry.created_at, START);
    assert_eq!(entry.acted_by.as_deref(), Some("system"));
    assert_eq!(entry.result, None);
    assert_eq!(dlq.get(&entry.id).await.unwrap(), Some(entry.clone()));
    let anonymous = dlq.enqueue(failure("ticketing", 2), None).await.unwrap();
    assert_eq!((anonymous.acted_by, anonymous.acted_at), (None, None));
    let untraced = dlq.get(&anonymous.id).await.unwrap().unwrap();
    assert_eq!(untraced.failure, failure("ticketing", 2));
    assert_eq!(untraced.failure.traceparent, None);
    assert_eq!(dlq.pending_count().await.unwrap(), 2);
}

async fn listing_is_newest_first_filtered_and_paged(env: Env) {
    let dlq = &env.stores.dlq;
    let mut ids = Vec::new();
    for n in 0..7 {
        // Two entries per instant, so ties on the time are broken by the id.
        if n % 2 == 0 {
            env.clock.advance(Duration::from_secs(1));
        }
        let adapter = if n % 3 == 0 { "transaction_create" } else { "ticketing" };
        ids.push(dlq.enqueue(failure(adapter, n), None).await.unwrap().id);
    }
    let newest_first: Vec<DlqId> = ids.iter().rev().cloned().collect();

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = dlq
            .list(&DlqFilter {
                limit: 3,
                cursor: cursor.clone(),
                ..DlqFilter::default()
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().map(|e| e.id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, newest_first);

    let create_only = dlq
        .list(&DlqFilter {
            adapter: Some("transaction_create".to_owned()),
            limit: 10,
            ..DlqFilter::default()
        })
        .await
        .unwrap();
    let want: Vec<&DlqId> = [6, 3, 0].iter().map(|&i| &ids[i]).collect();
    assert_eq!(create_only.items.iter().map(|e| &e.id).collect::<Vec<_>>(), want);
    assert_eq!(create_only.next_cursor, None);

    dlq.discard(&ids[5], "ops@example.com", None).await.unwrap();
    let discarded = dlq
        .list(&DlqFilter {
            status: Some(DlqStatus::Discarded),
            ..DlqFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(discarded.items.len(), 1);
    assert_eq!(discarded.items[0].id, ids[5]);
    let pending = dlq
        .list(&DlqFilter {
            status: Some(DlqStatus::Pending),
            operation: Some("create_ticket".to_owned()),
            ..DlqFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(pending.items.len(), 6);

    let bad = dlq
        .list(&DlqFilter {
            cursor: Some("not a cursor".to_owned()),
            ..DlqFilter::default()
        })
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid { .. })), "{bad:?}");
}

async fn a_claim_excludes_other_replays_until_its_lease_lapses(env: Env) {
    let dlq = &env.stores.dlq;
    let id = dlq.enqueue(failure("ticketing", 1), None).await.unwrap().id;
    let lease = Duration::from_secs(30);
    let first = dlq.claim_replay(&id, "alice", lease).await.unwrap();
    assert_eq!(first.entry.id, id);
    let taken = DlqError::Conflict {
        status: DlqStatus::Pending,
        claimed: true,
    };
    assert_eq!(dlq.claim_replay(&id, "bob", lease).await, Err(taken.clone()));
    assert_eq!(dlq.discard(&id, "bob", None).await, Err(taken));

    env.clock.advance(lease);
    let second = dlq.claim_replay(&id, "bob", lease).await.unwrap();
    assert_ne!(second.token, first.token);
    let late = dlq
        .finish_replay(
            &first,
            ReplayOutcome::Succeeded {
                result: json!({"ticket_id": "T-1"}),
            },
        )
        .await;
    assert_eq!(
        late,
        Err(DlqError::Conflict {
            status: DlqStatus::Pending,
            claimed: true
        })
    );

    env.clock.advance(Duration::from_secs(5));
    let done = dlq
        .finish_replay(
            &second,
            ReplayOutcome::Succeeded {
                result: json!({"ticket_id": "T-2"}),
            },
        )
        .await
        .unwrap();
    assert_eq!(done.status, DlqStatus::Replayed);
    assert_eq!(done.result, Some(json!({"ticket_id": "T-2"})));
    assert_eq!(done.acted_by.as_deref(), Some("bob"));
    assert_eq!(done.acted_at, Some(START + Duration::from_secs(35)));
    assert_eq!(dlq.get(&id).await.unwrap(), Some(done));
    let again = dlq.claim_replay(&id, "carol", lease).await;
    assert_eq!(
        again,
        Err(DlqError::Conflict {
            status: DlqStatus::Replayed,
            claimed: false
        })
    );
    assert_eq!(dlq.pending_count().await.unwrap(), 0);
}

async fn a_failed_replay_stays_pending_with_the_new_error(env: Env) {
    let dlq = &env.stores.dlq;
    let id = dlq.enqueue(failure("ticketing", 1), None).await.unwrap().id;
    let claim = dlq.claim_replay(&id, "alice", Duration::from_secs(30)).await.unwrap();
    let outcome = ReplayOutcome::Failed {
        error: "upstream answered 503".to_owned(),
        error_code: "upstream_unavailable".to_owned(),
        attempts: 2,
    };
    let entry = dlq.finish_replay(&claim, outcome.clone()).await.unwrap();
    assert_eq!(entry.status, DlqStatus::Pending);
    assert_eq!(entry.failure.attempts, 5);
    assert_eq!(entry.failure.error, "upstream answered 503");
    assert_eq!(entry.failure.error_code, "upstream_unavailable");
    assert_eq!(entry.acted_by.as_deref(), Some("alice"));
    // The claim is released: finishing it again is refused, a new claim is granted at once.
    assert_eq!(
        dlq.finish_replay(&claim, outcome).await,
        Err(DlqError::Conflict {
            status: DlqStatus::Pending,
            claimed: false
        })
    );
    assert!(dlq.claim_replay(&id, "bob", Duration::from_secs(30)).await.is_ok());
}

async fn discarding_is_final_and_unknown_ids_are_not_found(env: Env) {
    let dlq = &env.stores.dlq;
    let id = dlq.enqueue(failure("ticketing", 1), None).await.unwrap().id;
    let entry = dlq
        .discard(&id, "ops", Some("customer withdrew".to_owned()))
        .await
        .unwrap();
    assert_eq!(entry.status, DlqStatus::Discarded);
    assert_eq!(entry.reason.as_deref(), Some("customer withdrew"));
    assert_eq!(entry.acted_by.as_deref(), Some("ops"));
    let final_ = DlqError::Conflict {
        status: DlqStatus::Discarded,
        claimed: false,
    };
    assert_eq!(dlq.discard(&id, "ops", None).await, Err(final_.clone()));
    assert_eq!(dlq.claim_replay(&id, "ops", Duration::from_secs(1)).await, Err(final_));

    let unknown = DlqId::parse("0000-missing").unwrap();
    assert_eq!(dlq.get(&unknown).await.unwrap(), None);
    assert_eq!(dlq.discard(&unknown, "ops", None).await, Err(DlqError::NotFound));
    assert_eq!(
        dlq.claim_replay(&unknown, "ops", Duration::from_secs(1)).await,
        Err(DlqError::NotFound)
    );
}
