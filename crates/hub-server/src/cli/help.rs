//! The examples shown after each subcommand's `--help` (and in its manual page).
//!
//! Every line that starts with `  hub-server` (after any `NAME=value` settings) is parsed
//! by a test, so an example cannot drift from the options it shows.

/// `hub-server` alone.
pub(crate) const TOP: &str = "\
Examples:
  hub-server --config /etc/integration-hub/hub.toml
  hub-server check-config --config hub.toml --resolve-secrets
  hub-server dlq list --status pending
  hub-server completions bash > /etc/bash_completion.d/hub-server

Exit codes: 0 success; 1 usage error, invalid configuration or unresolvable secret;
2 runtime failure (store, network, upstream); 3 not found; 4 conflict (a dead-letter
entry that is not pending).";

/// `hub-server serve`.
pub(crate) const SERVE: &str = "\
Examples:
  hub-server serve --config /etc/integration-hub/hub.toml
  HUB__SERVER__LISTEN=0.0.0.0:8080 HUB__LOG__LEVEL=debug hub-server serve --config hub.toml";

/// `hub-server check-config`.
pub(crate) const CHECK_CONFIG: &str = "\
Examples:
  hub-server check-config --config deploy/examples/zendesk.toml
  hub-server check-config --config /etc/integration-hub/hub.toml --resolve-secrets

Exit codes: 0 valid; 1 invalid (every problem is printed with its file and key).";

/// `hub-server migrate`.
pub(crate) const MIGRATE: &str = "\
Examples:
  hub-server migrate --config /etc/integration-hub/hub.toml
  HUB__STORE__DATABASE_URL=postgres://hub@db/hub hub-server migrate";

/// `hub-server dlq`.
pub(crate) const DLQ: &str = "\
Examples:
  hub-server dlq list --status pending --adapter ticketing
  HUB_ADMIN_TOKEN=... hub-server dlq --url http://127.0.0.1:8080 list --limit 20
  hub-server dlq replay 0193d2c4-7b1e-7c3a-9f00-5e1a2b3c4d5e";

/// `hub-server probe`.
pub(crate) const PROBE: &str = "\
Examples:
  hub-server probe jira-fields --config /etc/integration-hub/hub.toml";

/// `hub-server probe jira-fields`.
pub(crate) const JIRA_FIELDS: &str = "\
Examples:
  hub-server probe jira-fields --config hub.toml
  HUB__ADAPTERS__TICKETING__JIRA__ISSUE_TYPE=Bug hub-server probe jira-fields --config hub.toml";

/// `hub-server completions`.
pub(crate) const COMPLETIONS: &str = "\
Examples:
  hub-server completions bash > /etc/bash_completion.d/hub-server
  hub-server completions zsh > \"${fpath[1]}/_hub-server\"
  hub-server completions fish > ~/.config/fish/completions/hub-server.fish";

/// `hub-server man`.
pub(crate) const MAN: &str = "\
Examples:
  hub-server man | man -l -
  hub-server man --out-dir /usr/local/share/man/man1";

/// The exit codes every `dlq` action shares, after its examples.
macro_rules! dlq_action {
    ($examples:literal) => {
        concat!(
            "Examples:\n",
            $examples,
            "\n\nExit codes: 0 success; 1 usage or configuration error; 2 runtime failure \
(store, network, the hub, a replay that failed again); 3 no such entry; 4 not pending.
Without --url, works directly on the store of --config; see `hub-server dlq --help`."
        )
    };
}

/// `hub-server dlq list`.
pub(crate) const DLQ_LIST: &str = dlq_action!(
    "  hub-server dlq list --status pending --adapter ticketing --limit 20
  hub-server dlq list --operation create_ticket --json"
);

/// `hub-server dlq show`.
pub(crate) const DLQ_SHOW: &str = dlq_action!("  hub-server dlq show 0193d2c4-7b1e-7c3a-9f00-5e1a2b3c4d5e --json");

/// `hub-server dlq replay`.
pub(crate) const DLQ_REPLAY: &str = dlq_action!(
    "  hub-server dlq replay 0193d2c4-7b1e-7c3a-9f00-5e1a2b3c4d5e
  HUB_ADMIN_TOKEN=... hub-server dlq --url http://127.0.0.1:8080 replay 0193d2c4-7b1e-7c3a-9f00-5e1a2b3c4d5e"
);

/// `hub-server dlq discard`.
pub(crate) const DLQ_DISCARD: &str =
    dlq_action!("  hub-server dlq discard 0193d2c4-7b1e-7c3a-9f00-5e1a2b3c4d5e --reason \"duplicate of T-42\"");
