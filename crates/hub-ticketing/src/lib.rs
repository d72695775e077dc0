//! Ticketing adapters (generic, Zendesk v2, Jira Cloud v3) behind hub-core's `TicketingPort`.
//!
//! Each vendor is a [`dialect::Dialect`]: pure mapping between the hub's domain and the
//! vendor's wire shapes. One adapter runs any dialect's calls through the shared
//! resilient path of `hub-upstream`.

pub mod adapter;
pub mod adf;
pub mod dialect;
pub mod generic;
pub mod jira;
pub mod zendesk;

pub use adapter::TicketingAdapter;
pub use dialect::Dialect;
pub use generic::Generic;
pub use jira::Jira;
pub use zendesk::Zendesk;
