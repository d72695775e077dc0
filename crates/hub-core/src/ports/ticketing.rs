//! The port to a ticketing system (generic, Zendesk, Jira, …).

use async_trait::async_trait;

use crate::context::CallContext;
use crate::error::Error;
use crate::id::TicketId;
use crate::ports::cache::Fetched;
use crate::ticket::{CreatedComment, CreatedTicket, NewComment, NewTicket, Ticket};

/// What the ticketing system can say about a comment whose outcome is unknown (its
/// answer was lost): whether it is there, before anyone sends it again.
///
/// ```
/// use hub_core::{CommentId, CommentLookup, CreatedComment};
/// let found = CommentLookup::Found(CreatedComment { comment_id: CommentId::parse("77").unwrap() });
/// assert!(!found.may_send());
/// assert!(CommentLookup::Absent.may_send());
/// assert!(CommentLookup::KeyHonoured.may_send());
/// assert!(!CommentLookup::Uncheckable.may_send());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentLookup {
    /// The comment is there: it took effect, and this is it.
    Found(CreatedComment),
    /// The system was asked and the comment is not there: sending it adds it once.
    Absent,
    /// The system deduplicates comments by the idempotency key: sending again is safe.
    KeyHonoured,
    /// The system cannot be asked: sending again may post the comment twice.
    Uncheckable,
}

impl CommentLookup {
    /// Whether sending the comment (again) cannot post it twice.
    pub fn may_send(&self) -> bool {
        matches!(self, Self::Absent | Self::KeyHonoured)
    }
}

/// What the ticketing system can say about a ticket create whose outcome is unknown (its
/// answer was lost, and the vendor may have forgotten the idempotency key since).
///
/// ```
/// use hub_core::{CreatedTicket, TicketId, TicketLookup, TicketStatus};
/// let found = TicketLookup::Found(CreatedTicket {
///     ticket_id: TicketId::parse("35436").unwrap(),
///     url: "https://acme.zendesk.com/agent/tickets/35436".into(),
///     status: TicketStatus::New,
/// });
/// assert!(matches!(found, TicketLookup::Found(_)));
/// assert_ne!(TicketLookup::Absent, TicketLookup::Uncheckable);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketLookup {
    /// The ticket is there: the create took effect, and this is it.
    Found(CreatedTicket),
    /// The system was asked and no ticket carries the key: creating it makes it once.
    Absent,
    /// The system cannot be asked.
    Uncheckable,
}

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

    /// Looks for the comment that an earlier [`TicketingPort::add_comment`] with the same
    /// idempotency key (in `ctx`) may have added. The default says it cannot be checked.
    async fn find_comment(&self, ctx: &CallContext, ticket_id: &TicketId) -> Result<CommentLookup, Error> {
        let _ = (ctx, ticket_id);
        Ok(CommentLookup::Uncheckable)
    }

    /// Looks for the ticket that an earlier [`TicketingPort::create_ticket`] with the same
    /// idempotency key (in `ctx`) may have opened. The default says it cannot be checked.
    async fn find_ticket(&self, ctx: &CallContext) -> Result<TicketLookup, Error> {
        let _ = ctx;
        Ok(TicketLookup::Uncheckable)
    }

    /// Whether the system deduplicates ticket creates by idempotency key, so that a
    /// create whose outcome is unknown may be sent again. The default says no.
    fn creates_honour_keys(&self) -> bool {
        false
    }
}
