//! Checks that types alone cannot express: ranges, URLs, credentials each dialect needs.

use std::collections::BTreeSet;

use super::types::{AdapterConfig, Config, Dialect};

/// What a lease needs beyond its calls' deadlines: the hub's durable records around them.
pub(super) const LEASE_MARGIN_S: u64 = 20;

/// The shortest idempotency or replay lease `c` allows.
pub(super) fn min_lease_s(c: &Config) -> u64 {
    let a = &c.adapters;
    let longest = [&a.ticketing, &a.transaction_status, &a.transaction_create]
        .iter()
        .map(|a| a.timeouts.deadline_s)
        .max()
        .unwrap_or(0);
    longest.saturating_mul(2).saturating_add(LEASE_MARGIN_S)
}

/// `(dotted key, reason)` for every problem.
pub(super) fn validate(c: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut check = |ok: bool, key: &str, reason: &str| {
        if !ok {
            out.push((key.to_owned(), reason.to_owned()));
        }
    };
    let s = &c.server;
    check(
        (1024..=64 * 1024 * 1024).contains(&s.body_limit_bytes),
        "server.body_limit_bytes",
        "must be between 1024 and 67108864",
    );
    check(s.shutdown_grace_s >= 1, "server.shutdown_grace_s", "must be at least 1");
    check(s.probe_timeout_ms >= 1, "server.probe_timeout_ms", "must be at least 1");
    check(
        (1..=3600).contains(&s.header_read_timeout_s),
        "server.header_read_timeout_s",
        "must be between 1 and 3600",
    );
    check(
        (1..=3600).contains(&s.body_read_timeout_s),
        "server.body_read_timeout_s",
        "must be between 1 and 3600",
    );
    check(
        (1..=1_000_000).contains(&s.max_connections),
        "server.max_connections",
        "must be between 1 and 1000000",
    );
    check(
        (1..=1_000_000).contains(&s.max_write_tasks),
        "server.max_write_tasks",
        "must be between 1 and 1000000",
    );
    // A claim must outlive the work it covers: a write (or a replay) may make two calls
    // (a comment's look-up and its send), each up to its adapter's deadline, plus the
    // hub's own durable records. A shorter lease lapses mid-write, and the next claim
    // would take over a write that is still running.
    let min_lease = min_lease_s(c);
    check(
        c.idempotency.lease_s >= min_lease,
        "idempotency.lease_s",
        &format!("must be at least {min_lease} (twice the longest adapter deadline, plus {LEASE_MARGIN_S} s)"),
    );
    check(
        c.dlq.replay_lease_s >= min_lease,
        "dlq.replay_lease_s",
        &format!("must be at least {min_lease} (twice the longest adapter deadline, plus {LEASE_MARGIN_S} s)"),
    );
    check(
        hub_telemetry::logging::is_valid_filter(&c.log.level),
        "log.level",
        "not a tracing filter (e.g. info, or hub_server=debug,info)",
    );
    let t = &c.telemetry;
    if let Some(endpoint) = &t.otlp_endpoint
        && let Err(reason) = http_url(endpoint)
    {
        check(false, "telemetry.otlp_endpoint", reason);
    }
    check(
        !t.service_name.trim().is_empty() && t.service_name.len() <= 255 && !t.service_name.contains(char::is_control),
        "telemetry.service_name",
        "must be 1 to 255 characters, none of them control characters",
    );
    check(
        (0.0..=1.0).contains(&t.sample_ratio),
        "telemetry.sample_ratio",
        "must be between 0.0 and 1.0",
    );
    check(
        (1..=60_000).contains(&t.export_timeout_ms),
        "telemetry.export_timeout_ms",
        "must be between 1 and 60000",
    );
    check(
        (1..=10_000).contains(&t.batch_size),
        "telemetry.batch_size",
        "must be between 1 and 10000",
    );
    check(
        (t.batch_size..=1_000_000).contains(&t.queue_size),
        "telemetry.queue_size",
        "must be at least batch_size and at most 1000000",
    );
    check(
        c.webhooks.id_memory_s >= 600,
        "webhooks.id_memory_s",
        "must be at least 600 (twice the 5-minute timestamp tolerance)",
    );
    let e = &c.events;
    check(
        (1..=65_536).contains(&e.send_buffer),
        "events.send_buffer",
        "must be between 1 and 65536",
    );
    // Upper bounds too: a heartbeat is added to the clock, which overflows near u64::MAX seconds.
    check(
        (1..=3600).contains(&e.heartbeat_s),
        "events.heartbeat_s",
        "must be between 1 and 3600",
    );
    check(
        (1..=3600).contains(&e.send_timeout_s),
        "events.send_timeout_s",
        "must be between 1 and 3600",
    );
    check(
        (1..=1_000_000).contains(&e.max_subscribers),
        "events.max_subscribers",
        "must be between 1 and 1000000",
    );
    let n = &c.notify;
    check(n.window_s >= 1, "notify.window_s", "must be at least 1");
    check(n.max_samples <= 100, "notify.max_samples", "must be at most 100");
    check(
        n.webhook_timeout_ms >= 1,
        "notify.webhook_timeout_ms",
        "must be at least 1",
    );
    if let Some(url) = &n.webhook_url
        && let Err(reason) = http_url(url)
    {
        check(false, "notify.webhook_url", reason);
    }
    check(
        n.webhook_url.is_some() == n.webhook_secret.is_some(),
        "notify.webhook_secret",
        "webhook_url and webhook_secret go together",
    );
    let mut names = BTreeSet::new();
    for (i, t) in c.auth.tokens.iter().enumerate() {
        let key = format!("auth.tokens[{i}].name");
        check(!t.name.trim().is_empty(), &key, "must not be empty");
        check(names.insert(t.name.as_str()), &key, "another token has this name");
    }
    for (name, a) in c.adapters.iter() {
        for (key, reason) in adapter(name, a) {
            out.push((format!("adapters.{name}.{key}"), reason));
        }
    }
    for key in ["database_url", "redis_url"] {
        if let Some(v) = c.store.get(key) {
            match v.as_str() {
                Some(url) if has_password(url) => out.push((
                    format!("store.{key}"),
                    "holds a password; credentials are never literal in the configuration: \
                     use the database's own password file or an environment override"
                        .to_owned(),
                )),
                Some(_) => {}
                None => out.push((format!("store.{key}"), "must be a string".to_owned())),
            }
        }
    }
    out
}

