//! Zendesk Support API v2: tickets under `/api/v2/tickets`, comments through ticket updates.

use http::Method;
use hub_core::{
    CreatedComment, CreatedTicket, Error, NewComment, NewTicket, Operation, Priority, Ticket, TicketId, TicketStatus,
};
use hub_upstream::request::Idempotency;
use hub_upstream::response::decode;
use hub_upstream::{Call, timestamp};
use serde::Deserialize;
use serde_json::json;

use crate::dialect::{CommentCheck, Dialect, KEY_MARKER, NumOrStr, vendor_id};

/// The Zendesk dialect.
///
/// Tickets are created with the caller's idempotency key (Zendesk's `Idempotency-Key`),
/// which Zendesk forgets after some hours, so the key is also the ticket's `external_id`
/// and a create whose answer was lost is found by it (`GET /api/v2/tickets.json?external_id=`).
/// The customer is carried as a `customer_{id}` tag. Reads side-load users
/// (`include=users`) to report the assignee's e-mail. A comment is a ticket update
/// (`PUT`), which Zendesk does not deduplicate: it is retried only when it provably
/// never left.
///
/// The ticket's requester is the API user unless [`Zendesk::requester`] maps the
/// customer to a Zendesk user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Zendesk {
    /// Who a new ticket's requester is.
    pub requester: Requester,
}

/// Who a new Zendesk ticket's requester is. Zendesk notifies the requester of public
/// comments; a customer who is not the requester hears nothing.
///
/// ```
/// use hub_ticketing::zendesk::Requester;
/// let r = Requester::email_template("{customer_id}@customers.example.com").unwrap();
/// assert_eq!(r.object("C-1").unwrap().unwrap()["email"], "C-1@customers.example.com");
/// assert!(Requester::email_template("support@example.com").is_err());
/// assert_eq!(Requester::ApiUser.object("C-1").unwrap(), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Requester {
    /// No mapping: the user the credentials belong to is the requester, and receives the
    /// notifications of public comments.
    #[default]
    ApiUser,
    /// The Zendesk user whose `external_id` is the customer id (made an end-user with the
    /// customer id as name when the account has none).
    ExternalId,
    /// The Zendesk user with the e-mail this template gives, `{customer_id}` replaced
    /// (made an end-user when the account has none).
    Email(String),
}

/// The placeholder of [`Requester::Email`]'s template.
pub const CUSTOMER_PLACEHOLDER: &str = "{customer_id}";

/// Why an e-mail template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template does not contain `{customer_id}`: every customer would be one user.
    #[error("the template must contain {{customer_id}}")]
    NoPlaceholder,
    /// The template is not `local@domain` with the placeholder in it.
    #[error("the template must be an e-mail address: local part, `@`, domain")]
    NotAnEmail,
}

impl Requester {
    /// An [`Requester::Email`] mapping from a template such as
    /// `{customer_id}@customers.example.com`.
    pub fn email_template(template: &str) -> Result<Self, TemplateError> {
        if !template.contains(CUSTOMER_PLACEHOLDER) {
            return Err(TemplateError::NoPlaceholder);
        }
        match template.split_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && domain.contains('.')
                    && !domain.contains('@')
                    && !template.chars().any(char::is_whitespace) =>
            {
                Ok(Self::Email(template.to_owned()))
            }
            _ => Err(TemplateError::NotAnEmail),
        }
    }

    /// The create's `requester` object for `customer`, or `None` (no mapping). An e-mail
    /// mapping refuses a customer id with `:`, which an e-mail address cannot hold.
    pub fn object(&self, customer: &str) -> Result<Option<serde_json::Value>, Error> {
        Ok(match self {
            Self::ApiUser => None,
            Self::ExternalId => Some(json!({"external_id": customer, "name": customer})),
            Self::Email(template) => {
                if customer.contains(':') {
                    return Err(Error::InvalidInput {
                        field: "customer_id".to_owned(),
                        reason: "the requester's e-mail is made from the customer id, which must not contain `:`"
                            .to_owned(),
                    });
                }
                Some(json!({"email": template.replace(CUSTOMER_PLACEHOLDER, customer), "name": customer}))
            }
        })
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    ticket: T,
}

