//! Transactions, drafts and commits as the hub sees them.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::id::{CustomerId, DraftId, TransactionId};
use crate::money::{Amount, Currency, Money};

macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value the hub does not know, kept as the upstream sent it.
            Other(String),
        }

        impl $name {
            /// The wire name.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(raw) => raw,
                }
            }
        }

        impl From<String> for $name {
            fn from(raw: String) -> Self {
                match raw.as_str() {
                    $($text => Self::$variant,)+
                    _ => Self::Other(raw),
                }
            }
        }

        impl From<$name> for String {
            fn from(s: $name) -> String {
                match s {
                    $name::Other(raw) => raw,
                    known => known.as_str().to_owned(),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

open_enum!(
    /// Where a transaction stands; unknown values are kept as [`TransactionStatus::Other`].
    ///
    /// ```
    /// use hub_core::TransactionStatus;
    /// let s: TransactionStatus = serde_json::from_str("\"completed\"").unwrap();
    /// assert_eq!(s, TransactionStatus::Completed);
    /// let odd: TransactionStatus = serde_json::from_str("\"chargeback\"").unwrap();
    /// assert_eq!(odd.as_str(), "chargeback");
    /// ```
    TransactionStatus {
        /// Accepted, not yet settled.
        Pending => "pending",
        /// Being processed.
        Processing => "processing",
        /// Settled.
        Completed => "completed",
        /// Refused or errored.
        Failed => "failed",
        /// Withdrawn before settling.
        Cancelled => "cancelled",
        /// Money returned.
        Refunded => "refunded",
    }
);

open_enum!(
    /// Where a draft transaction stands.
    DraftStatus {
        /// Created, awaiting commit.
        PendingConfirmation => "pending_confirmation",
        /// Committed into a transaction.
        Committed => "committed",
        /// Cancelled before commit.
        Cancelled => "cancelled",
        /// Expired before commit.
        Expired => "expired",
    }
);

/// A transaction's current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The transaction.
    pub transaction_id: TransactionId,
    /// Its status.
    pub status: TransactionStatus,
    /// How much, exactly.
    pub amount: Amount,
    /// In which currency.
    pub currency: Currency,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it completed, if it has.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
}

/// A draft transaction to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDraft {
    /// For whom.
    pub customer_id: CustomerId,
    /// How much, in which currency.
    pub money: Money,
    /// What for.
    pub description: String,
    /// Free-form data passed through to the sales system.
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// A draft transaction just created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    /// The draft.
    pub draft_id: DraftId,
    /// Its status (`pending_confirmation` on creation).
    pub status: DraftStatus,
    /// How much, exactly.
    pub amount: Amount,
    /// In which currency.
    pub currency: Currency,
    /// When it expires unless committed.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// The outcome of committing a draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitResult {
    /// The transaction the draft became.
    pub transaction_id: TransactionId,
    /// Its status.
    pub status: TransactionStatus,
    /// How much, exactly.
    pub amount: Amount,
    /// In which currency, when the upstream says (the hub's answer does not need it).
    #[serde(default)]
    pub currency: Option<Currency>,
}

/// The outcome of cancelling a draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelResult {
    /// The draft.
    pub draft_id: DraftId,
    /// Its status, `cancelled`.
    pub status: DraftStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_enums_keep_unknown_values() {
        for (raw, expected) in [
            ("pending", TransactionStatus::Pending),
            ("completed", TransactionStatus::Completed),
            ("Completed", TransactionStatus::Other("Completed".into())),
            ("disputed", TransactionStatus::Other("disputed".into())),
        ] {
            let got = TransactionStatus::from(raw.to_owned());
            assert_eq!(got, expected);
            assert_eq!(String::from(got), raw);
        }
        assert_eq!(
            DraftStatus::from("pending_confirmation".to_owned()),
            DraftStatus::PendingConfirmation
        );
    }

    #[test]
    fn transactions_decode_exactly() {
        let t: Transaction = serde_json::from_str(
            r#"{"transaction_id":"TXN-1","status":"completed","amount":500.10,"currency":"usd",
                "created_at":"2026-01-05T10:00:00Z","completed_at":null}"#,
        )
        .unwrap();
        assert_eq!(t.amount.to_string(), "500.10");
        assert_eq!(t.currency.as_str(), "USD");
        assert_eq!(t.completed_at, None);
        let out = serde_json::to_value(&t).unwrap();
        assert_eq!(out["amount"], "500.10");
        assert_eq!(out["created_at"], "2026-01-05T10:00:00Z");
    }
}
