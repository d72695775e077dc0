//! The admin session store's behaviour, on both backends and in memory: idle and
//! absolute expiry, the least recently used session making room, one-shot flashes,
//! sign-out, sweeping, and two instances (two pools) sharing one sign-in.

use std::sync::Arc;
use std::time::Duration;

use hub_core::ports::sessions::Flash;
use hub_core::{NewSession, SessionStore};
use hub_store::MemoryAdminSessions;
use hub_store::clock::ManualClock;

use crate::support::{Env, START, on_both_backends};

on_both_backends!(sql_sessions_follow_the_rules, another_instance_shares_the_sign_in);

const IDLE: Duration = Duration::from_secs(100);
const LIFETIME: Duration = Duration::from_secs(250);

fn session(key: &str) -> NewSession {
    NewSession {
        key: key.to_owned(),
        principal: "ops".to_owned(),
        role: "admin".to_owned(),
        token_fingerprint: format!("fp-{key}"),
        csrf: format!("csrf-{key}"),
        idle: IDLE,
        lifetime: LIFETIME,
    }
}

/// Whether `key` is live, looked up (`touch`) at each offset in seconds from its creation.
async fn lookups(store: &dyn SessionStore, clock: &ManualClock, key: &str, at: &[(u64, bool)]) -> Vec<bool> {
    clock.set(START);
    store.create(session(key), 100).await.unwrap();
    let mut seen = Vec::new();
    for (s, touch) in at {
        clock.set(START + Duration::from_secs(*s));
        seen.push(store.find(key, *touch).await.unwrap().is_some());
    }
    seen
}

/// The rules every implementation keeps, with time moved by hand.
async fn check_rules(store: &dyn SessionStore, clock: &ManualClock) {
    let t = |s| (s, true);
    // Idle expiry counts from the last use; once ended, a session stays ended.
    assert_eq!(lookups(store, clock, "idle-a", &[t(99)]).await, [true]);
    assert_eq!(lookups(store, clock, "idle-b", &[t(100)]).await, [false]);
    assert_eq!(
        lookups(store, clock, "idle-c", &[t(90), t(180), t(189)]).await,
        [true, true, true]
    );
    assert_eq!(lookups(store, clock, "idle-d", &[t(101), t(50)]).await, [false, false]);
    // Peeking does not keep a session alive.
    assert_eq!(
        lookups(store, clock, "peek", &[(60, false), (99, false), (100, false), t(50)]).await,
        [true, true, false, false]
    );
    // A busy session still ends at its lifetime.
    assert_eq!(
        lookups(store, clock, "busy", &[t(90), t(180), t(249), t(250)]).await,
        [true, true, true, false]
    );

    // What is stored comes back; unknown keys find nothing.
    clock.set(START);
    store.create(session("k1"), 100).await.unwrap();
    let found = store.find("k1", true).await.unwrap().unwrap();
    assert_eq!(
        (found.key.as_str(), found.principal.as_str(), found.role.as_str()),
        ("k1", "ops", "admin")
    );
    assert_eq!(
        (found.token_fingerprint.as_str(), found.csrf.as_str()),
        ("fp-k1", "csrf-k1")
    );
    assert!(store.find("k1x", true).await.unwrap().is_none());
    assert!(store.find("", false).await.unwrap().is_none());

    // A flash is shown once; setting one replaces an unread one; a gone session takes none.
    assert_eq!(store.take_flash("k1").await.unwrap(), None);
    store.set_flash("k1", Flash::error("first")).await.unwrap();
    store.set_flash("k1", Flash::ok("replayed")).await.unwrap();
    assert_eq!(store.take_flash("k1").await.unwrap(), Some(Flash::ok("replayed")));
    assert_eq!(store.take_flash("k1").await.unwrap(), None);
    store.set_flash("gone", Flash::ok("x")).await.unwrap();
    assert_eq!(store.take_flash("gone").await.unwrap(), None);

    // Sign-out ends it, its flash with it.
    store.set_flash("k1", Flash::ok("unread")).await.unwrap();
    store.end("k1").await.unwrap();
    assert!(store.find("k1", true).await.unwrap().is_none());
    assert_eq!(store.take_flash("k1").await.unwrap(), None);

    // Ended sessions are swept; live ones stay.
    clock.set(START);
    store.sweep().await.unwrap();
    store.create(session("old"), 100).await.unwrap();
    clock.set(START + Duration::from_secs(50));
    store.create(session("new"), 100).await.unwrap();
    let held = store.count().await.unwrap();
    clock.set(START + Duration::from_secs(120));
    assert_eq!(store.sweep().await.unwrap(), 1, "old has been idle for 120 s");
    assert_eq!(store.count().await.unwrap(), held - 1);
    assert!(store.find("new", false).await.unwrap().is_some());
    store.end("new").await.unwrap();
    assert_eq!(store.count().await.unwrap(), held - 2);
}

/// With room for two, the least recently used session makes room for a third.
async fn check_capacity(store: &dyn SessionStore, clock: &ManualClock) {
    clock.set(START);
    store.create(session("a"), 2).await.unwrap();
    clock.set(START + Duration::from_secs(1));
    store.create(session("b"), 2).await.unwrap();
    clock.set(START + Duration::from_secs(2));
    assert!(store.find("a", true).await.unwrap().is_some());
    clock.set(START + Duration::from_secs(3));
    store.create(session("c"), 2).await.unwrap();
    assert!(store.find("a", false).await.unwrap().is_some());
    assert!(store.find("b", false).await.unwrap().is_none());
    assert!(store.find("c", false).await.unwrap().is_some());
    assert_eq!(store.count().await.unwrap(), 2);
}

async fn sql_sessions_follow_the_rules(env: Env) {
    check_rules(env.stores.admin_sessions.as_ref(), &env.clock).await;
    env.clock.set(START + Duration::from_secs(10_000));
    assert!(env.stores.admin_sessions.sweep().await.is_ok());
    check_capacity(env.stores.admin_sessions.as_ref(), &env.clock).await;
}

async fn another_instance_shares_the_sign_in(env: Env) {
    let other = env.reopen().await;
    let (a, b) = (env.stores.admin_sessions.as_ref(), other.admin_sessions.as_ref());
    a.create(session("shared"), 100).await.unwrap();
    assert_eq!(b.find("shared", true).await.unwrap().unwrap().csrf, "csrf-shared");
    b.set_flash("shared", Flash::ok("done on b")).await.unwrap();
    assert_eq!(a.take_flash("shared").await.unwrap(), Some(Flash::ok("done on b")));
    assert_eq!(
        b.take_flash("shared").await.unwrap(),
        None,
        "shown once, on one instance"
    );
    // Use on one instance keeps it alive on the other.
    env.clock.advance(Duration::from_secs(90));
    assert!(b.find("shared", true).await.unwrap().is_some());
    env.clock.advance(Duration::from_secs(90));
    assert!(a.find("shared", false).await.unwrap().is_some());
    b.end("shared").await.unwrap();
    assert!(a.find("shared", true).await.unwrap().is_none(), "signed out everywhere");
    other.database.close().await;
}

#[tokio::test]
async fn memory_sessions_follow_the_same_rules() {
    let clock = Arc::new(ManualClock::new(START));
    check_rules(&MemoryAdminSessions::new(clock.clone()), &clock).await;
    check_capacity(&MemoryAdminSessions::new(clock.clone()), &clock).await;
}
