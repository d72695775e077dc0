//! Secrets from files (`file:/path`), as mounted secrets are.

use async_trait::async_trait;
use hub_core::{SecretError, SecretRef, SecretSource};
use secrecy::SecretString;

/// Reads a file at each resolution; one trailing newline (`\n` or `\r\n`) is dropped.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileSource;

#[async_trait]
impl SecretSource for FileSource {
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretString, SecretError> {
        let SecretRef::File(path) = reference else {
            return Err(SecretError::BadReference(reference.to_string()));
        };
        let mut text = tokio::fs::read_to_string(path).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SecretError::NotFound(reference.to_string()),
            kind => SecretError::Unavailable {
                reference: reference.to_string(),
                reason: format!("cannot read the file ({kind})"),
            },
        })?;
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        if text.is_empty() {
            return Err(SecretError::NotFound(reference.to_string()));
        }
        Ok(SecretString::from(text))
    }
}
