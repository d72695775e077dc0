//! hub-store's behavioural tests: one suite run against SQLite and PostgreSQL, model
//! tests, concurrency, durability across a killed process, the Redis cache, the shared rate budget and the live-event bus.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod audit;
mod concurrency;
mod dlq;
mod durability;
mod events;
mod idempotency;
mod models;
mod open;
mod rate_budget;
mod redis_cache;
mod retention;
mod sessions;
mod webhook_ids;
