//! The error of the hub's own service ports (stores, secrets, notifications, events).

/// A failure of one of the hub's own stores or services.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached or did not answer; trying later may work.
    #[error("the store is unavailable: {reason}")]
    Unavailable {
        /// What happened (no credentials, no connection strings with passwords).
        reason: String,
    },
    /// The requested record does not exist.
    #[error("no such record")]
    NotFound,
    /// The record is not in a state that allows the change.
    #[error("conflict: {reason}")]
    Conflict {
        /// Why.
        reason: String,
    },
    /// The store holds data the hub cannot read (bad migration, foreign writes).
    #[error("the store holds unreadable data: {reason}")]
    Corrupt {
        /// What was wrong.
        reason: String,
    },
    /// The caller passed something the store cannot take (a bad cursor, say).
    #[error("invalid request to the store: {reason}")]
    Invalid {
        /// What was wrong.
        reason: String,
    },
}

impl StoreError {
    /// Whether trying the same operation later may succeed.
    ///
    /// ```
    /// use hub_core::StoreError;
    /// assert!(StoreError::Unavailable { reason: "pool timed out".into() }.is_transient());
    /// assert!(!StoreError::NotFound.is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// A short, stable name for metrics labels and readiness bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "unavailable",
            Self::NotFound => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::Corrupt { .. } => "corrupt",
            Self::Invalid { .. } => "invalid",
        }
    }
}
