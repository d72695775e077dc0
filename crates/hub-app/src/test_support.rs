//! Unit-test rig: a scriptable fake upstream, a plain JSON answer format, and a hub over
//! hub-core's in-memory service fakes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hub_core::testing::{Inbox, MemoryAudit, MemoryDlq, MemoryIdempotency, RecordingEvents};
use hub_core::*;
use serde_json::Value;

use crate::alerts::{AlertSettings, Supervisor};
use crate::answer::PlainAnswers;
use crate::hub::{Hub, Settings};
use crate::ports::{Ports, Services};

/// What the fake upstream does.
#[derive(Default)]
pub(crate) struct Upstream {
    /// The error every write fails with, if any.
    pub fail: Mutex<Option<Error>>,
    /// What `find_comment` answers.
    pub comment_lookup: Mutex<Option<CommentLookup>>,
    /// Whether ticket creates honour keys.
    pub keyed_creates: Mutex<bool>,
    /// Writes sent.
    pub writes: AtomicUsize,
    /// The contexts writes were sent with.
    pub contexts: Mutex<Vec<CallContext>>,
    /// Holds every write until notified.
    pub gate: Mutex<Option<Arc<tokio::sync::Notify>>>,
}

impl Upstream {
    pub(crate) fn fail_with(&self, e: Error) {
        *self.fail.lock().unwrap() = Some(e);
    }
    pub(crate) fn succeed(&self) {
        *self.fail.lock().unwrap() = None;
    }
    pub(crate) fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
    async fn send(&self, ctx: &CallContext) -> Result<(), Error> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        ctx.attempts.add(1);
        self.contexts.lock().unwrap().push(ctx.clone());
        let gate = self.gate.lock().unwrap().clone();
        if let Some(g) = gate {
            g.notified().await;
        }
        match self.fail.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}

#[async_trait]
impl TicketingPort for Upstream {
    async fn create_ticket(&self, ctx: &CallContext, _: &NewTicket) -> Result<CreatedTicket, Error> {
        self.send(ctx).await?;
        Ok(CreatedTicket {
            ticket_id: TicketId::parse("T-1").unwrap(),
            url: "https://tickets.example/T-1".into(),
            status: TicketStatus::Open,
        })
    }
    async fn get_ticket_status(&self, _: &CallContext, _: &TicketId) -> Result<Fetched<Ticket>, Error> {
        Err(Error::NotFound)
    }
    async fn add_comment(&self, ctx: &CallContext, _: &TicketId, _: &NewComment) -> Result<CreatedComment, Error> {
        self.send(ctx).await?;
        Ok(CreatedComment {
            comment_id: CommentId::parse("C-1").unwrap(),
        })
    }
    async fn find_comment(&self, _: &CallContext, _: &TicketId) -> Result<CommentLookup, Error> {
        Ok(self
            .comment_lookup
            .lock()
            .unwrap()
            .clone()
            .unwrap_or(CommentLookup::Absent))
    }
    fn creates_honour_keys(&self) -> bool {
        *self.keyed_creates.lock().unwrap()
    }
}

#[async_trait]
impl TransactionStatusPort for Upstream {
    async fn get_transaction_status(&self, _: &CallContext, _: &TransactionId) -> Result<Fetched<Transaction>, Error> {
        Err(Error::NotFound)
    }
    async fn get_transaction_history(
        &self,
        _: &CallContext,
        _: &CustomerId,
        _: HistoryLimit,
    ) -> Result<Fetched<Vec<Transaction>>, Error> {
        Err(Error::NotFound)
    }
}

#[async_trait]
impl TransactionCreatePort for Upstream {
    async fn create_draft_transaction(&self, ctx: &CallContext, d: &NewDraft) -> Result<Draft, Error> {
        self.send(ctx).await?;
        Ok(Draft {
            draft_id: DraftId::parse("D-1").unwrap(),
            status: DraftStatus::PendingConfirmation,
            amount: d.money.amount,
            currency: d.money.currency,
            expires_at: time::OffsetDateTime::UNIX_EPOCH,
        })
    }
    async fn commit_transaction(
        &self,
        ctx: &CallContext,
        _: &DraftId,
        _: &IdempotencyKey,
    ) -> Result<CommitResult, Error> {
        self.send(ctx).await?;
        Ok(CommitResult {
            transaction_id: TransactionId::parse("TX-9").unwrap(),
            status: TransactionStatus::Completed,
            amount: "500.10".parse().unwrap(),
            currency: Some(usd()),
        })
    }
    async fn cancel_draft(&self, ctx: &CallContext, id: &DraftId) -> Result<CancelResult, Error> {
        self.send(ctx).await?;
        Ok(CancelResult {
            draft_id: id.clone(),
            status: DraftStatus::Cancelled,
        })
    }
}

/// A hub over fakes, and the fakes.
pub(crate) struct Rig {
    pub hub: Hub,
    pub upstream: Arc<Upstream>,
    pub keys: Arc<MemoryIdempotency>,
    pub dlq: Arc<MemoryDlq>,
    pub events: Arc<RecordingEvents>,
    pub inbox: Arc<Inbox>,
}

impl Rig {
    pub(crate) fn new() -> Self {
        Self::with_settings(Settings::default())
    }

    pub(crate) fn with_settings(settings: Settings) -> Self {
        let upstream = Arc::new(Upstream::default());
        let keys = Arc::new(MemoryIdempotency::default());
        let dlq = Arc::new(MemoryDlq::default());
        let events = Arc::new(RecordingEvents::default());
        let inbox = Arc::new(Inbox::default());
        let ports = Ports {
            ticketing: upstream.clone(),
            transaction_status: upstream.clone(),
            transaction_create: upstream.clone(),
        };
        let services = Services {
            idempotency: keys.clone(),
            dlq: dlq.clone(),
            audit: Arc::new(MemoryAudit::default()),
            events: events.clone(),
        };
        let supervisor = Supervisor::new(inbox.clone(), AlertSettings::default());
        let hub = Hub::new(ports, services, Arc::new(PlainAnswers), supervisor, settings);
        Self {
            hub,
            upstream,
            keys,
            dlq,
            events,
            inbox,
        }
    }
}

/// The context of request `rid`.
pub(crate) fn ctx(rid: &str) -> CallContext {
    CallContext::new(RequestId::parse(rid).unwrap())
}

/// The JSON body of an answer.
pub(crate) fn body(answer: &crate::answer::WriteAnswer) -> Value {
    serde_json::from_slice(&answer.response.body).unwrap()
}
