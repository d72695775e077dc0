//! The idempotency store's behaviour, on both backends.

use std::time::Duration;

use bytes::Bytes;
use hub_core::{Claim, ClaimToken, Fingerprint, IdempotencyKey, IdempotencyStore, StoreError, StoredResponse};

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

/// The token of a claim that must be a fresh acquisition.
pub(crate) fn acquired(claim: Claim) -> ClaimToken {
    match claim {
        Claim::Acquired(token) => token,
        other => panic!("expected an acquired claim, got {other:?}"),
    }
}

async fn a_key_is_claimed_once_and_answers_replays(env: Env) {
    let keys = &env.stores.idempotency;
    let k = key("commit-42");
    let token = acquired(keys.claim(&k, &fp("a"), LEASE).await.unwrap());
    assert_eq!(keys.claim(&k, &fp("a"), LEASE).await.unwrap(), Claim::InFlight);
    assert_eq!(keys.claim(&k, &fp("b"), LEASE).await.unwrap(), Claim::Mismatch);
    keys.complete(&k, &token, &response(201)).await.unwrap();
    assert_eq!(
        keys.claim(&k, &fp("a"), LEASE).await.unwrap(),
        Claim::Completed(response(201))
    );
    assert_eq!(keys.claim(&k, &fp("b"), LEASE).await.unwrap(), Claim::Mismatch);
    assert!(matches!(
        keys.complete(&k, &token, &response(200)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        keys.complete(&key("never-claimed"), &token, &response(200)).await,
        Err(StoreError::NotFound)
    );
}

/// A lapsed lease is taken over by the same request only, as a takeover (the first may
/// have taken effect), with a new token: the stale holder can then neither complete nor
/// release the newer claim.
async fn a_lapsed_lease_is_taken_over_by_the_same_request_only(env: Env) {
    let keys = &env.stores.idempotency;
    let k = key("create-7");
    let stale = acquired(keys.claim(&k, &fp("a"), LEASE).await.unwrap());
    env.clock.advance(LEASE - Duration::from_millis(1));
    assert_eq!(keys.claim(&k, &fp("a"), LEASE).await.unwrap(), Claim::InFlight);
    env.clock.advance(Duration::from_millis(1));
    assert_eq!(keys.claim(&k, &fp("b"), LEASE).await.unwrap(), Claim::Mismatch);
    let Claim::TakenOver(current) = keys.claim(&k, &fp("a"), LEASE).await.unwrap() else {
        panic!("a lapsed claim is a takeover");
    };
    assert_ne!(current, stale);
    assert_eq!(keys.claim(&k, &fp("a"), LEASE).await.unwrap(), Claim::InFlight);
    // The first holder finishing late cannot complete or release the newer claim.
    assert!(matches!(
        keys.complete(&k, &stale, &response(502)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        keys.release(&k, &stale).await,
        Err(StoreError::Conflict { .. })
    ));
    keys.complete(&k, &current, &response(201)).await.unwrap();
    assert_eq!(
        keys.claim(&k, &fp("a"), LEASE).await.unwrap(),
        Claim::Completed(response(201))
    );
}

async fn a_released_key_can_be_used_again(env: Env) {
    let keys = &env.stores.idempotency;
    let k = key("comment-1");
    let first = acquired(keys.claim(&k, &fp("a"), LEASE).await.unwrap());
    keys.release(&k, &first).await.unwrap();
    let second = acquired(keys.claim(&k, &fp("b"), LEASE).await.unwrap());
    assert!(matches!(
        keys.release(&k, &first).await,
        Err(StoreError::Conflict { .. })
    ));
    keys.complete(&k, &second, &response(201)).await.unwrap();
    assert!(matches!(
        keys.release(&k, &second).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        keys.claim(&k, &fp("b"), LEASE).await.unwrap(),
        Claim::Completed(response(201))
    );
    keys.release(&key("unknown"), &second).await.unwrap();
}

async fn records_expire_after_the_retention_and_are_swept(env: Env) {
    let keys = &env.stores.idempotency;
    let retention = env.config.idempotency_retention();
    assert_eq!(retention, Duration::from_secs(24 * 3600));
    let (old, young) = (key("old"), key("young"));
    let token = acquired(keys.claim(&old, &fp("a"), LEASE).await.unwrap());
    keys.complete(&old, &token, &response(200)).await.unwrap();
    env.clock.advance(Duration::from_secs(3600));
    acquired(keys.claim(&young, &fp("a"), LEASE).await.unwrap());

    env.clock
        .advance(retention - Duration::from_secs(3600) - Duration::from_millis(1));
    assert_eq!(keys.sweep().await.unwrap(), 0);
    assert_eq!(keys.claim(&old, &fp("b"), LEASE).await.unwrap(), Claim::Mismatch);
    env.clock.advance(Duration::from_millis(1));
    assert_eq!(keys.sweep().await.unwrap(), 1);
    // Expired: the key is new again (not a takeover), whatever it was used for.
    acquired(keys.claim(&old, &fp("b"), LEASE).await.unwrap());
    env.clock.advance(Duration::from_secs(3600));
    assert_eq!(keys.sweep().await.unwrap(), 1, "the young key goes an hour later");
}
