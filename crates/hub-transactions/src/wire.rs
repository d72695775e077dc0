//! The transaction systems' wire shapes and their mapping to hub-core's domain.

use hub_core::{
    Amount, CancelResult, CommitResult, Currency, Draft, DraftId, DraftStatus, Error, Money, Transaction,
    TransactionStatus,
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

/// A draft as the sales system sends it: what the hub asked for (amount, currency)
/// may be left out.
#[derive(Debug, Deserialize)]
pub(crate) struct WireDraft {
    id: String,
    status: DraftStatus,
    #[serde(default)]
    amount: Option<Amount>,
    #[serde(default)]
    currency: Option<Currency>,
    #[serde(deserialize_with = "timestamp::required::deserialize")]
    expires_at: time::OffsetDateTime,
}

impl WireDraft {
    /// The draft, with the `requested` amount and currency where the upstream omits them.
    pub(crate) fn into_domain(self, requested: Money) -> Result<Draft, Error> {
        Ok(Draft {
            draft_id: self.id.parse().map_err(|_| bad_id("id"))?,
            status: self.status,
            amount: self.amount.unwrap_or(requested.amount),
            currency: self.currency.unwrap_or(requested.currency),
            expires_at: self.expires_at,
        })
    }
}

/// A commit's answer: the hub's own answer needs the id, status and amount; the
/// currency is kept when given.
#[derive(Debug, Deserialize)]
pub(crate) struct WireCommit {
    id: String,
    status: TransactionStatus,
    amount: Amount,
    #[serde(default)]
    currency: Option<Currency>,
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

/// A cancellation's answer: a 2xx means the draft is cancelled, whatever the body says
/// or leaves out.
#[derive(Debug, Deserialize)]
pub(crate) struct WireCancel {
    #[serde(default)]
    status: Option<DraftStatus>,
}

impl WireCancel {
    pub(crate) fn into_domain(self, draft_id: &DraftId) -> CancelResult {
        CancelResult {
            draft_id: draft_id.clone(),
            status: self.status.unwrap_or(DraftStatus::Cancelled),
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

    /// The keys the wire types read, so generated bodies often come close to real ones.
    const KEYS: &[&str] = &[
        "id",
        "status",
        "amount",
        "currency",
        "created_at",
        "completed_at",
        "expires_at",
        "customer_id",
        "transactions",
    ];

    fn any_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            prop_oneof![
                "\\PC{0,20}",
                Just("2026-01-05T10:00:00Z".to_owned()),
                "-?[0-9]{1,30}(\\.[0-9]{0,30})?",
                proptest::sample::select(&["USD", "eur", "completed", "pending", "open"][..]).prop_map(str::to_owned),
            ]
            .prop_map(Value::String),
            "-?[0-9]{1,30}(\\.[0-9]{1,30})?([eE][+-]?[0-9]{1,4})?"
                .prop_filter_map("a JSON number", |n| serde_json::from_str(&n).ok()),
        ];
        leaf.prop_recursive(4, 48, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![proptest::sample::select(KEYS).prop_map(str::to_owned), "\\PC{0,6}"],
                    inner,
                    0..9
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Every wire type over `body`, through to the domain: a value or a typed error, never a panic.
    fn read_all(body: &[u8]) -> Result<(), proptest::test_runner::TestCaseError> {
        let usd = Currency::parse("USD").map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e:?}")))?;
        let draft = DraftId::parse("D-1").map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
        let results = [
            decode::<WireTransaction>(body)
                .and_then(WireTransaction::into_domain)
                .map(drop),
            decode::<WireHistory>(body)
                .and_then(|h| {
                    h.transactions
                        .into_iter()
                        .map(WireTransaction::into_domain)
                        .collect::<Result<Vec<_>, _>>()
                })
                .map(drop),
            decode::<WireDraft>(body)
                .and_then(|d| d.into_domain(Money::new(Amount::default(), usd)))
                .map(drop),
            decode::<WireCommit>(body).and_then(WireCommit::into_domain).map(drop),
            decode::<WireCancel>(body).map(|c| drop(c.into_domain(&draft))),
        ];
        for r in results {
            if let Err(e) = r {
                proptest::prop_assert!(matches!(e, Error::Decode { .. }), "{e:?}");
            }
        }
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            read_all(&body)?;
        }

        #[test]
        fn arbitrary_json_never_panics(value in any_json()) {
            read_all(&serde_json::to_vec(&value).unwrap())?;
            read_all(&serde_json::to_vec(&serde_json::json!({"transactions": [value]})).unwrap())?;
        }
    }
}
