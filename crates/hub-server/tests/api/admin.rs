//! The supervisor's page over HTTP as a browser without JavaScript uses it: sign-in
//! form, session cookie, plain form posts answered by redirects, CSRF refusals.

use std::sync::Arc;
use std::time::Instant;

use hub_admin as admin;
use hub_app::error_rates::ErrorRates;
use hub_core::{AuditOutcome, AuditRecord, DlqStatus, Error};
use hub_server::CircuitState;
use serde_json::json;

use crate::support::*;

const FORM: &str = "application/x-www-form-urlencoded";

/// The value of `<input … name="{name}" value="…">` in a page.
fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The `Set-Cookie` header that sets `name`, if any.
fn set_cookie(res: &Resp, name: &str) -> Option<String> {
    res.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

/// Opens the sign-in form and posts `token` with the form's nonce (cookie and field).
async fn sign_in(srv: &Server, token: &str) -> Resp {
    let form = srv.req("GET", "/admin").send().await;
    assert_eq!(form.status, 200);
    let nonce = field(&form.text(), "login");
    let cookie = set_cookie(&form, admin::cookie::LOGIN).expect("the form sets its nonce cookie");
    assert_eq!(cookie_value(&cookie), nonce);
    srv.req("POST", "/admin/login")
        .header("cookie", &format!("{}={nonce}", admin::cookie::LOGIN))
        .header("content-type", FORM)
        .header("origin", &format!("http://{}", srv.addr))
        .header("sec-fetch-site", "same-origin")
        .raw(format!("login={nonce}&token={token}"))
        .send()
        .await
}

/// A signed-in admin: the session cookie to send and the page's CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

async fn signed_in(srv: &Server) -> Browser {
    let res = sign_in(srv, ADMIN).await;
    assert_eq!(res.status, 303, "{}", res.text());
    let id = cookie_value(&set_cookie(&res, admin::cookie::SESSION).unwrap());
    let cookie = format!("{}={id}", admin::cookie::SESSION);
    let page = srv.req("GET", "/admin").header("cookie", &cookie).send().await;
    Browser {
        csrf: field(&page.text(), "csrf"),
        cookie,
    }
}

impl Browser {
    async fn get(&self, srv: &Server, path: &str) -> Resp {
        srv.req("GET", path).header("cookie", &self.cookie).send().await
    }

    /// Posts a form as the page's own forms do (same origin, with its CSRF token).
    async fn post(&self, srv: &Server, path: &str, fields: &str) -> Resp {
        srv.req("POST", path)
            .header("cookie", &self.cookie)
            .header("content-type", FORM)
            .header("origin", &format!("http://{}", srv.addr))
            .header("sec-fetch-site", "same-origin")
            .raw(format!("csrf={}&{fields}", self.csrf))
            .send()
            .await
    }
}

#[track_caller]
fn assert_page_headers(res: &Resp) {
    assert_eq!(res.header("cache-control"), Some("no-store"), "{res:?}");
    assert_eq!(res.header("content-security-policy"), Some(admin::headers::CSP));
    assert!(
        admin::headers::CSP.contains("script-src 'self'") && admin::headers::CSP.contains("frame-ancestors 'none'")
    );
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
    assert_eq!(res.header("referrer-policy"), Some("same-origin"));
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn signing_in_with_admin_read_write_and_unknown_tokens() {
    let hub = Hub::new();
    let srv = hub.serve().await;

    let ok = sign_in(&srv, ADMIN).await;
    assert_eq!((ok.status, ok.header("location")), (303, Some("/admin")));
    let session = set_cookie(&ok, admin::cookie::SESSION).unwrap();
    let attributes: Vec<&str> = session.split("; ").skip(1).collect();
    assert_eq!(attributes, ["Path=/admin", "HttpOnly", "Secure", "SameSite=Strict"]);
    let id = cookie_value(&session);
    assert_eq!(id.len(), 43, "256 random bits, base64url");
    assert!(!session.contains(ADMIN), "the token never goes into the cookie");
    // The used nonce is cleared.
    assert!(set_cookie(&ok, admin::cookie::LOGIN).unwrap().contains("Max-Age=0"));
    let page = srv
        .req("GET", "/admin")
        .header("cookie", &format!("{}={id}", admin::cookie::SESSION))
        .send()
        .await;
    assert!(
        page.text().contains("Signed in as <strong>ops</strong>"),
        "{}",
        page.text()
    );
    assert!(!page.text().contains(ADMIN));

    for (token, status, says) in [
        (
            READ,
            403,
            "This token has the 'read' role; the supervisor's page needs a token with the 'admin' role.",
        ),
        (WRITE, 403, "This token has the 'write' role"),
        ("not-a-known-token", 401, "That token is not known."),
        ("", 401, "That token is not known."),
    ] {
        let res = sign_in(&srv, token).await;
        assert_eq!(res.status, status, "{token}: {}", res.text());
        assert!(res.text().contains(says), "{token}: {}", res.text());
        assert!(set_cookie(&res, admin::cookie::SESSION).is_none(), "{token}");
        assert!(res.text().contains("id=\"sign-in\""), "the form is shown again");
        for canary in [READ, WRITE, ADMIN] {
            assert!(!res.text().contains(canary));
        }
    }
    assert_eq!(hub.state.sessions.count().await.unwrap(), 1);
}

#[tokio::test]
async fn sign_in_is_refused_without_the_forms_nonce_or_from_another_site() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    let nonce = field(&srv.req("GET", "/admin").send().await.text(), "login");
    let own = format!("http://{}", srv.addr);
    for (cookie, field_value, origin, site) in [
        (None, nonce.as_str(), own.as_str(), "same-origin"),
        (Some("other-nonce"), nonce.as_str(), own.as_str(), "same-origin"),
        (Some(nonce.as_str()), "", own.as_str(), "same-origin"),
        (
            Some(nonce.as_str()),
            nonce.as_str(),
            "https://evil.example",
            "same-origin",
        ),
        (Some(nonce.as_str()), nonce.as_str(), own.as_str(), "cross-site"),
    ] {
        let mut req = srv
            .req("POST", "/admin/login")
            .header("content-type", FORM)
            .header("origin", origin)
            .header("sec-fetch-site", site);
        if let Some(c) = cookie {
            req = req.header("cookie", &format!("{}={c}", admin::cookie::LOGIN));
        }
        let res = req.raw(format!("login={field_value}&token={ADMIN}")).send().await;
        assert_eq!(res.status, 403, "{cookie:?} {field_value} {origin} {site}");
        assert!(set_cookie(&res, admin::cookie::SESSION).is_none());
    }
    assert_eq!(hub.state.sessions.count().await.unwrap(), 0);
}

#[tokio::test]
async fn every_page_response_is_no_store_with_a_strict_policy_and_no_inline_code() {
    let hub = Hub::new();
    hub.dlq.seed("cancel_draft", json!({"draft_id": "D-1"}), Some("k-1"));
    let srv = hub.serve().await;
    let signed_out = srv.req("GET", "/admin").send().await;
    assert_page_headers(&signed_out);
    assert!(signed_out.header("content-type").unwrap().starts_with("text/html"));
    let b = signed_in(&srv).await;
    let page = b.get(&srv, "/admin").await;
    assert_page_headers(&page);
    let html = page.text();
    assert!(
        html.contains("<script src=\"/admin/admin.js\" defer></script>"),
        "{html}"
    );
    assert_eq!(html.matches("<script").count(), 1, "one script, from /admin/admin.js");
    assert!(!html.contains(" style=") && !html.contains("<style") && !html.contains(" onclick="));
    let js = b.get(&srv, "/admin/admin.js").await;
    assert_page_headers(&js);
    assert_eq!(js.header("content-type"), Some("text/javascript; charset=utf-8"));
    assert!(js.text().contains("/admin/fragment"));
    let css = srv.req("GET", "/admin/admin.css").send().await;
    assert_page_headers(&css);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    for res in [
        b.get(&srv, "/admin/fragment").await,
        srv.req("GET", "/admin/fragment").send().await,
        b.post(&srv, "/admin/dlq/dlq-1/discard", "").await,
        sign_in(&srv, READ).await,
    ] {
        assert_page_headers(&res);
    }
}

#[tokio::test]
async fn the_page_shows_circuits_error_rates_dead_letters_and_audit_records() {
    let mut hub = Hub::new();
    let rates = Arc::new(ErrorRates::default());
    let now = Instant::now();
    for outcome in [
        AuditOutcome::Failure,
        AuditOutcome::Rejected,
        AuditOutcome::Success,
        AuditOutcome::Success,
    ] {
        rates.observe("ticketing", outcome, now);
    }
    rates.observe("transaction_status", AuditOutcome::Success, now);
    hub.state = hub.state.clone().with_error_rates(rates).with_circuits(Arc::new(|| {
        vec![
            ("ticketing".to_owned(), CircuitState::Open),
            ("transaction_status".to_owned(), CircuitState::Closed),
            ("transaction_create".to_owned(), CircuitState::HalfOpen),
        ]
    }));
    hub.dlq.seed("cancel_draft", json!({"draft_id": "D-<b>1"}), Some("k-1"));
    hub.audit.push(AuditRecord {
        at: time::OffsetDateTime::UNIX_EPOCH,
        adapter: "ticketing".into(),
        operation: "create_ticket".into(),
        outcome: AuditOutcome::Failure,
        http_status: Some(503),
        attempts: 3,
        duration_ms: 42,
        request_id: Some("req-audit-1".into()),
        conversation_id: None,
        params: json!({}),
        error: Some("upstream_unavailable: <i>down</i>".into()),
        trace_id: None,
        calls: 1,
    });
    hub.audit.push(AuditRecord {
        operation: "get_transaction_status".into(),
        outcome: AuditOutcome::Rejected,
        http_status: None,
        attempts: 0,
        request_id: Some("req-refused-1".into()),
        error: Some("circuit_open: the circuit is open".into()),
        calls: 37,
        ..hub.audit.records()[0].clone()
    });
    let srv = hub.serve().await;
    let b = signed_in(&srv).await;
    let html = b.get(&srv, "/admin").await.text();
    let row = |adapter: &str| {
        let start = html.find(&format!("<tr data-adapter=\"{adapter}\">")).unwrap();
        html[start..start + html[start..].find("</tr>").unwrap()].to_owned()
    };
    let ticketing = row("ticketing");
    assert!(
        ticketing.contains("circuit open") && ticketing.contains("50.0 %"),
        "{ticketing}"
    );
    assert!(row("transaction_status").contains("0.0 %"));
    assert!(html.contains("Calls in the last 5 minutes, moving on every 10 seconds."));
    let create = row("transaction_create");
    assert!(create.contains("half_open") && create.contains("—"), "{create}");
    assert!(html.contains("data-dlq-id=\"dlq-1\""));
    assert!(html.contains("D-&lt;b&gt;1"), "payload values are escaped");
    assert!(html.contains("req-audit-1") && html.contains("upstream_unavailable: &lt;i&gt;down&lt;/i&gt;"));
    // Refusals recorded together show how many calls they stand for.
    assert!(html.contains("rejected × 37"), "{html}");
    // The replay and discard forms post to the entry, with the CSRF token.
    assert!(
        html.contains("action=\"/admin/dlq/dlq-1/replay\"") && html.contains("action=\"/admin/dlq/dlq-1/discard\"")
    );

    // Filters as in GET /v1/dlq; an unusable one is ignored and said so.
    let replayed = b.get(&srv, "/admin?status=replayed").await.text();
    assert!(replayed.contains("id=\"dlq-empty\"") && !replayed.contains("data-dlq-id"));
    assert!(replayed.contains("<option value=\"replayed\" selected>"));
    let bad = b.get(&srv, "/admin?status=lost&adapter=").await.text();
    assert!(
        bad.contains("Ignored: status must be pending, replayed or discarded."),
        "{bad}"
    );
    assert!(bad.contains("data-dlq-id=\"dlq-1\""));

    // The fragment is the live sections alone.
    let fragment = b.get(&srv, "/admin/fragment?status=pending").await;
    assert_eq!(fragment.status, 200);
    let text = fragment.text();
    assert!(text.starts_with("<div id=\"live\" data-query=\"?status=pending\">") && !text.contains("<html"));
    assert!(text.contains("data-dlq-id=\"dlq-1\""));
}

#[tokio::test]
async fn replay_and_discard_through_plain_forms_change_the_entry_and_report_back() {
    let hub = Hub::new();
    let replayable = hub.dlq.seed("cancel_draft", json!({"draft_id": "D-1"}), Some("k-1"));
    let discardable = hub.dlq.seed("cancel_draft", json!({"draft_id": "D-2"}), Some("k-2"));
    let failing = hub.dlq.seed("cancel_draft", json!({"draft_id": "D-3"}), Some("k-3"));
    let srv = hub.serve().await;
    let b = signed_in(&srv).await;

    let res = b
        .post(
            &srv,
            &format!("/admin/dlq/{replayable}/replay"),
            "status=pending&adapter=",
        )
        .await;
    assert_eq!(
        (res.status, res.header("location")),
        (303, Some("/admin?status=pending"))
    );
    assert_eq!(
        hub.dlq.get_sync(replayable.as_str()).unwrap().status,
        DlqStatus::Replayed
    );
    assert_eq!(hub.upstream.calls(), 1);
    assert_eq!(
        hub.upstream
            .last_context()
            .idempotency_key
            .map(|k| k.as_str().to_owned()),
        Some("k-1".to_owned()),
        "the replay flow reuses the entry's key"
    );
    let page = b.get(&srv, "/admin?status=pending").await.text();
    assert!(
        page.contains("class=\"flash ok\"")
            && page.contains("Replayed dlq-1 (transaction_create cancel_draft): it is now replayed."),
        "{page}"
    );
    assert!(
        !b.get(&srv, "/admin").await.text().contains("id=\"flash\""),
        "a flash is shown once"
    );

    // Replaying it again is refused and said so.
    b.post(&srv, &format!("/admin/dlq/{replayable}/replay"), "").await;
    assert!(
        b.get(&srv, "/admin")
            .await
            .text()
            .contains("Entry dlq-1 is replayed, not pending; nothing was done.")
    );

    let res = b
        .post(
            &srv,
            &format!("/admin/dlq/{discardable}/discard"),
            "reason=duplicate+of+TCK-9",
        )
        .await;
    assert_eq!((res.status, res.header("location")), (303, Some("/admin")));
    let entry = hub.dlq.get_sync(discardable.as_str()).unwrap();
    assert_eq!(
        (entry.status, entry.reason.as_deref(), entry.acted_by.as_deref()),
        (DlqStatus::Discarded, Some("duplicate of TCK-9"), Some("ops"))
    );
    assert!(
        b.get(&srv, "/admin")
            .await
            .text()
            .contains("Discarded dlq-2: it is now discarded.")
    );

    // A replay that fails again leaves the entry pending and says why.
    hub.upstream.fail_with(Error::Timeout);
    b.post(&srv, &format!("/admin/dlq/{failing}/replay"), "").await;
    let entry = hub.dlq.get_sync(failing.as_str()).unwrap();
    assert_eq!(
        (entry.status, entry.failure.error_code.as_str()),
        (DlqStatus::Pending, "timeout")
    );
    let page = b.get(&srv, "/admin").await.text();
    assert!(
        page.contains("class=\"flash error\"") && page.contains("The replay of dlq-3 failed again (timeout:"),
        "{page}"
    );
    assert!(page.contains("the entry stays pending."));
}

#[tokio::test]
async fn a_missing_or_wrong_csrf_token_or_another_origin_is_403_and_nothing_is_done() {
    let hub = Hub::new();
    let id = hub.dlq.seed("cancel_draft", json!({"draft_id": "D-1"}), Some("k-1"));
    let srv = hub.serve().await;
    let b = signed_in(&srv).await;
    let own = format!("http://{}", srv.addr);
    let replay = format!("/admin/dlq/{id}/replay");
    let discard = format!("/admin/dlq/{id}/discard");
    let wrong = format!("csrf={}x", b.csrf);
    for (path, body, origin, site) in [
        (&replay, "", own.as_str(), "same-origin"),
        (&replay, "csrf=", own.as_str(), "same-origin"),
        (&replay, wrong.as_str(), own.as_str(), "same-origin"),
        (&discard, "reason=x", own.as_str(), "same-origin"),
        (&discard, wrong.as_str(), own.as_str(), "same-origin"),
    ]
    .into_iter()
    .chain([
        (
            &replay,
            &*format!("csrf={}", b.csrf),
            "https://evil.example",
            "same-origin",
        ),
        (&discard, &*format!("csrf={}", b.csrf), own.as_str(), "cross-site"),
    ]) {
        let res = srv
            .req("POST", path)
            .header("cookie", &b.cookie)
            .header("content-type", FORM)
            .header("origin", origin)
            .header("sec-fetch-site", site)
            .raw(body.to_owned())
            .send()
            .await;
        assert_eq!(res.status, 403, "{path} {body} {origin} {site}");
        assert!(res.text().contains("nothing was done"));
    }
    // Without a session, even with a token that was valid: 401.
    let res = srv
        .req("POST", &replay)
        .header("content-type", FORM)
        .raw(format!("csrf={}", b.csrf))
        .send()
        .await;
    assert_eq!(res.status, 401);
    // A bearer token does not open the page's routes.
    let res = srv
        .req("POST", &replay)
        .token(ADMIN)
        .header("content-type", FORM)
        .raw(format!("csrf={}", b.csrf))
        .send()
        .await;
    assert_eq!(res.status, 401);
    assert_eq!(hub.dlq.get_sync(id.as_str()).unwrap().status, DlqStatus::Pending);
    assert_eq!(hub.upstream.calls(), 0);
    // The session is intact: signing out with its token works.
    assert_eq!(b.post(&srv, "/admin/logout", "").await.status, 303);
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    let b = signed_in(&srv).await;
    let refused = srv
        .req("POST", "/admin/logout")
        .header("cookie", &b.cookie)
        .header("content-type", FORM)
        .raw("csrf=wrong")
        .send()
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(b.get(&srv, "/admin/fragment").await.status, 200, "still signed in");
    let res = b.post(&srv, "/admin/logout", "").await;
    assert_eq!((res.status, res.header("location")), (303, Some("/admin")));
    assert!(set_cookie(&res, admin::cookie::SESSION).unwrap().contains("Max-Age=0"));
    assert_eq!(b.get(&srv, "/admin/fragment").await.status, 401);
    assert!(b.get(&srv, "/admin").await.text().contains("id=\"sign-in\""));
    assert_eq!(hub.state.sessions.count().await.unwrap(), 0);
}

#[tokio::test]
async fn the_page_routes_are_served_answer_405_with_allow_and_stay_out_of_openapi() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    for r in admin::ROUTES {
        let path = r.path.replace("{id}", "dlq-1");
        let res = srv.req(r.method, &path).send().await;
        let expected = if r.role.is_some() {
            401
        } else if r.method == "POST" {
            403
        } else {
            200
        };
        assert_eq!(res.status, expected, "{} {}", r.method, r.path);
        let other = if r.method == "GET" { "DELETE" } else { "GET" };
        let res = srv.req(other, &path).send().await;
        res.problem(405, "not_found");
        assert_eq!(res.header("allow"), Some(r.method), "{other} {path}");
    }
    let doc = srv.req("GET", "/openapi.json").send().await.json();
    assert!(
        doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .all(|p| !p.starts_with("/admin"))
    );
}

