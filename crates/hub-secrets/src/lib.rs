//! Sources of secrets behind hub-core's [`SecretSource`] port: environment variables
//! ([`EnvSource`]), mounted files ([`FileSource`]) and HashiCorp Vault KV v2
//! ([`VaultSource`]), with [`Secrets`] dispatching each `env:`, `file:` or `vault:`
//! reference to the source of its scheme.
//!
//! Every value is a [`secrecy::SecretString`] from the moment it is read, and no error
//! or `Debug` output carries one. Each resolution reads its medium again, so a rotated
//! secret is seen without a restart.

mod env;
mod file;
mod vault;

use std::sync::Arc;

use async_trait::async_trait;
use hub_core::{SecretError, SecretRef, SecretSource};
use secrecy::SecretString;

pub use env::EnvSource;
pub use file::FileSource;
pub use vault::{VaultConfig, VaultSource};

/// Dispatches each reference to the source of its scheme.
///
/// ```
/// use hub_core::{SecretRef, SecretSource};
/// use hub_secrets::{EnvSource, Secrets};
/// use secrecy::ExposeSecret;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let secrets = Secrets::new(EnvSource::from_pairs([("TOKEN", "s3cret")]), None);
/// let value = secrets.resolve(&"env:TOKEN".parse::<SecretRef>().unwrap()).await.unwrap();
/// assert_eq!(value.expose_secret(), "s3cret");
/// # });
/// ```
#[derive(Clone)]
pub struct Secrets {
    env: EnvSource,
    file: FileSource,
    vault: Option<Arc<VaultSource>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("vault", &self.vault.is_some())
            .finish_non_exhaustive()
    }
}

impl Secrets {
    /// Sources over `env`, the file system, and Vault when configured.
    pub fn new(env: EnvSource, vault: Option<VaultSource>) -> Self {
        Self {
            env,
            file: FileSource,
            vault: vault.map(Arc::new),
        }
    }

    /// Sources over the process environment; Vault when `VAULT_ADDR` and `VAULT_TOKEN` are set.
    pub fn from_process_env() -> Result<Self, SecretError> {
        let env = EnvSource::process();
        let vault = VaultConfig::from_env(&env)?.map(VaultSource::new).transpose()?;
        Ok(Self::new(env, vault))
    }
}

#[async_trait]
impl SecretSource for Secrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretString, SecretError> {
        match reference {
            SecretRef::Env(_) => self.env.resolve(reference).await,
            SecretRef::File(_) => self.file.resolve(reference).await,
            SecretRef::Vault { .. } => match &self.vault {
                Some(v) => v.resolve(reference).await,
                None => Err(SecretError::Unavailable {
                    reference: reference.to_string(),
                    reason: "Vault is not configured (set VAULT_ADDR and VAULT_TOKEN)".to_owned(),
                }),
            },
        }
    }
}

#[cfg(test)]
mod tests;

/// The README's example, run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
