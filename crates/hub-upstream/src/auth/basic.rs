//! HTTP basic authentication (Zendesk `{email}/token:{api_token}`, Jira `{email}:{api_token}`).

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::AUTHORIZATION;
use hub_core::Error;
use secrecy::ExposeSecret;

use super::{Authenticate, sensitive_value};
use crate::secret::SecretCell;

/// Sends `Authorization: Basic base64(username:password)`.
#[derive(Debug)]
pub struct Basic {
    username: String,
    password: SecretCell,
}

impl Basic {
    /// Basic authentication with a fixed user name and a secret password or token.
    pub fn new(username: impl Into<String>, password: SecretCell) -> Self {
        Self {
            username: username.into(),
            password,
        }
    }

    /// Zendesk's API-token form: user `{email}/token`, password the API token.
    pub fn zendesk(email: &str, api_token: SecretCell) -> Self {
        Self::new(format!("{email}/token"), api_token)
    }

    /// Jira Cloud's form: user the e-mail address, password the API token.
    pub fn jira(email: &str, api_token: SecretCell) -> Self {
        Self::new(email, api_token)
    }
}

#[async_trait]
impl Authenticate for Basic {
    async fn authorize(&self, parts: &mut http::request::Parts, _body: &[u8]) -> Result<(), Error> {
        let password = self.password.get().await?;
        let encoded = STANDARD.encode(format!("{}:{}", self.username, password.expose_secret()));
        parts
            .headers
            .insert(AUTHORIZATION, sensitive_value(&format!("Basic {encoded}"))?);
        Ok(())
    }

    async fn reauthenticate(&self, _failed: &http::Extensions) {
        self.password.forget();
    }
}
