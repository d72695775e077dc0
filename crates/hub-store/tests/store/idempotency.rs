//! The idempotency store's behaviour, on both backends.

use std::time::Duration;

use bytes::Bytes;
use hub_core::{Claim, Fingerprint, IdempotencyKey, IdempotencyStore, StoreError, StoredResponse};

use crate::support::{Env, on_both_backends};

on_both_backends!(
    a_key_is_claimed_once_and_answers_replays,
    a_lapsed_lease_is_taken_over_by_the_same_request_only,
    a_released_key_can_be_used_again,
    records_expire_after_the_retention_and_are_swept,
);

pub(crate) fn key(s: &str) -> IdempotencyKey {
    IdempotencyKey::parse(s).unwrap()
}

pub(crate) fn fp(s: &str) -> Fingerprint {
    Fingerprint(s.to_owned())
}

pub(crate) fn response(status: u16) -> StoredResponse {
    StoredResponse {
        status,
        content_type: "application/json".to_owned(),
        body: Bytes::from_static(b"{\"transaction_id\":\"T-1\",\"amount\":\"500.00\"}\x00\xff"),
    }
}

const LEASE: Duration = Duration::from_secs(30);

async fn a_key_is_claimed_once_and_answers_replays(env: Env) {
    let keys = &env.stores.idempotency;
    let k = key("commit-42");
    assert_eq!(keys.claim(&k, &fp("a"), LEASE).await.unwrap(), Claim::Acquired);
    assert_eq!(keys.claim(&k, &fp("a"), LEASE).await.unwrap(), Claim::InFlight);
    assert_eq!(keys.claim(&k, &fp("b"), LEASE).await.unwrap(), Claim::Mismatch);
    keys.complete(&k, &response(201)).await.unwrap();
    assert_eq!(
        keys.claim(&k, &fp("a"), LEASE).await.unwrap(),
        Claim::Completed(response(201))
    );
    assert_eq!(keys.claim(&k, &fp("b"), LEASE).await.unwrap(), Claim::Mismatch);
    assert!(matches!(
        keys.complete(&k, &response(200)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        keys.complete(&key("never-claimed"), &response(200)).await,
        Err(StoreError::NotFound)
    );
}

async fn a_lapsed_lease_is_taken_over_by_the_same_request_only(env: Env) {
    let keys = &env.stores.idempotency;
    let k = key("create-7");
    assert_eq!(keys.claim(&k, &fp("a"), LEASE).await.unwrap(), Claim::Acquired);
    env.clock.advance(LEASE - Duration::from_millis(1));
    assert_eq!(keys.claim(&k, &fp("a"), LEASE).await.unwrap(), Claim::InFlight);
    env.clock.advance(Duration::from_millis(1));
    assert_eq!(keys.claim(&k, &fp("b"), LEASE).await.unwrap(), Claim::Mismatch);
    assert_eq!(keys.claim(&k, &fp("a"), LEASE).await.unwrap(), Claim::Acquired);
    assert_eq!(keys.claim(&k, &fp("a"), LEASE).await.unwrap(), Claim::InFlight);
    // The first holder finishing late still completes the key (the same key went upstream).
    keys.complete(&k, &response(201)).await.unwrap();
    assert_eq!(
        keys.claim(&k, &fp("a"), LEASE).await.unwrap(),
        Claim::Completed(response(201))
    );
}

async fn a_released_key_can_be_used_again(env: Env) {
    let keys = &env.stores.idempotency;
    let k = key("comment-1");
    assert_eq!(keys.claim(&k, &fp("a"), LEASE).await.unwrap(), Claim::Acquired);
    keys.release(&k).await.unwrap();
    assert_eq!(keys.claim(&k, &fp("b"), LEASE).await.unwrap(), Claim::Acquired);
    keys.complete(&k, &response(201)).await.unwrap();
    assert!(matches!(keys.release(&k).await, Err(StoreError::Conflict { .. })));
    assert_eq!(
        keys.claim(&k, &fp("b"), LEASE).await.unwrap(),
        Claim::Completed(response(201))
    );
    keys.release(&key("unknown")).await.unwrap();
}

async fn records_expire_after_the_retention_and_are_swept(env: Env) {
    let keys = &env.stores.idempotency;
    let retention = env.config.idempotency_retention();
    assert_eq!(retention, Duration::from_secs(24 * 3600));
    let (old, young) = (key("old"), key("young"));
    assert_eq!(keys.claim(&old, &fp("a"), LEASE).await.unwrap(), Claim::Acquired);
    keys.complete(&old, &response(200)).await.unwrap();
    env.clock.advance(Duration::from_secs(3600));
    assert_eq!(keys.claim(&young, &fp("a"), LEASE).await.unwrap(), Claim::Acquired);

    env.clock
        .advance(retention - Duration::from_secs(3600) - Duration::from_millis(1));
    assert_eq!(keys.sweep().await.unwrap(), 0);
    assert_eq!(keys.claim(&old, &fp("b"), LEASE).await.unwrap(), Claim::Mismatch);
    env.clock.advance(Duration::from_millis(1));
    assert_eq!(keys.sweep().await.unwrap(), 1);
    // Expired: the key is new again, whatever it was used for.
    assert_eq!(keys.claim(&old, &fp("b"), LEASE).await.unwrap(), Claim::Acquired);
    env.clock.advance(Duration::from_secs(3600));
    assert_eq!(keys.sweep().await.unwrap(), 1, "the young key goes an hour later");
}
