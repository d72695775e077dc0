//! The operator's subcommands: `migrate`, `dlq list|show|replay|discard`, `completions` and `man`.

mod dlq;
mod docs;
pub(crate) mod help;
mod render;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hub_config::Loaded;
use hub_store::{StoreConfig, Stores};

pub(crate) use dlq::{DlqArgs, run as run_dlq};
pub(crate) use docs::{completions, man};

/// Why an operator command failed, and the exit code scripts see for it.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Usage or configuration error: exit 1.
    Usage(String),
    /// The store, the network or the hub failed: exit 2.
    Runtime(String),
    /// No such entry: exit 3.
    NotFound(String),
    /// The entry is not pending (or is being replayed): exit 4.
    Conflict(String),
    /// Already reported on stderr; exit with this code.
    Reported(u8),
}

impl Failure {
    /// Prints the message (when not already printed) and gives the exit code.
    pub(crate) fn exit(self) -> ExitCode {
        let (code, msg) = match self {
            Self::Usage(m) => (1, m),
            Self::Runtime(m) => (2, m),
            Self::NotFound(m) => (3, m),
            Self::Conflict(m) => (4, m),
            Self::Reported(code) => return ExitCode::from(code),
        };
        eprintln!("error: {msg}");
        ExitCode::from(code)
    }
}

/// Loads the configuration, printing every problem (exit 1).
pub(crate) fn load_config(file: &Path) -> Result<Loaded, Failure> {
    hub_config::load(file, std::env::vars()).map_err(|errors| {
        for e in &errors.0 {
            eprintln!("error: {e}");
        }
        eprintln!("{}: {} problem(s) found", file.display(), errors.0.len());
        Failure::Reported(1)
    })
}

/// The configuration's `[store]` section as hub-store reads it.
fn store_config(loaded: &Loaded) -> Result<StoreConfig, Failure> {
    toml::Value::Table(loaded.store_section())
        .try_into()
        .map_err(|e: toml::de::Error| Failure::Usage(format!("{}: store: {}", loaded.file.display(), e.message())))
}

/// Where the database is, without any password: the SQLite path, or only the scheme.
fn describe_database(url: &str) -> String {
    if url.starts_with("sqlite:") {
        format!("SQLite database {url}")
    } else {
        let scheme = url.split("://").next().unwrap_or("database");
        format!("{scheme} database")
    }
}

/// Opens the stores of the configuration's `[store]` (which runs the migrations).
pub(crate) async fn open_stores(loaded: &Loaded) -> Result<Stores, Failure> {
    let config = store_config(loaded)?;
    Stores::open(config)
        .await
        .map_err(|e| Failure::Runtime(format!("{}: store: {e}", loaded.file.display())))
}

/// The file of a `sqlite:` URL, when it names one (not `sqlite::memory:`).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// `hub-server migrate`: opens the stores, so the database is created and migrated.
pub(crate) async fn migrate(file: &Path) -> ExitCode {
    let result = async {
        let loaded = load_config(file)?;
        let config = store_config(&loaded)?;
        let what = describe_database(&config.database_url);
        let created = sqlite_file(&config.database_url).is_some_and(|f| !f.exists());
        let stores = Stores::open(config)
            .await
            .map_err(|e| Failure::Runtime(format!("{}: store: {e}", loaded.file.display())))?;
        stores
            .shutdown()
            .await
            .map_err(|e| Failure::Runtime(format!("closing the store: {e}")))?;
        Ok::<_, Failure>(if created {
            format!("{what}: created, and migrated to the latest schema version")
        } else {
            format!("{what}: pending migrations applied; at the latest schema version")
        })
    }
    .await;
    match result {
        Ok(said) => {
            println!("{said}");
            ExitCode::SUCCESS
        }
        Err(f) => f.exit(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_is_described_without_its_password() {
        assert_eq!(
            describe_database("sqlite:///tmp/x.sqlite3"),
            "SQLite database sqlite:///tmp/x.sqlite3"
        );
        assert_eq!(describe_database("postgres://u:secret@h/db"), "postgres database");
    }

    #[test]
    fn sqlite_files() {
        assert_eq!(sqlite_file("sqlite:///tmp/h.db"), Some(PathBuf::from("/tmp/h.db")));
        assert_eq!(sqlite_file("sqlite://h.db?mode=rwc"), Some(PathBuf::from("h.db")));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }
}
