//! Reading a Jira project's create metadata, to say which configured create fields its screen lacks.

use hub_core::Error;
use hub_core::Operation;
use hub_core::id::encode_path_segment;
use hub_upstream::Call;
use hub_upstream::response::decode;
use serde::Deserialize;

use crate::dialect::NumOrStr;
use crate::jira::{CORE_FIELDS, CreateFields};

/// How many entries a page asks for (Jira's maximum for these lists).
pub const PAGE_SIZE: u64 = 200;

/// `GET /rest/api/3/issue/createmeta/{project}/issuetypes`, from `start_at`.
///
/// ```
/// let call = hub_ticketing::createmeta::issue_types_call("SUP", 0);
/// assert_eq!(call.path, "/rest/api/3/issue/createmeta/SUP/issuetypes");
/// assert_eq!(call.query.as_deref(), Some("startAt=0&maxResults=200"));
/// ```
pub fn issue_types_call(project: &str, start_at: u64) -> Call {
    Call::get(
        Operation::ProbeIssueTypes,
        format!(
            "/rest/api/3/issue/createmeta/{}/issuetypes",
            encode_path_segment(project)
        ),
    )
    .with_query(format!("startAt={start_at}&maxResults={PAGE_SIZE}"))
}

/// `GET /rest/api/3/issue/createmeta/{project}/issuetypes/{issue_type_id}`, from `start_at`.
pub fn fields_call(project: &str, issue_type_id: &str, start_at: u64) -> Call {
    Call::get(
        Operation::ProbeFields,
        format!(
            "/rest/api/3/issue/createmeta/{}/issuetypes/{}",
            encode_path_segment(project),
            encode_path_segment(issue_type_id)
        ),
    )
    .with_query(format!("startAt={start_at}&maxResults={PAGE_SIZE}"))
}

/// One page of a createmeta list, and where the next starts (`None`: it was the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// This page's entries.
    pub items: Vec<T>,
    /// The next page's `startAt`, when there is more.
    pub next: Option<u64>,
}

/// An issue type a create may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueType {
    /// Its id (`10001`).
    pub id: String,
    /// Its name (`Task`).
    pub name: String,
}

/// A field on the create screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenField {
    /// Its id (`priority`, `customfield_10050`).
    pub id: String,
    /// Its name (`Priority`).
    pub name: String,
    /// Whether a create must set it.
    pub required: bool,
    /// Whether Jira fills it when a create leaves it out.
    pub has_default: bool,
}

/// Jira has answered the list as `issueTypes`/`fields` and, in other versions, `values`.
#[derive(Deserialize)]
struct RawPage<T> {
    #[serde(alias = "issueTypes", alias = "fields")]
    values: Vec<T>,
    #[serde(rename = "startAt", default)]
    start_at: u64,
    #[serde(default)]
    total: Option<u64>,
    #[serde(rename = "isLast", default)]
    is_last: Option<bool>,
}

#[derive(Deserialize)]
struct RawType {
    id: NumOrStr,
    name: String,
}

#[derive(Deserialize)]
struct RawField {
    #[serde(rename = "fieldId")]
    field_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(rename = "hasDefaultValue", default)]
    has_default: bool,
}

fn next<T>(page: &RawPage<T>) -> Option<u64> {
    let got = u64::try_from(page.values.len()).unwrap_or(u64::MAX);
    let after = page.start_at.saturating_add(got);
    let more = match (page.is_last, page.total) {
        (Some(last), _) => !last,
        (None, Some(total)) => after < total,
        (None, None) => false,
    };
    (more && got > 0).then_some(after)
}

/// Reads a page of issue types.
pub fn issue_types(body: &[u8]) -> Result<Page<IssueType>, Error> {
    let page: RawPage<RawType> = decode(body)?;
    let next = next(&page);
    Ok(Page {
        items: page
            .values
            .into_iter()
            .map(|t| IssueType {
                id: t.id.into_string(),
                name: t.name,
            })
            .collect(),
        next,
    })
}

/// Reads a page of the create screen's fields.
pub fn fields(body: &[u8]) -> Result<Page<ScreenField>, Error> {
    let page: RawPage<RawField> = decode(body)?;
    let next = next(&page);
    Ok(Page {
        items: page
            .values
            .into_iter()
            .map(|f| ScreenField {
                name: f.name.unwrap_or_else(|| f.field_id.clone()),
                id: f.field_id,
                required: f.required,
                has_default: f.has_default,
            })
            .collect(),
        next,
    })
}

/// The field ids a create sends with `fields`: the core four, then the configured ones.
pub fn sent_fields(fields: &CreateFields) -> Vec<String> {
    let mut sent: Vec<String> = CORE_FIELDS.iter().map(|f| (*f).to_owned()).collect();
    let configured = fields
        .priority
        .as_ref()
        .map(|_| "priority".to_owned())
        .into_iter()
        .chain(fields.customer_field.clone())
        .chain(fields.fixed.keys().cloned());
    for f in configured {
        if !sent.contains(&f) {
            sent.push(f);
        }
    }
    sent
}

