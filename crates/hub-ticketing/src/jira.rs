//! Jira Cloud REST v3: issues under `/rest/api/3/issue`, bodies in Atlassian Document Format.

use http::Method;
use hub_core::{
    CreatedComment, CreatedTicket, Error, NewComment, NewTicket, Operation, Priority, Ticket, TicketId, TicketStatus,
};
use hub_upstream::request::Idempotency;
use hub_upstream::response::decode;
use hub_upstream::{Call, timestamp};
use serde::Deserialize;
use serde_json::json;

use crate::adf;
use crate::dialect::{CommentCheck, Dialect, KEY_MARKER, NumOrStr, vendor_id};

/// The Jira dialect.
///
/// Jira has no idempotency keys, so creates and comments are retried only when they
/// provably never left (the contract's rule for non-idempotent writes). Statuses are
/// normalised by name when the name is one the hub knows, else by `statusCategory.key`
/// (`new` → new, `indeterminate` → open, `done` → solved).
#[derive(Debug, Clone)]
pub struct Jira {
    /// The project issues are created in (`SUP`).
    pub project_key: String,
    /// The issue type (`Task`).
    pub issue_type: String,
    /// The site URL people open (`https://example.atlassian.net`), for `/browse/{key}` links.
    pub browse_url: String,
    /// The project is a Jira Service Management service project, where a comment can be
    /// internal (`sd.public.comment`). Plain Jira ignores that property and posts the
    /// comment publicly, so without this an internal comment is refused before sending.
    pub service_management: bool,
    /// Which fields a create sends beyond the four every create screen has.
    pub create_fields: CreateFields,
}

/// The fields a Jira create sends besides `project`, `issuetype`, `summary` and
/// `description`, which every create screen has. Jira refuses a create carrying any field
/// its project's create screen lacks ("Field 'priority' cannot be set. It is not on the
/// appropriate screen, or unknown."), so the default sends none of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateFields {
    /// Send `priority` by name, with these names; `None` (default): no priority.
    pub priority: Option<PriorityNames>,
    /// Where the customer id goes: `labels` (as a `customer-{id}` label) or a field id
    /// such as `customfield_10050` (the id as text); `None` (default): not sent.
    pub customer_field: Option<String>,
    /// Fields sent unchanged with every create, such as
    /// `components = [{ name = "Payments" }]`.
    pub fixed: serde_json::Map<String, serde_json::Value>,
}

/// The Jira priority names for the hub's four priorities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityNames {
    /// For `low` (Jira's default scheme: `Low`).
    pub low: String,
    /// For `normal` (`Medium`).
    pub normal: String,
    /// For `high` (`High`).
    pub high: String,
    /// For `urgent` (`Highest`).
    pub urgent: String,
}

impl Default for PriorityNames {
    /// Jira's default priority scheme.
    fn default() -> Self {
        Self {
            low: "Low".to_owned(),
            normal: "Medium".to_owned(),
            high: "High".to_owned(),
            urgent: "Highest".to_owned(),
        }
    }
}

impl PriorityNames {
    fn name(&self, p: Priority) -> &str {
        match p {
            Priority::Low => &self.low,
            Priority::Normal => &self.normal,
            Priority::High => &self.high,
            Priority::Urgent => &self.urgent,
        }
    }
}

/// The fields a create always sends; fixed fields never replace them.
pub const CORE_FIELDS: [&str; 4] = ["project", "issuetype", "summary", "description"];

/// Jira's limit on a summary, in characters.
pub const SUMMARY_MAX: usize = 255;

#[derive(Deserialize)]
struct Created {
    key: String,
}

