//! `hub-server probe jira-fields`: reads the Jira project's create metadata and says which configured create fields its screen lacks.

use std::sync::Arc;

use async_trait::async_trait;
use hub_config::{Config, Dialect};
use hub_core::{AuditLog, AuditQuery, AuditRecord, CallContext, Page, SecretSource, StoreError};
use hub_ticketing::createmeta::{self, Findings, ScreenField};
use hub_upstream::{Call, Endpoint};

use crate::ComposeError;

/// Why the probe could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The ticketing adapter is not Jira, or has no `[jira]` section.
    #[error("the ticketing adapter's dialect is {0}; the probe reads a Jira project")]
    NotJira(&'static str),
    /// The adapter could not be built (credentials, URL).
    #[error(transparent)]
    Wiring(#[from] ComposeError),
    /// Jira failed or refused.
    #[error("Jira answered: {0}")]
    Upstream(#[from] hub_core::Error),
    /// The project has no issue type of the configured name.
    #[error("project {project} has no issue type named {issue_type:?} (it has: {known})")]
    NoIssueType {
        /// The configured project.
        project: String,
        /// The configured issue type.
        issue_type: String,
        /// The names it has.
        known: String,
    },
    /// Jira kept answering pages past any reasonable screen.
    #[error("Jira's createmeta pages did not end")]
    EndlessPages,
}

/// What the probe read and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The project probed.
    pub project: String,
    /// The issue type's name and id.
    pub issue_type: (String, String),
    /// The field ids a create sends with this configuration.
    pub sent: Vec<String>,
    /// The screen's fields.
    pub screen: Vec<ScreenField>,
    /// What is wrong, if anything.
    pub findings: Findings,
}

impl ProbeError {
    /// Whether the fault is the configuration's (fix the file) rather than Jira's (try again).
    pub fn is_configuration(&self) -> bool {
        !matches!(self, Self::Upstream(_) | Self::EndlessPages)
    }
}

/// The report as the command line prints it: the screen, what a create sends, each finding.
impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (type_name, type_id) = &self.issue_type;
        let screen: Vec<&str> = self.screen.iter().map(|s| s.id.as_str()).collect();
        writeln!(
            f,
            "project {}, issue type {type_name} ({type_id}): the create screen has {} field(s): {}",
            self.project,
            screen.len(),
            screen.join(", ")
        )?;
        writeln!(f, "a create sends: {}", self.sent.join(", "))?;
        for id in &self.findings.missing {
            writeln!(
                f,
                "missing: {id} is sent but not on the create screen; Jira refuses every create with \"Field '{id}' cannot be set\""
            )?;
        }
        for (id, name) in &self.findings.required_unsent {
            writeln!(
                f,
                "required: {id} ({name}) is required by the screen, has no default and is not sent"
            )?;
        }
        if self.findings.is_ok() {
            writeln!(f, "ok: the configured create fields fit the screen")?;
        }
        Ok(())
    }
}

/// Keeps no record: the probe's reads are a person's diagnostic, not the hub's traffic.
struct Unaudited;

#[async_trait]
impl AuditLog for Unaudited {
    async fn record(&self, _record: AuditRecord) -> Result<(), StoreError> {
        Ok(())
    }

    async fn query(&self, _query: &AuditQuery) -> Result<Page<AuditRecord>, StoreError> {
        Ok(Page::default())
    }
}

/// At most this many pages of either list (200 entries each).
const MAX_PAGES: usize = 50;

async fn read_all<T>(
    endpoint: &Endpoint,
    ctx: &CallContext,
    call: impl Fn(u64) -> Call,
    read: impl Fn(&[u8]) -> Result<createmeta::Page<T>, hub_core::Error>,
) -> Result<Vec<T>, ProbeError> {
    let mut items = Vec::new();
    let mut start = 0;
    for _ in 0..MAX_PAGES {
        let response = endpoint.send(ctx, &call(start)).await?;
        let page = read(&response.body)?;
        items.extend(page.items);
        match page.next {
            Some(next) => start = next,
            None => return Ok(items),
        }
    }
    Err(ProbeError::EndlessPages)
}

/// Reads the configured project's create screen for the configured issue type and
/// compares it with the fields a create sends.
pub async fn jira_fields(config: &Config, secrets: Arc<dyn SecretSource>) -> Result<Report, ProbeError> {
    let a = &config.adapters.ticketing;
    let jira = match (a.dialect, &a.jira) {
        (Dialect::Jira, Some(j)) => j,
        (d, _) => return Err(ProbeError::NotJira(d.as_str())),
    };
    let endpoint = crate::ticketing_endpoint(config, secrets, Arc::new(Unaudited)).await?;
    let ctx = CallContext::new(hub_app::generate_request_id());
    let project = jira.project_key.as_str();
    let types = read_all(
        &endpoint,
        &ctx,
        |start| createmeta::issue_types_call(project, start),
        createmeta::issue_types,
    )
    .await?;
    let Some(issue_type) = types.iter().find(|t| t.name.eq_ignore_ascii_case(&jira.issue_type)) else {
        return Err(ProbeError::NoIssueType {
            project: project.to_owned(),
            issue_type: jira.issue_type.clone(),
            known: types.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", "),
        });
    };
    let screen = read_all(
        &endpoint,
        &ctx,
        |start| createmeta::fields_call(project, &issue_type.id, start),
        createmeta::fields,
    )
    .await?;
    let fields = crate::jira_create_fields(jira);
    Ok(Report {
        project: project.to_owned(),
        issue_type: (issue_type.name.clone(), issue_type.id.clone()),
        sent: createmeta::sent_fields(&fields),
        findings: createmeta::compare(&fields, &screen),
        screen,
    })
}