#[tokio::test]
async fn the_page_shows_dead_letter_payloads_redacted() {
    let hub = Hub::new();
    let id = hub.dlq.seed("create_ticket", crate::dlq::secret_payload(), Some("k-1"));
    let srv = hub.serve().await;
    let b = signed_in(&srv).await;
    for path in ["/admin", "/admin/fragment"] {
        let html = b.get(&srv, path).await.text();
        assert!(html.contains(&format!("data-dlq-id=\"{id}\"")), "{html}");
        assert!(html.contains("&quot;Api_Key&quot;: &quot;[REDACTED]&quot;"), "{html}");
        assert!(html.contains("printer on fire"));
        assert!(!html.contains("canary-dlq-s3cret"), "{path}: {html}");
    }
    assert_eq!(
        hub.dlq.get_sync(id.as_str()).unwrap().failure.payload,
        crate::dlq::secret_payload(),
        "the stored entry keeps the value for the replay"
    );
}

/// Sessions in a SQL store on `url`, as an instance opened on that database keeps them.
async fn shared_sessions(url: &str) -> (hub_store::Stores, Arc<admin::Sessions>) {
    let stores = hub_store::Stores::open(hub_store::StoreConfig::with_database_url(url))
        .await
        .unwrap();
    let sessions = Arc::new(admin::Sessions::new(
        admin::SessionSettings::default(),
        stores.admin_sessions.clone(),
    ));
    (stores, sessions)
}

