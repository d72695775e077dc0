//! Two pools racing on one database: one idempotency claim and one replay claim win.

use std::time::Duration;

use hub_core::{Claim, DeadLetterQueue, DlqError, DlqStatus, IdempotencyStore};

use crate::idempotency::{fp, key};
use crate::support::{Env, on_both_backends};

on_both_backends!(
    two_pools_claiming_one_key_make_one_winner,
    two_replays_of_one_entry_make_one_winner
);

const ROUNDS: usize = 25;

async fn two_pools_claiming_one_key_make_one_winner(env: Env) {
    let (a, b) = (env.stores.idempotency.clone(), env.reopen().await.idempotency);
    for round in 0..ROUNDS {
        let k = key(&format!("race-{round}"));
        let (ka, kb) = (k.clone(), k.clone());
        let (a, b) = (a.clone(), b.clone());
        let lease = Duration::from_secs(60);
        let first = tokio::spawn(async move { a.claim(&ka, &fp("same"), lease).await.unwrap() });
        let second = tokio::spawn(async move { b.claim(&kb, &fp("same"), lease).await.unwrap() });
        let outcomes = [first.await.unwrap(), second.await.unwrap()];
        let won = outcomes.iter().filter(|c| matches!(c, Claim::Acquired(_))).count();
        let lost = outcomes.iter().filter(|c| **c == Claim::InFlight).count();
        assert_eq!((won, lost), (1, 1), "round {round}: {outcomes:?}");
    }
}

async fn two_replays_of_one_entry_make_one_winner(env: Env) {
    let (a, b) = (env.stores.dlq.clone(), env.reopen().await.dlq);
    for round in 0..ROUNDS {
        let n = u32::try_from(round).unwrap();
        let id = a.enqueue(crate::dlq::failure("ticketing", n), None).await.unwrap().id;
        let (ia, ib) = (id.clone(), id.clone());
        let (a, b) = (a.clone(), b.clone());
        let lease = Duration::from_secs(60);
        let first = tokio::spawn(async move { a.claim_replay(&ia, "alice", lease).await });
        let second = tokio::spawn(async move { b.claim_replay(&ib, "bob", lease).await });
        let outcomes = [first.await.unwrap(), second.await.unwrap()];
        let winners = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(winners, 1, "round {round}: {outcomes:?}");
        let loser = outcomes.into_iter().find_map(Result::err);
        assert_eq!(
            loser,
            Some(DlqError::Conflict {
                status: DlqStatus::Pending,
                claimed: true
            })
        );
    }
}
