//! Secrets from environment variables (`env:NAME`).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use hub_core::{SecretError, SecretRef, SecretSource};
use secrecy::SecretString;

/// Reads environment variables: the process's, or a fixed set (tests, embedding).
#[derive(Clone)]
pub struct EnvSource {
    fixed: Option<Arc<BTreeMap<String, SecretString>>>,
}

impl std::fmt::Debug for EnvSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.fixed.is_some() {
            "EnvSource(fixed)"
        } else {
            "EnvSource(process)"
        })
    }
}

impl EnvSource {
    /// The process environment, read at each resolution (so a rotated value is seen).
    pub fn process() -> Self {
        Self { fixed: None }
    }

    /// A fixed environment.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            fixed: Some(Arc::new(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), SecretString::from(v.to_owned())))
                    .collect(),
            )),
        }
    }

    /// One variable, if set and not empty.
    pub fn get(&self, name: &str) -> Option<SecretString> {
        match &self.fixed {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok().map(SecretString::from),
        }
        .filter(|v| !secrecy::ExposeSecret::expose_secret(v).is_empty())
    }
}

#[async_trait]
impl SecretSource for EnvSource {
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretString, SecretError> {
        let SecretRef::Env(name) = reference else {
            return Err(SecretError::BadReference(reference.to_string()));
        };
        self.get(name)
            .ok_or_else(|| SecretError::NotFound(reference.to_string()))
    }
}