#[derive(Deserialize)]
struct Created {
    id: NumOrStr,
    url: String,
    status: String,
}

/// `GET /api/v2/tickets.json?external_id=…`.
#[derive(Deserialize)]
struct Listed {
    tickets: Vec<ListedTicket>,
}

#[derive(Deserialize)]
struct ListedTicket {
    external_id: Option<String>,
    #[serde(flatten)]
    ticket: Created,
}

#[derive(Deserialize)]
struct Got {
    status: String,
    assignee_id: Option<NumOrStr>,
    #[serde(default, deserialize_with = "timestamp::option::deserialize")]
    updated_at: Option<time::OffsetDateTime>,
}

#[derive(Deserialize)]
struct User {
    id: NumOrStr,
    email: Option<String>,
}

#[derive(Deserialize)]
struct GotWithUsers {
    ticket: Got,
    #[serde(default)]
    users: Vec<User>,
}

#[derive(Deserialize)]
struct AuditEvent {
    id: NumOrStr,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Audit {
    #[serde(default)]
    events: Vec<AuditEvent>,
}

#[derive(Deserialize)]
struct Updated {
    audit: Option<Audit>,
}

/// An audit as listed, with the custom metadata its update carried.
#[derive(Deserialize)]
struct ListedAudit {
    #[serde(default)]
    metadata: Option<AuditMetadata>,
    #[serde(default)]
    events: Vec<AuditEvent>,
}

#[derive(Deserialize)]
struct AuditMetadata {
    #[serde(default)]
    custom: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `GET /api/v2/tickets/{id}/audits`.
#[derive(Deserialize)]
struct Audits {
    audits: Vec<ListedAudit>,
}

/// Zendesk's error body: `{"error": "RecordInvalid", "description": "..", "details":
/// {"field": [{"description": "..", "error": ".."}]}}`; `error` is sometimes an object
/// `{"title": "..", "message": ".."}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: Option<serde_json::Value>,
    description: Option<String>,
    #[serde(default)]
    details: serde_json::Map<String, serde_json::Value>,
}

/// The short, redacted reason in a Zendesk error body: each validation detail as
/// `field: description`, else the description (or the error object's message), else
/// the error's name.
///
/// ```
/// let body = br#"{"error":"RecordInvalid","description":"Record validation errors",
///   "details":{"subject":[{"description":"Subject: cannot be blank","error":"BlankValue"}]}}"#;
/// assert_eq!(hub_ticketing::zendesk::reject_reason(body).as_deref(), Some("subject: Subject: cannot be blank"));
/// ```
pub fn reject_reason(body: &[u8]) -> Option<String> {
    let e: ErrorBody = serde_json::from_slice(body).ok()?;
    let details: Vec<(Option<&str>, &str)> = e
        .details
        .iter()
        .flat_map(|(field, list)| {
            let list = list.as_array().map(Vec::as_slice).unwrap_or_default();
            list.iter()
                .filter_map(|d| d.get("description").and_then(serde_json::Value::as_str))
                .map(move |m| (Some(field.as_str()), m))
        })
        .collect();
    if let Some(r) = crate::reject::reason(details) {
        return Some(r);
    }
    let name = e.error.as_ref().and_then(serde_json::Value::as_str);
    let object = e.error.as_ref().and_then(serde_json::Value::as_object);
    let message = e
        .description
        .as_deref()
        .or_else(|| {
            object
                .and_then(|o| o.get("message"))
                .and_then(serde_json::Value::as_str)
        })
        .or_else(|| object.and_then(|o| o.get("title")).and_then(serde_json::Value::as_str));
    crate::reject::reason(match (name, message) {
        (Some(n), Some(m)) => vec![(Some(n), m)],
        (None, Some(m)) => vec![(None, m)],
        (Some(n), None) => vec![(None, n)],
        (None, None) => vec![],
    })
}

/// The agent interface's page for a ticket (`https://acme.zendesk.com/agent/tickets/35436`),
/// which a person can open, derived from the API URL Zendesk returns
/// (`https://acme.zendesk.com/api/v2/tickets/35436.json`): the same site, so the same
/// base URL the hub is configured with.
fn agent_url(api_url: &str, id: &TicketId) -> Result<String, Error> {
    let site = api_url
        .find("/api/v2/")
        .map(|i| &api_url[..i])
        .ok_or_else(|| Error::Decode {
            reason: "`ticket.url` is not a Zendesk API URL".to_owned(),
        })?;
    Ok(format!("{site}/agent/tickets/{}", id.path_segment()))
}

/// Zendesk's tag for a customer: letters, digits, `_` and `-` only.
fn customer_tag(customer: &str) -> String {
    let safe: String = customer
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
        .collect();
    format!("customer_{safe}")
}

fn created(ticket: Created) -> Result<CreatedTicket, Error> {
    let ticket_id: TicketId = vendor_id(&ticket.id.into_string(), "ticket.id")?;
    Ok(CreatedTicket {
        url: agent_url(&ticket.url, &ticket_id)?,
        ticket_id,
        status: TicketStatus::normalise(&ticket.status),
    })
}

fn priority(p: Priority) -> &'static str {
    // Zendesk's priorities are the hub's.
    p.as_str()
}

