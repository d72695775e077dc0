//! End-to-end tests of hub-sim over real HTTP on 127.0.0.1.

// Test helpers outside `#[test]` functions may stop loudly too, as clippy.toml allows in tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod binary;
mod concurrency;
mod control;
mod faults;
mod generic;
mod jira;
mod ledger;
mod rate_limits;
mod sales;
mod status;
mod support;
mod vault_notify;
mod webhooks;
mod zendesk;
