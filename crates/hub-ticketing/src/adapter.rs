//! The ticketing adapter: any dialect's calls run through one resilient upstream endpoint.

use std::sync::Arc;

use async_trait::async_trait;
use hub_core::{
    CacheOutcome, CallContext, CreatedComment, CreatedTicket, Error, Fetched, NewComment, NewTicket, Ticket, TicketId,
    TicketingPort,
};
use hub_upstream::Endpoint;

use crate::dialect::Dialect;

/// Implements [`TicketingPort`] for a vendor dialect over an [`Endpoint`].
pub struct TicketingAdapter<D> {
    dialect: D,
    endpoint: Arc<Endpoint>,
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
    /// An adapter speaking `dialect` to `endpoint`.
    pub fn new(dialect: D, endpoint: Arc<Endpoint>) -> Self {
        Self { dialect, endpoint }
    }

    /// The endpoint (for readiness: its circuit state).
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }
}

/// The idempotency key a write goes upstream with: the caller's, else one derived from
/// the hub request and the operation, stable across the call's retries.
pub(crate) fn write_key(ctx: &CallContext, operation: &str) -> String {
    match &ctx.idempotency_key {
        Some(key) => key.as_str().to_owned(),
        None => format!("hub-{}-{operation}", ctx.request_id),
    }
}

#[async_trait]
impl<D: Dialect> TicketingPort for TicketingAdapter<D> {
    async fn create_ticket(&self, ctx: &CallContext, ticket: &NewTicket) -> Result<CreatedTicket, Error> {
        let call = self.dialect.create_ticket(ticket, &write_key(ctx, "create_ticket"))?;
        let response = self.endpoint.send(ctx, &call).await?;
        self.dialect.created_ticket(&response.body)
    }

    async fn get_ticket_status(&self, ctx: &CallContext, ticket_id: &TicketId) -> Result<Fetched<Ticket>, Error> {
        let call = self.dialect.get_ticket(ticket_id);
        let response = self.endpoint.send(ctx, &call).await?;
        Ok(Fetched::new(
            self.dialect.ticket(ticket_id, &response.body)?,
            CacheOutcome::Bypass,
        ))
    }

    async fn add_comment(
        &self,
        ctx: &CallContext,
        ticket_id: &TicketId,
        comment: &NewComment,
    ) -> Result<CreatedComment, Error> {
        let call = self
            .dialect
            .add_comment(ticket_id, comment, &write_key(ctx, "add_comment"))?;
        let response = self.endpoint.send(ctx, &call).await?;
        self.dialect.created_comment(ticket_id, &response.body)
    }
}
