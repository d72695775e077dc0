//! proptest: random operation sequences on an idempotency record and on dead-letter
//! entries, checked step by step against tiny reference models, on both backends.

use std::sync::Arc;
use std::time::Duration;

use hub_core::{
    Claim, DeadLetterQueue, DlqError, DlqId, DlqStatus, IdempotencyStore, ReplayClaim, ReplayOutcome, StoreError,
};
use hub_store::clock::ManualClock;
use hub_store::{Backend, StoreConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::idempotency::{fp, key, response};
use crate::support::{Env, START, TestDb};

const RETENTION_S: u64 = 20;
const CASES: u32 = 24;

/// Runs `check` for `CASES` random inputs on one fresh database of `backend`.
fn run_model<S, F, Fut>(backend: Backend, strategy: S, check: F)
where
    S: Strategy,
    S::Value: Clone + std::fmt::Debug,
    F: Fn(Env, S::Value) -> Fut,
    Fut: Future<Output = Result<(), TestCaseError>>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db = rt.block_on(TestDb::create(backend));
    let config = StoreConfig {
        idempotency_retention_s: RETENTION_S,
        ..StoreConfig::default()
    };
    let env = rt.block_on(Env::open(&db, config, Arc::new(ManualClock::new(START))));
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |value| rt.block_on(check(env.clone(), value)));
    rt.block_on(env.stores.database.close());
    rt.block_on(db.drop_it());
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------- idempotency

/// `claim` picks one of the tokens handed out so far (a stale holder, often): fencing
/// must refuse every holder but the current one.
#[derive(Debug, Clone)]
enum KeyOp {
    Claim { other_fp: bool, lease_s: u64 },
    Complete { status: u16, claim: usize },
    Release { claim: usize },
    Sweep,
    Advance { s: u64 },
}

fn key_op() -> impl Strategy<Value = KeyOp> {
    prop_oneof![
        4 => (any::<bool>(), 1..6_u64).prop_map(|(other_fp, lease_s)| KeyOp::Claim { other_fp, lease_s }),
        2 => (prop_oneof![Just(200_u16), Just(201), Just(502)], 0..4_usize)
            .prop_map(|(status, claim)| KeyOp::Complete { status, claim }),
        1 => (0..4_usize).prop_map(|claim| KeyOp::Release { claim }),
        1 => Just(KeyOp::Sweep),
        3 => (0..9_u64).prop_map(|s| KeyOp::Advance { s }),
    ]
}

#[derive(Debug, Clone)]
struct KeyRecord {
    other_fp: bool,
    completed: Option<u16>,
    lease_until: u64,
    created: u64,
    /// Which of the handed-out tokens holds the claim.
    holder: usize,
}

/// The model's answer, comparable with the store's.
fn claim_name(c: &Claim) -> String {
    match c {
        Claim::Acquired(_) => "acquired".to_owned(),
        Claim::TakenOver(_) => "taken_over".to_owned(),
        Claim::InFlight => "in_flight".to_owned(),
        Claim::Mismatch => "mismatch".to_owned(),
        Claim::Completed(r) => format!("completed {}", r.status),
    }
}

fn unit_name(r: &Result<(), StoreError>) -> String {
    match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.code().to_owned(),
    }
}

