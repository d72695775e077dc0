//! What cached transaction reads are stored and tagged under, and for how long by default, so a commit or a webhook invalidates exactly them.
//!
//! ```
//! use hub_transactions::cache_keys;
//! assert_eq!(cache_keys::transaction_status("T-1"), "integration:transaction_status:id=T-1");
//! assert_eq!(
//!     cache_keys::transaction_history("c7", 20),
//!     "integration:transaction_history:customer=c7&limit=20"
//! );
//! assert_eq!(cache_keys::customer_tag("c7"), "customer:c7");
//! ```

use std::time::Duration;

use hub_resilience::cache::keys;

/// The operation name of a transaction status read (the cache metrics' `operation` label).
pub const TRANSACTION_STATUS: &str = "transaction_status";
/// The operation name of a transaction history read.
pub const TRANSACTION_HISTORY: &str = "transaction_history";

/// How long cached transaction reads stay fresh (configurable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttls {
    /// Transaction status: 120 s.
    pub transaction_status: Duration,
    /// Transaction history: 300 s.
    pub transaction_history: Duration,
}

impl Default for Ttls {
    fn default() -> Self {
        Self {
            transaction_status: Duration::from_secs(120),
            transaction_history: Duration::from_secs(300),
        }
    }
}

/// `integration:transaction_status:id={transaction_id}`.
pub fn transaction_status(transaction_id: &str) -> String {
    keys::key(TRANSACTION_STATUS, &[("id", transaction_id)])
}

/// `integration:transaction_history:customer={customer_id}&limit={limit}`; tag it with
/// [`customer_tag`] so every page is invalidated at once.
pub fn transaction_history(customer_id: &str, limit: u32) -> String {
    keys::key(
        TRANSACTION_HISTORY,
        &[("customer", customer_id), ("limit", &limit.to_string())],
    )
}

/// `customer:{customer_id}`: the tag on every cached read about a customer.
pub fn customer_tag(customer_id: &str) -> String {
    keys::tag("customer", customer_id)
}
