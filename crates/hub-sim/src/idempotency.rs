//! Idempotency records: same key and same request → the stored answer; another request → refused.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::reply::Reply;

/// A request's fingerprint: SHA-256 of its route, path ids and body bytes.
pub(crate) type Fingerprint = [u8; 32];

/// Fingerprints a request from its parts (route and ids first, then the body).
pub(crate) fn fingerprint(parts: &[&[u8]]) -> Fingerprint {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// A key's record, with the time of the key's first use.
#[derive(Debug, Clone, PartialEq)]
enum Record {
    InFlight(Fingerprint, OffsetDateTime),
    Done(Fingerprint, Reply, OffsetDateTime),
}

/// When a system forgets its keys: `ttl` after their first use, as of `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expiry {
    pub(crate) now: OffsetDateTime,
    pub(crate) ttl: Duration,
}

/// What a request with a key may do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    /// First use of the key (or the earlier use failed): go ahead, then finish.
    Proceed,
    /// The key completed with this fingerprint: answer the stored reply.
    Replay(Reply),
    /// The key was used for another request.
    Mismatch,
    /// The key's first request is still running.
    InFlight,
}

/// How many keys a table keeps; beyond it the oldest completed keys are forgotten.
pub(crate) const MAX_KEYS: usize = 100_000;

/// The record table's transitions, kept free of locking so the model test can drive them.
#[derive(Debug, Default)]
pub(crate) struct Table {
    records: HashMap<String, Record>,
    /// Keys in order of first use, for forgetting the oldest.
    order: VecDeque<String>,
}

impl Table {
    /// Decides for a request with `key`; with `expiry`, a completed key first used `ttl`
    /// or longer before `now` is forgotten, so the request proceeds as a first use.
    pub(crate) fn begin_at(&mut self, key: &str, fp: Fingerprint, expiry: Option<Expiry>) -> Decision {
        if let (Some(e), Some(Record::Done(_, _, since))) = (expiry, self.records.get(key))
            && e.now - *since >= e.ttl
        {
            self.records.remove(key);
        }
        let now = expiry.map_or(OffsetDateTime::UNIX_EPOCH, |e| e.now);
        match self.records.get(key) {
            None => {
                self.records.insert(key.to_owned(), Record::InFlight(fp, now));
                self.order.push_back(key.to_owned());
                self.forget_oldest();
                Decision::Proceed
            }
            Some(Record::InFlight(..)) => Decision::InFlight,
            Some(Record::Done(stored, reply, _)) if *stored == fp => Decision::Replay(reply.clone()),
            Some(Record::Done(..)) => Decision::Mismatch,
        }
    }

    /// Bounds memory under load: forgets the oldest completed keys beyond [`MAX_KEYS`].
    fn forget_oldest(&mut self) {
        while self.records.len() > MAX_KEYS {
            let Some(oldest) = self.order.pop_front() else {
                return;
            };
            if matches!(self.records.get(&oldest), Some(Record::Done(..))) {
                self.records.remove(&oldest);
            }
        }
        if self.order.len() > 2 * MAX_KEYS {
            let records = &self.records;
            self.order.retain(|k| records.contains_key(k));
        }
    }

    /// Ends the in-flight request: a success is kept for replay, a failure frees the key.
    pub(crate) fn finish(&mut self, key: &str, reply: &Reply) {
        let Some(Record::InFlight(fp, since)) = self.records.get(key).cloned() else {
            return;
        };
        if reply.status.is_success() {
            self.records
                .insert(key.to_owned(), Record::Done(fp, reply.clone(), since));
        } else {
            self.records.remove(key);
        }
    }

    /// Frees an in-flight key whose request was dropped before finishing.
    pub(crate) fn abandon(&mut self, key: &str) {
        if matches!(self.records.get(key), Some(Record::InFlight(..))) {
            self.records.remove(key);
        }
    }
}

/// A shared record table for one system's keyed routes.
#[derive(Debug, Clone, Default)]
pub(crate) struct IdempotencyStore {
    table: Arc<Mutex<Table>>,
}

/// How a system answers the refusals (each vendor words them its own way).
pub(crate) struct Refusals {
    pub(crate) mismatch: fn() -> Reply,
    pub(crate) in_flight: fn() -> Reply,
    /// Headers added to a replayed answer.
    pub(crate) replay_headers: &'static [(&'static str, &'static str)],
    /// Headers added to a first answer.
    pub(crate) fresh_headers: &'static [(&'static str, &'static str)],
}

struct InFlightGuard {
    table: Arc<Mutex<Table>>,
    key: String,
    armed: bool,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.armed {
            self.table
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .abandon(&self.key);
        }
    }
}

