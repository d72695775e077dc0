//! Tickets as the hub sees them, whatever ticketing system holds them.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::id::{CommentId, CustomerId, TicketId};

/// How urgent a ticket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Low.
    Low,
    /// Normal: the default.
    #[default]
    Normal,
    /// High.
    High,
    /// Urgent.
    Urgent,
}

impl Priority {
    /// The lower-case name used by the hub and most vendors.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }
}

/// A ticket status normalised across ticketing systems.
///
/// Unknown vendor values decode as [`TicketStatus::Other`] rather than failing; the
/// vendor's own value is always kept beside it in [`Ticket::vendor_status`].
///
/// ```
/// use hub_core::TicketStatus;
/// assert_eq!(TicketStatus::normalise("hold"), TicketStatus::OnHold);
/// assert_eq!(TicketStatus::normalise("Solved"), TicketStatus::Solved);
/// assert_eq!(TicketStatus::normalise("triage"), TicketStatus::Other("triage".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum TicketStatus {
    /// Not yet looked at.
    New,
    /// Being worked on.
    Open,
    /// Waiting for the customer.
    Pending,
    /// Waiting for a third party.
    OnHold,
    /// Resolved, may still reopen.
    Solved,
    /// Closed for good.
    Closed,
    /// A value the hub does not know, kept as the vendor sent it.
    Other(String),
}

impl TicketStatus {
    /// Maps a vendor's status name to the normalised set, case-insensitively.
    ///
    /// Knows the normalised names and the common vendor spellings of them
    /// (`hold`, `on-hold`, `in progress`, `resolved`, `done`, …).
    pub fn normalise(raw: &str) -> Self {
        let key: String = raw
            .trim()
            .chars()
            .map(|c| {
                if c == '-' || c == ' ' {
                    '_'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        match key.as_str() {
            "new" | "to_do" | "todo" | "backlog" => Self::New,
            "open" | "in_progress" | "reopened" => Self::Open,
            "pending" | "waiting_for_customer" => Self::Pending,
            "on_hold" | "hold" | "onhold" | "blocked" => Self::OnHold,
            "solved" | "resolved" | "done" => Self::Solved,
            "closed" => Self::Closed,
            _ => Self::Other(raw.to_owned()),
        }
    }

    /// The normalised name (`new`, `open`, `pending`, `on_hold`, `solved`, `closed`),
    /// or the vendor's value for [`TicketStatus::Other`].
    pub fn as_str(&self) -> &str {
        match self {
            Self::New => "new",
            Self::Open => "open",
            Self::Pending => "pending",
            Self::OnHold => "on_hold",
            Self::Solved => "solved",
            Self::Closed => "closed",
            Self::Other(raw) => raw,
        }
    }
}

impl From<String> for TicketStatus {
    fn from(raw: String) -> Self {
        Self::normalise(&raw)
    }
}

impl From<TicketStatus> for String {
    fn from(s: TicketStatus) -> String {
        match s {
            TicketStatus::Other(raw) => raw,
            known => known.as_str().to_owned(),
        }
    }
}

impl fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A ticket's current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The ticket.
    pub ticket_id: TicketId,
    /// The normalised status.
    pub status: TicketStatus,
    /// The status exactly as the vendor reported it.
    pub vendor_status: String,
    /// The assignee's e-mail address, when there is one.
    pub assigned_to: Option<String>,
    /// When the ticket last changed, as the vendor says.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_updated: Option<OffsetDateTime>,
}

/// A ticket to open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTicket {
    /// Whose ticket it is.
    pub customer_id: CustomerId,
    /// One line.
    pub subject: String,
    /// The body.
    pub description: String,
    /// How urgent.
    #[serde(default)]
    pub priority: Priority,
}

/// A ticket just opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedTicket {
    /// Its id in the ticketing system.
    pub ticket_id: TicketId,
    /// Where a person can see it.
    pub url: String,
    /// Its status on creation.
    pub status: TicketStatus,
}

/// A comment to add to a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewComment {
    /// The text.
    pub body: String,
    /// Whether the customer sees it.
    #[serde(default = "default_public")]
    pub public: bool,
}

fn default_public() -> bool {
    true
}

/// A comment just added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedComment {
    /// Its id in the ticketing system.
    pub comment_id: CommentId,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, expected: TicketStatus) {
        assert_eq!(TicketStatus::normalise(raw), expected, "raw {raw:?}");
    }

    #[test]
    fn vendor_statuses_normalise() {
        check("new", TicketStatus::New);
        check("open", TicketStatus::Open);
        check("pending", TicketStatus::Pending);
        check("hold", TicketStatus::OnHold);
        check("on-hold", TicketStatus::OnHold);
        check("On Hold", TicketStatus::OnHold);
        check("on_hold", TicketStatus::OnHold);
        check("solved", TicketStatus::Solved);
        check("Resolved", TicketStatus::Solved);
        check("CLOSED", TicketStatus::Closed);
        check("In Progress", TicketStatus::Open);
        check("To Do", TicketStatus::New);
        check("awaiting QA", TicketStatus::Other("awaiting QA".into()));
        check("", TicketStatus::Other(String::new()));
    }

    #[test]
    fn serde_keeps_unknown_values() {
        let s: TicketStatus = serde_json::from_str("\"escalated\"").unwrap();
        assert_eq!(s, TicketStatus::Other("escalated".into()));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"escalated\"");
        let hold: TicketStatus = serde_json::from_str("\"hold\"").unwrap();
        assert_eq!(serde_json::to_string(&hold).unwrap(), "\"on_hold\"");
    }

    #[test]
    fn priority_defaults_to_normal() {
        let t: NewTicket = serde_json::from_str(r#"{"customer_id":"C1","subject":"s","description":"d"}"#).unwrap();
        assert_eq!(t.priority, Priority::Normal);
        assert!(serde_json::from_str::<Priority>("\"critical\"").is_err());
    }
}
