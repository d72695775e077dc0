//! Storage adapters: SQLite/PostgreSQL audit log, dead-letter queue and idempotency keys; Redis cache.