#[derive(Deserialize)]
struct Category {
    key: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    name: String,
    status_category: Option<Category>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Assignee {
    email_address: Option<String>,
    display_name: Option<String>,
    account_id: Option<String>,
}

impl Assignee {
    /// The e-mail address when Jira shows it (a user's privacy settings often hide it),
    /// else the display name, else the account id.
    fn best_name(self) -> Option<String> {
        let present = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        present(self.email_address)
            .or_else(|| present(self.display_name))
            .or_else(|| present(self.account_id))
    }
}

#[derive(Deserialize)]
struct Fields {
    status: Status,
    assignee: Option<Assignee>,
    #[serde(default, deserialize_with = "timestamp::option::deserialize")]
    updated: Option<time::OffsetDateTime>,
}

#[derive(Deserialize)]
struct Got {
    fields: Fields,
}

#[derive(Deserialize)]
struct Commented {
    id: NumOrStr,
}

/// A comment as listed with `expand=properties`.
#[derive(Deserialize)]
struct ListedComment {
    id: NumOrStr,
    #[serde(default)]
    properties: Vec<CommentProperty>,
}

#[derive(Deserialize)]
struct CommentProperty {
    key: String,
    #[serde(default)]
    value: serde_json::Value,
}

/// `GET /rest/api/3/issue/{key}/comment`.
#[derive(Deserialize)]
struct Comments {
    comments: Vec<ListedComment>,
}

/// Jira's error collection: `{"errorMessages": [..], "errors": {"field": "message"}}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorCollection {
    #[serde(default)]
    error_messages: Vec<String>,
    #[serde(default)]
    errors: serde_json::Map<String, serde_json::Value>,
}

/// The short, redacted reason in a Jira error body (`{errorMessages, errors}`): each
/// field error as `field: message`, then the general messages.
///
/// ```
/// let body = br#"{"errorMessages":[],"errors":{"priority":"Field 'priority' cannot be set."}}"#;
/// assert_eq!(hub_ticketing::jira::reject_reason(body).as_deref(), Some("priority: Field 'priority' cannot be set."));
/// ```
pub fn reject_reason(body: &[u8]) -> Option<String> {
    let c: ErrorCollection = serde_json::from_slice(body).ok()?;
    let fields = c
        .errors
        .iter()
        .filter_map(|(field, m)| m.as_str().map(|m| (Some(field.as_str()), m)));
    let general = c.error_messages.iter().map(|m| (None, m.as_str()));
    crate::reject::reason(fields.chain(general))
}

/// What Jira refuses in a summary: a line break, or more than [`SUMMARY_MAX`] characters.
fn validate_summary(summary: &str) -> Result<(), Error> {
    let reason = if summary.contains(['\n', '\r']) {
        "Jira's summary must be a single line"
    } else if summary.chars().count() > SUMMARY_MAX {
        "Jira's summary must be at most 255 characters"
    } else {
        return Ok(());
    };
    Err(Error::InvalidInput {
        field: "subject".to_owned(),
        reason: reason.to_owned(),
    })
}

/// Normalises by name when the hub knows it, else by the status category.
fn normalise(name: &str, category: Option<&str>) -> TicketStatus {
    match TicketStatus::normalise(name) {
        TicketStatus::Other(_) => match category {
            Some("new") => TicketStatus::New,
            Some("indeterminate") => TicketStatus::Open,
            Some("done") => TicketStatus::Solved,
            _ => TicketStatus::Other(name.to_owned()),
        },
        known => known,
    }
}