impl IdempotencyStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `work` under the key's rules; without a key, just runs it.
    pub(crate) async fn run<F>(&self, key: Option<&str>, fp: Fingerprint, refusals: &Refusals, work: F) -> Reply
    where
        F: Future<Output = Reply>,
    {
        self.run_expiring(key, fp, None, refusals, work).await
    }

    /// [`IdempotencyStore::run`] for a system that forgets keys: with `expiry`, a key
    /// first used `ttl` or longer ago is new again.
    pub(crate) async fn run_expiring<F>(
        &self,
        key: Option<&str>,
        fp: Fingerprint,
        expiry: Option<Expiry>,
        refusals: &Refusals,
        work: F,
    ) -> Reply
    where
        F: Future<Output = Reply>,
    {
        let Some(key) = key else {
            return work.await;
        };
        let decision = self.lock().begin_at(key, fp, expiry);
        match decision {
            Decision::Replay(reply) => return reply.with_headers(refusals.replay_headers),
            Decision::Mismatch => return (refusals.mismatch)(),
            Decision::InFlight => return (refusals.in_flight)(),
            Decision::Proceed => {}
        }
        let mut guard = InFlightGuard {
            table: Arc::clone(&self.table),
            key: key.to_owned(),
            armed: true,
        };
        let reply = work.await;
        self.lock().finish(key, &reply);
        guard.armed = false;
        reply.with_headers(refusals.fresh_headers)
    }

    pub(crate) fn clear(&self) {
        *self.lock() = Table::default();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use http::StatusCode;
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Begin(u8, u8),
        Finish(u8, bool),
        Abandon(u8),
        /// The clock moves on by one hour.
        Tick,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..3, 0u8..2).prop_map(|(k, f)| Op::Begin(k, f)),
            (0u8..3, any::<bool>()).prop_map(|(k, ok)| Op::Finish(k, ok)),
            (0u8..3).prop_map(Op::Abandon),
            Just(Op::Tick),
        ]
    }

    /// The reference model: per key, nothing, in flight with a body id, or done with one;
    /// each with the hour of the key's first use.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Model {
        InFlight(u8, i64),
        Done(u8, i64),
    }

    proptest! {
        /// With `expiring`, keys are forgotten two hours after their first use once done.
        #[test]
        fn table_follows_the_model(ops in proptest::collection::vec(op(), 1..60), expiring in any::<bool>()) {
            const TTL_H: i64 = 2;
            let mut table = Table::default();
            let mut model: HashMap<u8, Model> = HashMap::new();
            let mut hour = 0i64;
            let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
            for op in ops {
                match op {
                    Op::Begin(k, f) => {
                        let expiry = expiring.then(|| Expiry { now: t0 + Duration::hours(hour), ttl: Duration::hours(TTL_H) });
                        let got = table.begin_at(&k.to_string(), fingerprint(&[&[f]]), expiry);
                        if let Some(Model::Done(_, since)) = model.get(&k).copied()
                            && expiring && hour - since >= TTL_H
                        {
                            model.remove(&k);
                        }
                        let want = match model.get(&k).copied() {
                            None => { model.insert(k, Model::InFlight(f, hour)); "proceed" }
                            Some(Model::InFlight(..)) => "in_flight",
                            Some(Model::Done(g, _)) if g == f => "replay",
                            Some(Model::Done(..)) => "mismatch",
                        };
                        let got = match got {
                            Decision::Proceed => "proceed",
                            Decision::InFlight => "in_flight",
                            Decision::Replay(reply) => {
                                prop_assert_eq!(reply.body.as_ref(), &[k][..]);
                                "replay"
                            }
                            Decision::Mismatch => "mismatch",
                        };
                        prop_assert_eq!(got, want);
                    }
                    Op::Finish(k, ok) => {
                        let status = if ok { StatusCode::CREATED } else { StatusCode::BAD_GATEWAY };
                        table.finish(&k.to_string(), &Reply::raw(status, vec![k]));
                        if let Some(Model::InFlight(f, since)) = model.get(&k).copied() {
                            if ok { model.insert(k, Model::Done(f, since)); } else { model.remove(&k); }
                        }
                    }
                    Op::Abandon(k) => {
                        table.abandon(&k.to_string());
                        if let Some(Model::InFlight(..)) = model.get(&k) { model.remove(&k); }
                    }
                    Op::Tick => hour += 1,
                }
            }
        }
    }

    /// A completed key is replayed until `ttl` after its first use, then forgotten: the
    /// same request proceeds again (Zendesk's keys expire).
    #[test]
    fn completed_keys_expire_after_their_ttl() {
        let mut table = Table::default();
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        let ttl = Duration::hours(2);
        let at = |d: Duration| Some(Expiry { now: t0 + d, ttl });
        let fp = fingerprint(&[b"a"]);
        assert_eq!(table.begin_at("k", fp, at(Duration::ZERO)), Decision::Proceed);
        let reply = Reply::raw(StatusCode::CREATED, b"one".to_vec());
        table.finish("k", &reply);
        let just_before = Duration::hours(2) - Duration::seconds(1);
        assert_eq!(table.begin_at("k", fp, at(just_before)), Decision::Replay(reply));
        assert_eq!(
            table.begin_at("k", fingerprint(&[b"b"]), at(just_before)),
            Decision::Mismatch
        );
        assert_eq!(table.begin_at("k", fp, at(Duration::hours(2))), Decision::Proceed);
        // An in-flight key never expires under its request.
        assert_eq!(table.begin_at("k", fp, at(Duration::hours(9))), Decision::InFlight);
        // Without an expiry, keys are kept.
        table.finish("k", &Reply::raw(StatusCode::CREATED, b"two".to_vec()));
        assert!(matches!(table.begin_at("k", fp, None), Decision::Replay(_)));
    }

    #[test]
    fn fingerprints_separate_parts() {
        assert_ne!(fingerprint(&[b"ab", b"c"]), fingerprint(&[b"a", b"bc"]));
    }
}
