//! A secret resolved through the secrets layer on first use and re-resolved after a 401.

use std::sync::{Arc, RwLock};

use hub_core::{Error, SecretRef, SecretSource};
use secrecy::SecretString;

/// One credential: where it lives, and its value once resolved.
///
/// The value is kept until [`SecretCell::forget`] (called when the upstream answers
/// 401), so a rotated secret is picked up without a restart.
pub struct SecretCell {
    source: Arc<dyn SecretSource>,
    reference: SecretRef,
    cached: RwLock<Option<SecretString>>,
}

impl std::fmt::Debug for SecretCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretCell")
            .field("reference", &self.reference.to_string())
            .finish_non_exhaustive()
    }
}

impl SecretCell {
    /// A cell for `reference`, resolved through `source` when first needed.
    pub fn new(source: Arc<dyn SecretSource>, reference: SecretRef) -> Self {
        Self {
            source,
            reference,
            cached: RwLock::new(None),
        }
    }

    /// The secret, resolving it if needed.
    pub async fn get(&self) -> Result<SecretString, Error> {
        if let Some(s) = self.cached.read().ok().and_then(|c| c.clone()) {
            return Ok(s);
        }
        let value = self
            .source
            .resolve(&self.reference)
            .await
            .map_err(|e| Error::Credentials { reason: e.to_string() })?;
        if let Ok(mut c) = self.cached.write() {
            *c = Some(value.clone());
        }
        Ok(value)
    }

    /// Drops the cached value so the next [`SecretCell::get`] resolves it again.
    pub fn forget(&self) {
        if let Ok(mut c) = self.cached.write() {
            *c = None;
        }
    }
}
