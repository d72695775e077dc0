//! The transaction systems' wire shapes and their mapping to hub-core's domain.

use hub_core::{
    Amount, CancelResult, CommitResult, Currency, Draft, DraftId, DraftStatus, Error, Transaction, TransactionStatus,
};
use serde::Deserialize;

use hub_upstream::timestamp;

/// A transaction as the status system sends it (`amount` exact: a string or a number read as text).
#[derive(Debug, Deserialize)]
pub(crate) struct WireTransaction {
    id: String,
    status: TransactionStatus,
    amount: Amount,
    currency: Currency,
    #[serde(deserialize_with = "timestamp::required::deserialize")]
    created_at: time::OffsetDateTime,
    #[serde(default, deserialize_with = "timestamp::option::deserialize")]
    completed_at: Option<time::OffsetDateTime>,
}

impl WireTransaction {
    pub(crate) fn into_domain(self) -> Result<Transaction, Error> {
        Ok(Transaction {
            transaction_id: self.id.parse().map_err(|_| bad_id("id"))?,
            status: self.status,
            amount: self.amount,
            currency: self.currency,
            created_at: self.created_at,
            completed_at: self.completed_at,
        })
    }
}

/// `GET /customers/{id}/transactions`.
#[derive(Debug, Deserialize)]
pub(crate) struct WireHistory {
    pub(crate) transactions: Vec<WireTransaction>,
}

/// A draft as the sales system sends it.
#[derive(Debug, Deserialize)]
pub(crate) struct WireDraft {
    id: String,
    status: DraftStatus,
    amount: Amount,
    currency: Option<Currency>,
    #[serde(deserialize_with = "timestamp::required::deserialize")]
    expires_at: time::OffsetDateTime,
}

impl WireDraft {
    /// The draft, with `requested` as the currency when the upstream omits it.
    pub(crate) fn into_domain(self, requested: Currency) -> Result<Draft, Error> {
        Ok(Draft {
            draft_id: self.id.parse().map_err(|_| bad_id("id"))?,
            status: self.status,
            amount: self.amount,
            currency: self.currency.unwrap_or(requested),
            expires_at: self.expires_at,
        })
    }
}

/// A commit's answer.
#[derive(Debug, Deserialize)]
pub(crate) struct WireCommit {
    id: String,
    status: TransactionStatus,
    amount: Amount,
    currency: Currency,
    /// The customer, when the upstream says: their cached history is then invalidated.
    #[serde(default)]
    pub(crate) customer_id: Option<String>,
}

impl WireCommit {
    pub(crate) fn into_domain(self) -> Result<CommitResult, Error> {
        Ok(CommitResult {
            transaction_id: self.id.parse().map_err(|_| bad_id("id"))?,
            status: self.status,
            amount: self.amount,
            currency: self.currency,
        })
    }
}

/// A cancellation's answer.
#[derive(Debug, Deserialize)]
pub(crate) struct WireCancel {
    status: DraftStatus,
}

impl WireCancel {
    pub(crate) fn into_domain(self, draft_id: &DraftId) -> CancelResult {
        CancelResult {
            draft_id: draft_id.clone(),
            status: self.status,
        }
    }
}

fn bad_id(field: &str) -> Error {
    Error::Decode {
        reason: format!("`{field}` is not a valid id"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_upstream::response::decode;

    #[test]
    fn amounts_stay_exact_and_ids_are_checked() {
        let t: WireTransaction = decode(
            br#"{"id":"TXN-1","status":"completed","amount":"500.10","currency":"USD","created_at":"2026-01-05T10:00:00Z","completed_at":null,"x":1}"#,
        )
        .unwrap();
        let t = t.into_domain().unwrap();
        assert_eq!(t.amount.to_string(), "500.10");
        let n: WireTransaction = decode(
            br#"{"id":"TXN-2","status":"chargeback","amount":0.30,"currency":"eur","created_at":"2026-01-05T10:00:00Z"}"#,
        )
        .unwrap();
        let n = n.into_domain().unwrap();
        assert_eq!(
            (n.amount.to_string().as_str(), n.status.as_str()),
            ("0.30", "chargeback")
        );
        let bad: WireTransaction = decode(
            br#"{"id":"../x","status":"pending","amount":"1","currency":"USD","created_at":"2026-01-05T10:00:00Z"}"#,
        )
        .unwrap();
        assert!(bad.into_domain().is_err());
        assert!(
            decode::<WireTransaction>(
                br#"{"id":"T","status":"pending","amount":1e3,"currency":"USD","created_at":"2026-01-05T10:00:00Z"}"#
            )
            .is_err()
        );
    }
}
