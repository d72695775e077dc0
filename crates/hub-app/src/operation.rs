//! The writes the hub performs, as values: what a caller asks for, what a dead-letter
//! entry stores, and what a replay runs again.

use hub_core::{
    CallContext, CancelResult, CommitResult, CreatedComment, CreatedTicket, Draft, DraftId, Error, NewComment,
    NewDraft, NewTicket, Operation, TicketId,
};

use crate::ports::Ports;

/// One write, with everything needed to run it (again).
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    /// Opens a ticket.
    CreateTicket(NewTicket),
    /// Comments on a ticket.
    AddComment {
        /// The ticket.
        ticket_id: TicketId,
        /// The comment.
        comment: NewComment,
    },
    /// Creates a draft transaction.
    CreateDraft(NewDraft),
    /// Commits a draft (always with an idempotency key, which the upstream gets too).
    Commit(DraftId),
    /// Cancels a draft.
    Cancel(DraftId),
}

/// What a write produced upstream.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// The ticket opened.
    Ticket(CreatedTicket),
    /// The comment added.
    Comment(CreatedComment),
    /// The draft created.
    Draft(Draft),
    /// The commit's result.
    Commit(CommitResult),
    /// The cancel's result.
    Cancel(CancelResult),
}

impl WriteOp {
    /// The operation's name.
    pub fn operation(&self) -> Operation {
        match self {
            Self::CreateTicket(_) => Operation::CreateTicket,
            Self::AddComment { .. } => Operation::AddComment,
            Self::CreateDraft(_) => Operation::CreateDraftTransaction,
            Self::Commit(_) => Operation::CommitTransaction,
            Self::Cancel(_) => Operation::CancelDraft,
        }
    }

    /// Runs the write through its port. `ctx` carries the idempotency key (a commit
    /// sends it as its own key too, and fails without one).
    pub async fn call(&self, ports: &Ports, ctx: &CallContext) -> Result<Written, Error> {
        Ok(match self {
            Self::CreateTicket(t) => Written::Ticket(ports.ticketing.create_ticket(ctx, t).await?),
            Self::AddComment { ticket_id, comment } => {
                Written::Comment(ports.ticketing.add_comment(ctx, ticket_id, comment).await?)
            }
            Self::CreateDraft(d) => Written::Draft(ports.transaction_create.create_draft_transaction(ctx, d).await?),
            Self::Commit(draft) => {
                let key = ctx.idempotency_key.as_ref().ok_or_else(|| Error::InvalidInput {
                    field: "Idempotency-Key".to_owned(),
                    reason: "a commit needs an idempotency key".to_owned(),
                })?;
                Written::Commit(ports.transaction_create.commit_transaction(ctx, draft, key).await?)
            }
            Self::Cancel(draft) => Written::Cancel(ports.transaction_create.cancel_draft(ctx, draft).await?),
        })
    }

    /// Whether sending it again cannot do it twice ([`resend_is_safe`] of its operation).
    pub fn resend_is_safe(&self, ports: &Ports) -> bool {
        resend_is_safe(self.operation(), ports)
    }
}

/// Whether sending `operation` again cannot do it twice: its upstream deduplicates by key,
/// or (comments) is looked at before anything is sent again. Only a ticket create to a
/// system that forgets keys is unsafe; the name alone decides, no payload is needed.
pub fn resend_is_safe(operation: Operation, ports: &Ports) -> bool {
    match operation {
        Operation::CreateTicket => ports.ticketing.creates_honour_keys(),
        _ => true,
    }
}
