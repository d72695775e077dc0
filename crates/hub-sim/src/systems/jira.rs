//! Jira Cloud REST v3: issues with workflow statuses, comments in Atlassian Document Format.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, StatusCode, Uri};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::auth;
use crate::clock::{jira_time, parse};
use crate::idempotency::{Refusals, fingerprint};
use crate::ledger::EffectKind;
use crate::reply::Reply;
use crate::state::{SimState, lock};
use crate::system::System;
use crate::systems::at;

struct Status {
    id: &'static str,
    name: &'static str,
    category_id: u32,
    category_key: &'static str,
    category_name: &'static str,
    color: &'static str,
}

const STATUSES: [Status; 5] = [
    Status {
        id: "10000",
        name: "To Do",
        category_id: 2,
        category_key: "new",
        category_name: "To Do",
        color: "blue-gray",
    },
    Status {
        id: "3",
        name: "In Progress",
        category_id: 4,
        category_key: "indeterminate",
        category_name: "In Progress",
        color: "yellow",
    },
    Status {
        id: "10002",
        name: "Waiting for customer",
        category_id: 4,
        category_key: "indeterminate",
        category_name: "In Progress",
        color: "yellow",
    },
    Status {
        id: "10001",
        name: "Done",
        category_id: 3,
        category_key: "done",
        category_name: "Done",
        color: "green",
    },
    // The classic workflow's first status (Bugs here): a new issue is not always "To Do".
    Status {
        id: "1",
        name: "Open",
        category_id: 2,
        category_key: "new",
        category_name: "To Do",
        color: "blue-gray",
    },
];

/// The index of "Open" in [`STATUSES`].
const OPEN: usize = 4;

const PRIORITIES: [(&str, &str); 5] = [
    ("1", "Highest"),
    ("2", "High"),
    ("3", "Medium"),
    ("4", "Low"),
    ("5", "Lowest"),
];
const ISSUE_TYPES: [(&str, &str); 4] = [
    ("10001", "Task"),
    ("10002", "Bug"),
    ("10003", "Story"),
    ("10004", "Service Request"),
];
const PROJECT: (&str, &str, &str) = ("10000", "SUP", "Support");

struct Account {
    id: &'static str,
    /// `None`: the user's profile hides it, and Jira leaves `emailAddress` out (the
    /// default for most Atlassian accounts).
    email: Option<&'static str>,
    name: &'static str,
}

const ACCOUNTS: [Account; 3] = [
    Account {
        id: "712020:hub-integration",
        email: Some("agent@example.com"),
        name: "Hub Integration",
    },
    Account {
        id: "712020:alice",
        email: Some("alice@example.com"),
        name: "Alice Agent",
    },
    Account {
        id: "712020:bob",
        email: None,
        name: "Bob Agent",
    },
];

fn account_json(index: usize) -> Value {
    ACCOUNTS.get(index).map_or(Value::Null, |a| {
        let mut account = json!({"accountId": a.id, "displayName": a.name, "active": true, "accountType": "atlassian"});
        if let Some(email) = a.email {
            account["emailAddress"] = json!(email);
        }
        account
    })
}

#[derive(Debug, Clone)]
struct Comment {
    id: u64,
    body: Value,
    public: bool,
    created: OffsetDateTime,
    /// The entity properties sent with it (`properties`), listed with `expand=properties`.
    properties: Vec<Value>,
}

/// A Jira issue.
#[derive(Debug, Clone)]
pub(crate) struct Issue {
    id: u64,
    key: String,
    summary: String,
    description: Value,
    status: usize,
    priority: usize,
    issue_type: usize,
    assignee: Option<usize>,
    labels: Vec<Value>,
    custom: Map<String, Value>,
    created: OffsetDateTime,
    updated: OffsetDateTime,
    comments: Vec<Comment>,
}

/// Jira's issues.
#[derive(Debug)]
pub(crate) struct Data {
    issues: BTreeMap<u64, Issue>,
    keys: HashMap<String, u64>,
    next_number: u64,
    next_id: u64,
    next_comment: u64,
    /// The fields the project's create screen has; any other field in a create is
    /// refused as Jira refuses it.
    screen: BTreeSet<String>,
}

