//! The simulated systems and the path prefix each one is served under.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One simulated external system; each is served under its own path prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum System {
    /// The original design's generic ticketing API (`/generic`).
    Generic,
    /// Zendesk Support API v2 (`/zendesk`).
    Zendesk,
    /// Jira Cloud REST v3 (`/jira`).
    Jira,
    /// The transaction status system (`/status`).
    Status,
    /// The transaction create ("sales") system (`/sales`).
    Sales,
    /// HashiCorp Vault, KV v2 reads (`/vault`).
    Vault,
    /// The supervisor notification sink (`/notify`).
    Notify,
}

impl System {
    /// Every system, in documentation order.
    pub const ALL: [System; 7] = [
        System::Generic,
        System::Zendesk,
        System::Jira,
        System::Status,
        System::Sales,
        System::Vault,
        System::Notify,
    ];

    /// The system's name as used in the control API (`"zendesk"`).
    pub fn name(self) -> &'static str {
        match self {
            System::Generic => "generic",
            System::Zendesk => "zendesk",
            System::Jira => "jira",
            System::Status => "status",
            System::Sales => "sales",
            System::Vault => "vault",
            System::Notify => "notify",
        }
    }

    /// The path prefix the system is served under (`"/zendesk"`).
    pub fn prefix(self) -> &'static str {
        match self {
            System::Generic => "/generic",
            System::Zendesk => "/zendesk",
            System::Jira => "/jira",
            System::Status => "/status",
            System::Sales => "/sales",
            System::Vault => "/vault",
            System::Notify => "/notify",
        }
    }

    /// The system a request path belongs to, if any.
    pub fn from_path(path: &str) -> Option<System> {
        System::ALL.into_iter().find(|s| {
            path.strip_prefix(s.prefix())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of [`System::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown system {0:?}")]
pub struct UnknownSystem(pub String);

impl FromStr for System {
    type Err = UnknownSystem;

    fn from_str(s: &str) -> Result<Self, UnknownSystem> {
        System::ALL
            .into_iter()
            .find(|sys| sys.name() == s)
            .ok_or_else(|| UnknownSystem(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_systems() {
        assert_eq!(System::from_path("/zendesk/api/v2/tickets"), Some(System::Zendesk));
        assert_eq!(System::from_path("/sales"), Some(System::Sales));
        assert_eq!(System::from_path("/salesforce/x"), None);
        assert_eq!(System::from_path("/_sim/ledger"), None);
        for s in System::ALL {
            assert_eq!(s.name().parse::<System>(), Ok(s));
        }
    }
}
