//! The names of the hub's adapters and operations, as types: one spelling each for
//! metrics, audit records, dead-letter entries, alerts and idempotency fingerprints.

use std::fmt;

/// The port an upstream call goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Adapter {
    /// Tickets: the generic API, Zendesk or Jira.
    Ticketing,
    /// Transaction reads.
    TransactionStatus,
    /// Drafts, commits and cancels.
    TransactionCreate,
}

impl Adapter {
    /// Every adapter.
    pub const ALL: [Adapter; 3] = [Self::Ticketing, Self::TransactionStatus, Self::TransactionCreate];

    /// The name in metrics, audit records, dead-letter entries and configuration.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ticketing => "ticketing",
            Self::TransactionStatus => "transaction_status",
            Self::TransactionCreate => "transaction_create",
        }
    }

    /// The adapter named `name`, if any.
    ///
    /// ```
    /// use hub_core::Adapter;
    /// assert_eq!(Adapter::parse("ticketing"), Some(Adapter::Ticketing));
    /// assert_eq!(Adapter::parse("billing"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for Adapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One call a port makes upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// Opens a ticket (a write).
    CreateTicket,
    /// Reads a ticket's status.
    GetTicketStatus,
    /// Adds a comment to a ticket (a write).
    AddComment,
    /// Looks for a comment sent with an idempotency key.
    FindComment,
    /// Looks for a ticket created with an idempotency key.
    FindTicket,
    /// Reads which issue types a Jira project offers (the create-field probe).
    ProbeIssueTypes,
    /// Reads the create fields of a Jira issue type (the create-field probe).
    ProbeFields,
    /// Reads one transaction.
    GetTransactionStatus,
    /// Reads a customer's recent transactions.
    GetTransactionHistory,
    /// Creates a draft transaction (a write).
    CreateDraftTransaction,
    /// Commits a draft (a write).
    CommitTransaction,
    /// Cancels a draft (a write).
    CancelDraft,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 12] = [
        Self::CreateTicket,
        Self::GetTicketStatus,
        Self::AddComment,
        Self::FindComment,
        Self::FindTicket,
        Self::ProbeIssueTypes,
        Self::ProbeFields,
        Self::GetTransactionStatus,
        Self::GetTransactionHistory,
        Self::CreateDraftTransaction,
        Self::CommitTransaction,
        Self::CancelDraft,
    ];

    /// The name in metrics, audit records, dead-letter entries, alerts and problems.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CreateTicket => "create_ticket",
            Self::GetTicketStatus => "get_ticket_status",
            Self::AddComment => "add_comment",
            Self::FindComment => "find_comment",
            Self::FindTicket => "find_ticket",
            Self::ProbeIssueTypes => "probe_issue_types",
            Self::ProbeFields => "probe_fields",
            Self::GetTransactionStatus => "get_transaction_status",
            Self::GetTransactionHistory => "get_transaction_history",
            Self::CreateDraftTransaction => "create_draft_transaction",
            Self::CommitTransaction => "commit_transaction",
            Self::CancelDraft => "cancel_draft",
        }
    }

    /// The adapter it goes through.
    pub const fn adapter(self) -> Adapter {
        match self {
            Self::CreateTicket
            | Self::GetTicketStatus
            | Self::AddComment
            | Self::FindComment
            | Self::FindTicket
            | Self::ProbeIssueTypes
            | Self::ProbeFields => Adapter::Ticketing,
            Self::GetTransactionStatus | Self::GetTransactionHistory => Adapter::TransactionStatus,
            Self::CreateDraftTransaction | Self::CommitTransaction | Self::CancelDraft => Adapter::TransactionCreate,
        }
    }

    /// The operation named `name`, if any.
    ///
    /// ```
    /// use hub_core::{Adapter, Operation};
    /// let op = Operation::parse("commit_transaction").unwrap();
    /// assert_eq!((op, op.adapter()), (Operation::CommitTransaction, Adapter::TransactionCreate));
    /// assert_eq!(Operation::parse("drop_tables"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == name)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_and_is_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for op in Operation::ALL {
            assert_eq!(Operation::parse(op.as_str()), Some(op));
            assert!(seen.insert(op.as_str()), "{op} twice");
        }
        for a in Adapter::ALL {
            assert_eq!(Adapter::parse(a.as_str()), Some(a));
        }
    }
}
