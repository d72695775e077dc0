//! The port to a ticketing system (generic, Zendesk, Jira, …).

use async_trait::async_trait;

use crate::context::CallContext;
use crate::error::Error;
use crate::id::TicketId;
use crate::ports::cache::Fetched;
use crate::ticket::{CreatedComment, CreatedTicket, NewComment, NewTicket, Ticket};

/// Opens tickets, reads their status and comments on them.
///
/// ```
/// use hub_core::{CallContext, Error, TicketId, TicketingPort};
/// async fn status_of(port: &dyn TicketingPort, ctx: &CallContext, id: &str) -> Result<String, Error> {
///     let id = TicketId::parse(id).map_err(|e| Error::InvalidInput { field: "ticket_id".into(), reason: e.to_string() })?;
///     Ok(port.get_ticket_status(ctx, &id).await?.value.status.to_string())
/// }
/// ```
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait TicketingPort: Send + Sync {
    /// Opens a ticket; an idempotency key in `ctx` (or one the adapter derives) makes a
    /// retry return the same ticket instead of a second one.
    async fn create_ticket(&self, ctx: &CallContext, ticket: &NewTicket) -> Result<CreatedTicket, Error>;

    /// Reads a ticket's status, from the cache when fresh.
    async fn get_ticket_status(&self, ctx: &CallContext, ticket_id: &TicketId) -> Result<Fetched<Ticket>, Error>;

    /// Adds a comment and invalidates the ticket's cached status.
    async fn add_comment(
        &self,
        ctx: &CallContext,
        ticket_id: &TicketId,
        comment: &NewComment,
    ) -> Result<CreatedComment, Error>;
}
