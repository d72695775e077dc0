//! What a cached ticket read is stored under, and for how long by default, so the webhook handler invalidates exactly it.
//!
//! ```
//! use hub_ticketing::cache_keys;
//! assert_eq!(cache_keys::ticket_status("ABC-1"), "integration:ticket_status:id=ABC-1");
//! ```

use std::time::Duration;

use hub_resilience::cache::keys;

/// The operation name of a ticket status read (the cache metrics' `operation` label).
pub const TICKET_STATUS: &str = "ticket_status";

/// How long a ticket's status stays fresh unless configured otherwise (the contract's 300 s).
pub const TICKET_STATUS_TTL: Duration = Duration::from_secs(300);

/// `integration:ticket_status:id={ticket_id}`.
pub fn ticket_status(ticket_id: &str) -> String {
    keys::key(TICKET_STATUS, &[("id", ticket_id)])
}
