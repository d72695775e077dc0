//! Loading, overrides and validation, with the file, key and reason of each problem.

use proptest::prelude::*;

use super::*;

const EXAMPLE: &str = include_str!("../../../config/hub.example.toml");

fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    load_str(
        "hub.toml",
        text,
        env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
    .map(|(c, _)| c)
}

/// Asserts the text fails with exactly these `(key, reason fragment)` problems.
#[track_caller]
fn check_errors(text: &str, env: &[(&str, &str)], expected: &[(&str, &str)]) {
    let errors = load(text, env).unwrap_err();
    assert_eq!(errors.0.len(), expected.len(), "{errors}");
    for (e, (key, fragment)) in errors.0.iter().zip(expected) {
        assert_eq!(e.file, "hub.toml");
        assert_eq!(e.key.as_deref().unwrap_or(""), *key, "{e}");
        assert!(e.reason.contains(fragment), "{e} should say {fragment:?}");
    }
}

fn minimal() -> String {
    r#"
[adapters.ticketing]
dialect = "jira"
base_url = "https://acme.atlassian.net"
credentials = { email = "env:JIRA_EMAIL", api_token = "env:JIRA_TOKEN" }
jira = { project_key = "SUP" }
[adapters.transaction_status]
dialect = "generic"
base_url = "http://127.0.0.1:9102"
credentials = { client_id = "env:A", client_secret = "env:B" }
[adapters.transaction_create]
dialect = "generic"
base_url = "http://127.0.0.1:9103/prefix"
credentials = { client_id = "env:A", client_secret = "env:B", hmac_secret = "file:/s/h" }
"#
    .to_owned()
}

#[test]
fn the_example_file_is_valid() {
    let c = load(EXAMPLE, &[]).unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
    let roles: Vec<TokenRole> = c.auth.tokens.iter().map(|t| t.role).collect();
    assert_eq!(roles, [TokenRole::Write, TokenRole::Admin]);
    assert_eq!(c.secret_refs().len(), 2 + 1 + 1 + 2 + 3);
    assert_eq!(c.webhooks.secrets.len(), 1);
    assert_eq!(c.events, EventsConfig::default());
    assert_eq!(c.notify, NotifyConfig::default());
}

#[test]
fn defaults_need_nothing_but_the_adapters() {
    let c = load(&minimal(), &[]).unwrap();
    assert_eq!(c.server, ServerConfig::default());
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.adapters.ticketing.resilience, ResilienceConfig::default());
    assert_eq!(c.adapters.ticket_status_ttl().as_secs(), 300);
    assert_eq!(c.adapters.transaction_status_ttl().as_secs(), 120);
    assert_eq!(c.adapters.transaction_history_ttl().as_secs(), 300);
    assert_eq!(c.adapters.ticketing.cache.max_stale().as_secs(), 600);
    assert_eq!(c.adapters.ticketing.timeouts.deadline().as_secs(), 30);
    let loaded = Loaded {
        config: c,
        file: "/etc/hub/hub.toml".into(),
        overridden: vec![],
    };
    assert_eq!(
        loaded.store_section()["database_url"].as_str(),
        Some("sqlite:///etc/hub/hub.sqlite3")
    );
}

#[test]
fn environment_overrides_are_typed_like_what_they_replace() {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:8080\"\nshutdown_grace_s = 30\n{}",
        minimal()
    );
    let c = load(
        &text,
        &[
            ("HUB__SERVER__LISTEN", "0.0.0.0:9000"),
            ("HUB__SERVER__SHUTDOWN_GRACE_S", "5"),
            ("HUB__ADAPTERS__TICKETING__TIMEOUTS__DEADLINE_S", "12"),
            ("HUB__STORE__DATABASE_URL", "postgres://hub@db/hub"),
            ("HUB_CONFIG", "ignored: not an override"),
            ("PATH", "/bin"),
        ],
    )
    .unwrap();
    assert_eq!(c.server.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(c.server.shutdown_grace_s, 5);
    assert_eq!(c.adapters.ticketing.timeouts.deadline_s, 12);
    assert_eq!(c.store["database_url"].as_str(), Some("postgres://hub@db/hub"));
}