/// The create screen of a new Jira Software project, plus the sim's "Customer" custom
/// field. Restored by every reset.
pub(crate) const DEFAULT_SCREEN: &[&str] = &[
    "project",
    "issuetype",
    "summary",
    "description",
    "priority",
    "labels",
    "components",
    "assignee",
    "reporter",
    "duedate",
    "customfield_10050",
];

impl Data {
    /// Replaces the create screen's fields.
    pub(crate) fn set_screen(&mut self, fields: &[&str]) {
        self.screen = fields.iter().map(|f| (*f).to_owned()).collect();
    }
}

fn adf(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]})
}

impl Data {
    /// `SUP-1` (To Do), `SUP-2` (In Progress, alice), `SUP-3` (Done, bob), `SUP-4` (Waiting for customer, alice).
    pub(crate) fn seeded() -> Self {
        let seeds = [
            (1, "Card declined at checkout", 0, 2, None, "2026-01-05T09:00:00Z"),
            (2, "Refund not received", 1, 1, Some(1), "2026-01-06T11:30:00Z"),
            (3, "Change billing address", 3, 3, Some(2), "2026-01-07T15:45:00Z"),
            (4, "Chargeback dispute", 2, 0, Some(1), "2026-01-08T08:15:00Z"),
        ];
        let mut data = Self {
            issues: BTreeMap::new(),
            keys: HashMap::new(),
            next_number: 5,
            next_id: 10005,
            next_comment: 10100,
            screen: DEFAULT_SCREEN.iter().map(|f| (*f).to_owned()).collect(),
        };
        for (n, summary, status, priority, assignee, at) in seeds {
            let issue = Issue {
                id: 10000 + n,
                key: format!("SUP-{n}"),
                summary: summary.to_owned(),
                description: adf(&format!("{summary} (seeded)")),
                status,
                priority,
                issue_type: 0,
                assignee,
                labels: Vec::new(),
                custom: Map::new(),
                created: parse(at),
                updated: parse(at),
                comments: Vec::new(),
            };
            data.keys.insert(issue.key.clone(), issue.id);
            data.issues.insert(issue.id, issue);
        }
        data
    }

    fn find(&self, key_or_id: &str) -> Option<u64> {
        self.keys
            .get(key_or_id)
            .copied()
            .or_else(|| key_or_id.parse().ok().filter(|id| self.issues.contains_key(id)))
    }
}

pub(crate) fn routes(router: Router<Arc<SimState>>) -> Router<Arc<SimState>> {
    let s = System::Jira;
    router
        .route(&at(s, "/rest/api/3/issue"), post(create))
        .route(&at(s, "/rest/api/3/issue/{key}"), get(read))
        .route(&at(s, "/rest/api/3/issue/{key}/comment"), post(comment).get(comments))
        .route(
            &at(s, "/rest/api/3/issue/createmeta/{project}/issuetypes"),
            get(createmeta_types),
        )
        .route(
            &at(s, "/rest/api/3/issue/createmeta/{project}/issuetypes/{type_id}"),
            get(createmeta_fields),
        )
}

/// Jira's names of the create screen's system fields; custom fields are named by id.
fn field_name(id: &str) -> String {
    match id {
        "project" => "Project",
        "issuetype" => "Issue Type",
        "summary" => "Summary",
        "description" => "Description",
        "priority" => "Priority",
        "labels" => "Labels",
        "components" => "Components",
        "assignee" => "Assignee",
        "reporter" => "Reporter",
        "duedate" => "Due date",
        "customfield_10050" => "Customer",
        other => return other.to_owned(),
    }
    .to_owned()
}

/// Reads `startAt` and `maxResults` (default 50, at most 200) as Jira pages its lists.
fn page(uri: &Uri) -> (usize, usize) {
    let mut start = 0;
    let mut max = 50;
    for (k, v) in uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|p| p.split_once('='))
    {
        match k {
            "startAt" => start = v.parse().unwrap_or(0),
            "maxResults" => max = v.parse::<usize>().unwrap_or(50).clamp(1, 200),
            _ => {}
        }
    }
    (start, max)
}

