//! The hub's one path to external systems: a pooled HTTP client, authentication
//! strategies, response classification, and the resilient call that every adapter shares.
//!
//! An adapter describes a call ([`request::Call`]: operation, method, path, exact body
//! bytes, idempotency) and hands it to its [`endpoint::Endpoint`], which runs it through
//! `hub-resilience` (breaker, retry with budget and deadline, per-attempt timeout),
//! authenticates and signs each attempt, classifies the answer into `hub_core::Error`
//! (reading how long the upstream asked to wait: [`retry_after`], [`rate_headers`]), and
//! reports the call to the audit log, the metrics and the logs. Cached reads wrap the
//! endpoint's call in `hub_resilience::cache::read_through`.

mod attempt_span;
pub mod auth;
pub mod client;
pub mod endpoint;
mod every;
pub mod observe;
pub mod rate_headers;
mod refusals;
pub mod request;
pub mod response;
pub mod retry_after;
pub mod secret;
mod spans;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod timestamp;

pub use auth::Authenticate;
pub use client::{ClientConfig, HttpClient, Response};
pub use endpoint::{Endpoint, EndpointParts, EndpointRate};
pub use request::Call;
pub use secret::SecretCell;