#[test]
fn problems_name_the_file_the_key_and_the_reason() {
    check_errors("[server\n", &[], &[("", "line 1")]);
    check_errors(
        &format!("{}\n[server]\nlisten = \"nowhere\"", minimal()),
        &[],
        &[("server.listen", "")],
    );
    check_errors(
        &format!("{}\n[server]\nlistne = 1", minimal()),
        &[],
        &[("server.listne", "unknown field `listne`")],
    );
    check_errors("[server]\n", &[], &[("", "missing field `adapters`")]);
    check_errors(
        &minimal().replace("dialect = \"jira\"", "dialect = \"servicenow\""),
        &[],
        &[("adapters.ticketing.dialect", "unknown variant")],
    );
    check_errors(
        &minimal().replace("https://acme.atlassian.net", "ftp://acme"),
        &[],
        &[("adapters.ticketing.base_url", "http:// or https://")],
    );
    check_errors(
        &minimal().replace("api_token = \"env:JIRA_TOKEN\"", "api_key = \"env:K\""),
        &[],
        &[
            ("adapters.ticketing.credentials.api_token", "missing"),
            (
                "adapters.ticketing.credentials.api_key",
                "not a credential of the jira dialect",
            ),
        ],
    );
    check_errors(
        &minimal().replace(
            "dialect = \"generic\"\nbase_url = \"http://127.0.0.1:9102\"",
            "dialect = \"zendesk\"\nbase_url = \"http://127.0.0.1:9102\"",
        ),
        &[],
        &[("adapters.transaction_status.dialect", "not a dialect of this adapter")],
    );
    // Jira create fields: priority names only with priority; the hub's own fields not fixed.
    let jira = |extra: &str| {
        minimal().replace(
            "jira = { project_key = \"SUP\" }",
            &format!("jira = {{ project_key = \"SUP\", {extra} }}"),
        )
    };
    load(
        &jira("priority = true, priority_names = { urgent = \"P1\" }, customer_field = \"customfield_10050\", fixed_fields = { components = [{ name = \"Payments\" }] }"),
        &[],
    )
    .unwrap();
    check_errors(
        &jira("priority_names = { urgent = \"P1\" }, fixed_fields = { summary = \"x\" }, customer_field = \"project\""),
        &[],
        &[
            ("adapters.ticketing.jira.priority_names", "without priority = true"),
            ("adapters.ticketing.jira.customer_field", "must be `labels`"),
            ("adapters.ticketing.jira.fixed_fields.summary", "cannot be fixed"),
        ],
    );
    // Zendesk: an OAuth access token alone, an OAuth client, or e-mail and API token; not a mix.
    let zendesk = |credentials: &str| {
        minimal()
            .replace("dialect = \"jira\"", "dialect = \"zendesk\"")
            .replace("jira = { project_key = \"SUP\" }\n", "")
            .replace(
                "credentials = { email = \"env:JIRA_EMAIL\", api_token = \"env:JIRA_TOKEN\" }",
                credentials,
            )
    };
    load(
        &zendesk("credentials = { oauth_token = \"env:ZENDESK_OAUTH_TOKEN\" }"),
        &[],
    )
    .unwrap();
    load(
        &zendesk("credentials = { email = \"env:E\", api_token = \"env:T\" }"),
        &[],
    )
    .unwrap();
    // Or an OAuth client whose tokens the hub fetches itself.
    load(
        &zendesk("credentials = { client_id = \"env:ZD_ID\", client_secret = \"env:ZD_SECRET\" }"),
        &[],
    )
    .unwrap();
    check_errors(
        &zendesk("credentials = { client_id = \"env:ZD_ID\" }"),
        &[],
        &[(
            "adapters.ticketing.credentials.client_secret",
            "missing: the zendesk dialect needs it",
        )],
    );
    // Zendesk requesters: by external id, or by an e-mail template holding the customer id.
    let oauth = "credentials = { oauth_token = \"env:ZENDESK_OAUTH_TOKEN\" }";
    for (section, requester) in [
        ("", hub_ticketing::zendesk::Requester::ApiUser),
        (
            "zendesk = { requester = \"external_id\" }",
            hub_ticketing::zendesk::Requester::ExternalId,
        ),
        (
            "zendesk = { requester = \"email\", requester_email = \"{customer_id}@customers.example.com\" }",
            hub_ticketing::zendesk::Requester::Email("{customer_id}@customers.example.com".to_owned()),
        ),
    ] {
        let c = load(&zendesk(&format!("{oauth}\n{section}")), &[]).unwrap();
        let got = c
            .adapters
            .ticketing
            .zendesk
            .map(|z| z.requester().unwrap())
            .unwrap_or_default();
        assert_eq!(got, requester, "{section}");
    }
    for (section, reason) in [
        ("zendesk = { requester = \"email\" }", "needs requester_email"),
        (
            "zendesk = { requester = \"email\", requester_email = \"support@example.com\" }",
            "must contain {customer_id}",
        ),
        (
            "zendesk = { requester_email = \"{customer_id}@x.example\" }",
            "only with requester = \"email\"",
        ),
    ] {
        check_errors(
            &zendesk(&format!("{oauth}\n{section}")),
            &[],
            &[("adapters.ticketing.zendesk.requester_email", reason)],
        );
    }
    check_errors(
        &minimal().replace(
            "jira = { project_key = \"SUP\" }",
            "jira = { project_key = \"SUP\" }\nzendesk = { requester = \"external_id\" }",
        ),
        &[],
        &[("adapters.ticketing.zendesk", "only the zendesk dialect")],
    );
    check_errors(
        &zendesk("credentials = { oauth_token = \"env:O\", api_token = \"env:T\" }"),
        &[],
        &[(
            "adapters.ticketing.credentials.api_token",
            "not a credential of the zendesk dialect (expected oauth_token)",
        )],
    );
    check_errors(
        &format!(
            "{}\n[store]\ndatabase_url = \"postgres://hub:hunter2@db/hub\"",
            minimal()
        ),
        &[],
        &[("store.database_url", "holds a password")],
    );
    check_errors(
        &format!(
            "{}\n[adapters.ticketing.resilience]\nbreaker_failures = 0\nmax_attempts = 0",
            minimal()
        ),
        &[],
        &[
            ("adapters.ticketing.resilience.max_attempts", "between 1 and 10"),
            ("adapters.ticketing.resilience.breaker_failures", "at least 1"),
        ],
    );
    check_errors(
        &format!("{}\n[adapters.ticketing.resilience]\njitter = \"random\"", minimal()),
        &[],
        &[("adapters.ticketing.resilience.jitter", "unknown variant")],
    );
    check_errors(
        &format!(
            "{}\n[[auth.tokens]]\nname = \"a\"\nrole = \"root\"\ntoken = \"env:T\"",
            minimal()
        ),
        &[],
        &[("auth.tokens[0].role", "unknown variant")],
    );
}

