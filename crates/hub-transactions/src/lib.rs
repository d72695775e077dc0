//! Transaction adapters: status reads and draft/commit/cancel writes.