/// What the probe found: fields the hub would send that the screen lacks (every create
/// would be refused), and required fields without a default that the hub does not send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Sent, but not on the screen.
    pub missing: Vec<String>,
    /// On the screen, required, no default, and not sent: `(id, name)`.
    pub required_unsent: Vec<(String, String)>,
}

impl Findings {
    /// Whether creates with this configuration can succeed on this screen.
    pub fn is_ok(&self) -> bool {
        self.missing.is_empty() && self.required_unsent.is_empty()
    }
}

/// Compares what a create sends with the screen.
///
/// ```
/// use hub_ticketing::createmeta::{ScreenField, compare};
/// use hub_ticketing::jira::CreateFields;
/// let screen: Vec<ScreenField> = ["project", "issuetype", "summary", "description"]
///     .iter()
///     .map(|f| ScreenField { id: (*f).into(), name: (*f).into(), required: false, has_default: false })
///     .collect();
/// let fields = CreateFields { customer_field: Some("labels".into()), ..Default::default() };
/// assert_eq!(compare(&fields, &screen).missing, vec!["labels".to_owned()]);
/// assert!(compare(&CreateFields::default(), &screen).is_ok());
/// ```
pub fn compare(fields: &CreateFields, screen: &[ScreenField]) -> Findings {
    let sent = sent_fields(fields);
    Findings {
        missing: sent
            .iter()
            .filter(|f| !screen.iter().any(|s| &s.id == *f))
            .cloned()
            .collect(),
        required_unsent: screen
            .iter()
            .filter(|s| s.required && !s.has_default && !sent.contains(&s.id))
            .map(|s| (s.id.clone(), s.name.clone()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Bodies shaped as Atlassian documents the two createmeta lists.
    #[test]
    fn reads_the_documented_pages() {
        let types = issue_types(
            br#"{"issueTypes":[{"id":"10001","name":"Task","subtask":false},{"id":10002,"name":"Bug"}],
                 "maxResults":2,"startAt":0,"total":3}"#,
        )
        .unwrap();
        assert_eq!(
            types.items[1],
            IssueType {
                id: "10002".into(),
                name: "Bug".into()
            }
        );
        assert_eq!(types.next, Some(2));
        let last = issue_types(br#"{"values":[{"id":"1","name":"Task"}],"startAt":2,"total":3}"#).unwrap();
        assert_eq!(last.next, None);
        let page = fields(
            br#"{"fields":[{"fieldId":"summary","name":"Summary","required":true,"hasDefaultValue":false,"key":"summary"},
                           {"fieldId":"customfield_10050","required":false}],"maxResults":50,"startAt":0,"total":2}"#,
        )
        .unwrap();
        assert_eq!(page.next, None);
        assert_eq!(page.items[1].name, "customfield_10050");
        assert!(page.items[0].required);
        assert!(matches!(fields(b"{}"), Err(Error::Decode { .. })));
    }

    #[test]
    fn findings_name_missing_and_required_fields() {
        let screen = vec![
            ScreenField {
                id: "project".into(),
                name: "Project".into(),
                required: true,
                has_default: false,
            },
            ScreenField {
                id: "issuetype".into(),
                name: "Issue Type".into(),
                required: true,
                has_default: false,
            },
            ScreenField {
                id: "summary".into(),
                name: "Summary".into(),
                required: true,
                has_default: false,
            },
            ScreenField {
                id: "description".into(),
                name: "Description".into(),
                required: false,
                has_default: false,
            },
            ScreenField {
                id: "reporter".into(),
                name: "Reporter".into(),
                required: true,
                has_default: true,
            },
            ScreenField {
                id: "customfield_1".into(),
                name: "Team".into(),
                required: true,
                has_default: false,
            },
        ];
        let mut fixed = serde_json::Map::new();
        fixed.insert("components".into(), serde_json::json!([{"name": "Payments"}]));
        let fields = CreateFields {
            priority: Some(Default::default()),
            customer_field: Some("customfield_10050".into()),
            fixed,
        };
        let found = compare(&fields, &screen);
        assert_eq!(found.missing, vec!["priority", "customfield_10050", "components"]);
        assert_eq!(
            found.required_unsent,
            vec![("customfield_1".to_owned(), "Team".to_owned())]
        );
        assert!(!found.is_ok());
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = issue_types(&body);
            let _ = fields(&body);
        }

        #[test]
        fn pages_advance_or_end(start in 0u64..1000, n in 0usize..5, total in proptest::option::of(0u64..2000)) {
            let values: Vec<_> = (0..n).map(|i| serde_json::json!({"fieldId": format!("f{i}")})).collect();
            let body = serde_json::json!({"fields": values, "startAt": start, "total": total});
            let page = fields(&serde_json::to_vec(&body).unwrap()).unwrap();
            if let Some(next) = page.next {
                prop_assert!(next > start);
                prop_assert!(total.is_some_and(|t| next < t));
            }
        }
    }
}