#[test]
fn literal_credentials_are_refused_without_being_echoed() {
    let text = format!(
        "{}\n[[auth.tokens]]\nname = \"a\"\nrole = \"read\"\ntoken = \"canary-literal-token\"",
        minimal()
    );
    let errors = load(&text, &[]).unwrap_err();
    let shown = errors.to_string();
    assert!(shown.contains("auth.tokens[0].token"), "{shown}");
    assert!(shown.contains("never written in the configuration"), "{shown}");
    assert!(!shown.contains("canary-literal-token"), "{shown}");
    assert!(!format!("{errors:?}").contains("canary-literal-token"));
}

#[test]
fn overrides_report_the_variable() {
    let errors = load(&minimal(), &[("HUB__ADAPTERS__TICKETING__BASE_URL", "mailto:x")]).unwrap_err();
    assert_eq!(errors.0[0].env.as_deref(), Some("HUB__ADAPTERS__TICKETING__BASE_URL"));
    assert!(
        errors
            .to_string()
            .contains("set by the environment variable HUB__ADAPTERS__TICKETING__BASE_URL")
    );
    let text = format!("[server]\nshutdown_grace_s = 30\n{}", minimal());
    let errors = load(&text, &[("HUB__SERVER__SHUTDOWN_GRACE_S", "soon")]).unwrap_err();
    assert_eq!(errors.0[0].key.as_deref(), Some("server.shutdown_grace_s"));
    assert!(errors.0[0].reason.contains("expected an integer"));
    let errors = load(&minimal(), &[("HUB__", "x")]).unwrap_err();
    assert!(errors.0[0].reason.contains("not an override name"));
    let errors = load(&minimal(), &[("HUB__ADAPTERS__TICKETING__DIALECT__X", "1")]).unwrap_err();
    assert!(errors.0[0].reason.contains("adapters.ticketing.dialect is not a table"));
}

