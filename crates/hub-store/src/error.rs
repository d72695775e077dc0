//! Errors of opening the stores, and how driver errors map to `hub_core::StoreError`.

use hub_core::StoreError;

/// Why the stores could not be opened.
///
/// Messages name the database by its URL with any password replaced by `***`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The URL's scheme is neither `sqlite:` nor `postgres:`/`postgresql:` (or `redis:`).
    #[error("unsupported URL {url}: expected {expected}")]
    UnsupportedScheme {
        /// The URL, password redacted.
        url: String,
        /// The schemes accepted.
        expected: &'static str,
    },
    /// The URL could not be parsed.
    #[error("invalid URL {url}: {reason}")]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The SQLite file's directory could not be created.
    #[error("cannot create the directory of {path}: {reason}")]
    CreateDir {
        /// The database file.
        path: String,
        /// The operating system's error.
        reason: String,
    },
    /// The database did not accept a connection.
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// The driver's error.
        reason: String,
    },
    /// The schema migrations failed.
    #[error("cannot migrate {url}: {reason}")]
    Migrate {
        /// The URL, password redacted.
        url: String,
        /// The migrator's error.
        reason: String,
    },
}

impl From<OpenError> for StoreError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::UnsupportedScheme { .. } | OpenError::InvalidUrl { .. } => {
                StoreError::Invalid { reason: e.to_string() }
            }
            OpenError::Migrate { .. } => StoreError::Corrupt { reason: e.to_string() },
            OpenError::CreateDir { .. } | OpenError::Connect { .. } => {
                StoreError::Unavailable { reason: e.to_string() }
            }
        }
    }
}

/// `url` with the password (anything between `:` and `@` in the authority) replaced by `***`.
///
/// ```
/// use hub_store::error::redact_url;
/// assert_eq!(redact_url("postgres://hub:s3cret@db/hub"), "postgres://hub:***@db/hub");
/// assert_eq!(redact_url("redis://:pw@cache:6379"), "redis://:***@cache:6379");
/// assert_eq!(redact_url("sqlite://data/hub.db"), "sqlite://data/hub.db");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return url.to_owned();
    };
    format!("{}{}:***{}", &url[..scheme_end + 3], &userinfo[..colon], &rest[at..])
}

/// Maps a driver error to the port's error, without connection details.
pub(crate) fn db_error(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match e {
        E::RowNotFound => StoreError::NotFound,
        E::ColumnDecode { .. }
        | E::Decode(_)
        | E::ColumnNotFound(_)
        | E::TypeNotFound { .. }
        | E::ColumnIndexOutOfBounds { .. } => StoreError::Corrupt { reason: e.to_string() },
        E::Database(db) => StoreError::Unavailable {
            reason: format!("database error: {}", db.message()),
        },
        E::Configuration(_) => StoreError::Invalid {
            reason: "invalid database configuration".to_owned(),
        },
        E::PoolTimedOut => StoreError::Unavailable {
            reason: "timed out waiting for a database connection".to_owned(),
        },
        E::PoolClosed => StoreError::Unavailable {
            reason: "the database pool is closed".to_owned(),
        },
        E::Io(io) => StoreError::Unavailable {
            reason: format!("database I/O error: {io}"),
        },
        other => StoreError::Unavailable {
            reason: format!("database error: {other}"),
        },
    }
}

/// A stored value that does not parse.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        reason: format!("{what}: {detail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_survive() {
        for (url, want) in [
            (
                "postgres://u:p@h:5432/d?sslmode=disable",
                "postgres://u:***@h:5432/d?sslmode=disable",
            ),
            ("postgres://u@h/d", "postgres://u@h/d"),
            ("postgres://u:p%40x@h/d", "postgres://u:***@h/d"),
            ("redis://h:6379", "redis://h:6379"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }

    #[test]
    fn open_errors_map_to_store_errors() {
        let e: StoreError = OpenError::Connect {
            url: "x".to_owned(),
            reason: "refused".to_owned(),
        }
        .into();
        assert!(e.is_transient());
    }
}
