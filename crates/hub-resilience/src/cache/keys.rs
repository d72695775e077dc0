//! Cache keys and tags computable from resource ids, so a webhook invalidates exactly what a read cached.
//!
//! The scheme is `integration:{operation}:{name}={value}&…`, parameters sorted by name,
//! with `%`, `&`, `=` and `:` in values percent-encoded — readable, unhashed, and the
//! same whichever code path builds it:
//!
//! ```
//! use hub_resilience::cache::keys;
//! assert_eq!(keys::ticket_status("ABC-1"), "integration:ticket_status:id=ABC-1");
//! assert_eq!(keys::transaction_history("c7", 20), "integration:transaction_history:customer=c7&limit=20");
//! assert_eq!(keys::key("x", &[("b", "2"), ("a", "1&=")]), "integration:x:a=1%26%3D&b=2");
//! assert_eq!(keys::customer_tag("c7"), "customer:c7");
//! ```

use std::fmt::Write as _;
use std::time::Duration;

/// The operation name of a ticket status read.
pub const TICKET_STATUS: &str = "ticket_status";
/// The operation name of a transaction status read.
pub const TRANSACTION_STATUS: &str = "transaction_status";
/// The operation name of a transaction history read.
pub const TRANSACTION_HISTORY: &str = "transaction_history";

/// The contract's TTLs per cached operation (configurable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttls {
    /// Ticket status: 300 s.
    pub ticket_status: Duration,
    /// Transaction status: 120 s.
    pub transaction_status: Duration,
    /// Transaction history: 300 s.
    pub transaction_history: Duration,
}

impl Default for Ttls {
    fn default() -> Self {
        Self {
            ticket_status: Duration::from_secs(300),
            transaction_status: Duration::from_secs(120),
            transaction_history: Duration::from_secs(300),
        }
    }
}

/// The key of `operation` with `params` (in any order).
pub fn key(operation: &str, params: &[(&str, &str)]) -> String {
    let mut sorted: Vec<_> = params.to_vec();
    sorted.sort_unstable();
    let mut out = format!("integration:{operation}:");
    for (i, (name, value)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_into(&mut out, name);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

/// `integration:ticket_status:id={ticket_id}`.
pub fn ticket_status(ticket_id: &str) -> String {
    key(TICKET_STATUS, &[("id", ticket_id)])
}

/// `integration:transaction_status:id={transaction_id}`.
pub fn transaction_status(transaction_id: &str) -> String {
    key(TRANSACTION_STATUS, &[("id", transaction_id)])
}

/// `integration:transaction_history:customer={customer_id}&limit={limit}`; tag it with
/// [`customer_tag`] so every page is invalidated at once.
pub fn transaction_history(customer_id: &str, limit: u32) -> String {
    key(
        TRANSACTION_HISTORY,
        &[("customer", customer_id), ("limit", &limit.to_string())],
    )
}

/// `customer:{customer_id}`: the tag on every cached read about a customer.
pub fn customer_tag(customer_id: &str) -> String {
    let mut out = String::from("customer:");
    encode_into(&mut out, customer_id);
    out
}

fn encode_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '%' | '&' | '=' | ':' => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "%{b:02X}");
                }
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parameter_order_does_not_matter(a in ".{0,8}", b in ".{0,8}") {
            prop_assert_eq!(key("op", &[("a", &a), ("b", &b)]), key("op", &[("b", &b), ("a", &a)]));
        }

        #[test]
        fn distinct_ids_give_distinct_keys(a in ".{0,12}", b in ".{0,12}") {
            prop_assume!(a != b);
            prop_assert_ne!(ticket_status(&a), ticket_status(&b));
            prop_assert_ne!(transaction_history(&a, 10), transaction_history(&b, 10));
            prop_assert_ne!(customer_tag(&a), customer_tag(&b));
        }
    }
}
