//! The port that turns a secret reference from the configuration into the secret.
//!
//! Configuration never holds a credential, only a reference to one:
//! `env:NAME` (an environment variable), `file:/path` (a mounted secret file, trailing
//! newline trimmed) or `vault:mount/path#field` (HashiCorp Vault KV v2).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use async_trait::async_trait;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Where a secret lives.
///
/// ```
/// use hub_core::SecretRef;
/// let r: SecretRef = "vault:secret/hub/zendesk#api_token".parse().unwrap();
/// assert_eq!(r, SecretRef::Vault { mount: "secret".into(), path: "hub/zendesk".into(), field: "api_token".into() });
/// assert_eq!(r.to_string(), "vault:secret/hub/zendesk#api_token");
/// assert!("plain-text-password".parse::<SecretRef>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SecretRef {
    /// An environment variable.
    Env(String),
    /// A file holding the secret.
    File(PathBuf),
    /// A field of a Vault KV v2 secret.
    Vault {
        /// The KV v2 mount (`secret`).
        mount: String,
        /// The secret's path under the mount.
        path: String,
        /// The field within the secret.
        field: String,
    },
}

/// Why a reference or a secret could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The reference is not `env:`, `file:` or `vault:` in the right form.
    #[error("not a secret reference (expected env:NAME, file:/path or vault:mount/path#field): {0}")]
    BadReference(String),
    /// The secret does not exist where the reference points.
    #[error("secret {0} not found")]
    NotFound(String),
    /// The source could not be reached or refused access.
    #[error("secret source unavailable for {reference}: {reason}")]
    Unavailable {
        /// The reference (never the value).
        reference: String,
        /// What went wrong.
        reason: String,
    },
}

impl FromStr for SecretRef {
    type Err = SecretError;

    fn from_str(s: &str) -> Result<Self, SecretError> {
        let bad = || SecretError::BadReference(s.chars().take(64).collect());
        let (scheme, rest) = s.split_once(':').ok_or_else(bad)?;
        match scheme {
            "env" if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
                Ok(Self::Env(rest.to_owned()))
            }
            "file" if !rest.is_empty() => Ok(Self::File(PathBuf::from(rest))),
            "vault" => {
                let (location, field) = rest.split_once('#').ok_or_else(bad)?;
                let (mount, path) = location.split_once('/').ok_or_else(bad)?;
                if mount.is_empty() || path.is_empty() || field.is_empty() {
                    return Err(bad());
                }
                Ok(Self::Vault {
                    mount: mount.to_owned(),
                    path: path.to_owned(),
                    field: field.to_owned(),
                })
            }
            _ => Err(bad()),
        }
    }
}

impl TryFrom<String> for SecretRef {
    type Error = SecretError;
    fn try_from(s: String) -> Result<Self, SecretError> {
        s.parse()
    }
}

impl From<SecretRef> for String {
    fn from(r: SecretRef) -> String {
        r.to_string()
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(name) => write!(f, "env:{name}"),
            Self::File(path) => write!(f, "file:{}", path.display()),
            Self::Vault { mount, path, field } => write!(f, "vault:{mount}/{path}#{field}"),
        }
    }
}

/// Resolves secret references; called again when an upstream answers 401, so a
/// rotated secret is picked up without a restart.
///
/// ```
/// use async_trait::async_trait;
/// use hub_core::{SecretError, SecretRef, SecretSource};
/// use secrecy::SecretString;
///
/// struct Fixed;
/// #[async_trait]
/// impl SecretSource for Fixed {
///     async fn resolve(&self, _reference: &SecretRef) -> Result<SecretString, SecretError> {
///         Ok(SecretString::from("s3cr3t"))
///     }
/// }
/// ```
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The secret the reference points to, as it is now.
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretString, SecretError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn references() {
        assert_eq!(
            "env:HUB_TOKEN".parse::<SecretRef>().unwrap(),
            SecretRef::Env("HUB_TOKEN".into())
        );
        assert_eq!(
            "file:/run/secrets/key".parse::<SecretRef>().unwrap(),
            SecretRef::File("/run/secrets/key".into())
        );
        for bad in [
            "",
            "env:",
            "env:A-B",
            "vault:secret#x",
            "vault:/p#x",
            "vault:s/p#",
            "vault:s/p",
            "ftp:x",
            "hunter2",
        ] {
            assert!(bad.parse::<SecretRef>().is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_round_trips(s in "\\PC{0,60}") {
            if let Ok(r) = s.parse::<SecretRef>() {
                prop_assert_eq!(r.to_string().parse::<SecretRef>().unwrap(), r);
            }
        }
    }
}
