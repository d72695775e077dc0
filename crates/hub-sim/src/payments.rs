//! Customers, transactions and drafts: the payment data the status and sales systems share.

use std::collections::{BTreeMap, HashMap};

use hub_core::{Amount, Currency};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::clock::{parse, rfc3339};

/// A customer of the payment systems.
#[derive(Debug, Clone)]
pub(crate) struct Customer {
    pub(crate) id: String,
    pub(crate) name: String,
}

/// A transaction, as the status system reports it.
#[derive(Debug, Clone)]
pub(crate) struct Transaction {
    pub(crate) id: String,
    pub(crate) customer_id: String,
    pub(crate) status: String,
    pub(crate) amount: Amount,
    pub(crate) currency: Currency,
    pub(crate) description: String,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) completed_at: Option<OffsetDateTime>,
}

impl Transaction {
    pub(crate) fn json(&self) -> Value {
        json!({
            "id": self.id,
            "customer_id": self.customer_id,
            "status": self.status,
            "amount": self.amount.to_string(),
            "currency": self.currency.as_str(),
            "description": self.description,
            "created_at": rfc3339(self.created_at),
            "completed_at": self.completed_at.map(rfc3339),
        })
    }
}

/// Where a sales draft is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DraftState {
    Pending,
    Committed,
    Cancelled,
}

/// A sales draft awaiting commit.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub(crate) id: String,
    pub(crate) customer_id: String,
    pub(crate) amount: Amount,
    pub(crate) currency: Currency,
    pub(crate) description: String,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) state: DraftState,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) expires_at: OffsetDateTime,
    pub(crate) transaction_id: Option<String>,
}

impl Draft {
    /// The status as a client sees it at `now` (a pending draft past `expires_at` is `expired`).
    pub(crate) fn status(&self, now: OffsetDateTime) -> &'static str {
        match self.state {
            DraftState::Committed => "committed",
            DraftState::Cancelled => "cancelled",
            DraftState::Pending if now >= self.expires_at => "expired",
            DraftState::Pending => "pending_confirmation",
        }
    }

    pub(crate) fn json(&self, now: OffsetDateTime) -> Value {
        json!({
            "id": self.id,
            "customer_id": self.customer_id,
            "status": self.status(now),
            "amount": self.amount.to_string(),
            "currency": self.currency.as_str(),
            "description": self.description,
            "metadata": self.metadata,
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.expires_at),
            "transaction_id": self.transaction_id,
        })
    }
}

/// Customers, transactions and drafts: shared by the status and sales systems.
#[derive(Debug)]
pub(crate) struct Data {
    pub(crate) customers: BTreeMap<String, Customer>,
    pub(crate) transactions: HashMap<String, Transaction>,
    /// Each customer's transaction ids, oldest first.
    pub(crate) by_customer: HashMap<String, Vec<String>>,
    pub(crate) drafts: HashMap<String, Draft>,
    pub(crate) next_transaction: u64,
    pub(crate) next_draft: u64,
}

type Seed<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str, Option<&'a str>);

const CUSTOMERS: [(&str, &str); 5] = [
    ("CUST-1001", "Ada Lovelace"),
    ("CUST-1002", "Grace Hopper"),
    ("CUST-1003", "Alan Turing"),
    ("CUST-1004", "Katherine Johnson"),
    ("CUST-1005", "Edsger Dijkstra"),
];

const TRANSACTIONS: [Seed<'static>; 7] = [
    (
        "TXN-5001",
        "CUST-1001",
        "completed",
        "500.00",
        "USD",
        "2026-01-02T10:00:00Z",
        Some("2026-01-02T10:02:00Z"),
    ),
    (
        "TXN-5003",
        "CUST-1001",
        "refunded",
        "75.50",
        "USD",
        "2026-01-03T09:15:00Z",
        Some("2026-01-03T09:16:00Z"),
    ),
    (
        "TXN-5002",
        "CUST-1001",
        "pending",
        "19.99",
        "USD",
        "2026-01-04T12:00:00Z",
        None,
    ),
    (
        "TXN-5004",
        "CUST-1002",
        "failed",
        "1250.00",
        "EUR",
        "2026-01-05T08:30:00Z",
        None,
    ),
    (
        "TXN-5005",
        "CUST-1002",
        "completed",
        "0.10",
        "EUR",
        "2026-01-06T14:45:00Z",
        Some("2026-01-06T14:45:30Z"),
    ),
    (
        "TXN-5006",
        "CUST-1003",
        "processing",
        "42.00",
        "GBP",
        "2026-01-07T16:20:00Z",
        None,
    ),
    (
        "TXN-5007",
        "CUST-1004",
        "completed",
        "9999999999.99",
        "USD",
        "2026-01-08T11:11:11Z",
        Some("2026-01-08T11:12:00Z"),
    ),
];

impl Data {
    /// Customers `CUST-1001`..`CUST-1005` and transactions `TXN-5001`..`TXN-5007` (see the README).
    pub(crate) fn seeded() -> Self {
        let customers = CUSTOMERS
            .iter()
            .map(|(id, name)| {
                (
                    (*id).to_owned(),
                    Customer {
                        id: (*id).to_owned(),
                        name: (*name).to_owned(),
                    },
                )
            })
            .collect();
        let mut data = Self {
            customers,
            transactions: HashMap::new(),
            by_customer: HashMap::new(),
            drafts: HashMap::new(),
            next_transaction: 5008,
            next_draft: 1,
        };
        for (id, customer, status, amount, currency, created, completed) in TRANSACTIONS {
            let (Ok(amount), Ok(currency)) = (amount.parse::<Amount>(), Currency::parse(currency)) else {
                continue;
            };
            data.insert(Transaction {
                id: id.to_owned(),
                customer_id: customer.to_owned(),
                status: status.to_owned(),
                amount,
                currency,
                description: format!("Seeded transaction {id}"),
                created_at: parse(created),
                completed_at: completed.map(parse),
            });
        }
        data
    }

    /// Adds a transaction (newer than every other of its customer).
    pub(crate) fn insert(&mut self, t: Transaction) {
        self.by_customer
            .entry(t.customer_id.clone())
            .or_default()
            .push(t.id.clone());
        self.transactions.insert(t.id.clone(), t);
    }
}
