//! Authentication strategies, each a small piece that adds its credentials to a request.
//!
//! A strategy sees the request's head and the exact body bytes about to be sent (so a
//! signature covers what goes on the wire), and is told when the upstream answered 401
//! so that it drops cached tokens and secrets. Strategies compose with [`Chain`].

mod api_key;
mod basic;
mod bearer;
mod hmac;
mod oauth2;

use std::sync::Arc;

use async_trait::async_trait;
use hub_core::Error;

pub use self::api_key::ApiKey;
pub use self::basic::Basic;
pub use self::bearer::Bearer;
pub use self::hmac::{HmacSigner, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_payload};
pub use self::oauth2::{OAuth2ClientCredentials, OAuth2Config, TokenBody};

/// Adds credentials to an outgoing request.
#[async_trait]
pub trait Authenticate: Send + Sync {
    /// Adds headers to `parts`; `body` is exactly what will be sent.
    async fn authorize(&self, parts: &mut http::request::Parts, body: &[u8]) -> Result<(), Error>;

    /// The upstream answered 401 to a request authorised with `failed` (that request's
    /// extensions, where strategies leave a stamp of the credentials they used): forget
    /// those credentials so the next call fetches fresh ones. Credentials that were
    /// already replaced since are kept, so a burst of 401s causes one refresh, not many.
    async fn reauthenticate(&self, _failed: &http::Extensions) {}
}

/// No credentials.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuth;

#[async_trait]
impl Authenticate for NoAuth {
    async fn authorize(&self, _parts: &mut http::request::Parts, _body: &[u8]) -> Result<(), Error> {
        Ok(())
    }
}

/// Several strategies applied in order (OAuth2 bearer, then an HMAC signature, say).
#[derive(Clone, Default)]
pub struct Chain(pub Vec<Arc<dyn Authenticate>>);

#[async_trait]
impl Authenticate for Chain {
    async fn authorize(&self, parts: &mut http::request::Parts, body: &[u8]) -> Result<(), Error> {
        for step in &self.0 {
            step.authorize(parts, body).await?;
        }
        Ok(())
    }

    async fn reauthenticate(&self, failed: &http::Extensions) {
        for step in &self.0 {
            step.reauthenticate(failed).await;
        }
    }
}

/// Marks a header value sensitive (kept out of hyper's debug output) and builds it.
pub(crate) fn sensitive_value(value: &str) -> Result<http::HeaderValue, Error> {
    let mut v = http::HeaderValue::from_str(value).map_err(|_| Error::Credentials {
        reason: "a credential is not a valid header value".to_owned(),
    })?;
    v.set_sensitive(true);
    Ok(v)
}
