//! Secrets from HashiCorp Vault KV v2 (`vault:mount/path#field`):
//! `GET {VAULT_ADDR}/v1/{mount}/data/{path}` with `X-Vault-Token`.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hub_core::{SecretError, SecretRef, SecretSource};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};

use super::EnvSource;

/// Path segments keep only unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The largest Vault answer read.
const MAX_BODY: usize = 1024 * 1024;

/// Where Vault is and how to authenticate to it.
#[derive(Clone)]
pub struct VaultConfig {
    /// `VAULT_ADDR`, e.g. `https://vault.internal:8200`.
    pub addr: http::Uri,
    /// `VAULT_TOKEN`.
    pub token: SecretString,
    /// Bound on one request.
    pub timeout: Duration,
}

impl fmt::Debug for VaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultConfig")
            .field("addr", &self.addr)
            .field("token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl VaultConfig {
    /// From `VAULT_ADDR` and `VAULT_TOKEN`; `None` when `VAULT_ADDR` is unset.
    pub fn from_env(env: &EnvSource) -> Result<Option<Self>, SecretError> {
        let Some(addr) = env.get("VAULT_ADDR") else {
            return Ok(None);
        };
        let unavailable = |reason: &str| SecretError::Unavailable {
            reference: "vault".to_owned(),
            reason: reason.to_owned(),
        };
        let addr: http::Uri = addr
            .expose_secret()
            .parse()
            .map_err(|_| unavailable("VAULT_ADDR is not a URL"))?;
        let token = env
            .get("VAULT_TOKEN")
            .ok_or_else(|| unavailable("VAULT_ADDR is set but VAULT_TOKEN is not"))?;
        Ok(Some(Self {
            addr,
            token,
            timeout: Duration::from_secs(5),
        }))
    }
}

/// Reads KV v2 secrets over HTTP or HTTPS (webpki roots), at each resolution.
pub struct VaultSource {
    config: VaultConfig,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl fmt::Debug for VaultSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultSource")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl VaultSource {
    /// A client for `config`.
    pub fn new(config: VaultConfig) -> Result<Self, SecretError> {
        let https = HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            config,
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    /// The KV v2 read URL of `mount` and `path`.
    pub fn url(&self, mount: &str, path: &str) -> String {
        let base = self.config.addr.to_string();
        let base = base.trim_end_matches('/');
        let mount = utf8_percent_encode(mount, SEGMENT);
        let path: Vec<String> = path
            .split('/')
            .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
            .collect();
        format!("{base}/v1/{mount}/data/{}", path.join("/"))
    }
}

#[async_trait]
impl SecretSource for VaultSource {
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretString, SecretError> {
        let SecretRef::Vault { mount, path, field } = reference else {
            return Err(SecretError::BadReference(reference.to_string()));
        };
        let unavailable = |reason: String| SecretError::Unavailable {
            reference: reference.to_string(),
            reason,
        };
        let mut token = http::HeaderValue::from_str(self.config.token.expose_secret())
            .map_err(|_| unavailable("VAULT_TOKEN is not a valid header value".to_owned()))?;
        token.set_sensitive(true);
        let req = http::Request::get(self.url(mount, path))
            .header("x-vault-token", token)
            .body(Empty::<Bytes>::new())
            .map_err(|_| unavailable("cannot build the request".to_owned()))?;
        let res = tokio::time::timeout(self.config.timeout, self.client.request(req))
            .await
            .map_err(|_| unavailable("Vault did not answer in time".to_owned()))?
            .map_err(|_| unavailable("cannot reach Vault".to_owned()))?;
        match res.status().as_u16() {
            200 => {}
            404 => return Err(SecretError::NotFound(reference.to_string())),
            403 => return Err(unavailable("Vault denied access (403)".to_owned())),
            s => return Err(unavailable(format!("Vault answered HTTP {s}"))),
        }
        let body = Limited::new(res.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|_| unavailable("cannot read Vault's answer".to_owned()))?
            .to_bytes();
        // The body holds secrets: it is never put in an error.
        let doc: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| unavailable("Vault's answer is not JSON".to_owned()))?;
        match doc.pointer("/data/data").and_then(|d| d.get(field.as_str())) {
            Some(serde_json::Value::String(s)) => Ok(SecretString::from(s.clone())),
            Some(_) => Err(unavailable(format!("field {field} is not a string"))),
            None => Err(SecretError::NotFound(reference.to_string())),
        }
    }
}