/// Whether a URL's userinfo has a password (`scheme://user:pass@host`).
pub(super) fn has_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

fn http_url(raw: &str) -> Result<(), &'static str> {
    let uri: http::Uri = raw.parse().map_err(|_| "not a URL")?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err("must start with http:// or https://"),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("has no host");
    }
    if uri.query().is_some() {
        return Err("must not have a query");
    }
    if has_password(raw) {
        return Err("must not hold credentials");
    }
    Ok(())
}

fn required_credentials(adapter: &str, a: &AdapterConfig) -> Option<&'static [&'static str]> {
    Some(match (adapter, a.dialect) {
        ("ticketing", Dialect::Generic) => &["api_key"],
        // Zendesk: an OAuth access token (bearer), an OAuth client whose tokens the hub
        // fetches itself, or an e-mail and API token (basic).
        ("ticketing", Dialect::Zendesk) if a.credentials.contains_key("oauth_token") => &["oauth_token"],
        ("ticketing", Dialect::Zendesk) if a.credentials.contains_key("client_id") => &["client_id", "client_secret"],
        ("ticketing", Dialect::Zendesk) => &["email", "api_token"],
        ("ticketing", Dialect::Jira) => &["email", "api_token"],
        ("transaction_status", Dialect::Generic) => &["client_id", "client_secret"],
        ("transaction_create", Dialect::Generic) => &["client_id", "client_secret", "hmac_secret"],
        _ => return None,
    })
}