async fn check_key(env: Env, ops: Vec<KeyOp>) -> Result<(), TestCaseError> {
    let store = &env.stores.idempotency;
    // Start from an empty table: everything earlier cases left is past the retention.
    env.clock.advance(Duration::from_secs(RETENTION_S * 10));
    store.sweep().await.unwrap();
    let k = key(&format!("k-{}", uuid::Uuid::new_v4().simple()));
    let mut now = 0_u64;
    let mut model: Option<KeyRecord> = None;
    let mut tokens: Vec<hub_core::ClaimToken> = Vec::new();
    let pick = |tokens: &[hub_core::ClaimToken], i: usize| {
        tokens
            .get(i % tokens.len().max(1))
            .cloned()
            .map(|t| (i % tokens.len().max(1), t))
            .unwrap_or((usize::MAX, hub_core::ClaimToken("never-issued".to_owned())))
    };
    for op in ops {
        match op {
            KeyOp::Claim { other_fp, lease_s } => {
                let live = model.clone().filter(|r| r.created + RETENTION_S > now);
                let next = tokens.len();
                let want = match live {
                    None => {
                        model = Some(KeyRecord {
                            other_fp,
                            completed: None,
                            lease_until: now + lease_s,
                            created: now,
                            holder: next,
                        });
                        "acquired".to_owned()
                    }
                    Some(r) if r.other_fp != other_fp => "mismatch".to_owned(),
                    Some(KeyRecord {
                        completed: Some(status),
                        ..
                    }) => format!("completed {status}"),
                    Some(r) if r.lease_until > now => "in_flight".to_owned(),
                    Some(r) => {
                        model = Some(KeyRecord {
                            lease_until: now + lease_s,
                            holder: next,
                            ..r
                        });
                        "taken_over".to_owned()
                    }
                };
                let fingerprint = fp(if other_fp { "b" } else { "a" });
                let got = store
                    .claim(&k, &fingerprint, Duration::from_secs(lease_s))
                    .await
                    .unwrap();
                prop_assert_eq!(claim_name(&got), want, "claim at {}", now);
                if let Claim::Acquired(t) | Claim::TakenOver(t) = got {
                    tokens.push(t);
                }
            }
            KeyOp::Complete { status, claim } => {
                let (index, token) = pick(&tokens, claim);
                let want = match &mut model {
                    None => "not_found",
                    Some(r) if r.completed.is_some() => "conflict",
                    Some(r) if r.holder != index => "conflict",
                    Some(r) => {
                        r.completed = Some(status);
                        "ok"
                    }
                };
                let got = store.complete(&k, &token, &response(status)).await;
                prop_assert_eq!(unit_name(&got), want, "complete at {}", now);
            }
            KeyOp::Release { claim } => {
                let (index, token) = pick(&tokens, claim);
                let want = match &model {
                    None => "ok",
                    Some(r) if r.completed.is_some() => "conflict",
                    Some(r) if r.holder != index => "conflict",
                    Some(_) => {
                        model = None;
                        "ok"
                    }
                };
                prop_assert_eq!(unit_name(&store.release(&k, &token).await), want, "release at {}", now);
            }
            KeyOp::Sweep => {
                let expired = model.as_ref().is_some_and(|r| r.created + RETENTION_S <= now);
                if expired {
                    model = None;
                }
                prop_assert_eq!(store.sweep().await.unwrap(), u64::from(expired), "sweep at {}", now);
            }
            KeyOp::Advance { s } => {
                now += s;
                env.clock.advance(Duration::from_secs(s));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- dead letters

#[derive(Debug, Clone)]
enum DlqOp {
    Enqueue,
    Claim { entry: usize, lease_s: u64 },
    Finish { claim: usize, success: bool },
    Discard { entry: usize },
    Advance { s: u64 },
}

fn dlq_op() -> impl Strategy<Value = DlqOp> {
    prop_oneof![
        2 => Just(DlqOp::Enqueue),
        4 => (0..4_usize, 1..6_u64).prop_map(|(entry, lease_s)| DlqOp::Claim { entry, lease_s }),
        3 => (0..6_usize, any::<bool>()).prop_map(|(claim, success)| DlqOp::Finish { claim, success }),
        1 => (0..4_usize).prop_map(|entry| DlqOp::Discard { entry }),
        3 => (0..9_u64).prop_map(|s| DlqOp::Advance { s }),
    ]
}

#[derive(Debug, Clone)]
struct ModelEntry {
    id: DlqId,
    status: DlqStatus,
    /// The live claim: its number and when it lapses.
    claim: Option<(usize, u64)>,
    attempts: u32,
}

impl ModelEntry {
    fn claimed(&self, now: u64) -> bool {
        self.claim.is_some_and(|(_, until)| until > now)
    }

    fn conflict(&self, now: u64) -> String {
        format!("conflict {:?} {}", self.status, self.claimed(now))
    }
}

fn dlq_name<T>(r: &Result<T, DlqError>) -> String {
    match r {
        Ok(_) => "ok".to_owned(),
        Err(DlqError::Conflict { status, claimed }) => format!("conflict {status:?} {claimed}"),
        Err(e) => format!("{e}"),
    }
}

async fn check_dlq(env: Env, ops: Vec<DlqOp>) -> Result<(), TestCaseError> {
    let dlq = &env.stores.dlq;
    let pending_before = dlq.pending_count().await.unwrap();
    let mut now = 0_u64;
    let mut entries: Vec<ModelEntry> = Vec::new();
    // Every claim granted: the entry it was on and the store's token.
    let mut claims: Vec<(usize, ReplayClaim)> = Vec::new();
    for op in ops {
        match op {
            DlqOp::Enqueue => {
                let e = dlq.enqueue(crate::dlq::failure("ticketing", 1), None).await.unwrap();
                entries.push(ModelEntry {
                    id: e.id,
                    status: DlqStatus::Pending,
                    claim: None,
                    attempts: 3,
                });
            }
            DlqOp::Claim { entry, lease_s } => {
                let Some(m) = entries.get_mut(entry) else { continue };
                let want = if m.status != DlqStatus::Pending || m.claimed(now) {
                    m.conflict(now)
                } else {
                    m.claim = Some((claims.len(), now + lease_s));
                    "ok".to_owned()
                };
                let got = dlq.claim_replay(&m.id, "op", Duration::from_secs(lease_s)).await;
                prop_assert_eq!(dlq_name(&got), want, "claim at {}", now);
                if let Ok(claim) = got {
                    claims.push((entry, claim));
                }
            }
            DlqOp::Finish { claim, success } => {
                let Some((entry, held)) = claims.get(claim) else {
                    continue;
                };
                let m = &mut entries[*entry];
                let mine = m.claim.is_some_and(|(n, until)| n == claim && until > now);
                let want = if m.status == DlqStatus::Pending && mine {
                    m.claim = None;
                    if success {
                        m.status = DlqStatus::Replayed;
                    } else {
                        m.attempts += 1;
                    }
                    "ok".to_owned()
                } else {
                    m.conflict(now)
                };
                let outcome = if success {
                    ReplayOutcome::Succeeded {
                        result: serde_json::json!({"ok": true}),
                    }
                } else {
                    ReplayOutcome::Failed {
                        error: "again".to_owned(),
                        error_code: "upstream_timeout".to_owned(),
                        attempts: 1,
                    }
                };
                let got = dlq.finish_replay(held, outcome).await;
                prop_assert_eq!(dlq_name(&got), want, "finish at {}", now);
            }
            DlqOp::Discard { entry } => {
                let Some(m) = entries.get_mut(entry) else { continue };
                let want = if m.status == DlqStatus::Pending && !m.claimed(now) {
                    m.status = DlqStatus::Discarded;
                    m.claim = None;
                    "ok".to_owned()
                } else {
                    m.conflict(now)
                };
                let got = dlq.discard(&m.id, "op", None).await;
                prop_assert_eq!(dlq_name(&got), want, "discard at {}", now);
            }
            DlqOp::Advance { s } => {
                now += s;
                env.clock.advance(Duration::from_secs(s));
            }
        }
        for m in &entries {
            let stored = dlq.get(&m.id).await.unwrap().unwrap();
            prop_assert_eq!(stored.status, m.status);
            prop_assert_eq!(stored.failure.attempts, m.attempts);
        }
        let pending = entries.iter().filter(|m| m.status == DlqStatus::Pending).count() as u64;
        prop_assert_eq!(dlq.pending_count().await.unwrap(), pending_before + pending);
    }
    Ok(())
}

#[test]
fn sqlite_idempotency_record_matches_its_model() {
    run_model(Backend::Sqlite, proptest::collection::vec(key_op(), 1..40), check_key);
}

#[test]
fn postgres_idempotency_record_matches_its_model() {
    run_model(Backend::Postgres, proptest::collection::vec(key_op(), 1..40), check_key);
}

#[test]
fn sqlite_dlq_entries_match_their_model() {
    run_model(Backend::Sqlite, proptest::collection::vec(dlq_op(), 1..40), check_dlq);
}

#[test]
fn postgres_dlq_entries_match_their_model() {
    run_model(Backend::Postgres, proptest::collection::vec(dlq_op(), 1..40), check_dlq);
}
