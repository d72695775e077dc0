//! In-memory fakes of the service ports, for unit tests of the layers above (feature
//! `testing`). They keep what passes through so a test can look at it, and can be told
//! to fail; they model the ports' contracts (claims, fencing tokens, final entry states)
//! without durability.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use futures_core::Stream;
use time::OffsetDateTime;

use crate::ports::invalidation::{Change, ReadInvalidation};
use crate::{
    Alert, AuditLog, AuditQuery, AuditRecord, Claim, ClaimToken, DeadLetterQueue, DlqEntry, DlqError, DlqFilter, DlqId,
    DlqStatus, Event, EventPublisher, EventStream, Fingerprint, IdempotencyKey, IdempotencyStore, NewDlqEntry,
    Notifier, Page, ReplayClaim, ReplayOutcome, StoreError, StoredResponse,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn down() -> StoreError {
    StoreError::Unavailable {
        reason: "the test's store is down".to_owned(),
    }
}

/// One key's record.
#[derive(Debug, Clone)]
struct KeyRecord {
    fingerprint: Fingerprint,
    token: ClaimToken,
    answer: Option<StoredResponse>,
    lapsed: bool,
}

/// Idempotency keys in memory, with fencing tokens; [`MemoryIdempotency::lapse`] makes
/// a claim's lease run out.
#[derive(Debug, Default)]
pub struct MemoryIdempotency {
    records: Mutex<HashMap<String, KeyRecord>>,
    claims: AtomicUsize,
    releases: AtomicUsize,
    /// While set, every call fails as unavailable.
    pub down: Mutex<bool>,
}

impl MemoryIdempotency {
    /// The answer stored for `key`, if completed.
    pub fn answer(&self, key: &str) -> Option<StoredResponse> {
        lock(&self.records).get(key).and_then(|r| r.answer.clone())
    }

    /// Whether `key` is held (claimed or completed).
    pub fn holds(&self, key: &str) -> bool {
        lock(&self.records).contains_key(key)
    }

    /// How many claims were released (a write that provably did nothing).
    pub fn releases(&self) -> usize {
        self.releases.load(Ordering::SeqCst)
    }

    /// Lets `key`'s in-flight claim lapse, as if its holder had died.
    pub fn lapse(&self, key: &str) {
        if let Some(r) = lock(&self.records).get_mut(key) {
            r.lapsed = true;
        }
    }

    fn check(&self) -> Result<(), StoreError> {
        if *lock(&self.down) { Err(down()) } else { Ok(()) }
    }
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotency {
    async fn claim(&self, key: &IdempotencyKey, fp: &Fingerprint, _: Duration) -> Result<Claim, StoreError> {
        self.check()?;
        let n = self.claims.fetch_add(1, Ordering::SeqCst);
        let token = ClaimToken(format!("{}#{n}", key.as_str()));
        let mut records = lock(&self.records);
        let Some(r) = records.get_mut(key.as_str()) else {
            records.insert(
                key.as_str().to_owned(),
                KeyRecord {
                    fingerprint: fp.clone(),
                    token: token.clone(),
                    answer: None,
                    lapsed: false,
                },
            );
            return Ok(Claim::Acquired(token));
        };
        Ok(if &r.fingerprint != fp {
            Claim::Mismatch
        } else if let Some(answer) = &r.answer {
            Claim::Completed(answer.clone())
        } else if r.lapsed {
            r.token = token.clone();
            r.lapsed = false;
            Claim::TakenOver(token)
        } else {
            Claim::InFlight
        })
    }

    async fn complete(
        &self,
        key: &IdempotencyKey,
        token: &ClaimToken,
        answer: &StoredResponse,
    ) -> Result<(), StoreError> {
        self.check()?;
        if let Some(r) = lock(&self.records).get_mut(key.as_str())
            && &r.token == token
        {
            r.answer = Some(answer.clone());
        }
        Ok(())
    }

    async fn release(&self, key: &IdempotencyKey, token: &ClaimToken) -> Result<(), StoreError> {
        self.check()?;
        let mut records = lock(&self.records);
        if records.get(key.as_str()).is_some_and(|r| &r.token == token) {
            records.remove(key.as_str());
            self.releases.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    async fn sweep(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

/// The dead-letter queue in memory.
#[derive(Debug, Default)]
pub struct MemoryDlq {
    entries: Mutex<Vec<DlqEntry>>,
    /// While set, every call fails as unavailable.
    pub down: Mutex<bool>,
    /// How many times a replay's claim was renewed.
    pub renewals: AtomicUsize,
}

impl MemoryDlq {
    /// Every entry, oldest first.
    pub fn entries(&self) -> Vec<DlqEntry> {
        lock(&self.entries).clone()
    }

    /// Entry `id`, if any.
    pub fn entry(&self, id: &str) -> Option<DlqEntry> {
        lock(&self.entries).iter().find(|e| e.id.as_str() == id).cloned()
    }

    /// Stores `failure` as a new pending entry at once (seeding a test), whatever `down` says.
    pub fn insert(&self, failure: NewDlqEntry) -> DlqEntry {
        let mut entries = lock(&self.entries);
        let n = entries.len() + 1;
        let entry = DlqEntry {
            id: DlqId::parse(&format!("dlq-{n}")).unwrap_or_else(|_| unreachable!("dlq-{n} is a valid id")),
            failure,
            created_at: OffsetDateTime::now_utc(),
            status: DlqStatus::Pending,
            result: None,
            reason: None,
            acted_by: None,
            acted_at: None,
        };
        entries.push(entry.clone());
        entry
    }

    /// Sets entry `id`'s status directly (a test's shortcut past the state machine).
    pub fn set_status(&self, id: &DlqId, status: DlqStatus) {
        if let Some(e) = lock(&self.entries).iter_mut().find(|e| &e.id == id) {
            e.status = status;
        }
    }

    fn check(&self) -> Result<(), StoreError> {
        if *lock(&self.down) { Err(down()) } else { Ok(()) }
    }

    fn pending(&self, id: &DlqId) -> Result<DlqEntry, DlqError> {
        self.check()?;
        let entry = self.entry(id.as_str()).ok_or(DlqError::NotFound)?;
        if entry.status != DlqStatus::Pending {
            return Err(DlqError::Conflict {
                status: entry.status,
                claimed: false,
            });
        }
        Ok(entry)
    }

    fn update(&self, id: &DlqId, f: impl FnOnce(&mut DlqEntry)) -> Result<DlqEntry, DlqError> {
        let mut entries = lock(&self.entries);
        let entry = entries.iter_mut().find(|e| &e.id == id).ok_or(DlqError::NotFound)?;
        f(entry);
        entry.acted_at = Some(OffsetDateTime::now_utc());
        Ok(entry.clone())
    }
}

#[async_trait]
impl DeadLetterQueue for MemoryDlq {
    async fn enqueue(&self, failure: NewDlqEntry, _: Option<String>) -> Result<DlqEntry, StoreError> {
        self.check()?;
        Ok(self.insert(failure))
    }

    async fn get(&self, id: &DlqId) -> Result<Option<DlqEntry>, StoreError> {
        self.check()?;
        Ok(self.entry(id.as_str()))
    }

    async fn list(&self, filter: &DlqFilter) -> Result<Page<DlqEntry>, StoreError> {
        self.check()?;
        let items = lock(&self.entries)
            .iter()
            .rev()
            .filter(|e| filter.status.is_none_or(|s| s == e.status))
            .filter(|e| filter.adapter.as_ref().is_none_or(|a| a == &e.failure.adapter))
            .filter(|e| filter.operation.as_ref().is_none_or(|o| o == &e.failure.operation))
            .take(usize::try_from(filter.limit).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        Ok(Page {
            items,
            next_cursor: None,
        })
    }

    async fn claim_replay(&self, id: &DlqId, actor: &str, _: Duration) -> Result<ReplayClaim, DlqError> {
        let entry = self.pending(id)?;
        Ok(ReplayClaim {
            entry,
            token: format!("replay-by-{actor}"),
        })
    }

    async fn renew_replay(&self, _: &ReplayClaim, _: Duration) -> Result<(), DlqError> {
        self.check()?;
        self.renewals.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn finish_replay(&self, claim: &ReplayClaim, outcome: ReplayOutcome) -> Result<DlqEntry, DlqError> {
        self.pending(&claim.entry.id)?;
        self.update(&claim.entry.id, |e| match outcome {
            ReplayOutcome::Succeeded { result } => {
                e.status = DlqStatus::Replayed;
                e.result = Some(result);
            }
            ReplayOutcome::Failed {
                error,
                error_code,
                attempts,
            } => {
                e.failure.error = error;
                e.failure.error_code = error_code;
                e.failure.attempts += attempts;
            }
        })
    }

    async fn discard(&self, id: &DlqId, actor: &str, reason: Option<String>) -> Result<DlqEntry, DlqError> {
        self.pending(id)?;
        self.update(id, |e| {
            e.status = DlqStatus::Discarded;
            e.reason = reason;
            e.acted_by = Some(actor.to_owned());
        })
    }

    async fn pending_count(&self) -> Result<u64, StoreError> {
        self.check()?;
        let n = lock(&self.entries)
            .iter()
            .filter(|e| e.status == DlqStatus::Pending)
            .count();
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }
}

/// An audit log in memory; queries answer newest first.
#[derive(Debug, Default)]
pub struct MemoryAudit {
    records: Mutex<Vec<AuditRecord>>,
    /// How many times it was flushed.
    pub flushes: AtomicUsize,
}

impl MemoryAudit {
    /// Every record, in order.
    pub fn records(&self) -> Vec<AuditRecord> {
        lock(&self.records).clone()
    }

    /// Adds `record` at once (seeding a test).
    pub fn push(&self, record: AuditRecord) {
        lock(&self.records).push(record);
    }
}

#[async_trait]
impl AuditLog for MemoryAudit {
    async fn record(&self, record: AuditRecord) -> Result<(), StoreError> {
        self.push(record);
        Ok(())
    }

    async fn query(&self, query: &AuditQuery) -> Result<Page<AuditRecord>, StoreError> {
        let items = lock(&self.records)
            .iter()
            .rev()
            .filter(|r| query.adapter.as_ref().is_none_or(|a| a == &r.adapter))
            .filter(|r| query.operation.as_ref().is_none_or(|o| o == &r.operation))
            .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        Ok(Page {
            items,
            next_cursor: None,
        })
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Keeps every value handed to it: published events ([`RecordingEvents`]), delivered
/// alerts ([`Inbox`]).
#[derive(Debug)]
pub struct Recorder<T>(Mutex<Vec<T>>);

impl<T> Default for Recorder<T> {
    fn default() -> Self {
        Self(Mutex::new(Vec::new()))
    }
}

impl<T: Clone> Recorder<T> {
    /// Everything kept, in order.
    pub fn all(&self) -> Vec<T> {
        lock(&self.0).clone()
    }

    fn keep(&self, value: T) {
        lock(&self.0).push(value);
    }
}

/// Keeps every published event; its subscriptions end at once.
pub type RecordingEvents = Recorder<Event>;

/// Keeps every alert.
pub type Inbox = Recorder<Alert>;

/// A stream with nothing in it.
struct Ended;

impl Stream for Ended {
    type Item = Result<Event, crate::Lagged>;
    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(None)
    }
}

#[async_trait]
impl EventPublisher for RecordingEvents {
    async fn publish(&self, event: Event) -> Result<(), StoreError> {
        self.keep(event);
        Ok(())
    }

    fn subscribe(&self) -> EventStream {
        Box::pin(Ended)
    }
}

/// Keeps every invalidation; fails them all while `down`.
#[derive(Debug, Default)]
pub struct RecordingInvalidation {
    changes: Mutex<Vec<Change>>,
    /// While set, every invalidation fails as unavailable.
    pub down: Mutex<bool>,
}

impl RecordingInvalidation {
    /// Every change invalidated, in order.
    pub fn changes(&self) -> Vec<Change> {
        lock(&self.changes).clone()
    }
}

#[async_trait]
impl ReadInvalidation for RecordingInvalidation {
    async fn invalidate(&self, change: &Change) -> Result<(), StoreError> {
        if *lock(&self.down) {
            return Err(down());
        }
        lock(&self.changes).push(change.clone());
        Ok(())
    }
}

#[async_trait]
impl Notifier for Inbox {
    async fn notify(&self, alert: &Alert) -> Result<(), StoreError> {
        self.keep(alert.clone());
        Ok(())
    }
}

/// A gate calls wait at until a test opens it (once open, it stays open).
#[derive(Debug, Default)]
pub struct Gate {
    state: Mutex<(bool, Vec<std::task::Waker>)>,
}

impl Gate {
    /// Lets every waiting and future call through.
    pub fn open(&self) {
        let wakers = {
            let mut state = lock(&self.state);
            state.0 = true;
            std::mem::take(&mut state.1)
        };
        for w in wakers {
            w.wake();
        }
    }

    /// Waits until the gate is open.
    pub fn wait(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            let mut state = lock(&self.state);
            if state.0 {
                Poll::Ready(())
            } else {
                state.1.push(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// A trace context a test sets: [`TraceContext::current`] answers what is in `current`,
/// and every link asked for is kept.
#[derive(Debug, Default)]
pub struct FixedTrace {
    /// The context every call is "in" (`None`: untraced).
    pub current: Mutex<Option<crate::TraceParent>>,
    links: Mutex<Vec<crate::TraceParent>>,
}

impl FixedTrace {
    /// Every call is in `current`.
    pub fn new(current: crate::TraceParent) -> Self {
        Self {
            current: Mutex::new(Some(current)),
            links: Mutex::new(Vec::new()),
        }
    }

    /// Every link asked for, in order.
    pub fn links(&self) -> Vec<crate::TraceParent> {
        lock(&self.links).clone()
    }
}

impl crate::TraceContext for FixedTrace {
    fn current(&self) -> Option<crate::TraceParent> {
        *lock(&self.current)
    }

    fn link_current(&self, original: &crate::TraceParent) {
        lock(&self.links).push(*original);
    }
}

/// The fixed time the fake upstream reports.
fn fake_now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_600_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn fake_id<T: std::str::FromStr>(raw: &str) -> T {
    raw.parse().unwrap_or_else(|_| unreachable!("{raw} is a valid id"))
}

/// One scriptable fake of all three upstream ports: every call succeeds with fixed
/// values, or fails with the error set; calls can be held at a [`Gate`].
#[derive(Debug, Default)]
pub struct FakeUpstream {
    /// The error every call fails with, if any.
    pub fail: Mutex<Option<crate::Error>>,
    /// The cache outcome reads report (default: a miss).
    pub cache: Mutex<Option<crate::CacheOutcome>>,
    /// What `find_comment` answers (default: it cannot be checked).
    pub comment_lookup: Mutex<Option<crate::CommentLookup>>,
    /// Whether ticket creates are deduplicated by key (default: no).
    pub keyed_creates: Mutex<bool>,
    /// Holds every call until opened.
    pub gate: Mutex<Option<std::sync::Arc<Gate>>>,
    calls: AtomicUsize,
    contexts: Mutex<Vec<crate::CallContext>>,
}

impl FakeUpstream {
    /// Fails every call with `e` from now on.
    pub fn fail_with(&self, e: crate::Error) {
        *lock(&self.fail) = Some(e);
    }

    /// Succeeds from now on.
    pub fn succeed(&self) {
        *lock(&self.fail) = None;
    }

    /// Calls made so far (reads and writes; lookups excepted).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The contexts of every call, in order.
    pub fn contexts(&self) -> Vec<crate::CallContext> {
        lock(&self.contexts).clone()
    }

    /// The last call's context.
    ///
    /// # Panics
    ///
    /// Before any call: a bug in the calling test.
    pub fn last_context(&self) -> crate::CallContext {
        self.contexts()
            .pop()
            .unwrap_or_else(|| unreachable!("no call was made"))
    }

    async fn enter(&self, ctx: &crate::CallContext) -> Result<(), crate::Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        // One attempt per call, as an adapter would report it.
        ctx.attempts.add(1);
        lock(&self.contexts).push(ctx.clone());
        let gate = lock(&self.gate).clone();
        if let Some(g) = gate {
            g.wait().await;
        }
        match lock(&self.fail).clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn outcome(&self) -> crate::CacheOutcome {
        lock(&self.cache).unwrap_or(crate::CacheOutcome::Miss)
    }
}

fn fake_transaction(id: &str) -> crate::Transaction {
    crate::Transaction {
        transaction_id: fake_id(id),
        status: crate::TransactionStatus::Completed,
        amount: fake_id("500.10"),
        currency: crate::Currency::EUR,
        created_at: fake_now(),
        completed_at: None,
    }
}

#[async_trait]
impl crate::TicketingPort for FakeUpstream {
    async fn create_ticket(
        &self,
        ctx: &crate::CallContext,
        t: &crate::NewTicket,
    ) -> Result<crate::CreatedTicket, crate::Error> {
        self.enter(ctx).await?;
        Ok(crate::CreatedTicket {
            ticket_id: fake_id(&format!("T-{}", t.customer_id)),
            url: "https://tickets.example/T-1".into(),
            status: crate::TicketStatus::New,
        })
    }

    async fn get_ticket_status(
        &self,
        ctx: &crate::CallContext,
        id: &crate::TicketId,
    ) -> Result<crate::Fetched<crate::Ticket>, crate::Error> {
        self.enter(ctx).await?;
        Ok(crate::Fetched::new(
            crate::Ticket {
                ticket_id: id.clone(),
                status: crate::TicketStatus::OnHold,
                vendor_status: "hold".into(),
                assigned_to: Some("agent@example.com".into()),
                last_updated: Some(fake_now()),
            },
            self.outcome(),
        ))
    }

    async fn add_comment(
        &self,
        ctx: &crate::CallContext,
        _: &crate::TicketId,
        _: &crate::NewComment,
    ) -> Result<crate::CreatedComment, crate::Error> {
        self.enter(ctx).await?;
        Ok(crate::CreatedComment {
            comment_id: fake_id("C-77"),
        })
    }

    async fn find_comment(
        &self,
        _: &crate::CallContext,
        _: &crate::TicketId,
    ) -> Result<crate::CommentLookup, crate::Error> {
        Ok(lock(&self.comment_lookup)
            .clone()
            .unwrap_or(crate::CommentLookup::Uncheckable))
    }

    fn creates_honour_keys(&self) -> bool {
        *lock(&self.keyed_creates)
    }
}

#[async_trait]
impl crate::TransactionStatusPort for FakeUpstream {
    async fn get_transaction_status(
        &self,
        ctx: &crate::CallContext,
        id: &crate::TransactionId,
    ) -> Result<crate::Fetched<crate::Transaction>, crate::Error> {
        self.enter(ctx).await?;
        Ok(crate::Fetched::new(fake_transaction(id.as_str()), self.outcome()))
    }

    async fn get_transaction_history(
        &self,
        ctx: &crate::CallContext,
        _: &crate::CustomerId,
        limit: crate::HistoryLimit,
    ) -> Result<crate::Fetched<Vec<crate::Transaction>>, crate::Error> {
        self.enter(ctx).await?;
        let n = usize::try_from(limit.get().min(2)).unwrap_or(2);
        Ok(crate::Fetched::new(
            (0..n).map(|i| fake_transaction(&format!("TX-{i}"))).collect(),
            self.outcome(),
        ))
    }
}

#[async_trait]
impl crate::TransactionCreatePort for FakeUpstream {
    async fn create_draft_transaction(
        &self,
        ctx: &crate::CallContext,
        d: &crate::NewDraft,
    ) -> Result<crate::Draft, crate::Error> {
        self.enter(ctx).await?;
        Ok(crate::Draft {
            draft_id: fake_id("D-1"),
            status: crate::DraftStatus::PendingConfirmation,
            amount: d.money.amount,
            currency: d.money.currency,
            expires_at: fake_now(),
        })
    }

    async fn commit_transaction(
        &self,
        ctx: &crate::CallContext,
        _: &crate::DraftId,
        _: &IdempotencyKey,
    ) -> Result<crate::CommitResult, crate::Error> {
        self.enter(ctx).await?;
        Ok(crate::CommitResult {
            transaction_id: fake_id("TX-9"),
            status: crate::TransactionStatus::Completed,
            amount: fake_id("500.10"),
            currency: Some(crate::Currency::EUR),
        })
    }

    async fn cancel_draft(
        &self,
        ctx: &crate::CallContext,
        id: &crate::DraftId,
    ) -> Result<crate::CancelResult, crate::Error> {
        self.enter(ctx).await?;
        Ok(crate::CancelResult {
            draft_id: id.clone(),
            status: crate::DraftStatus::Cancelled,
        })
    }
}
