//! The ports: small traits the domain needs, implemented by adapters and stores.
//!
//! Adapters are held as `Arc<dyn Port>`. With the `mock` feature (and in this crate's
//! tests) each trait has a mockall `Mock…` implementation.

pub mod audit;
pub mod cache;
pub mod dlq;
pub mod events;
pub mod idempotency;
pub mod invalidation;
pub mod notify;
pub mod secrets;
pub mod sessions;
pub mod ticketing;
pub mod trace_context;
pub mod transactions;
pub mod webhook_ids;

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Page<T> {
    /// The items, in the listing's order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page. Opaque to callers.
    pub next_cursor: Option<String>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            next_cursor: None,
        }
    }
}
