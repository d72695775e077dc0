//! What is wrong with a configuration: file, key, reason (and the variable that set it).

use std::fmt;

/// One problem in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// The dotted key, when the problem is one key's.
    pub key: Option<String>,
    /// Why (never a secret value: credentials are references, and values are not echoed for them).
    pub reason: String,
    /// The environment variable that set the key, when one did.
    pub env: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(k) = &self.key {
            write!(f, ": {k}")?;
        }
        write!(f, ": {}", self.reason)?;
        if let Some(v) = &self.env {
            write!(f, " (set by the environment variable {v})")?;
        }
        Ok(())
    }
}

/// Every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// Just one.
    pub fn one(e: ConfigError) -> Self {
        Self(vec![e])
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