#[tokio::test]
async fn instances_on_one_database_share_a_sign_in_until_the_token_changes() {
    let dir = std::env::temp_dir().join(format!("hub-admin-shared-{}", uuid::Uuid::now_v7()));
    let url = format!("sqlite://{}", dir.join("hub.sqlite3").display());
    let (first, second) = (Hub::new(), Hub::new());
    let (stores_a, sessions_a) = shared_sessions(&url).await;
    let (stores_b, sessions_b) = shared_sessions(&url).await;
    let srv_a = Server::start(first.state.clone().with_sessions(sessions_a)).await;
    let srv_b = Server::start(second.state.clone().with_sessions(sessions_b.clone())).await;

    // Signed in on A, the same cookie and CSRF token work on B.
    let b = signed_in(&srv_a).await;
    let page = b.get(&srv_b, "/admin").await.text();
    assert!(page.contains("Signed in as <strong>ops</strong>"), "{page}");
    assert_eq!(b.get(&srv_b, "/admin/fragment").await.status, 200);
    let id = second.dlq.seed("cancel_draft", json!({"draft_id": "D-1"}), None);
    let res = b.post(&srv_b, &format!("/admin/dlq/{id}/discard"), "reason=dup").await;
    assert_eq!(res.status, 303, "{}", res.text());
    assert_eq!(second.dlq.get_sync(id.as_str()).unwrap().status, DlqStatus::Discarded);
    // B's flash is shown on A (once).
    assert!(b.get(&srv_a, "/admin").await.text().contains("Discarded dlq-1"));
    assert!(!b.get(&srv_b, "/admin").await.text().contains("id=\"flash\""));

    // An instance whose configuration replaced the admin token revokes the session,
    // for every instance.
    let mut rotated = Hub::new().state.with_sessions(sessions_b);
    rotated.auth = Arc::new(hub_server::Authenticator::default().with_token(
        "ops",
        hub_server::Role::Admin,
        &"canary-rotated".to_owned().into(),
    ));
    let srv_c = Server::start(rotated).await;
    assert_eq!(b.get(&srv_c, "/admin/fragment").await.status, 401);
    assert!(b.get(&srv_a, "/admin").await.text().contains("id=\"sign-in\""));
    assert_eq!(b.get(&srv_b, "/admin/fragment").await.status, 401);

    // Signing out on one instance signs out everywhere.
    let again = signed_in(&srv_b).await;
    assert_eq!(again.get(&srv_a, "/admin/fragment").await.status, 200);
    assert_eq!(again.post(&srv_a, "/admin/logout", "").await.status, 303);
    assert_eq!(again.get(&srv_b, "/admin/fragment").await.status, 401);

    stores_a.shutdown().await.unwrap();
    stores_b.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_address_and_per_account() {
    let Some(handle) = hub_telemetry::prometheus::handle() else {
        panic!("another recorder was installed in this test binary");
    };
    let hub = Hub::new();
    let srv = Server::start(hub.state.clone().with_metrics(Arc::new(move || handle.render()))).await;
    let limit = admin::ThrottleSettings::default().max_failures;
    for i in 0..limit {
        let res = sign_in(&srv, &format!("canary-guess-{i}")).await;
        assert_eq!(res.status, 401, "failure {i} is answered as before");
    }
    // Then even the right token waits, whatever X-Forwarded-For claims.
    for forwarded in [None, Some("203.0.113.9")] {
        let form = srv.req("GET", "/admin").send().await;
        let nonce = field(&form.text(), "login");
        let mut req = srv
            .req("POST", "/admin/login")
            .header("cookie", &format!("{}={nonce}", admin::cookie::LOGIN))
            .header("content-type", FORM)
            .header("origin", &format!("http://{}", srv.addr));
        if let Some(f) = forwarded {
            req = req.header("x-forwarded-for", f);
        }
        let res = req.raw(format!("login={nonce}&token={ADMIN}")).send().await;
        assert_eq!(res.status, 429, "{}", res.text());
        let wait: u64 = res.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=900).contains(&wait), "{wait}");
        let text = res.text();
        assert!(
            text.contains(&format!(
                "Too many failed sign-ins from this address. Wait {wait} seconds, then try again."
            )),
            "{text}"
        );
        assert!(text.contains("id=\"sign-in\""), "the form is shown with the message");
        assert!(set_cookie(&res, admin::cookie::SESSION).is_none());
    }
    assert_eq!(hub.state.sessions.count().await.unwrap(), 0);
    let metrics = srv.req("GET", "/metrics").send().await.text();
    assert!(
        metrics.contains("# HELP integration_admin_signin_throttled_total "),
        "{metrics}"
    );
    let line = metrics
        .lines()
        .find(|l| l.starts_with("integration_admin_signin_throttled_total{scope=\"address\"}"))
        .unwrap_or_else(|| panic!("{metrics}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 2.0, "{line}");

    // Per account: a token that failed too often waits, from any address.
    let other = Hub::new();
    let srv = other.serve().await;
    let now = Instant::now();
    for _ in 0..limit {
        other
            .state
            .signin_throttle
            .failed(&admin::throttle::Subject::token("reader"), now);
    }
    let res = sign_in(&srv, READ).await;
    assert_eq!(res.status, 429);
    assert!(res.text().contains("Too many failed sign-ins with this token."));
    assert!(res.header("retry-after").is_some());

    // A successful sign-in clears the address's failures.
    for i in 0..limit - 1 {
        assert_eq!(sign_in(&srv, &format!("canary-guess-{i}")).await.status, 401);
    }
    assert_eq!(sign_in(&srv, ADMIN).await.status, 303);
    for i in 0..limit {
        assert_eq!(sign_in(&srv, &format!("canary-again-{i}")).await.status, 401);
    }
    assert_eq!(sign_in(&srv, ADMIN).await.status, 429);
}
