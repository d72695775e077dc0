//! How one ticketing vendor spells the three calls: request shapes out, response shapes in.

use hub_core::{CreatedComment, CreatedTicket, Error, NewComment, NewTicket, Ticket, TicketId};
use hub_upstream::Call;

/// One vendor's wire format for the ticketing port. Pure mapping: no I/O, so each
/// dialect is unit-tested on its own; the adapter runs the calls.
pub trait Dialect: Send + Sync + 'static {
    /// The dialect's name in configuration and logs (`generic`, `zendesk`, `jira`).
    fn name(&self) -> &'static str;

    /// The call that opens `ticket`, carrying `key` where the vendor supports idempotency keys.
    fn create_ticket(&self, ticket: &NewTicket, key: &str) -> Result<Call, Error>;

    /// Reads the created ticket from the response body.
    fn created_ticket(&self, body: &[u8]) -> Result<CreatedTicket, Error>;

    /// The call that reads a ticket.
    fn get_ticket(&self, id: &TicketId) -> Call;

    /// Reads the ticket from the response body.
    fn ticket(&self, id: &TicketId, body: &[u8]) -> Result<Ticket, Error>;

    /// The call that adds `comment` to ticket `id`.
    fn add_comment(&self, id: &TicketId, comment: &NewComment, key: &str) -> Result<Call, Error>;

    /// Reads the created comment from the response body.
    fn created_comment(&self, id: &TicketId, body: &[u8]) -> Result<CreatedComment, Error>;
}

/// An id the vendor returned, checked against the hub's id rule.
pub(crate) fn vendor_id<T: std::str::FromStr>(raw: &str, field: &str) -> Result<T, Error> {
    raw.parse().map_err(|_| Error::Decode {
        reason: format!("`{field}` is not a valid id"),
    })
}

/// A JSON id that vendors send as a number or a string, kept as its text.
///
/// Written by hand rather than as an untagged enum: with serde_json's
/// `arbitrary_precision` (on in this workspace) untagged enums cannot see numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NumOrStr(String);

impl NumOrStr {
    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

impl<'de> serde::Deserialize<'de> for NumOrStr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = NumOrStr;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an id as a JSON number or string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NumOrStr, E> {
                Ok(NumOrStr(v.to_owned()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<NumOrStr, E> {
                Ok(NumOrStr(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<NumOrStr, E> {
                Ok(NumOrStr(v.to_string()))
            }
            // `arbitrary_precision` hands a number over as a one-entry map holding its text.
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<NumOrStr, A::Error> {
                match map.next_entry::<String, String>()? {
                    Some((_, text)) if text.bytes().all(|b| b.is_ascii_digit()) => Ok(NumOrStr(text)),
                    _ => Err(serde::de::Error::custom("not an integer id")),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}
