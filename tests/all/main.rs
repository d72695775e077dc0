//! The workspace's end-to-end tests, one binary with a module per concern: the real
//! hub (every crate composed as the binary composes them) against hub-sim, over HTTP.
// Test code: a failed expectation should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin_browser;
mod architecture;
mod cached_reads;
mod deploy_kit;
mod errors;
mod expiring_keys;
mod http2;
mod idempotency;
mod operations;
mod rate_budgets;
mod readme_examples;
mod security;
mod tickets;
mod tracing;
mod transactions;
mod unkeyed_comments;
mod write_truth;