fn project_known(project: &str) -> bool {
    project == PROJECT.0 || project.eq_ignore_ascii_case(PROJECT.1)
}

/// `GET /rest/api/3/issue/createmeta/{project}/issuetypes`: the issue types a create may use.
async fn createmeta_types(
    State(st): State<Arc<SimState>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Reply {
    if let Err(r) = check_auth(&st, &headers) {
        return r;
    }
    if !project_known(&project) {
        let message = format!("No project could be found with key '{project}'.");
        return errors(StatusCode::NOT_FOUND, &[&message], Map::new());
    }
    let (start, max) = page(&uri);
    let all: Vec<Value> = ISSUE_TYPES
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name, "subtask": false, "description": ""}))
        .collect();
    let items: Vec<Value> = all.iter().skip(start).take(max).cloned().collect();
    Reply::json(
        StatusCode::OK,
        &json!({"issueTypes": items, "maxResults": max, "startAt": start, "total": all.len()}),
    )
}

/// `GET /rest/api/3/issue/createmeta/{project}/issuetypes/{id}`: the fields on the
/// project's create screen for that issue type (the sim's one screen), paged.
async fn createmeta_fields(
    State(st): State<Arc<SimState>>,
    Path((project, type_id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Reply {
    if let Err(r) = check_auth(&st, &headers) {
        return r;
    }
    if !project_known(&project) || !ISSUE_TYPES.iter().any(|(id, _)| *id == type_id) {
        let message = format!("Issue type with id '{type_id}' does not exist or is not valid for this project.");
        return errors(StatusCode::NOT_FOUND, &[&message], Map::new());
    }
    let (start, max) = page(&uri);
    let screen: Vec<Value> = lock(&st.jira)
        .screen
        .iter()
        .map(|f| {
            let required = matches!(f.as_str(), "project" | "issuetype" | "summary" | "reporter");
            json!({"fieldId": f, "key": f, "name": field_name(f), "required": required,
                   "hasDefaultValue": f == "reporter", "operations": ["set"]})
        })
        .collect();
    let items: Vec<Value> = screen.iter().skip(start).take(max).cloned().collect();
    Reply::json(
        StatusCode::OK,
        &json!({"fields": items, "maxResults": max, "startAt": start, "total": screen.len()}),
    )
}

fn errors(status: StatusCode, messages: &[&str], fields: Map<String, Value>) -> Reply {
    Reply::json(status, &json!({"errorMessages": messages, "errors": fields}))
}

fn field_error(field: &str, message: &str) -> Reply {
    let mut fields = Map::new();
    fields.insert(field.to_owned(), Value::from(message));
    errors(StatusCode::BAD_REQUEST, &[], fields)
}

fn not_found() -> Reply {
    errors(
        StatusCode::NOT_FOUND,
        &["Issue does not exist or you do not have permission to see it."],
        Map::new(),
    )
}

const REFUSALS: Refusals = Refusals {
    mismatch: || {
        errors(
            StatusCode::BAD_REQUEST,
            &["Idempotency-Key was already used with a different request."],
            Map::new(),
        )
    },
    in_flight: || {
        errors(
            StatusCode::CONFLICT,
            &["A request with this Idempotency-Key is still in progress."],
            Map::new(),
        )
    },
    replay_headers: &[("x-idempotency-lookup", "hit")],
    fresh_headers: &[("x-idempotency-lookup", "miss")],
};

fn check_auth(st: &SimState, headers: &HeaderMap) -> Result<(), Reply> {
    let c = &st.credentials;
    match auth::basic(headers) {
        Some((email, token)) if auth::same(&email, &c.jira_email) && auth::same(&token, &c.jira_api_token) => Ok(()),
        _ => Err(errors(
            StatusCode::UNAUTHORIZED,
            &["Client must be authenticated to access this resource."],
            Map::new(),
        )),
    }
}

/// Whether a value is an Atlassian Document Format document (checked structurally).
pub(crate) fn is_adf_doc(v: &Value) -> bool {
    fn node(v: &Value) -> bool {
        let Some(obj) = v.as_object() else {
            return false;
        };
        let Some(kind) = obj.get("type").and_then(Value::as_str) else {
            return false;
        };
        if kind == "text" && !obj.get("text").is_some_and(Value::is_string) {
            return false;
        }
        match obj.get("content") {
            None => true,
            Some(Value::Array(children)) => children.iter().all(node),
            Some(_) => false,
        }
    }
    v.get("type").and_then(Value::as_str) == Some("doc")
        && v.get("version").and_then(Value::as_u64) == Some(1)
        && v.get("content").is_some_and(Value::is_array)
        && node(v)
}

fn by_name_or_id(table: &[(&str, &str)], v: Option<&Value>) -> Option<usize> {
    let v = v?;
    let name = v.get("name").and_then(Value::as_str);
    let id = v.get("id").and_then(Value::as_str);
    table.iter().position(|(i, n)| Some(*n) == name || Some(*i) == id)
}

async fn create(State(st): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Reply {
    if let Err(r) = check_auth(&st, &headers) {
        return r;
    }
    let key = auth::idempotency_key(&headers);
    let honoured = if st.settings().jira_idempotency { key } else { None };
    let fp = fingerprint(&[b"POST /rest/api/3/issue", &body]);
    let store = st.idempotency.jira.clone();
    store
        .run(honoured, fp, &REFUSALS, async { create_issue(&st, &body, key) })
        .await
}

fn create_issue(st: &SimState, body: &[u8], key: Option<&str>) -> Reply {
    let input: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => {
            return errors(
                StatusCode::BAD_REQUEST,
                &["Unexpected character in request body."],
                Map::new(),
            );
        }
    };
    let Some(fields) = input.get("fields").and_then(Value::as_object) else {
        return field_error("fields", "Field 'fields' is required.");
    };
    // Jira refuses every field the project's create screen lacks, all named at once.
    let off_screen: Map<String, Value> = {
        let data = lock(&st.jira);
        fields
            .keys()
            .filter(|k| !data.screen.contains(k.as_str()))
            .map(|k| {
                let message = format!("Field '{k}' cannot be set. It is not on the appropriate screen, or unknown.");
                (k.clone(), Value::from(message))
            })
            .collect()
    };
    if !off_screen.is_empty() {
        return errors(StatusCode::BAD_REQUEST, &[], off_screen);
    }
    let project_ok = fields.get("project").is_some_and(|p| {
        p.get("key").and_then(Value::as_str) == Some(PROJECT.1)
            || p.get("id").and_then(Value::as_str) == Some(PROJECT.0)
    });
    if !project_ok {
        return field_error("project", "valid project is required");
    }
    let Some(issue_type) = by_name_or_id(&ISSUE_TYPES, fields.get("issuetype")) else {
        return field_error("issuetype", "Specify an issue type");
    };
    let summary = match fields.get("summary").and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => s.to_owned(),
        _ => return field_error("summary", "You must specify a summary of the issue."),
    };
    let description = fields.get("description").cloned().unwrap_or(Value::Null);
    if !description.is_null() && !is_adf_doc(&description) {
        return field_error(
            "description",
            "Operation value must be an Atlassian Document (see the Atlassian Document Format)",
        );
    }
    let priority = match fields.get("priority") {
        None => 2,
        Some(p) => match by_name_or_id(&PRIORITIES, Some(p)) {
            Some(i) => i,
            None => return field_error("priority", "The priority selected is invalid."),
        },
    };
    let labels = fields
        .get("labels")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let custom: Map<String, Value> = fields
        .iter()
        .filter(|(k, _)| k.starts_with("customfield_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let now = st.clock.now();
    let (id, issue_key) = {
        let mut data = lock(&st.jira);
        let id = data.next_id;
        let issue_key = format!("{}-{}", PROJECT.1, data.next_number);
        data.next_id += 1;
        data.next_number += 1;
        data.keys.insert(issue_key.clone(), id);
        data.issues.insert(
            id,
            Issue {
                id,
                key: issue_key.clone(),
                summary,
                description,
                // Each issue type's workflow has its own first status: Bugs follow the
                // classic workflow ("Open"), the rest the simplified one ("To Do").
                status: if ISSUE_TYPES[issue_type].1 == "Bug" { OPEN } else { 0 },
                priority,
                issue_type,
                assignee: None,
                labels,
                custom,
                created: now,
                updated: now,
                comments: Vec::new(),
            },
        );
        (id, issue_key)
    };
    st.effect(System::Jira, EffectKind::TicketCreated, &issue_key, None, key);
    let base = st.system_url(System::Jira);
    Reply::json(
        StatusCode::CREATED,
        &json!({"id": id.to_string(), "key": issue_key, "self": format!("{base}/rest/api/3/issue/{id}")}),
    )
}

fn comment_json(base: &str, issue: u64, c: &Comment) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/issue/{issue}/comment/{}", c.id),
        "id": c.id.to_string(),
        "author": account_json(0),
        "body": c.body,
        "updateAuthor": account_json(0),
        "created": jira_time(c.created),
        "updated": jira_time(c.created),
        "jsdPublic": c.public,
    })
}

/// The issue's comments, oldest first (`orderBy=-created`: newest first), each with its
/// properties when `expand=properties`.
fn comments_json(base: &str, issue: &Issue, query: Option<&str>) -> Value {
    let params: Vec<&str> = query.map(|q| q.split('&').collect()).unwrap_or_default();
    let newest_first = params.contains(&"orderBy=-created");
    let with_properties = params.iter().any(|p| {
        p.strip_prefix("expand=")
            .is_some_and(|e| e.split(',').any(|x| x == "properties"))
    });
    let mut list: Vec<Value> = issue
        .comments
        .iter()
        .map(|c| {
            let mut json = comment_json(base, issue.id, c);
            if with_properties {
                json["properties"] = Value::Array(c.properties.clone());
            }
            json
        })
        .collect();
    if newest_first {
        list.reverse();
    }
    json!({"comments": list, "maxResults": list.len(), "total": list.len(), "startAt": 0})
}

fn issue_json(base: &str, i: &Issue) -> Value {
    let s = &STATUSES[i.status];
    let (priority_id, priority_name) = PRIORITIES[i.priority];
    let (type_id, type_name) = ISSUE_TYPES[i.issue_type];
    let mut fields = json!({
        "summary": i.summary,
        "description": i.description,
        "status": {
            "self": format!("{base}/rest/api/3/status/{}", s.id),
            "description": "",
            "name": s.name,
            "id": s.id,
            "statusCategory": {
                "self": format!("{base}/rest/api/3/statuscategory/{}", s.category_id),
                "id": s.category_id,
                "key": s.category_key,
                "colorName": s.color,
                "name": s.category_name,
            },
        },
        "priority": {"self": format!("{base}/rest/api/3/priority/{priority_id}"), "id": priority_id, "name": priority_name},
        "issuetype": {"self": format!("{base}/rest/api/3/issuetype/{type_id}"), "id": type_id, "name": type_name, "subtask": false},
        "project": {"self": format!("{base}/rest/api/3/project/{}", PROJECT.0), "id": PROJECT.0, "key": PROJECT.1, "name": PROJECT.2},
        "assignee": i.assignee.map_or(Value::Null, account_json),
        "reporter": account_json(0),
        "creator": account_json(0),
        "labels": i.labels,
        "created": jira_time(i.created),
        "updated": jira_time(i.updated),
        "resolutiondate": if s.category_key == "done" { Value::from(jira_time(i.updated)) } else { Value::Null },
        "comment": comments_json(base, i, None),
    });
    if let Some(obj) = fields.as_object_mut() {
        obj.extend(i.custom.clone());
    }
    json!({
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": i.id.to_string(),
        "self": format!("{base}/rest/api/3/issue/{}", i.id),
        "key": i.key,
        "fields": fields,
    })
}

async fn read(State(st): State<Arc<SimState>>, Path(key): Path<String>, headers: HeaderMap) -> Reply {
    if let Err(r) = check_auth(&st, &headers) {
        return r;
    }
    let base = st.system_url(System::Jira);
    let data = lock(&st.jira);
    match data.find(&key).and_then(|id| data.issues.get(&id)) {
        Some(issue) => Reply::json(StatusCode::OK, &issue_json(&base, issue)),
        None => not_found(),
    }
}

async fn comments(State(st): State<Arc<SimState>>, Path(key): Path<String>, headers: HeaderMap, uri: Uri) -> Reply {
    if let Err(r) = check_auth(&st, &headers) {
        return r;
    }
    let base = st.system_url(System::Jira);
    let data = lock(&st.jira);
    match data.find(&key).and_then(|id| data.issues.get(&id)) {
        Some(issue) => Reply::json(StatusCode::OK, &comments_json(&base, issue, uri.query())),
        None => not_found(),
    }
}

async fn comment(State(st): State<Arc<SimState>>, Path(key): Path<String>, headers: HeaderMap, body: Bytes) -> Reply {
    if let Err(r) = check_auth(&st, &headers) {
        return r;
    }
    let idem = auth::idempotency_key(&headers);
    let honoured = if st.settings().jira_idempotency { idem } else { None };
    let fp = fingerprint(&[b"POST /rest/api/3/issue/{key}/comment", key.as_bytes(), &body]);
    let store = st.idempotency.jira.clone();
    store
        .run(honoured, fp, &REFUSALS, async { add_comment(&st, &key, &body, idem) })
        .await
}

fn add_comment(st: &SimState, key: &str, body: &[u8], idem: Option<&str>) -> Reply {
    let input: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => {
            return errors(
                StatusCode::BAD_REQUEST,
                &["Unexpected character in request body."],
                Map::new(),
            );
        }
    };
    let Some(doc) = input.get("body").filter(|b| is_adf_doc(b)) else {
        return field_error("comment", "Comment body is not valid!");
    };
    let internal = input.get("properties").and_then(Value::as_array).is_some_and(|props| {
        props.iter().any(|p| {
            p.get("key").and_then(Value::as_str) == Some("sd.public.comment")
                && p.pointer("/value/internal").and_then(Value::as_bool) == Some(true)
        })
    });
    let now = st.clock.now();
    let base = st.system_url(System::Jira);
    let (reply, comment_id, issue_key) = {
        let mut data = lock(&st.jira);
        let comment_id = data.next_comment;
        let Some(id) = data.find(key) else {
            return not_found();
        };
        let Some(issue) = data.issues.get_mut(&id) else {
            return not_found();
        };
        let c = Comment {
            id: comment_id,
            body: doc.clone(),
            public: !internal,
            created: now,
            properties: input
                .get("properties")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        };
        let reply = comment_json(&base, id, &c);
        issue.comments.push(c);
        issue.updated = now;
        let issue_key = issue.key.clone();
        data.next_comment += 1;
        (reply, comment_id, issue_key)
    };
    st.effect(
        System::Jira,
        EffectKind::CommentAdded,
        &comment_id.to_string(),
        Some(&issue_key),
        idem,
    );
    Reply::json(StatusCode::CREATED, &reply)
}

/// Moves an issue to the named status (used by `ticket.updated` webhooks); false when either is unknown.
pub(crate) fn set_status(st: &SimState, key: &str, status: &str) -> bool {
    let Some(index) = STATUSES.iter().position(|s| s.name.eq_ignore_ascii_case(status)) else {
        return false;
    };
    let now = st.clock.now();
    let mut data = lock(&st.jira);
    let Some(id) = data.find(key) else {
        return false;
    };
    match data.issues.get_mut(&id) {
        Some(issue) => {
            issue.status = index;
            issue.updated = now;
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adf_documents() {
        assert!(is_adf_doc(&adf("hi")));
        assert!(!is_adf_doc(&json!("hi")));
        assert!(!is_adf_doc(&json!({"type": "doc", "version": 1})));
        assert!(!is_adf_doc(
            &json!({"type": "doc", "version": 1, "content": [{"type": "text"}]})
        ));
        assert!(!is_adf_doc(&json!({"type": "doc", "version": 2, "content": []})));
    }
}
