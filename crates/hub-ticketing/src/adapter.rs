//! The ticketing adapter: any dialect's calls run through one resilient upstream endpoint.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hub_core::{
    CallContext, CommentLookup, CreatedComment, CreatedTicket, Delivery, Error, Fetched, NewComment, NewTicket,
    Operation, Ticket, TicketId, TicketLookup, TicketingPort,
};
use hub_resilience::cache::{CacheManager, Lookup, read_through};
use hub_upstream::Endpoint;
use hub_upstream::request::write_key;

use crate::cache_keys::{self, TICKET_STATUS, TICKET_STATUS_TTL};
use crate::dialect::{CommentCheck, Dialect};

/// Implements [`TicketingPort`] for a vendor dialect over an [`Endpoint`].
pub struct TicketingAdapter<D> {
    dialect: Arc<D>,
    endpoint: Arc<Endpoint>,
    cache: Option<Arc<CacheManager>>,
    ttl: Duration,
}

impl<D: Dialect> std::fmt::Debug for TicketingAdapter<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketingAdapter")
            .field("dialect", &self.dialect.name())
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl<D: Dialect> TicketingAdapter<D> {
    /// An adapter speaking `dialect` to `endpoint`, without a read cache.
    pub fn new(dialect: D, endpoint: Arc<Endpoint>) -> Self {
        Self {
            dialect: Arc::new(dialect),
            endpoint,
            cache: None,
            ttl: TICKET_STATUS_TTL,
        }
    }

    /// Caches ticket status reads in `cache` for `ttl` (the contract's default: 300 s).
    #[must_use]
    pub fn with_cache(mut self, cache: Arc<CacheManager>, ttl: Duration) -> Self {
        self.cache = Some(cache);
        self.ttl = ttl;
        self
    }

    async fn fetch_ticket(&self, ctx: &CallContext, ticket_id: &TicketId) -> Result<Ticket, Error> {
        fetch_ticket(&*self.dialect, &self.endpoint, ctx, ticket_id).await
    }

    /// The endpoint (for readiness: its circuit state).
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }
}

/// Reads one ticket from the vendor.
async fn fetch_ticket<D: Dialect>(
    dialect: &D,
    endpoint: &Endpoint,
    ctx: &CallContext,
    ticket_id: &TicketId,
) -> Result<Ticket, Error> {
    let response = endpoint.send(ctx, &dialect.get_ticket(ticket_id)).await?;
    dialect.ticket(ticket_id, &response.body)
}

#[async_trait]
impl<D: Dialect + 'static> TicketingPort for TicketingAdapter<D> {
    async fn create_ticket(&self, ctx: &CallContext, ticket: &NewTicket) -> Result<CreatedTicket, Error> {
        let call = self
            .dialect
            .create_ticket(ticket, &write_key(ctx, Operation::CreateTicket))?;
        let mut created = self
            .endpoint
            .send_and_read(ctx, &call, |response| self.dialect.created_ticket(&response.body))
            .await?;
        if self.dialect.reads_status_after_create() {
            // The ticket exists whatever this read answers: a failed read keeps the
            // provisional status rather than failing the create.
            match self.fetch_ticket(ctx, &created.ticket_id).await {
                Ok(t) => created.status = t.status,
                Err(e) => tracing::warn!(error = %e, "could not read a created ticket's status back"),
            }
        }
        Ok(created)
    }

    async fn get_ticket_status(&self, ctx: &CallContext, ticket_id: &TicketId) -> Result<Fetched<Ticket>, Error> {
        let key = cache_keys::ticket_status(ticket_id.as_str());
        let lookup = Lookup {
            operation: TICKET_STATUS,
            key: &key,
            tags: &[],
            ttl: self.ttl,
        };
        // The fetch owns what it uses, so the cache can also run it as a background refresh.
        let fetch = || {
            let (dialect, endpoint) = (self.dialect.clone(), self.endpoint.clone());
            let (ctx, ticket_id) = (ctx.clone(), ticket_id.clone());
            async move { fetch_ticket(&*dialect, &endpoint, &ctx, &ticket_id).await }
        };
        read_through(self.cache.as_deref(), &lookup, fetch).await
    }

    async fn add_comment(
        &self,
        ctx: &CallContext,
        ticket_id: &TicketId,
        comment: &NewComment,
    ) -> Result<CreatedComment, Error> {
        let call = self
            .dialect
            .add_comment(ticket_id, comment, &write_key(ctx, Operation::AddComment))?;
        let result = self
            .endpoint
            .send_and_read(ctx, &call, |response| {
                self.dialect.created_comment(ticket_id, &response.body)
            })
            .await;
        // A comment changes the ticket; a failed attempt may have landed too, unless it
        // provably did nothing (never sent, or refused), which changes nothing cached.
        let may_have_landed = result
            .as_ref()
            .err()
            .is_none_or(|e| matches!(e.delivery(), Delivery::Unknown | Delivery::Applied));
        if may_have_landed && let Some(cache) = &self.cache {
            // An unreachable cache holds nothing to invalidate; the manager counts the failure.
            let _ = cache.invalidate(&cache_keys::ticket_status(ticket_id.as_str())).await;
        }
        match result {
            // The answer was lost: the comment may be there. Where the vendor can be asked,
            // ask; a comment found is the comment added. Nothing is sent again here.
            Err(e) if e.delivery() == Delivery::Unknown => match self.find_comment(ctx, ticket_id).await {
                Ok(CommentLookup::Found(comment)) => {
                    tracing::info!(ticket_id = %ticket_id, "a comment whose answer was lost was found upstream");
                    Ok(comment)
                }
                _ => Err(e),
            },
            other => other,
        }
    }

    fn creates_honour_keys(&self) -> bool {
        self.dialect.creates_honour_keys()
    }

    async fn find_ticket(&self, ctx: &CallContext) -> Result<TicketLookup, Error> {
        // Without the caller's key the create sent one derived from its request id, which
        // a later lookup cannot know.
        if ctx.idempotency_key.is_none() {
            return Ok(TicketLookup::Uncheckable);
        }
        let key = write_key(ctx, Operation::CreateTicket);
        let Some(call) = self.dialect.ticket_check(&key) else {
            return Ok(TicketLookup::Uncheckable);
        };
        let found = self
            .endpoint
            .send_and_read(ctx, &call, |response| self.dialect.found_ticket(&key, &response.body))
            .await?;
        Ok(found.map_or(TicketLookup::Absent, TicketLookup::Found))
    }

    async fn find_comment(&self, ctx: &CallContext, ticket_id: &TicketId) -> Result<CommentLookup, Error> {
        let key = write_key(ctx, Operation::AddComment);
        match self.dialect.comment_check(ticket_id, &key) {
            CommentCheck::KeyHonoured => Ok(CommentLookup::KeyHonoured),
            CommentCheck::Uncheckable => Ok(CommentLookup::Uncheckable),
            CommentCheck::ReadBack(call) => {
                let found = self
                    .endpoint
                    .send_and_read(ctx, &call, |response| {
                        self.dialect.found_comment(ticket_id, &key, &response.body)
                    })
                    .await?;
                Ok(found.map_or(CommentLookup::Absent, CommentLookup::Found))
            }
        }
    }
}