impl Dialect for Jira {
    fn name(&self) -> &'static str {
        "jira"
    }

    fn create_ticket(&self, t: &NewTicket, _key: &str) -> Result<Call, Error> {
        validate_summary(&t.subject)?;
        let mut fields = serde_json::Map::new();
        let extra = &self.create_fields;
        for (k, v) in &extra.fixed {
            if !CORE_FIELDS.contains(&k.as_str()) {
                fields.insert(k.clone(), v.clone());
            }
        }
        if let Some(names) = &extra.priority {
            fields.insert("priority".to_owned(), json!({"name": names.name(t.priority)}));
        }
        match extra.customer_field.as_deref() {
            Some("labels") => {
                let label: String = t
                    .customer_id
                    .as_str()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
                    .collect();
                fields.insert("labels".to_owned(), json!([format!("customer-{label}")]));
            }
            Some(field) => {
                fields.insert(field.to_owned(), json!(t.customer_id.as_str()));
            }
            None => {}
        }
        fields.insert("project".to_owned(), json!({"key": self.project_key}));
        fields.insert("issuetype".to_owned(), json!({"name": self.issue_type}));
        fields.insert("summary".to_owned(), json!(t.subject));
        fields.insert("description".to_owned(), adf::from_text(&t.description));
        let body = json!({ "fields": fields });
        Ok(Call::json(
            Operation::CreateTicket,
            Method::POST,
            "/rest/api/3/issue".to_owned(),
            &body,
            Idempotency::NonIdempotent,
        )?
        .with_params(json!({"customer_id": t.customer_id.as_str(), "priority": t.priority.as_str()})))
    }

    fn created_ticket(&self, body: &[u8]) -> Result<CreatedTicket, Error> {
        let c: Created = decode(body)?;
        let ticket_id: TicketId = vendor_id(&c.key, "key")?;
        Ok(CreatedTicket {
            url: format!(
                "{}/browse/{}",
                self.browse_url.trim_end_matches('/'),
                ticket_id.path_segment()
            ),
            ticket_id,
            // Provisional: the adapter reads the workflow's real initial status back.
            status: TicketStatus::New,
        })
    }

    fn reads_status_after_create(&self) -> bool {
        true
    }

    fn get_ticket(&self, id: &TicketId) -> Call {
        Call::get(
            Operation::GetTicketStatus,
            format!("/rest/api/3/issue/{}", id.path_segment()),
        )
        .with_query("fields=status,assignee,updated".to_owned())
        .with_params(json!({"ticket_id": id.as_str()}))
    }

    fn ticket(&self, id: &TicketId, body: &[u8]) -> Result<Ticket, Error> {
        let Got { fields } = decode(body)?;
        let status = normalise(
            &fields.status.name,
            fields.status.status_category.as_ref().map(|c| c.key.as_str()),
        );
        Ok(Ticket {
            ticket_id: id.clone(),
            status,
            vendor_status: fields.status.name,
            assigned_to: fields.assignee.and_then(Assignee::best_name),
            last_updated: fields.updated,
        })
    }

    fn add_comment(&self, id: &TicketId, c: &NewComment, key: &str) -> Result<Call, Error> {
        if !c.public && !self.service_management {
            return Err(Error::InvalidInput {
                field: "is_public".to_owned(),
                reason: "internal comments need Jira Service Management; this Jira project would post it publicly \
                         (set ticketing.jira.service_management for a service project)"
                    .to_owned(),
            });
        }
        // Jira keeps no key for comments; the key rides in a comment property, so a lost
        // answer can be looked up among the issue's comments.
        let mut properties = vec![json!({"key": KEY_MARKER, "value": {"idempotency_key": key}})];
        if !c.public {
            // Jira Service Management's internal-note property.
            properties.push(json!({"key": "sd.public.comment", "value": {"internal": true}}));
        }
        let body = json!({"body": adf::from_text(&c.body), "properties": properties});
        Ok(Call::json(
            Operation::AddComment,
            Method::POST,
            format!("/rest/api/3/issue/{}/comment", id.path_segment()),
            &body,
            Idempotency::NonIdempotent,
        )?
        .with_params(json!({"ticket_id": id.as_str(), "public": c.public})))
    }

    fn created_comment(&self, _id: &TicketId, body: &[u8]) -> Result<CreatedComment, Error> {
        let c: Commented = decode(body)?;
        Ok(CreatedComment {
            comment_id: vendor_id(&c.id.into_string(), "id")?,
        })
    }

    fn comment_check(&self, id: &TicketId, _key: &str) -> CommentCheck {
        // The newest comments first, each with its properties.
        CommentCheck::ReadBack(
            Call::get(
                Operation::FindComment,
                format!("/rest/api/3/issue/{}/comment", id.path_segment()),
            )
            .with_query("orderBy=-created&maxResults=100&expand=properties".to_owned())
            .with_params(json!({"ticket_id": id.as_str()})),
        )
    }

    fn found_comment(&self, _id: &TicketId, key: &str, body: &[u8]) -> Result<Option<CreatedComment>, Error> {
        let Comments { comments } = decode(body)?;
        let marked = comments.into_iter().find(|c| {
            c.properties.iter().any(|p| {
                p.key == KEY_MARKER && p.value.get("idempotency_key").and_then(serde_json::Value::as_str) == Some(key)
            })
        });
        marked
            .map(|c| {
                Ok(CreatedComment {
                    comment_id: vendor_id(&c.id.into_string(), "comments.id")?,
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_core::CustomerId;

    fn jira() -> Jira {
        Jira {
            project_key: "SUP".into(),
            issue_type: "Task".into(),
            browse_url: "https://x.atlassian.net/".into(),
            service_management: true,
            create_fields: CreateFields::default(),
        }
    }

    /// Bodies shaped as Jira Cloud documents its error collection.
    #[test]
    fn vendor_error_bodies_give_short_reasons() {
        for (body, expected) in [
            (
                &include_bytes!("../tests/fixtures/jira-400-field-not-on-screen.json")[..],
                Some("priority: Field 'priority' cannot be set. It is not on the appropriate screen, or unknown."),
            ),
            (
                include_bytes!("../tests/fixtures/jira-400-project-key.json"),
                Some(
                    "projectKey: Project keys must start with an uppercase letter, followed by one or more uppercase \
                     alphanumeric characters.; input parameter 'key' must be provided",
                ),
            ),
            (
                include_bytes!("../tests/fixtures/jira-404-issue.json"),
                Some("Issue does not exist or you do not have permission to see it."),
            ),
            (br#"{"errorMessages":[],"errors":{}}"#, None),
            (b"<html>Bad Gateway</html>", None),
        ] {
            assert_eq!(reject_reason(body).as_deref(), expected);
        }
    }

    fn ticket(subject: &str) -> NewTicket {
        NewTicket {
            customer_id: CustomerId::parse("C.1").unwrap(),
            subject: subject.into(),
            description: "d".into(),
            priority: Priority::Normal,
        }
    }

    #[test]
    fn summaries_jira_refuses_are_refused_before_sending() {
        for bad in ["two\nlines", "cr\ronly", &"x".repeat(256)] {
            let e = jira().create_ticket(&ticket(bad), "k").unwrap_err();
            assert!(
                matches!(&e, Error::InvalidInput { field, .. } if field == "subject"),
                "{e:?}"
            );
        }
        // 255 characters, multi-byte ones counted as one each, is fine.
        jira().create_ticket(&ticket(&"é".repeat(255)), "k").unwrap();
    }

    #[test]
    fn create_fields_are_what_the_deployment_configured() {
        let mut fixed = serde_json::Map::new();
        fixed.insert("components".into(), json!([{"name": "Payments"}]));
        fixed.insert("summary".into(), json!("never replaces the caller's"));
        let configured = Jira {
            create_fields: CreateFields {
                priority: Some(PriorityNames {
                    urgent: "P1".into(),
                    ..PriorityNames::default()
                }),
                customer_field: Some("customfield_10050".into()),
                fixed,
            },
            ..jira()
        };
        let t = NewTicket {
            priority: Priority::Urgent,
            ..ticket("s")
        };
        let sent = configured.create_ticket(&t, "k").unwrap();
        let sent: serde_json::Value = serde_json::from_slice(sent.body.as_ref().unwrap()).unwrap();
        let f = &sent["fields"];
        assert_eq!(f["priority"], json!({"name": "P1"}));
        assert_eq!(f["customfield_10050"], "C.1");
        assert_eq!(f["components"], json!([{"name": "Payments"}]));
        assert_eq!(f["summary"], "s");
        assert!(f.get("labels").is_none());
        let labelled = Jira {
            create_fields: CreateFields {
                customer_field: Some("labels".into()),
                ..CreateFields::default()
            },
            ..jira()
        };
        let sent = labelled.create_ticket(&ticket("s"), "k").unwrap();
        let sent: serde_json::Value = serde_json::from_slice(sent.body.as_ref().unwrap()).unwrap();
        assert_eq!(sent["fields"]["labels"], json!(["customer-C_1"]));
    }

    #[test]
    fn internal_comments_only_on_service_management() {
        let id = TicketId::parse("SUP-1").unwrap();
        let internal = NewComment {
            body: "x".into(),
            public: false,
        };
        let plain = Jira {
            service_management: false,
            ..jira()
        };
        let e = plain.add_comment(&id, &internal, "k").unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput { field, .. } if field == "is_public"),
            "{e:?}"
        );
        let public = NewComment {
            body: "x".into(),
            public: true,
        };
        let sent = plain.add_comment(&id, &public, "k").unwrap();
        let sent: serde_json::Value = serde_json::from_slice(sent.body.as_ref().unwrap()).unwrap();
        // Only the hub's key marker: no internal-note property on a public comment.
        assert_eq!(
            sent["properties"],
            json!([{"key": "integration_hub_key", "value": {"idempotency_key": "k"}}])
        );
    }

    /// Jira hides `emailAddress` under most users' privacy settings.
    #[test]
    fn assignee_without_a_visible_email_is_named_or_identified() {
        let id = TicketId::parse("SUP-1").unwrap();
        let read = |assignee: &str| {
            let body = format!(r#"{{"fields":{{"status":{{"name":"To Do"}},"assignee":{assignee}}}}}"#);
            jira().ticket(&id, body.as_bytes()).unwrap().assigned_to
        };
        assert_eq!(
            read(r#"{"accountId":"712020:b","displayName":"Bob Agent"}"#).as_deref(),
            Some("Bob Agent")
        );
        assert_eq!(
            read(r#"{"accountId":"712020:b","emailAddress":"","displayName":""}"#).as_deref(),
            Some("712020:b")
        );
        assert_eq!(
            read(r#"{"accountId":"712020:b","emailAddress":"b@x","displayName":"Bob"}"#).as_deref(),
            Some("b@x")
        );
        assert_eq!(read("null"), None);
    }

    #[test]
    fn statuses_by_name_then_category() {
        for (name, cat, expected) in [
            ("To Do", Some("new"), TicketStatus::New),
            ("In Progress", Some("indeterminate"), TicketStatus::Open),
            ("In Review", Some("indeterminate"), TicketStatus::Open),
            ("Done", Some("done"), TicketStatus::Solved),
            ("Closed", Some("done"), TicketStatus::Closed),
            ("Won't Fix", Some("done"), TicketStatus::Solved),
            ("Triage", None, TicketStatus::Other("Triage".into())),
        ] {
            assert_eq!(normalise(name, cat), expected, "{name}");
        }
    }

    #[test]
    fn shapes() {
        let t = NewTicket {
            customer_id: CustomerId::parse("C.1").unwrap(),
            subject: "s".into(),
            description: "line1\nline2".into(),
            priority: Priority::Normal,
        };
        let call = jira().create_ticket(&t, "k").unwrap();
        assert_eq!(call.idempotency, Idempotency::NonIdempotent);
        let sent: serde_json::Value = serde_json::from_slice(call.body.as_ref().unwrap()).unwrap();
        // By default only what every create screen has.
        let mut keys: Vec<&str> = sent["fields"].as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["description", "issuetype", "project", "summary"]);
        assert_eq!(adf::to_text(&sent["fields"]["description"]), "line1\nline2");
        let created = jira()
            .created_ticket(br#"{"id":"10001","key":"SUP-1","self":"https://x/rest/api/3/issue/10001"}"#)
            .unwrap();
        assert_eq!(
            (created.ticket_id.as_str(), created.url.as_str()),
            ("SUP-1", "https://x.atlassian.net/browse/SUP-1")
        );
        let id = TicketId::parse("SUP-1").unwrap();
        let got = jira()
            .ticket(
                &id,
                br#"{"key":"SUP-1","fields":{"status":{"name":"In Progress","statusCategory":{"key":"indeterminate"}},
                    "assignee":{"emailAddress":"a@x"},"updated":"2026-01-05T12:00:00.000+0000"}}"#,
            )
            .unwrap();
        assert_eq!(got.status, TicketStatus::Open);
        assert_eq!(got.vendor_status, "In Progress");
        assert!(got.last_updated.is_some());
        let internal = jira()
            .add_comment(
                &id,
                &NewComment {
                    body: "x".into(),
                    public: false,
                },
                "k",
            )
            .unwrap();
        let sent: serde_json::Value = serde_json::from_slice(internal.body.as_ref().unwrap()).unwrap();
        assert_eq!(
            sent["properties"],
            json!([
                {"key": "integration_hub_key", "value": {"idempotency_key": "k"}},
                {"key": "sd.public.comment", "value": {"internal": true}},
            ])
        );
        // The comment read back by the key marker, and only by it.
        let listed = br#"{"comments":[
            {"id":"10011","properties":[{"key":"integration_hub_key","value":{"idempotency_key":"other"}}]},
            {"id":"10012"},
            {"id":"10010","properties":[{"key":"integration_hub_key","value":{"idempotency_key":"k"}}]}]}"#;
        let found = jira().found_comment(&id, "k", listed).unwrap().unwrap();
        assert_eq!(found.comment_id.as_str(), "10010");
        assert_eq!(jira().found_comment(&id, "nope", listed).unwrap(), None);
        assert_eq!(
            jira()
                .created_comment(&id, br#"{"id":"10010"}"#)
                .unwrap()
                .comment_id
                .as_str(),
            "10010"
        );
    }
}
