//! The hub's configuration file, for any binary that embeds the hub's crates: one TOML
//! file, environment overrides (`HUB__SECTION__KEY`), and a validation that says which
//! file, which key and why.
//!
//! Credentials are never literal: every credential is a [`SecretRef`](hub_core::SecretRef)
//! (`env:NAME`, `file:/path`, `vault:mount/path#field`) that the secrets layer resolves.
//!
//! ```no_run
//! let loaded = hub_config::load("hub.toml".as_ref(), std::env::vars())?;
//! println!("listening on {}", loaded.config.server.listen);
//! let store: toml::Table = loaded.store_section();
//! # let _ = store;
//! # Ok::<(), hub_config::ConfigErrors>(())
//! ```

mod error;
mod load;
mod overrides;
mod types;
mod validate;

#[cfg(test)]
mod tests;

pub use error::{ConfigError, ConfigErrors};
pub use load::{Loaded, load, load_str};
pub use overrides::{Override, OverrideError, parse_override_key};
pub use types::*;

/// The environment variable prefix of overrides: `HUB__SERVER__LISTEN=0.0.0.0:8080`.
pub const ENV_PREFIX: &str = "HUB__";

/// The README's example, run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
