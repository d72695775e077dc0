//! The webhook-id memory's behaviour, on both backends.

use std::time::Duration;

use crate::support::{Env, on_both_backends};

on_both_backends!(a_webhook_id_is_new_once_until_its_memory_expires);

async fn a_webhook_id_is_new_once_until_its_memory_expires(env: Env) {
    let ids = &env.stores.webhook_ids;
    let ttl = Duration::from_secs(600);
    assert!(ids.remember("msg_1", ttl).await.unwrap());
    assert!(!ids.remember("msg_1", ttl).await.unwrap());
    assert!(ids.remember("msg_2", ttl).await.unwrap());
    env.clock.advance(ttl - Duration::from_millis(1));
    assert!(!ids.remember("msg_1", ttl).await.unwrap());
    assert_eq!(ids.sweep().await.unwrap(), 0);
    env.clock.advance(Duration::from_millis(1));
    assert_eq!(ids.sweep().await.unwrap(), 2);
    assert!(ids.remember("msg_1", ttl).await.unwrap());
    env.clock.advance(ttl);
    assert!(
        ids.remember("msg_1", ttl).await.unwrap(),
        "expired but not swept counts as new"
    );
}
