//! Test helpers for crates that build on hub-upstream (feature `test-util`): in-memory
//! secrets, the in-memory audit log (hub-core's), a call context and a retry policy that waits for nothing.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use std::time::Duration;

use async_trait::async_trait;
use hub_core::{CallContext, RequestId};
use hub_core::{SecretError, SecretRef, SecretSource};
use hub_resilience::backoff::{Backoff, Jitter};
use hub_resilience::retry::RetryPolicy;
use secrecy::SecretString;

/// A context for the hub request `request`.
///
/// # Panics
///
/// When `request` is not a valid request id: a bug in the calling test.
#[allow(clippy::expect_used)] // Test-only helper: an invalid literal id should fail the test loudly.
pub fn ctx(request: &str) -> CallContext {
    CallContext::new(RequestId::parse(request).expect("a valid request id"))
}

/// The contract's retry policy with millisecond backoffs: a test waits for nothing but
/// loopback round trips (attempts, deadline and per-attempt timeout as in production).
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        backoff: Backoff {
            initial: Duration::from_millis(5),
            multiplier: 2.0,
            max: Duration::from_millis(20),
            jitter: Jitter::None,
        },
        per_attempt_timeout: Duration::from_secs(10),
        deadline: Duration::from_secs(30),
        ..RetryPolicy::default()
    }
}

/// Secrets held in memory, keyed by reference; settable at run time (to test rotation).
#[derive(Debug, Default)]
pub struct StaticSecrets {
    values: Mutex<HashMap<String, String>>,
    reads: Mutex<u64>,
}

impl StaticSecrets {
    /// Sets the secret behind `reference` (`env:NAME`, …).
    pub fn set(&self, reference: &str, value: &str) {
        self.values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(reference.to_owned(), value.to_owned());
    }

    /// How many times a secret was resolved.
    pub fn reads(&self) -> u64 {
        *self.reads.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl SecretSource for StaticSecrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretString, SecretError> {
        *self.reads.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        let key = reference.to_string();
        let values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        values
            .get(&key)
            .map(|v| SecretString::from(v.clone()))
            .ok_or(SecretError::NotFound(key))
    }
}

pub use hub_core::testing::MemoryAudit;
