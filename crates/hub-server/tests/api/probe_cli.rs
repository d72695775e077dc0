//! `hub-server probe jira-fields` against hub-sim's Jira: the create screen read from
//! createmeta, compared with the configured create fields; exit codes.

use hub_sim::{Sim, SimConfig, System};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/hub.example.toml");

/// The example configuration with Jira ticketing at `url`, `jira` as its `[jira]` section.
fn config(url: &str, jira: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(EXAMPLE)
        .unwrap()
        .replacen("dialect = \"generic\"", "dialect = \"jira\"", 1)
        .replacen(
            "base_url = \"http://127.0.0.1:9101\"",
            &format!("base_url = \"{url}\""),
            1,
        )
        .replacen(
            "api_key = \"env:TICKETING_API_KEY\"",
            &format!("email = \"env:JIRA_EMAIL\"\napi_token = \"env:JIRA_TOKEN\"\n\n[adapters.ticketing.jira]\n{jira}"),
            1,
        );
    let dir = std::env::temp_dir().join(format!("hub-server-probe-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("hub.toml");
    std::fs::write(&f, text).unwrap();
    f
}

async fn probe(file: std::path::PathBuf, token: &'static str) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        crate::cli::run(
            &["probe", "jira-fields", "--config", file.to_str().unwrap()],
            &[("JIRA_EMAIL", "agent@example.com"), ("JIRA_TOKEN", token)],
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_probe_names_configured_fields_the_create_screen_lacks() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = sim.url(System::Jira);
    let full = "project_key = \"SUP\"\npriority = true\ncustomer_field = \"customfield_10050\"\nfixed_fields = { components = [{ name = \"Payments\" }] }";

    // The default screen has every configured field.
    let (code, out, err) = probe(config(&url, full), "sim-jira-token").await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("project SUP, issue type Task (10001)"), "{out}");
    assert!(
        out.contains(
            "a create sends: project, issuetype, summary, description, priority, customfield_10050, components"
        ),
        "{out}"
    );
    assert!(out.contains("ok: the configured create fields fit the screen"), "{out}");

    // A screen without priority and the customer field: both named, exit 1.
    sim.control().set_jira_create_screen(&[
        "project",
        "issuetype",
        "summary",
        "description",
        "components",
        "reporter",
    ]);
    let (code, out, err) = probe(config(&url, full), "sim-jira-token").await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("missing: priority is sent but not on the create screen"),
        "{out}"
    );
    assert!(out.contains("missing: customfield_10050 is sent"), "{out}");
    assert!(!out.contains("missing: components"), "{out}");
    assert!(!out.contains("ok:"), "{out}");
    // The default configuration sends only what every screen has.
    let (code, out, _) = probe(config(&url, "project_key = \"SUP\""), "sim-jira-token").await;
    assert_eq!(code, 0, "{out}");

    // An issue type the project lacks, and credentials Jira refuses.
    let (code, _, err) = probe(
        config(&url, "project_key = \"SUP\"\nissue_type = \"Epic\""),
        "sim-jira-token",
    )
    .await;
    assert_eq!(code, 1);
    assert!(
        err.contains("has no issue type named \"Epic\" (it has: Task, Bug, Story, Service Request)"),
        "{err}"
    );
    let (code, _, err) = probe(config(&url, "project_key = \"SUP\""), "wrong-token").await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Jira answered"), "{err}");
    assert!(!err.contains("wrong-token"), "{err}");
    sim.shutdown().await;
}

#[test]
fn the_probe_refuses_other_dialects() {
    let (code, _, err) = crate::cli::run(&["probe", "jira-fields", "--config", EXAMPLE], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the ticketing adapter's dialect is generic"), "{err}");
}
