//! hub-store's behavioural tests: one suite run against SQLite and PostgreSQL, model
//! tests, concurrency, durability across a killed process, and the Redis cache.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod audit;
mod concurrency;
mod dlq;
mod durability;
mod idempotency;
mod models;
mod open;
mod redis_cache;
mod webhook_ids;
