//! OAuth bearer authentication with an access token held as a secret (Zendesk OAuth).

use async_trait::async_trait;
use http::header::AUTHORIZATION;
use hub_core::Error;
use secrecy::ExposeSecret;

use super::{Authenticate, sensitive_value};
use crate::secret::SecretCell;

/// Sends `Authorization: Bearer {token}`, the token read through the secrets layer
/// (so an operator rotates it in the secret store) and read again after a 401.
///
/// ```
/// # use std::sync::Arc;
/// # fn build(secrets: Arc<dyn hub_core::SecretSource>) -> Result<(), Box<dyn std::error::Error>> {
/// use hub_upstream::{SecretCell, auth::Bearer};
/// let auth = Bearer::new(SecretCell::new(secrets, "env:ZENDESK_OAUTH_TOKEN".parse()?));
/// # let _ = auth; Ok(()) }
/// ```
#[derive(Debug)]
pub struct Bearer {
    token: SecretCell,
}

impl Bearer {
    /// A strategy sending `token` as a bearer token.
    pub fn new(token: SecretCell) -> Self {
        Self { token }
    }
}

#[async_trait]
impl Authenticate for Bearer {
    async fn authorize(&self, parts: &mut http::request::Parts, _body: &[u8]) -> Result<(), Error> {
        let token = self.token.get().await?;
        parts.headers.insert(
            AUTHORIZATION,
            sensitive_value(&format!("Bearer {}", token.expose_secret()))?,
        );
        Ok(())
    }

    async fn reauthenticate(&self, _failed: &http::Extensions) {
        self.token.forget();
    }
}