proptest! {
    #[test]
    fn override_names_parse_exactly(segments in prop::collection::vec("[A-Za-z0-9]{1,4}(_[A-Za-z0-9]{1,4}){0,2}", 1..5)) {
        let var = format!("HUB__{}", segments.join("__"));
        let parsed = parse_override_key(&var).unwrap();
        prop_assert_eq!(parsed, segments.iter().map(|s| s.to_ascii_lowercase()).collect::<Vec<_>>());
    }

    #[test]
    fn override_parsing_never_panics(var in "HUB__\\PC{0,30}", value in "\\PC{0,30}") {
        if let Ok(o) = Override::parse(&var, &value) {
            let mut t = toml::Table::new();
            let _ = o.apply(&mut t);
        }
    }

    #[test]
    fn a_string_value_stays_a_string(value in "\\PC{0,20}") {
        let o = Override::parse("HUB__SERVER__LISTEN", &value).unwrap();
        let mut t: toml::Table = "[server]\nlisten = \"x\"".parse().unwrap();
        o.apply(&mut t).unwrap();
        prop_assert_eq!(t["server"]["listen"].as_str(), Some(value.as_str()));
    }
}

#[test]
fn operating_sections_are_checked() {
    let text = format!("{}\n[webhooks]\nsecrets = [\"whsec_literal\"]\n", minimal());
    check_errors(&text, &[], &[("webhooks.secrets[0]", "not a secret reference")]);
    let text = format!(
        "{}\n[webhooks]\nid_memory_s = 60\n[events]\nsend_buffer = 0\nheartbeat_s = 0\n[notify]\nwindow_s = 0\nwebhook_url = \"ftp://x\"\n",
        minimal()
    );
    check_errors(
        &text,
        &[],
        &[
            ("webhooks.id_memory_s", "at least 600"),
            ("events.send_buffer", "between 1 and 65536"),
            ("events.heartbeat_s", "between 1 and 3600"),
            ("notify.window_s", "at least 1"),
            ("notify.webhook_url", "http"),
            ("notify.webhook_secret", "go together"),
        ],
    );
}

/// A lease shorter than the work it covers would lapse mid-write and let a second
/// request take over a write that is still running.
#[test]
fn leases_must_outlive_the_longest_deadline() {
    // The default deadline is 30 s: at least 2 × 30 + 20 = 80 s.
    let text = format!(
        "{}\n[idempotency]\nlease_s = 79\n[dlq]\nreplay_lease_s = 30\n",
        minimal()
    );
    check_errors(
        &text,
        &[],
        &[
            ("idempotency.lease_s", "at least 80"),
            ("dlq.replay_lease_s", "at least 80"),
        ],
    );
    let text = format!(
        "{}\n[idempotency]\nlease_s = 80\n[dlq]\nreplay_lease_s = 80\n",
        minimal()
    );
    assert!(load(&text, &[]).is_ok());
}

#[test]
fn timeouts_that_would_overflow_the_clock_are_refused() {
    // Regression: `events.heartbeat_s = 9223372036854775807` loaded, then the first
    // subscription panicked adding it to the clock.
    let text = format!(
        "{}\n[server]\nheader_read_timeout_s = 0\nbody_read_timeout_s = 9223372036854775807\nmax_connections = 0\n[events]\nheartbeat_s = 9223372036854775807\nsend_timeout_s = 3601\nmax_subscribers = 0\n",
        minimal()
    );
    check_errors(
        &text,
        &[],
        &[
            ("server.header_read_timeout_s", "between 1 and 3600"),
            ("server.body_read_timeout_s", "between 1 and 3600"),
            ("server.max_connections", "between 1 and 1000000"),
            ("events.heartbeat_s", "between 1 and 3600"),
            ("events.send_timeout_s", "between 1 and 3600"),
            ("events.max_subscribers", "between 1 and 1000000"),
        ],
    );
}

