//! The hub's HTTP API over real HTTP, against in-memory fakes of every port.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod admin;
mod assembled;
mod bodies;
mod cli;
mod dlq;
mod errors;
mod events;
mod fresh_metrics;
mod idempotency;
mod ids;
mod openapi;
mod operator_cli;
mod probe_cli;
mod reads;
mod roles;
mod shell_docs;
mod shutdown;
mod sim;
mod supervisor;
mod support;
mod traces_export;
mod webhooks;
