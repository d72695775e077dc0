//! Jira Cloud v3: basic auth, issues with status categories, ADF comments, idempotency (sim extension).

use hub_sim::{EffectFilter, EffectKind, Settings, System};

use crate::support::{JSON, basic, call, start};

fn auth() -> String {
    basic("agent@example.com", "sim-jira-token")
}

const ISSUE: &[u8] = br#"{"fields":{"project":{"key":"SUP"},"summary":"Card declined","issuetype":{"name":"Task"},
  "description":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"It fails"}]}]},
  "priority":{"name":"High"},"customfield_10050":"CUST-1001"}}"#;

#[tokio::test]
async fn authentication() {
    let sim = start().await;
    let url = format!("{}/rest/api/3/issue/SUP-1", sim.url(System::Jira));
    assert_eq!(call("GET", &url, &[], b"").await.status, 401);
    let wrong = basic("agent@example.com", "nope");
    assert_eq!(call("GET", &url, &[("authorization", &wrong)], b"").await.status, 401);
    assert_eq!(call("GET", &url, &[("authorization", &auth())], b"").await.status, 200);
}

#[tokio::test]
async fn issues_statuses_and_comments() {
    let sim = start().await;
    let base = format!("{}/rest/api/3", sim.url(System::Jira));
    let a = auth();
    let h = [("authorization", a.as_str()), JSON];
    let r = call("POST", &format!("{base}/issue"), &h, ISSUE).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let created = r.json();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("SUP-"));
    assert_eq!(
        created["self"],
        format!("{base}/issue/{}", created["id"].as_str().unwrap())
    );

    let issue = call("GET", &format!("{base}/issue/{key}"), &h, b"").await.json();
    assert_eq!(issue["fields"]["status"]["name"], "To Do");
    assert_eq!(issue["fields"]["status"]["statusCategory"]["key"], "new");
    assert_eq!(issue["fields"]["customfield_10050"], "CUST-1001");
    assert_eq!(issue["fields"]["priority"]["name"], "High");
    for (k, name, category, assignee) in [
        ("SUP-2", "In Progress", "indeterminate", "alice@example.com"),
        ("SUP-3", "Done", "done", "hidden"),
        ("10004", "Waiting for customer", "indeterminate", "alice@example.com"),
    ] {
        let i = call("GET", &format!("{base}/issue/{k}"), &h, b"").await.json();
        assert_eq!(i["fields"]["status"]["name"], name);
        assert_eq!(i["fields"]["status"]["statusCategory"]["key"], category);
        if assignee == "hidden" {
            // Bob's profile hides his e-mail address: Jira leaves the field out.
            assert!(i["fields"]["assignee"].get("emailAddress").is_none());
            assert_eq!(i["fields"]["assignee"]["displayName"], "Bob Agent");
        } else {
            assert_eq!(i["fields"]["assignee"]["emailAddress"], assignee);
        }
        assert!(i["fields"]["updated"].as_str().unwrap().ends_with("+0000"));
    }

    let comment = br#"{"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"On it"}]}]}}"#;
    let r = call("POST", &format!("{base}/issue/{key}/comment"), &h, comment).await;
    assert_eq!(r.status, 201);
    assert!(r.json()["id"].is_string());
    let plain = call(
        "POST",
        &format!("{base}/issue/{key}/comment"),
        &h,
        br#"{"body":"plain text"}"#,
    )
    .await;
    assert_eq!(plain.status, 400);
    assert_eq!(plain.json()["errors"]["comment"], "Comment body is not valid!");
    assert_eq!(
        call("POST", &format!("{base}/issue/SUP-999/comment"), &h, comment)
            .await
            .status,
        404
    );
    let no_summary = br#"{"fields":{"project":{"key":"SUP"},"issuetype":{"name":"Task"}}}"#;
    let r = call("POST", &format!("{base}/issue"), &h, no_summary).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"]["summary"].is_string());
    let listed = call("GET", &format!("{base}/issue/{key}/comment"), &h, b"")
        .await
        .json();
    assert_eq!(listed["total"], 1);
}