impl Dialect for Zendesk {
    fn name(&self) -> &'static str {
        "zendesk"
    }

    fn create_ticket(&self, t: &NewTicket, key: &str) -> Result<Call, Error> {
        // Zendesk answers 422 "Description: cannot be blank" to an empty first comment.
        if t.description.trim().is_empty() {
            return Err(Error::InvalidInput {
                field: "description".to_owned(),
                reason: "Zendesk needs a description that is not blank".to_owned(),
            });
        }
        let mut body = json!({"ticket": {
            "subject": t.subject,
            "comment": {"body": t.description},
            "priority": priority(t.priority),
            "tags": [customer_tag(t.customer_id.as_str())],
            // Zendesk forgets idempotency keys after some hours; the ticket keeps this.
            "external_id": key,
        }});
        if let Some(requester) = self.requester.object(t.customer_id.as_str())? {
            body["ticket"]["requester"] = requester;
        }
        Ok(Call::json(
            Operation::CreateTicket,
            Method::POST,
            "/api/v2/tickets.json".to_owned(),
            &body,
            Idempotency::Keyed(key.to_owned()),
        )?
        .with_params(json!({"customer_id": t.customer_id.as_str(), "priority": t.priority.as_str()})))
    }

    fn created_ticket(&self, body: &[u8]) -> Result<CreatedTicket, Error> {
        let Envelope { ticket } = decode::<Envelope<Created>>(body)?;
        created(ticket)
    }

    fn ticket_check(&self, key: &str) -> Option<Call> {
        Some(
            Call::get(Operation::FindTicket, "/api/v2/tickets.json".to_owned())
                .with_query(format!("external_id={}", hub_core::id::encode_path_segment(key))),
        )
    }

    fn found_ticket(&self, key: &str, body: &[u8]) -> Result<Option<CreatedTicket>, Error> {
        let Listed { tickets } = decode(body)?;
        // External ids need not be unique: the first (oldest) ticket carrying the key.
        tickets
            .into_iter()
            .find(|t| t.external_id.as_deref() == Some(key))
            .map(|t| created(t.ticket))
            .transpose()
    }

    fn get_ticket(&self, id: &TicketId) -> Call {
        Call::get(
            Operation::GetTicketStatus,
            format!("/api/v2/tickets/{}.json", id.path_segment()),
        )
        .with_query("include=users".to_owned())
        .with_params(json!({"ticket_id": id.as_str()}))
    }

    fn ticket(&self, id: &TicketId, body: &[u8]) -> Result<Ticket, Error> {
        let GotWithUsers { ticket, users } = decode(body)?;
        let assignee = ticket.assignee_id.map(NumOrStr::into_string);
        let assigned_to = assignee.and_then(|a| users.into_iter().find(|u| u.id.clone().into_string() == a)?.email);
        Ok(Ticket {
            ticket_id: id.clone(),
            status: TicketStatus::normalise(&ticket.status),
            vendor_status: ticket.status,
            assigned_to,
            last_updated: ticket.updated_at,
        })
    }

    fn add_comment(&self, id: &TicketId, c: &NewComment, key: &str) -> Result<Call, Error> {
        // Zendesk keeps no key for updates; the key rides in the audit's custom metadata,
        // so a lost answer can be looked up in the ticket's audits.
        let body = json!({"ticket": {
            "comment": {"body": c.body, "public": c.public},
            "metadata": {KEY_MARKER: key},
        }});
        Ok(Call::json(
            Operation::AddComment,
            Method::PUT,
            format!("/api/v2/tickets/{}.json", id.path_segment()),
            &body,
            Idempotency::NonIdempotent,
        )?
        .with_params(json!({"ticket_id": id.as_str(), "public": c.public})))
    }

    fn created_comment(&self, _id: &TicketId, body: &[u8]) -> Result<CreatedComment, Error> {
        let updated: Updated = decode(body)?;
        let audit = updated.audit.ok_or_else(|| Error::Decode {
            reason: "no `audit` in the update".to_owned(),
        })?;
        let id = audit
            .events
            .into_iter()
            .find(|e| e.kind == "Comment")
            .map(|e| e.id)
            // Never the audit's own id: that would report a wrong comment id as success.
            .ok_or_else(|| Error::Decode {
                reason: "no comment event in the update's audit".to_owned(),
            })?;
        Ok(CreatedComment {
            comment_id: vendor_id(&id.into_string(), "audit.events.id")?,
        })
    }

    fn creates_honour_keys(&self) -> bool {
        true
    }

    fn comment_check(&self, id: &TicketId, _key: &str) -> CommentCheck {
        // The newest audits first: a comment whose answer was just lost is among them.
        CommentCheck::ReadBack(
            Call::get(
                Operation::FindComment,
                format!("/api/v2/tickets/{}/audits.json", id.path_segment()),
            )
            .with_query("sort_order=desc&page[size]=100".to_owned())
            .with_params(json!({"ticket_id": id.as_str()})),
        )
    }

    fn found_comment(&self, _id: &TicketId, key: &str, body: &[u8]) -> Result<Option<CreatedComment>, Error> {
        let Audits { audits } = decode(body)?;
        let marked = audits.into_iter().find(|a| {
            a.metadata
                .as_ref()
                .and_then(|m| m.custom.as_ref())
                .and_then(|c| c.get(KEY_MARKER))
                .and_then(serde_json::Value::as_str)
                == Some(key)
        });
        let Some(audit) = marked else {
            return Ok(None);
        };
        let comment = audit
            .events
            .into_iter()
            .find(|e| e.kind == "Comment")
            .ok_or_else(|| Error::Decode {
                reason: "the marked audit has no comment event".to_owned(),
            })?;
        Ok(Some(CreatedComment {
            comment_id: vendor_id(&comment.id.into_string(), "audits.events.id")?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_core::CustomerId;

    /// A comment carries the hub's key in its audit's custom metadata and is found among
    /// the ticket's audits by it, and only by it.
    #[test]
    fn comments_are_marked_and_found_by_their_key() {
        let id = TicketId::parse("35436").unwrap();
        let comment = NewComment {
            body: "b".into(),
            public: true,
        };
        let call = Zendesk::default().add_comment(&id, &comment, "k-9").unwrap();
        let sent: serde_json::Value = serde_json::from_slice(call.body.as_ref().unwrap()).unwrap();
        assert_eq!(sent["ticket"]["metadata"], json!({"integration_hub_key": "k-9"}));
        let listed = br#"{"audits":[
            {"id":1,"metadata":{"custom":{"integration_hub_key":"k-8"}},"events":[{"id":11,"type":"Comment"}]},
            {"id":2,"metadata":{"system":{}},"events":[{"id":21,"type":"Comment"}]},
            {"id":3,"metadata":{"custom":{"integration_hub_key":"k-9"}},"events":[{"id":30,"type":"Change"},{"id":31,"type":"Comment"}]}]}"#;
        let found = Zendesk::default().found_comment(&id, "k-9", listed).unwrap().unwrap();
        assert_eq!(found.comment_id.as_str(), "31");
        assert_eq!(Zendesk::default().found_comment(&id, "k-0", listed).unwrap(), None);
    }

    /// A create is found by the key it carried as `external_id`, and only by it.
    #[test]
    fn created_tickets_are_found_by_their_key() {
        let call = Zendesk::default().ticket_check("k:9/x").unwrap();
        assert_eq!(call.method, Method::GET);
        assert_eq!(call.path, "/api/v2/tickets.json");
        assert_eq!(call.query.as_deref(), Some("external_id=k%3A9%2Fx"));
        let listed = br#"{"tickets":[
            {"id":7,"url":"https://acme.zendesk.com/api/v2/tickets/7.json","status":"open","external_id":"other"},
            {"id":8,"url":"https://acme.zendesk.com/api/v2/tickets/8.json","status":"open","external_id":"k:9/x"},
            {"id":9,"url":"https://acme.zendesk.com/api/v2/tickets/9.json","status":"new","external_id":"k:9/x"}],
            "count":3,"next_page":null}"#;
        let found = Zendesk::default().found_ticket("k:9/x", listed).unwrap().unwrap();
        assert_eq!(found.ticket_id.as_str(), "8");
        assert_eq!(found.url, "https://acme.zendesk.com/agent/tickets/8");
        assert_eq!(found.status, TicketStatus::Open);
        assert_eq!(Zendesk::default().found_ticket("k-0", listed).unwrap(), None);
        assert_eq!(
            Zendesk::default().found_ticket("k", br#"{"tickets":[]}"#).unwrap(),
            None
        );
        assert!(matches!(
            Zendesk::default().found_ticket("k", b"{}"),
            Err(Error::Decode { .. })
        ));
    }

    /// The requester is the API user unless mapped; a mapping sends `requester` by
    /// external id or by the e-mail its template makes.
    #[test]
    fn requesters_are_mapped_from_the_customer() {
        let t = NewTicket {
            customer_id: CustomerId::parse("CUST-1001").unwrap(),
            subject: "s".into(),
            description: "d".into(),
            priority: Priority::Normal,
        };
        let sent = |z: &Zendesk| -> serde_json::Value {
            serde_json::from_slice(z.create_ticket(&t, "k").unwrap().body.as_ref().unwrap()).unwrap()
        };
        assert!(sent(&Zendesk::default())["ticket"].get("requester").is_none());
        let by_id = Zendesk {
            requester: Requester::ExternalId,
        };
        assert_eq!(
            sent(&by_id)["ticket"]["requester"],
            json!({"external_id": "CUST-1001", "name": "CUST-1001"})
        );
        let by_email = Zendesk {
            requester: Requester::email_template("zd+{customer_id}@customers.example.com").unwrap(),
        };
        assert_eq!(
            sent(&by_email)["ticket"]["requester"],
            json!({"email": "zd+CUST-1001@customers.example.com", "name": "CUST-1001"})
        );
        let colon = NewTicket {
            customer_id: CustomerId::parse("C:1").unwrap(),
            ..t.clone()
        };
        let e = by_email.create_ticket(&colon, "k").unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput { field, .. } if field == "customer_id"),
            "{e:?}"
        );
        for bad in [
            "{customer_id}",
            "x@y.z",
            "{customer_id}@nodot",
            "@{customer_id}.z",
            "a b{customer_id}@x.y",
        ] {
            assert!(Requester::email_template(bad).is_err(), "{bad}");
        }
    }

    /// Bodies shaped as Zendesk documents its errors.
    #[test]
    fn vendor_error_bodies_give_short_reasons() {
        for (body, expected) in [
            (
                &include_bytes!("../tests/fixtures/zendesk-422-record-invalid.json")[..],
                Some(
                    "requester: Requester: Email is already being used by another user; subject: Subject: cannot be blank",
                ),
            ),
            (
                include_bytes!("../tests/fixtures/zendesk-404-invalid-endpoint.json"),
                Some("InvalidEndpoint: Not found"),
            ),
            (
                include_bytes!("../tests/fixtures/zendesk-403-error-object.json"),
                Some(
                    "You do not have access to this page. Please contact the account owner of this help desk for \
                     further help.",
                ),
            ),
            (br#"{"error":"RecordInvalid"}"#, Some("RecordInvalid")),
            (br#"{}"#, None),
            (b"not json", None),
        ] {
            assert_eq!(reject_reason(body).as_deref(), expected);
        }
    }

    #[test]
    fn a_blank_description_is_refused_before_sending() {
        for blank in ["", " \r\n\t"] {
            let t = NewTicket {
                customer_id: CustomerId::parse("C1").unwrap(),
                subject: "s".into(),
                description: blank.into(),
                priority: Priority::Low,
            };
            let e = Zendesk::default().create_ticket(&t, "k").unwrap_err();
            assert!(
                matches!(&e, Error::InvalidInput { field, .. } if field == "description"),
                "{e:?}"
            );
        }
    }

    /// An update whose audit has no `Comment` event did not (visibly) add the comment;
    /// the audit's own id is not a comment id.
    #[test]
    fn a_comment_id_comes_only_from_the_comment_event() {
        let id = TicketId::parse("1").unwrap();
        let e = Zendesk::default()
            .created_comment(
                &id,
                br#"{"ticket":{"id":1},"audit":{"id":99,"events":[{"id":5,"type":"Change"}]}}"#,
            )
            .unwrap_err();
        assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    }

    #[test]
    fn a_created_ticket_url_without_the_api_path_is_a_decode_error() {
        let e = Zendesk::default()
            .created_ticket(br#"{"ticket":{"id":1,"url":"https://x/tickets/1","status":"new"}}"#)
            .unwrap_err();
        assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    }

    #[test]
    fn shapes() {
        let t = NewTicket {
            customer_id: CustomerId::parse("C:1").unwrap(),
            subject: "s".into(),
            description: "d".into(),
            priority: Priority::Urgent,
        };
        let call = Zendesk::default().create_ticket(&t, "k-1").unwrap();
        assert_eq!(call.idempotency, Idempotency::Keyed("k-1".into()));
        let sent: serde_json::Value = serde_json::from_slice(call.body.as_ref().unwrap()).unwrap();
        assert_eq!(sent["ticket"]["tags"], json!(["customer_C_1"]));
        assert_eq!(sent["ticket"]["external_id"], "k-1");
        assert_eq!(sent["ticket"]["comment"]["body"], "d");
        let created = Zendesk::default()
            .created_ticket(
                br#"{"ticket":{"id":35436,"url":"https://x/api/v2/tickets/35436.json","status":"new","via":{}}}"#,
            )
            .unwrap();
        assert_eq!(created.ticket_id.as_str(), "35436");
        assert_eq!(created.url, "https://x/agent/tickets/35436");
        let id = TicketId::parse("35436").unwrap();
        let got = Zendesk::default()
            .ticket(
                &id,
                br#"{"ticket":{"id":35436,"status":"hold","assignee_id":7,"updated_at":"2026-01-05T12:00:00Z"},
                    "users":[{"id":7,"email":"agent@x"},{"id":8,"email":"other@x"}]}"#,
            )
            .unwrap();
        assert_eq!(got.status, TicketStatus::OnHold);
        assert_eq!(got.vendor_status, "hold");
        assert_eq!(got.assigned_to.as_deref(), Some("agent@x"));
        let comment = Zendesk::default()
            .created_comment(&id, br#"{"ticket":{"id":1},"audit":{"id":99,"events":[{"id":5,"type":"Change"},{"id":6,"type":"Comment"}]}}"#)
            .unwrap();
        assert_eq!(comment.comment_id.as_str(), "6");
        assert_eq!(
            Zendesk::default()
                .add_comment(
                    &id,
                    &NewComment {
                        body: "b".into(),
                        public: false
                    },
                    "k"
                )
                .unwrap()
                .method,
            Method::PUT
        );
    }
}
