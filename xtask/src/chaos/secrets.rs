//! Scenario 5, run at the end of every other scenario: the canary secrets must appear
//! nowhere the hub writes or answers — its logs, audit records, dead-letter entries,
//! metrics, the error bodies and events the clients got, and `/openapi.json`.
//!
//! Scanned for: every credential the hub holds (API keys and tokens, OAuth client
//! secrets, the HMAC secret, the webhook and alert signing secrets with their keys) and
//! the bearer tokens it accepts, each as configured and in the forms it takes on the wire
//! (basic-auth credentials in base64). Not scanned for: the OAuth access tokens the sim
//! issues (the run does not know them in advance), and hub-sim's own log and ledger,
//! which are the upstream's, not the hub's.

use anyhow::{Result, bail};
use serde_json::Value;

use super::rig::Rig;
use crate::harness::HubProc;

/// What one scan looked at, and what it found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    log_files: usize,
    log_bytes: usize,
    audit_records: usize,
    dlq_entries: usize,
    metrics_bytes: usize,
    error_bodies: usize,
    events: usize,
    openapi_bytes: usize,
    needles: usize,
    found: Vec<String>,
}

/// Every page of a hub's list route (`/v1/audit` or `/v1/dlq`), as admin.
pub(crate) fn all_pages(rig: &Rig, hub: &HubProc, route: &str, limit: u32) -> Result<Vec<Value>> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if route.contains('?') { '&' } else { '?' };
        let mut url = format!("{}{route}{sep}limit={limit}", hub.url);
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let r = rig.http.get(&url, Some(&rig.canaries.tokens.admin))?;
        if r.status != 200 {
            bail!("{} GET {route} answered {}", hub.name, r.summary());
        }
        let page = r.json();
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok(items),
        }
    }
}

/// Scans everything of `hubs` plus the `bodies` (error answers) and `events` clients got.
pub(crate) fn scan(rig: &Rig, hubs: &[&HubProc], bodies: &[String], events: &[Value]) -> Result<Scan> {
    let needles = rig.canaries.needles();
    let mut scan = Scan {
        needles: needles.len(),
        ..Scan::default()
    };
    let mut look = |place: &str, text: &str| {
        for (what, value) in &needles {
            if text.contains(value.as_str()) {
                scan.found.push(format!("the {what} in {place}"));
            }
        }
    };
    for log in rig.hub_logs() {
        let text = std::fs::read_to_string(&log)?;
        look(&log.display().to_string(), &text);
        scan.log_files += 1;
        scan.log_bytes += text.len();
    }
    for hub in hubs {
        let audit = all_pages(rig, hub, "/v1/audit", 500)?;
        look(
            &format!("{}'s audit records", hub.name),
            &Value::from(audit.clone()).to_string(),
        );
        scan.audit_records += audit.len();
        let dlq = all_pages(rig, hub, "/v1/dlq", 200)?;
        look(
            &format!("{}'s DLQ entries", hub.name),
            &Value::from(dlq.clone()).to_string(),
        );
        scan.dlq_entries += dlq.len();
        let metrics = rig.http.get(&format!("{}/metrics", hub.url), None)?.body;
        look(&format!("{}'s /metrics", hub.name), &metrics);
        scan.metrics_bytes += metrics.len();
        let openapi = rig.http.get(&format!("{}/openapi.json", hub.url), None)?.body;
        look(&format!("{}'s /openapi.json", hub.name), &openapi);
        scan.openapi_bytes += openapi.len();
    }
    for b in bodies {
        look("an error body", b);
    }
    scan.error_bodies = bodies.len();
    look("the events", &Value::from(events.to_vec()).to_string());
    scan.events = events.len();
    Ok(scan)
}

impl Scan {
    /// Prints the figures; fails naming where a canary was found.
    pub(crate) fn report(&self) -> Result<()> {
        println!(
            "\n  secrets (scenario 5): {} canary strings looked for in",
            self.needles
        );
        println!(
            "    {} hub log files ({} KiB), {} audit records, {} DLQ entries, /metrics ({} KiB),",
            self.log_files,
            self.log_bytes / 1024,
            self.audit_records,
            self.dlq_entries,
            self.metrics_bytes / 1024
        );
        println!(
            "    {} error bodies, {} events, /openapi.json ({} KiB): {} occurrences",
            self.error_bodies,
            self.events,
            self.openapi_bytes / 1024,
            self.found.len()
        );
        if self.log_files == 0 || self.audit_records == 0 || self.metrics_bytes == 0 || self.openapi_bytes == 0 {
            bail!("secrets: the scan found nothing to scan (no logs, audit records, metrics or OpenAPI document)");
        }
        if !self.found.is_empty() {
            let mut shown: Vec<&str> = self.found.iter().map(String::as_str).take(10).collect();
            shown.dedup();
            bail!("secrets: a canary secret leaked: {}", shown.join("; "));
        }
        Ok(())
    }
}
