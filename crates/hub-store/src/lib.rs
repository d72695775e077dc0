//! Integration Hub's stores: the audit log, the dead-letter queue, idempotency keys,
//! webhook ids and the supervisor's page's sessions on SQLite (embedded default) or PostgreSQL, and the shared cache on Redis;
//! the live-event bus in-process or, with Redis, shared by every instance.
//!
//! [`Stores::open`] takes a [`StoreConfig`] and returns every store, migrated and ready;
//! each implements its `hub_core` port ([`hub_core::AuditLog`],
//! [`hub_core::DeadLetterQueue`], [`hub_core::IdempotencyStore`], [`hub_core::SessionStore`], [`hub_core::Cache`],
//! [`hub_core::EventPublisher`]).
//! One implementation serves both SQL engines: the statements are written once, with
//! `$n` placeholders, and state changes are single conditional statements
//! (`UPDATE … WHERE … RETURNING`, `INSERT … ON CONFLICT DO UPDATE … WHERE`), which both
//! engines execute atomically. Every time compared comes from an injected [`clock::Clock`].

pub mod audit;
pub mod clock;
pub mod config;
mod cursor;
pub mod db;
pub mod dlq;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod rate_budget;
pub mod redis_cache;
mod redis_conn;
pub mod retention;
pub mod sessions;
pub mod stores;
pub mod sweeper;
pub mod webhook_ids;

pub use audit::SqlAuditLog;
pub use config::StoreConfig;
pub use db::{Backend, Database};
pub use dlq::SqlDeadLetterQueue;
pub use error::OpenError;
pub use events::{LocalEvents, RedisEvents};
pub use idempotency::SqlIdempotencyStore;
pub use rate_budget::{RedisBudget, SharedBudgetOptions};
pub use redis_cache::RedisCache;
pub use sessions::{MemoryAdminSessions, SqlAdminSessions};
pub use stores::Stores;
pub use sweeper::spawn_sweeper;
pub use webhook_ids::SqlWebhookIds;
