//! A PostgreSQL schema of the test database for the hubs of one run, dropped at the end.

use anyhow::Result;

use crate::harness::config::random_hex;
use crate::services::{HUB_POSTGRES_URL, psql};

/// The test database's fixed password (never a canary): the hub refuses a password in
/// its configuration, so it travels in libpq's `PGPASSWORD`.
const POSTGRES_PASSWORD: &str = "postgres";

/// A fresh schema, created and dropped through `psql`.
pub(crate) struct Schema {
    pub(crate) name: String,
}

impl Schema {
    /// `CREATE SCHEMA <prefix>_<random>`.
    pub(crate) fn create(prefix: &str) -> Result<Self> {
        let name = format!("{prefix}_{}", random_hex());
        psql(&format!("CREATE SCHEMA {name}"))?;
        Ok(Self { name })
    }

    /// The environment overrides that put a hub's store in this schema.
    pub(crate) fn hub_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "HUB__STORE__DATABASE_URL".to_owned(),
                format!("{HUB_POSTGRES_URL}?options=-csearch_path%3D{}", self.name),
            ),
            ("PGPASSWORD".to_owned(), POSTGRES_PASSWORD.to_owned()),
        ]
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Err(e) = psql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)) {
            eprintln!("xtask: could not drop schema {}: {e:#}", self.name);
        }
    }
}
