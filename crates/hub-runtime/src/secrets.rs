//! The configuration's tokens and credentials through the secrets layer.

use hub_config::{Config, TokenRole};
use hub_core::{SecretError, SecretSource};

use hub_app::callers::{Authenticator, Role};

/// A credential the configuration points to could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {source}")]
pub struct ResolveError {
    /// The dotted configuration key.
    pub key: String,
    /// Why (names the reference, never the value).
    pub source: SecretError,
}

/// Resolves every `[[auth.tokens]]` entry and keeps only their digests.
pub async fn authenticator(config: &Config, secrets: &dyn SecretSource) -> Result<Authenticator, ResolveError> {
    let mut auth = Authenticator::default();
    for (i, t) in config.auth.tokens.iter().enumerate() {
        let value = secrets.resolve(&t.token.0).await.map_err(|source| ResolveError {
            key: format!("auth.tokens[{i}].token"),
            source,
        })?;
        auth = auth.with_token(&t.name, role(t.role), &value);
    }
    Ok(auth)
}

/// The role a configured token has.
fn role(r: TokenRole) -> Role {
    match r {
        TokenRole::Read => Role::Read,
        TokenRole::Write => Role::Write,
        TokenRole::Admin => Role::Admin,
    }
}

/// Resolves every credential reference of the configuration (for `check-config
/// --resolve-secrets`), reporting each failure; values are dropped at once.
pub async fn check_secrets(config: &Config, secrets: &dyn SecretSource) -> Vec<ResolveError> {
    let mut failures = Vec::new();
    for (key, reference) in config.secret_refs() {
        if let Err(source) = secrets.resolve(reference).await {
            failures.push(ResolveError { key, source });
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_role_is_the_role_of_the_same_name() {
        for name in ["read", "write", "admin"] {
            let configured: TokenRole = serde_json::from_value(name.into()).unwrap();
            assert_eq!(role(configured).as_str(), name);
        }
    }
}