fn adapter(name: &str, a: &AdapterConfig) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut check = |ok: bool, key: &str, reason: &str| {
        if !ok {
            out.push((key.to_owned(), reason.to_owned()));
        }
    };
    if let Err(reason) = http_url(&a.base_url) {
        check(false, "base_url", reason);
    }
    check(
        a.cache.refresh_ahead_percent <= 100,
        "cache.refresh_ahead_percent",
        "must be between 0 and 100",
    );
    if let Some(t) = &a.token_url
        && let Err(reason) = http_url(t)
    {
        check(false, "token_url", reason);
    }
    match required_credentials(name, a) {
        None => check(
            false,
            "dialect",
            &format!("{} is not a dialect of this adapter", a.dialect.as_str()),
        ),
        Some(required) => {
            for r in required {
                check(
                    a.credentials.contains_key(*r),
                    &format!("credentials.{r}"),
                    &format!("missing: the {} dialect needs it", a.dialect.as_str()),
                );
            }
            for k in a.credentials.keys() {
                check(
                    required.contains(&k.as_str()),
                    &format!("credentials.{k}"),
                    &format!(
                        "not a credential of the {} dialect (expected {})",
                        a.dialect.as_str(),
                        required.join(", ")
                    ),
                );
            }
        }
    }
    match (a.dialect, &a.jira) {
        (Dialect::Jira, None) => check(false, "jira.project_key", "missing: the jira dialect needs a project"),
        (Dialect::Jira, Some(j)) => {
            check(
                !j.project_key.trim().is_empty(),
                "jira.project_key",
                "must not be empty",
            );
            check(
                j.priority || j.priority_names.is_none(),
                "jira.priority_names",
                "has no effect without priority = true",
            );
            if let Some(f) = &j.customer_field {
                check(
                    !f.trim().is_empty() && !hub_ticketing::jira::CORE_FIELDS.contains(&f.as_str()) && f != "priority",
                    "jira.customer_field",
                    "must be `labels` or a field id such as customfield_10050",
                );
            }
            for k in j.fixed_fields.keys() {
                let taken = hub_ticketing::jira::CORE_FIELDS.contains(&k.as_str())
                    || (k == "priority" && j.priority)
                    || j.customer_field.as_deref() == Some(k.as_str());
                check(
                    !taken,
                    &format!("jira.fixed_fields.{k}"),
                    "is set by the hub on every create; it cannot be fixed",
                );
            }
        }
        (_, Some(_)) => check(false, "jira", "only the jira dialect takes a [jira] section"),
        (_, None) => {}
    }
    match (a.dialect, &a.zendesk) {
        (Dialect::Zendesk, Some(z)) => {
            if let Err(reason) = z.requester() {
                check(false, "zendesk.requester_email", &reason);
            }
        }
        (_, Some(_)) => check(false, "zendesk", "only the zendesk dialect takes a [zendesk] section"),
        (_, None) => {}
    }
    let t = &a.timeouts;
    check(t.connect_ms >= 1, "timeouts.connect_ms", "must be at least 1");
    check(t.attempt_ms >= 1, "timeouts.attempt_ms", "must be at least 1");
    check(t.deadline_s >= 1, "timeouts.deadline_s", "must be at least 1");
    check(
        t.attempt_ms <= t.deadline_s.saturating_mul(1000),
        "timeouts.attempt_ms",
        "must not exceed the deadline",
    );
    let r = &a.resilience;
    check(
        (1..=10).contains(&r.max_attempts),
        "resilience.max_attempts",
        "must be between 1 and 10",
    );
    check(
        r.backoff_initial_ms >= 1,
        "resilience.backoff_initial_ms",
        "must be at least 1",
    );
    check(
        r.backoff_multiplier.is_finite() && r.backoff_multiplier >= 1.0,
        "resilience.backoff_multiplier",
        "must be at least 1.0",
    );
    check(
        r.backoff_max_ms >= r.backoff_initial_ms,
        "resilience.backoff_max_ms",
        "must be at least backoff_initial_ms",
    );
    check(
        r.breaker_failures >= 1,
        "resilience.breaker_failures",
        "must be at least 1",
    );
    check(r.breaker_open_s >= 1, "resilience.breaker_open_s", "must be at least 1");
    if let Some(rate) = &a.rate {
        check(
            rate.requests_per_s.is_finite() && (0.001..=1_000_000.0).contains(&rate.requests_per_s),
            "rate.requests_per_s",
            "must be between 0.001 and 1000000",
        );
        check(
            (1..=100_000).contains(&rate.burst),
            "rate.burst",
            "must be between 1 and 100000",
        );
        check(
            rate.write_reserve.is_finite() && (0.0..=1.0).contains(&rate.write_reserve),
            "rate.write_reserve",
            "must be between 0.0 and 1.0",
        );
        check(
            (1..=1_000).contains(&rate.instances_hint),
            "rate.instances_hint",
            "must be between 1 and 1000",
        );
        check(
            (1..=10_000).contains(&rate.redis_timeout_ms),
            "rate.redis_timeout_ms",
            "must be between 1 and 10000",
        );
    }
    if name != "transaction_status" {
        check(
            a.cache.history_ttl_s.is_none(),
            "cache.history_ttl_s",
            "only the transaction_status adapter reads histories",
        );
    }
    if name == "transaction_create" {
        check(
            a.cache.status_ttl_s.is_none(),
            "cache.status_ttl_s",
            "the transaction_create adapter caches nothing",
        );
    }
    out
}
