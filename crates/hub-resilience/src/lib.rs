//! Transport-agnostic resilience primitives: retry, circuit breaker, cache, budgets.