/// Every dotted key of the example file, as the `HUB__…` variable that overrides it.
fn example_override_vars() -> Vec<String> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
        for (k, v) in table {
            let var = format!("{prefix}__{}", k.to_ascii_uppercase());
            match v {
                toml::Value::Table(t) => walk(&var, t, out),
                _ => out.push(var),
            }
        }
    }
    let mut out = Vec::new();
    walk("HUB", &EXAMPLE.parse::<toml::Table>().unwrap(), &mut out);
    out
}

/// What the hub derives from a loaded configuration when it starts: none of it may panic.
fn use_everything(c: &Config) {
    let _ = c.secret_refs();
    let _ = (
        c.adapters.ticket_status_ttl(),
        c.adapters.transaction_status_ttl(),
        c.adapters.transaction_history_ttl(),
    );
    for (_, a) in c.adapters.iter() {
        let t = &a.timeouts;
        let _ = (t.connect(), t.attempt(), t.deadline(), a.cache.max_stale());
        let r = &a.resilience;
        let _ = (r.backoff_initial(), r.backoff_max(), r.breaker_open());
    }
}

proptest! {
    #[test]
    fn arbitrary_text_is_an_error_never_a_panic(text in "\\PC{0,400}") {
        if let Ok(c) = load(&text, &[]) {
            use_everything(&c);
        }
    }

    #[test]
    fn the_example_cut_or_spliced_anywhere_never_panics(cut in 0usize..10_000, splice in "\\PC{0,30}", keep_tail in any::<bool>()) {
        let mut at = cut.min(EXAMPLE.len());
        while !EXAMPLE.is_char_boundary(at) {
            at -= 1;
        }
        let text = if keep_tail {
            format!("{}{splice}{}", &EXAMPLE[..at], &EXAMPLE[at..])
        } else {
            format!("{}{splice}", &EXAMPLE[..at])
        };
        if let Ok(c) = load(&text, &[]) {
            use_everything(&c);
        }
    }

    #[test]
    fn arbitrary_overrides_of_real_keys_are_errors_never_panics(
        overrides in prop::collection::vec(
            (
                prop::sample::select(example_override_vars()),
                prop_oneof![
                    "\\PC{0,20}",
                    "-?[0-9]{1,25}",
                    "-?[0-9]{1,5}\\.[0-9]{0,5}(e[+-]?[0-9]{1,3})?",
                    Just("nan".to_owned()),
                    Just("inf".to_owned()),
                    Just("[".to_owned()),
                    Just("[\"a\", 1]".to_owned()),
                    Just("18446744073709551616".to_owned()),
                ],
            ),
            1..5,
        )
    ) {
        let env: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        match load(EXAMPLE, &env) {
            Ok(c) => use_everything(&c),
            Err(errors) => {
                prop_assert!(!errors.0.is_empty());
                for e in &errors.0 {
                    prop_assert_eq!(e.file.as_str(), "hub.toml");
                }
            }
        }
    }
}

#[test]
fn a_rate_budget_is_optional_and_checked() {
    let c = load(&minimal(), &[]).unwrap();
    assert!(c.adapters.iter().iter().all(|(_, a)| a.rate.is_none()));
    let text = format!(
        "{}\n[adapters.ticketing.rate]\nrequests_per_s = 5.0\nburst = 10\n",
        minimal()
    );
    let rate = load(&text, &[]).unwrap().adapters.ticketing.rate.unwrap();
    assert_eq!(
        rate,
        RateLimitConfig {
            requests_per_s: 5.0,
            burst: 10,
            write_reserve: 0.2,
            instances_hint: 1,
            redis_timeout_ms: 50,
        }
    );
    assert_eq!(rate.redis_timeout().as_millis(), 50);
    check_errors(
        &format!(
            "{}\n[adapters.ticketing.rate]\nrequests_per_s = 0.0\nburst = 0\nwrite_reserve = 1.5\ninstances_hint = 0\nredis_timeout_ms = 0\n",
            minimal()
        ),
        &[],
        &[
            ("adapters.ticketing.rate.requests_per_s", "between 0.001 and 1000000"),
            ("adapters.ticketing.rate.burst", "between 1 and 100000"),
            ("adapters.ticketing.rate.write_reserve", "between 0.0 and 1.0"),
            ("adapters.ticketing.rate.instances_hint", "between 1 and 1000"),
            ("adapters.ticketing.rate.redis_timeout_ms", "between 1 and 10000"),
        ],
    );
    check_errors(
        &format!("{}\n[adapters.ticketing.rate]\nburst = 3\n", minimal()),
        &[],
        &[("adapters.ticketing.rate", "missing field `requests_per_s`")],
    );
    check_errors(
        &format!(
            "{}\n[adapters.ticketing.rate]\nrequests_per_s = nan\nburst = 3\n",
            minimal()
        ),
        &[],
        &[("adapters.ticketing.rate.requests_per_s", "between")],
    );
}

