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

    /// Whether the create's answer lacks the new ticket's status, so the adapter reads
    /// the ticket back for it (Jira answers only `id`, `key` and `self`). When that read
    /// fails, the created ticket keeps the status [`Dialect::created_ticket`] gave.
    fn reads_status_after_create(&self) -> bool {
        false
    }

    /// The call that reads a ticket.
    fn get_ticket(&self, id: &TicketId) -> Call;

    /// Reads the ticket from the response body.
    fn ticket(&self, id: &TicketId, body: &[u8]) -> Result<Ticket, Error>;

    /// The call that adds `comment` to ticket `id`.
    fn add_comment(&self, id: &TicketId, comment: &NewComment, key: &str) -> Result<Call, Error>;

    /// Reads the created comment from the response body.
    fn created_comment(&self, id: &TicketId, body: &[u8]) -> Result<CreatedComment, Error>;

    /// Whether the vendor deduplicates ticket creates by the idempotency key the dialect
    /// sends. The default says no.
    fn creates_honour_keys(&self) -> bool {
        false
    }

    /// The call that lists the tickets a create sent with `key` (by
    /// [`Dialect::create_ticket`]) would carry, for when its answer was lost and the
    /// vendor may have forgotten the key. The default: there is none.
    fn ticket_check(&self, key: &str) -> Option<Call> {
        let _ = key;
        None
    }

    /// Reads the answer of [`Dialect::ticket_check`]'s call: the ticket created with
    /// `key`, or `None` when there is none.
    fn found_ticket(&self, key: &str, body: &[u8]) -> Result<Option<CreatedTicket>, Error> {
        let _ = (key, body);
        Ok(None)
    }

    /// How to learn whether a comment sent with `key` (by [`Dialect::add_comment`]) is
    /// on ticket `id` when its answer was lost. The default: it cannot be learnt.
    fn comment_check(&self, id: &TicketId, key: &str) -> CommentCheck {
        let _ = (id, key);
        CommentCheck::Uncheckable
    }

    /// Reads the answer of the [`CommentCheck::ReadBack`] call: the comment sent with
    /// `key`, or `None` when it is not there.
    fn found_comment(&self, id: &TicketId, key: &str, body: &[u8]) -> Result<Option<CreatedComment>, Error> {
        let _ = (id, key, body);
        Ok(None)
    }
}

/// How a dialect learns whether a comment whose answer was lost took effect.
#[derive(Debug)]
pub enum CommentCheck {
    /// The vendor deduplicates comments by idempotency key: sending again is safe.
    KeyHonoured,
    /// This call lists the ticket's recent comments with the hub's key marker on each.
    ReadBack(Call),
    /// There is no way to ask.
    Uncheckable,
}

/// The name under which the hub tags a comment with its idempotency key (a Jira comment
/// property, a Zendesk audit's custom metadata), so a lost answer can be looked up.
pub const KEY_MARKER: &str = "integration_hub_key";

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
            // Any other object (`{"id": "7"}`) is not an id.
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<NumOrStr, A::Error> {
                match map.next_entry::<String, String>()? {
                    Some((token, text))
                        if token == "$serde_json::private::Number" && text.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        Ok(NumOrStr(text))
                    }
                    _ => Err(serde::de::Error::custom("not an integer id")),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Generic, Jira, Zendesk};
    use proptest::prelude::*;
    use serde_json::Value;

    /// The keys the three dialects read, so generated bodies often come close to real ones.
    const KEYS: &[&str] = &[
        "id",
        "url",
        "status",
        "assignee",
        "email",
        "updated_at",
        "ticket",
        "users",
        "assignee_id",
        "audit",
        "events",
        "type",
        "key",
        "fields",
        "name",
        "statusCategory",
        "emailAddress",
        "displayName",
        "accountId",
        "updated",
        "errorMessages",
        "errors",
        "error",
        "description",
        "details",
    ];

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            prop_oneof!["\\PC{0,20}", Just("2026-01-05T10:00:00Z".to_owned()), "[0-9]{1,22}"].prop_map(Value::String),
            "-?[0-9]{1,25}(\\.[0-9]{1,6})?([eE][+-]?[0-9]{1,4})?"
                .prop_filter_map("a JSON number", |n| serde_json::from_str(&n).ok()),
        ];
        leaf.prop_recursive(5, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![proptest::sample::select(KEYS).prop_map(str::to_owned), "\\PC{0,6}"],
                    inner,
                    0..8
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn dialects() -> Vec<Box<dyn Dialect>> {
        vec![
            Box::new(Generic),
            Box::new(Zendesk::default()),
            Box::new(Jira {
                project_key: "SUP".into(),
                issue_type: "Task".into(),
                browse_url: "https://example.atlassian.net".into(),
                service_management: false,
                create_fields: crate::jira::CreateFields::default(),
            }),
        ]
    }

    /// Every response reader of every dialect over `body`: a value or a typed error, never a panic.
    fn read_all(body: &[u8]) -> Result<(), TestCaseError> {
        let id = TicketId::parse("T-1").map_err(|e| TestCaseError::fail(e.to_string()))?;
        for d in dialects() {
            let results = [
                d.created_ticket(body).map(drop),
                d.ticket(&id, body).map(drop),
                d.created_comment(&id, body).map(drop),
            ];
            for r in results {
                if let Err(e) = r {
                    prop_assert!(matches!(e, Error::Decode { .. }), "{}: {e:?}", d.name());
                }
            }
        }
        for reason in [crate::jira::reject_reason(body), crate::zendesk::reject_reason(body)]
            .into_iter()
            .flatten()
        {
            prop_assert!(reason.chars().count() <= crate::reject::MAX_REASON);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            read_all(&body)?;
        }

        #[test]
        fn arbitrary_json_never_panics(value in any_json()) {
            read_all(&serde_json::to_vec(&value).unwrap())?;
        }

        #[test]
        fn arbitrary_json_under_each_envelope_never_panics(value in any_json(), envelope in proptest::sample::select(&["ticket", "fields", "audit"][..])) {
            read_all(&serde_json::to_vec(&serde_json::json!({ envelope: value, "users": [value] })).unwrap())?;
        }
    }
}
