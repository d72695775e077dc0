//! HMAC-SHA256 request signing over the timestamp, method, path and exact body bytes.
//!
//! `X-HMAC-Timestamp: {unix seconds}` and
//! `X-HMAC-Signature: v1={hex(HMAC-SHA256(secret, "{timestamp}\n{METHOD}\n{path?query}\n{hex(SHA-256(body))}"))}`,
//! lower-case hex, the path as on the wire (with any `base_url` prefix).

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use http::HeaderValue;
use hub_core::Error;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::{Authenticate, sensitive_value};
use crate::secret::SecretCell;

/// The header carrying the signing time.
pub const TIMESTAMP_HEADER: &str = "x-hmac-timestamp";
/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-hmac-signature";

/// The string that is signed.
///
/// ```
/// let payload = hub_upstream::auth::signature_payload(1700000000, "POST", "/sales/transactions/drafts", b"");
/// assert_eq!(payload, "1700000000\nPOST\n/sales/transactions/drafts\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
/// ```
pub fn signature_payload(timestamp: u64, method: &str, path_and_query: &str, body: &[u8]) -> String {
    format!(
        "{timestamp}\n{method}\n{path_and_query}\n{}",
        hex(&Sha256::digest(body))
    )
}

/// `v1=` and the lower-case hex HMAC-SHA256 of `payload` under `secret`.
pub(crate) fn sign(secret: &[u8], payload: &str) -> Result<String, Error> {
    // HMAC accepts keys of any length; the error branch exists only in the type.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).map_err(|_| Error::Credentials {
        reason: "the HMAC secret was refused".to_owned(),
    })?;
    mac.update(payload.as_bytes());
    Ok(format!("v1={}", hex(&mac.finalize().into_bytes())))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Signs every request with the shared secret.
#[derive(Debug)]
pub struct HmacSigner {
    secret: SecretCell,
    now: fn() -> SystemTime,
}

impl HmacSigner {
    /// A signer using the system clock.
    pub fn new(secret: SecretCell) -> Self {
        Self {
            secret,
            now: SystemTime::now,
        }
    }

    /// A signer with another clock (for tests of stale timestamps).
    pub fn with_clock(secret: SecretCell, now: fn() -> SystemTime) -> Self {
        Self { secret, now }
    }
}

#[async_trait]
impl Authenticate for HmacSigner {
    async fn authorize(&self, parts: &mut http::request::Parts, body: &[u8]) -> Result<(), Error> {
        let secret = self.secret.get().await?;
        let timestamp = (self.now)()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let payload = signature_payload(timestamp, parts.method.as_str(), path, body);
        let signature = sign(secret.expose_secret().as_bytes(), &payload)?;
        parts.headers.insert(TIMESTAMP_HEADER, HeaderValue::from(timestamp));
        parts.headers.insert(SIGNATURE_HEADER, sensitive_value(&signature)?);
        Ok(())
    }

    async fn reauthenticate(&self, _failed: &http::Extensions) {
        self.secret.forget();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", "what do ya want for nothing?").unwrap(),
            "v1=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
