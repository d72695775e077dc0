//! A hub's configuration: `config/demo.toml` pointed at the running hub-sim, in one of
//! the three ticketing dialects, and the environment its `env:` references resolve to.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::workspace_root;

/// The template every hub's configuration is made from.
pub(crate) const TEMPLATE: &str = "config/demo.toml";
/// The address the template names for the sim; replaced by the sim's real one.
const TEMPLATE_SIM: &str = "http://127.0.0.1:8900";
/// The template's `[adapters.ticketing]` lines that the zendesk and jira hubs replace.
const GENERIC_TICKETING: &str = "dialect = \"generic\"
base_url = \"http://127.0.0.1:8900/generic\"
credentials = { api_key = \"env:DEMO_GENERIC_API_KEY\" }
";

/// A hub's bearer tokens, fresh each run.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    pub(crate) read: String,
    pub(crate) write: String,
    pub(crate) admin: String,
}

impl Tokens {
    /// `<prefix>-read-<random>` and so on.
    pub(crate) fn fresh(prefix: &str) -> Self {
        Self {
            read: format!("{prefix}-read-{}", random_hex()),
            write: format!("{prefix}-write-{}", random_hex()),
            admin: format!("{prefix}-admin-{}", random_hex()),
        }
    }
}

/// The text of [`TEMPLATE`].
pub(crate) fn template() -> Result<String> {
    let path = workspace_root().join(TEMPLATE);
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// The configuration of the hub for `dialect`: the template with the sim's address and,
/// for zendesk and jira, their `[adapters.ticketing]` lines.
pub(crate) fn hub_config(template: &str, dialect: &str, sim: &str) -> Result<String> {
    if template.matches(GENERIC_TICKETING).count() != 1 {
        bail!(
            "{TEMPLATE}: the [adapters.ticketing] lines the demo replaces per dialect are not there exactly once:\n{GENERIC_TICKETING}"
        );
    }
    let ticketing = match dialect {
        "generic" => GENERIC_TICKETING.to_owned(),
        "zendesk" => "dialect = \"zendesk\"
base_url = \"http://127.0.0.1:8900/zendesk\"
credentials = { email = \"env:DEMO_AGENT_EMAIL\", api_token = \"env:DEMO_ZENDESK_API_TOKEN\" }
"
        .to_owned(),
        "jira" => "dialect = \"jira\"
base_url = \"http://127.0.0.1:8900/jira\"
credentials = { email = \"env:DEMO_AGENT_EMAIL\", api_token = \"env:DEMO_JIRA_API_TOKEN\" }
jira = { project_key = \"SUP\", service_management = true }
"
        .to_owned(),
        other => bail!("unknown dialect {other}"),
    };
    let mut out = format!("# Written by `cargo xtask` from {TEMPLATE}: the {dialect} hub, hub-sim at {sim}.\n");
    for line in template.replace(GENERIC_TICKETING, &ticketing).lines() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
        } else {
            out.push_str(&line.replace(TEMPLATE_SIM, sim));
        }
        out.push('\n');
    }
    Ok(out)
}

/// The variables the configuration's `env:` references resolve to: the run's tokens and
/// the credentials hub-sim accepts (`hub_sim::Credentials::default()`).
pub(crate) fn secrets_env(tokens: &Tokens) -> Vec<(String, String)> {
    [
        ("DEMO_READ_TOKEN", tokens.read.as_str()),
        ("DEMO_WRITE_TOKEN", tokens.write.as_str()),
        ("DEMO_ADMIN_TOKEN", tokens.admin.as_str()),
        ("DEMO_GENERIC_API_KEY", "sim-generic-key"),
        ("DEMO_AGENT_EMAIL", "agent@example.com"),
        ("DEMO_ZENDESK_API_TOKEN", "sim-zendesk-token"),
        ("DEMO_JIRA_API_TOKEN", "sim-jira-token"),
        ("DEMO_STATUS_CLIENT_ID", "hub-status"),
        ("DEMO_STATUS_CLIENT_SECRET", "sim-status-secret"),
        ("DEMO_SALES_CLIENT_ID", "hub-sales"),
        ("DEMO_SALES_CLIENT_SECRET", "sim-sales-secret"),
        ("DEMO_SALES_HMAC_SECRET", "sim-sales-hmac-secret"),
        // hub_sim::DEFAULT_WEBHOOK_SECRET: the sim signs webhooks with it, the hub signs alerts.
        (
            "DEMO_WEBHOOK_SECRET",
            "whsec_aHViLXNpbSB3ZWJob29rIHNpZ25pbmcga2V5LCAzMmI=",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// 16 hex digits from the standard library's randomly seeded hasher.
pub(crate) fn random_hex() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_points_at_the_sim() {
        let template = template().unwrap();
        for dialect in ["generic", "zendesk", "jira"] {
            let config = hub_config(&template, dialect, "http://127.0.0.1:4242").unwrap();
            assert!(config.contains(&format!("dialect = \"{dialect}\"")), "{dialect}");
            assert!(
                config.contains(&format!("http://127.0.0.1:4242/{dialect}")),
                "{dialect}"
            );
            let uncommented: Vec<&str> = config.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
            assert!(!uncommented.iter().any(|l| l.contains(TEMPLATE_SIM)), "{dialect}");
        }
        assert!(hub_config(&template, "servicenow", "http://127.0.0.1:4242").is_err());
        assert!(hub_config("[server]\n", "generic", "http://127.0.0.1:4242").is_err());
    }
}