#[test]
fn telemetry_is_off_by_default_and_validated() {
    let c = load(&minimal(), &[]).unwrap();
    assert_eq!(c.telemetry, TelemetryConfig::default());
    assert!(c.telemetry.otlp_endpoint.is_none());
    let on = format!(
        "{}\n[telemetry]\notlp_endpoint = \"http://127.0.0.1:4318\"\nsample_ratio = 0.1\n",
        minimal()
    );
    let c = load(&on, &[]).unwrap();
    assert_eq!(c.telemetry.otlp_endpoint.as_deref(), Some("http://127.0.0.1:4318"));
    assert!((c.telemetry.sample_ratio - 0.1).abs() < f64::EPSILON);
    let bad = format!(
        "{}\n[telemetry]\notlp_endpoint = \"http://u:p@collector:4318\"\nservice_name = \" \"\nsample_ratio = 1.5\nexport_timeout_ms = 0\nbatch_size = 600\nqueue_size = 500\n",
        minimal()
    );
    check_errors(
        &bad,
        &[],
        &[
            ("telemetry.otlp_endpoint", "must not hold credentials"),
            ("telemetry.service_name", "1 to 255 characters"),
            ("telemetry.sample_ratio", "between 0.0 and 1.0"),
            ("telemetry.export_timeout_ms", "between 1 and 60000"),
            ("telemetry.queue_size", "at least batch_size"),
        ],
    );
    let errors = load(
        &format!("{}\n[telemetry]\notlp_endpoint = \"grpc://c:4317\"\n", minimal()),
        &[],
    )
    .unwrap_err();
    assert!(
        errors
            .to_string()
            .contains("telemetry.otlp_endpoint: must start with http://"),
        "{errors}"
    );
}

#[test]
fn the_standard_otel_variables_fill_in_what_the_file_leaves_out() {
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ("OTEL_SERVICE_NAME", "hub-eu"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
    ];
    let c = load(&minimal(), &env).unwrap();
    assert_eq!(c.telemetry.otlp_endpoint.as_deref(), Some("http://collector:4318"));
    assert_eq!(c.telemetry.service_name, "hub-eu");
    assert!((c.telemetry.sample_ratio - 0.25).abs() < f64::EPSILON);
    // The file wins.
    let file = format!("{}\n[telemetry]\nservice_name = \"from-file\"\n", minimal());
    let c = load(&file, &env).unwrap();
    assert_eq!(c.telemetry.service_name, "from-file");
    assert_eq!(c.telemetry.otlp_endpoint.as_deref(), Some("http://collector:4318"));
    // A bad value names its variable.
    let errors = load(&minimal(), &[("OTEL_TRACES_SAMPLER_ARG", "half")]).unwrap_err();
    assert_eq!(errors.0[0].key.as_deref(), Some("telemetry.sample_ratio"));
    assert_eq!(errors.0[0].env.as_deref(), Some("OTEL_TRACES_SAMPLER_ARG"));
    let errors = load(&minimal(), &[("OTEL_TRACES_SAMPLER_ARG", "2")]).unwrap_err();
    assert_eq!(errors.0[0].env.as_deref(), Some("OTEL_TRACES_SAMPLER_ARG"));
    assert!(errors.to_string().contains("between 0.0 and 1.0"), "{errors}");
}
