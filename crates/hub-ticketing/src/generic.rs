//! The generic ticketing API of the original design (`/tickets`, API-key auth).

use http::Method;
use hub_core::{
    CreatedComment, CreatedTicket, Error, NewComment, NewTicket, Operation, Ticket, TicketId, TicketStatus,
};
use hub_upstream::request::Idempotency;
use hub_upstream::response::decode;
use hub_upstream::{Call, timestamp};
use serde::Deserialize;
use serde_json::json;

use crate::dialect::{CommentCheck, Dialect, NumOrStr, vendor_id};

/// The generic dialect.
#[derive(Debug, Clone, Copy, Default)]
pub struct Generic;

#[derive(Deserialize)]
struct Created {
    id: NumOrStr,
    url: String,
    status: String,
}

#[derive(Deserialize)]
struct Assignee {
    email: Option<String>,
}

#[derive(Deserialize)]
struct Got {
    status: String,
    assignee: Option<Assignee>,
    #[serde(default, deserialize_with = "timestamp::option::deserialize")]
    updated_at: Option<time::OffsetDateTime>,
}

#[derive(Deserialize)]
struct Commented {
    id: NumOrStr,
}

impl Dialect for Generic {
    fn name(&self) -> &'static str {
        "generic"
    }

    fn create_ticket(&self, t: &NewTicket, key: &str) -> Result<Call, Error> {
        let body = json!({
            "subject": t.subject,
            "description": t.description,
            "priority": t.priority.as_str(),
            "custom_fields": {"customer_id": t.customer_id.as_str()},
        });
        Ok(Call::json(
            Operation::CreateTicket,
            Method::POST,
            "/tickets".to_owned(),
            &body,
            Idempotency::Keyed(key.to_owned()),
        )?
        .with_params(json!({"customer_id": t.customer_id.as_str(), "priority": t.priority.as_str()})))
    }

    fn created_ticket(&self, body: &[u8]) -> Result<CreatedTicket, Error> {
        let c: Created = decode(body)?;
        Ok(CreatedTicket {
            ticket_id: vendor_id(&c.id.into_string(), "id")?,
            url: c.url,
            status: TicketStatus::normalise(&c.status),
        })
    }

    fn get_ticket(&self, id: &TicketId) -> Call {
        Call::get(Operation::GetTicketStatus, format!("/tickets/{}", id.path_segment()))
            .with_params(json!({"ticket_id": id.as_str()}))
    }

    fn ticket(&self, id: &TicketId, body: &[u8]) -> Result<Ticket, Error> {
        let g: Got = decode(body)?;
        Ok(Ticket {
            ticket_id: id.clone(),
            status: TicketStatus::normalise(&g.status),
            vendor_status: g.status,
            assigned_to: g.assignee.and_then(|a| a.email),
            last_updated: g.updated_at,
        })
    }

    fn add_comment(&self, id: &TicketId, c: &NewComment, key: &str) -> Result<Call, Error> {
        let body = json!({"body": c.body, "public": c.public});
        Ok(Call::json(
            Operation::AddComment,
            Method::POST,
            format!("/tickets/{}/comments", id.path_segment()),
            &body,
            Idempotency::Keyed(key.to_owned()),
        )?
        .with_params(json!({"ticket_id": id.as_str(), "public": c.public})))
    }

    fn created_comment(&self, _id: &TicketId, body: &[u8]) -> Result<CreatedComment, Error> {
        let c: Commented = decode(body)?;
        Ok(CreatedComment {
            comment_id: vendor_id(&c.id.into_string(), "id")?,
        })
    }

    fn creates_honour_keys(&self) -> bool {
        true
    }

    fn comment_check(&self, _id: &TicketId, _key: &str) -> CommentCheck {
        CommentCheck::KeyHonoured
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_core::{CustomerId, Priority};

    #[test]
    fn shapes() {
        let t = NewTicket {
            customer_id: CustomerId::parse("C-1").unwrap(),
            subject: "s".into(),
            description: "d".into(),
            priority: Priority::High,
        };
        let call = Generic.create_ticket(&t, "k").unwrap();
        let sent: serde_json::Value = serde_json::from_slice(call.body.as_ref().unwrap()).unwrap();
        assert_eq!(
            sent,
            json!({"subject":"s","description":"d","priority":"high","custom_fields":{"customer_id":"C-1"}})
        );
        let created = Generic
            .created_ticket(br#"{"id":"T-1","url":"http://x/T-1","status":"open","extra":1}"#)
            .unwrap();
        assert_eq!(created.ticket_id.as_str(), "T-1");
        let id = TicketId::parse("T:1").unwrap();
        assert_eq!(Generic.get_ticket(&id).path, "/tickets/T%3A1");
        let got = Generic
            .ticket(
                &id,
                br#"{"id":"T:1","status":"hold","assignee":{"email":"a@x"},"updated_at":"2026-01-05T12:00:00Z"}"#,
            )
            .unwrap();
        assert_eq!(
            (got.status, got.vendor_status.as_str(), got.assigned_to.as_deref()),
            (TicketStatus::OnHold, "hold", Some("a@x"))
        );
        let unassigned = Generic.ticket(&id, br#"{"status":"weird","assignee":null}"#).unwrap();
        assert_eq!(unassigned.status, TicketStatus::Other("weird".into()));
        assert!(
            Generic
                .created_ticket(br#"{"id":"../x","url":"u","status":"new"}"#)
                .is_err()
        );
    }
}
