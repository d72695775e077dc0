//! API key authentication: the key in a header of the upstream's choosing.

use async_trait::async_trait;
use http::HeaderName;
use hub_core::Error;
use secrecy::ExposeSecret;

use super::{Authenticate, sensitive_value};
use crate::secret::SecretCell;

/// Sends the key in `header` (e.g. `X-API-Key`).
#[derive(Debug)]
pub struct ApiKey {
    header: HeaderName,
    key: SecretCell,
}

impl ApiKey {
    /// A strategy sending `key` in `header`.
    pub fn new(header: HeaderName, key: SecretCell) -> Self {
        Self { header, key }
    }
}

#[async_trait]
impl Authenticate for ApiKey {
    async fn authorize(&self, parts: &mut http::request::Parts, _body: &[u8]) -> Result<(), Error> {
        let key = self.key.get().await?;
        parts
            .headers
            .insert(self.header.clone(), sensitive_value(key.expose_secret())?);
        Ok(())
    }

    async fn reauthenticate(&self, _failed: &http::Extensions) {
        self.key.forget();
    }
}