#[tokio::test]
async fn idempotency_is_a_switchable_extension() {
    let sim = start().await;
    let url = format!("{}/rest/api/3/issue", sim.url(System::Jira));
    let a = auth();
    let h = [("authorization", a.as_str()), JSON, ("idempotency-key", "j-1")];
    let first = call("POST", &url, &h, ISSUE).await.json();
    let again = call("POST", &url, &h, ISSUE).await;
    assert_eq!(again.json()["key"], first["key"]);
    assert_eq!(again.header("x-idempotency-lookup"), Some("hit"));

    // Real Jira ignores the key: with the extension off, a retry duplicates, and the ledger shows it.
    sim.control().set_settings(Settings {
        jira_idempotency: false,
        ..sim.control().settings()
    });
    let h2 = [("authorization", a.as_str()), JSON, ("idempotency-key", "j-2")];
    let x = call("POST", &url, &h2, ISSUE).await.json();
    let y = call("POST", &url, &h2, ISSUE).await.json();
    assert_ne!(x["key"], y["key"]);
    let dupes = sim.control().effects(&EffectFilter {
        idempotency_key: Some("j-2".into()),
        ..Default::default()
    });
    assert_eq!(dupes.len(), 2);
    assert_eq!(dupes[0].kind, EffectKind::TicketCreated);
}

/// A new issue starts in its workflow's first status, which is not always "To Do".
#[tokio::test]
async fn a_bug_starts_in_the_classic_workflows_open() {
    let sim = start().await;
    let base = format!("{}/rest/api/3", sim.url(System::Jira));
    let a = auth();
    let h = [("authorization", a.as_str()), JSON];
    let bug = br#"{"fields":{"project":{"key":"SUP"},"summary":"Crash","issuetype":{"name":"Bug"}}}"#;
    let r = call("POST", &format!("{base}/issue"), &h, bug).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let key = r.json()["key"].as_str().unwrap().to_owned();
    let issue = call("GET", &format!("{base}/issue/{key}"), &h, b"").await.json();
    assert_eq!(issue["fields"]["status"]["name"], "Open");
    assert_eq!(issue["fields"]["status"]["statusCategory"]["key"], "new");
}

/// A field the project's create screen lacks is refused with Jira's own 400 body.
#[tokio::test]
async fn fields_off_the_create_screen_are_refused_as_jira_refuses_them() {
    let sim = start().await;
    sim.control()
        .set_jira_create_screen(&["project", "issuetype", "summary", "description"]);
    let base = format!("{}/rest/api/3", sim.url(System::Jira));
    let a = auth();
    let h = [("authorization", a.as_str()), JSON];
    let r = call("POST", &format!("{base}/issue"), &h, ISSUE).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        serde_json::json!({"errorMessages": [], "errors": {
            "priority": "Field 'priority' cannot be set. It is not on the appropriate screen, or unknown.",
            "customfield_10050": "Field 'customfield_10050' cannot be set. It is not on the appropriate screen, or unknown.",
        }})
    );
    let minimal = br#"{"fields":{"project":{"key":"SUP"},"summary":"s","issuetype":{"name":"Task"}}}"#;
    assert_eq!(call("POST", &format!("{base}/issue"), &h, minimal).await.status, 201);
    let created = sim.control().effects(&EffectFilter::kind(EffectKind::TicketCreated));
    assert_eq!(created.len(), 1);
}

/// Createmeta lists the project's issue types and the create screen's fields (the
/// configurable screen), paged with `startAt`/`maxResults` as Jira pages them.
#[tokio::test]
async fn createmeta_serves_the_create_screen() {
    let sim = start().await;
    let base = format!("{}/rest/api/3/issue/createmeta/SUP/issuetypes", sim.url(System::Jira));
    let a = auth();
    let h = [("authorization", a.as_str())];
    let types = call("GET", &base, &h, b"").await.json();
    assert_eq!(types["issueTypes"][0]["name"], "Task");
    assert_eq!(types["total"], 4);
    sim.control()
        .set_jira_create_screen(&["project", "issuetype", "summary", "description", "priority"]);
    let first = call("GET", &format!("{base}/10001?startAt=0&maxResults=3"), &h, b"")
        .await
        .json();
    let second = call("GET", &format!("{base}/10001?startAt=3&maxResults=3"), &h, b"")
        .await
        .json();
    let ids: Vec<_> = [&first, &second]
        .iter()
        .flat_map(|p| {
            p["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["fieldId"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(ids, ["description", "issuetype", "priority", "project", "summary"]);
    assert_eq!(
        (first["total"].clone(), second["startAt"].clone()),
        (5.into(), 3.into())
    );
    assert_eq!(call("GET", &format!("{base}/99999"), &h, b"").await.status, 404);
    assert_eq!(
        call(
            "GET",
            &format!("{}/rest/api/3/issue/createmeta/NOPE/issuetypes", sim.url(System::Jira)),
            &h,
            b""
        )
        .await
        .status,
        404
    );
    assert_eq!(call("GET", &base, &[], b"").await.status, 401);
}
