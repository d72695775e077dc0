//! Scenario 6, access: every route of a live hub — the paths and methods
//! of its own `/openapi.json`, so none is missed — called with no token, a wrong one, a
//! malformed header and each role, checked against the contract's 401/403/2xx; and
//! webhooks with forged, tampered, stale and replayed signatures, checked to be refused
//! or acknowledged without any effect: the cached read they would invalidate stays a
//! hit, the hub's counters say why each was refused, and a live `/v1/events`
//! subscriber sees only the genuine delivery.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use ureq::http::Method;

use super::hostile::{Stage, raw};
use crate::harness::http::Resp;

/// Who may call a route, by the contract (section 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Access {
    /// No authentication: `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.
    Open,
    /// Authenticated by a Standard Webhooks signature, never by a bearer token.
    Signed,
    /// A bearer token of at least this role (0 read, 1 write, 2 admin).
    Role(u8),
}

const ROLES: [&str; 3] = ["read", "write", "admin"];

/// The contract's rule for `method path`; `None` for a route the contract does not cover.
fn contract_access(method: &str, path: &str) -> Option<Access> {
    let open = ["/healthz", "/readyz", "/metrics", "/openapi.json"];
    if open.contains(&path) {
        return (method == "GET").then_some(Access::Open);
    }
    if path.starts_with("/webhooks/") {
        return (method == "POST").then_some(Access::Signed);
    }
    let v1 = path.strip_prefix("/v1/")?;
    if v1.starts_with("dlq") || v1.starts_with("audit") {
        return Some(Access::Role(2));
    }
    if v1 == "events" {
        return Some(Access::Role(0));
    }
    if ["tickets", "transactions", "customers"]
        .iter()
        .any(|p| v1.split('/').next() == Some(p))
    {
        return Some(match method {
            "GET" => Access::Role(0),
            "POST" => Access::Role(1),
            _ => Access::Role(2),
        });
    }
    // "admin (everything)".
    Some(Access::Role(2))
}

/// The callers each route is tried with: the name and the `Authorization` header.
fn callers(stage: &Stage) -> Vec<(&'static str, Option<String>, Option<u8>)> {
    vec![
        ("none", None, None),
        (
            "wrong",
            Some(format!("Bearer chaos-wrong-{}", crate::harness::random_hex())),
            None,
        ),
        ("malformed", Some("Basic cmVhZDpyZWFk".to_owned()), None),
        ("read", Some(format!("Bearer {}", stage.tokens.read)), Some(0)),
        ("write", Some(format!("Bearer {}", stage.tokens.write)), Some(1)),
        ("admin", Some(format!("Bearer {}", stage.tokens.admin)), Some(2)),
    ]
}

/// A concrete path for a template: seeded ids where the sim has them.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|seg| match seg {
            "{ticket_id}" => "TCK-1001",
            "{transaction_id}" => "TXN-5001",
            "{customer_id}" => "CUST-1001",
            "{draft_id}" => "DRAFT-chaos-none",
            "{id}" => "dlq-chaos-none",
            s if s.starts_with('{') => "x",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `cargo xtask chaos` scenario 6.
pub(crate) fn run(_quick: bool) -> Result<()> {
    let stage = Stage::start("access", &[])?;
    let routes = routes(&stage)?;
    let failures = matrix(&stage, &routes)?;
    let webhook = webhooks(&stage);
    stage.no_panics()?;
    if failures.is_empty() {
        return webhook;
    }
    let webhook = webhook
        .err()
        .map_or_else(String::new, |e| format!("\nand webhooks: {e:#}"));
    bail!(
        "{} route/caller answers broke the contract:\n  {}{webhook}",
        failures.len(),
        failures.join("\n  ")
    )
}

/// Every `(method, path template)` of the hub's OpenAPI document, plus the routes the
/// contract names that must be there.
fn routes(stage: &Stage) -> Result<Vec<(String, String)>> {
    let doc = stage.client.get(&format!("{}/openapi.json", stage.url), None)?;
    ensure!(doc.status == 200, "/openapi.json: {}", doc.summary());
    let doc = doc.json();
    let paths = doc["paths"].as_object().context("/openapi.json has no paths")?;
    let mut routes: Vec<(String, String)> = Vec::new();
    for (path, ops) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            if ops.get(method).is_some() {
                routes.push((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    let documented = routes.len();
    for (method, path) in [
        ("POST", "/webhooks/transaction_updated"),
        ("POST", "/webhooks/ticket_updated"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
    ] {
        if !routes.iter().any(|(m, p)| m == method && p == path) {
            println!("  note: {method} {path} is not in /openapi.json; tried anyway");
            routes.push((method.to_owned(), path.to_owned()));
        }
    }
    routes.sort();
    println!(
        "  {} routes ({documented} from /openapi.json) × {} callers",
        routes.len(),
        callers(stage).len()
    );
    Ok(routes)
}

/// What one caller got from one route, checked against the contract; `Err` explains.
fn judge(access: Access, caller: Option<u8>, authorization: bool, r: &Resp) -> Result<(), String> {
    let code = r.json()["code"].as_str().unwrap_or("").to_owned();
    match access {
        Access::Open if (200..300).contains(&r.status) => Ok(()),
        Access::Open => Err("an open route must answer 2xx to anyone".to_owned()),
        // No signature headers: refused, whatever bearer token came along.
        Access::Signed if r.status == 401 && code == "unauthorized" => Ok(()),
        Access::Signed => Err("an unsigned webhook must be 401 unauthorized".to_owned()),
        Access::Role(needed) => match caller {
            None if r.status == 401 && code == "unauthorized" => {
                if r.header("www-authenticate").is_some_and(|v| v.starts_with("Bearer")) {
                    Ok(())
                } else {
                    Err("401 without WWW-Authenticate: Bearer".to_owned())
                }
            }
            None => Err(format!(
                "{} token must be 401 unauthorized",
                if authorization { "an unknown or malformed" } else { "no" }
            )),
            Some(role) if role < needed && r.status == 403 && code == "forbidden" => Ok(()),
            Some(role) if role < needed => Err(format!("role {} must be 403 forbidden", ROLES[usize::from(role)])),
            Some(_) if r.status == 401 || r.status == 403 => Err("an allowed role must not be refused".to_owned()),
            Some(_) if r.status >= 500 => Err("a server error".to_owned()),
            Some(_) => Ok(()),
        },
    }
}

/// Calls every route as every caller; prints the matrix; the broken cells.
fn matrix(stage: &Stage, routes: &[(String, String)]) -> Result<Vec<String>> {
    println!("\n-- every route × every caller (✓ as the contract says; ✗ not) --");
    let callers = callers(stage);
    let names: Vec<&str> = callers.iter().map(|c| c.0).collect();
    println!(
        "  {:<7} {:<44} {:<7} {}",
        "method",
        "route",
        "needs",
        names.iter().map(|n| format!("{n:<10}")).collect::<String>()
    );
    let mut failures = Vec::new();
    let mut tally: BTreeMap<u16, usize> = BTreeMap::new();
    for (method, template) in routes {
        let Some(access) = contract_access(method, template) else {
            failures.push(format!("{method} {template}: a route the contract does not cover"));
            continue;
        };
        let path = concrete(template);
        let url = format!("{}{path}", stage.url);
        let needs = match access {
            Access::Open => "open".to_owned(),
            Access::Signed => "signed".to_owned(),
            Access::Role(r) => ROLES[usize::from(r)].to_owned(),
        };
        let mut cells = String::new();
        for (name, authorization, role) in &callers {
            // One connection per call: hyper closes a connection whose request body it did
            // not read (a refused POST), which a pooled client would only find on reuse.
            let mut headers: Vec<(&str, &str)> = vec![("connection", "close")];
            headers.extend(authorization.iter().map(|a| ("authorization", a.as_str())));
            let m = Method::from_bytes(method.as_bytes()).context("a method")?;
            // Writes carry an empty object: an allowed caller is then refused by validation
            // (422), by the missing Idempotency-Key (400) or by the missing entry (404),
            // never reaching an upstream with a change; a webhook, by its missing signature.
            let body = (m == Method::POST).then(|| json!({}));
            let r = stage.client.send(&m, &url, None, body.as_ref(), &headers)?;
            *tally.entry(r.status).or_default() += 1;
            let verdict = judge(access, *role, authorization.is_some(), &r);
            cells.push_str(&format!(
                "{:<10}",
                format!("{} {}", r.status, if verdict.is_ok() { "✓" } else { "✗" })
            ));
            if let Err(why) = verdict {
                failures.push(format!("{method} {path} as {name}: {} — {why}", r.summary()));
            }
        }
        println!("  {method:<7} {template:<44} {needs:<7} {cells}");
    }
    // Browsers' WebSockets carry the token in the query instead: the same rules.
    let mut cells = String::new();
    for (name, authorization, role) in &callers {
        let token = authorization
            .as_deref()
            .map(|a| a.strip_prefix("Bearer ").unwrap_or(""))
            .map_or(String::new(), |t| format!("?access_token={t}"));
        let r = stage.client.send(
            &Method::GET,
            &format!("{}/v1/events{token}", stage.url),
            None,
            None,
            &[("connection", "close")],
        )?;
        *tally.entry(r.status).or_default() += 1;
        let verdict = judge(Access::Role(0), *role, authorization.is_some(), &r);
        cells.push_str(&format!(
            "{:<10}",
            format!("{} {}", r.status, if verdict.is_ok() { "✓" } else { "✗" })
        ));
        if let Err(why) = verdict {
            failures.push(format!("GET /v1/events{token} as {name}: {} — {why}", r.summary()));
        }
    }
    println!(
        "  {:<7} {:<44} {:<7} {cells}",
        "GET", "/v1/events?access_token=…", "read"
    );
    let tally: Vec<String> = tally.iter().map(|(s, n)| format!("{s}×{n}")).collect();
    println!("  answers: {}", tally.join(", "));
    if failures.is_empty() {
        println!("  ✓ every cell as the contract says");
    }
    Ok(failures)
}

/// Forged, tampered, stale and replayed webhooks: each refused (401) or, for a replay,
/// acknowledged (204) without being processed — observed on a cached read that stays a
/// hit, and on the hub's webhook counters. One genuine delivery shows the observation
/// works: it does invalidate the read.
fn webhooks(stage: &Stage) -> Result<()> {
    println!("\n-- webhooks: forged, tampered, stale and replayed signatures --");
    let read = format!("{}/v1/transactions/TXN-5001", stage.url);
    let cache_status = || -> Result<String> {
        let r = stage.client.get(&read, Some(&stage.tokens.read))?;
        ensure!(r.status == 200, "GET TXN-5001: {}", r.summary());
        Ok(r.header("cache-status").unwrap_or("-").to_owned())
    };
    cache_status()?;
    let warm = cache_status()?;
    ensure!(
        warm == "integration-hub; hit",
        "TXN-5001 read twice should be a hit, is {warm}"
    );
    let counters = || -> Result<[f64; 5]> {
        Ok([
            stage.metric("integration_webhook_verification_failures_total{reason=\"bad_signature\"")?,
            stage.metric("integration_webhook_verification_failures_total{reason=\"stale\"")?,
            stage.metric("integration_webhooks_total{event=\"transaction.updated\",result=\"duplicate\"")?,
            stage.metric("integration_webhook_verification_failures_total{reason=\"missing_header\"")?,
            stage.metric("integration_webhook_verification_failures_total{reason=\"bad_timestamp\"")?,
        ])
    };
    let before = counters()?;
    // A live subscriber sees what was processed: the genuine delivery and nothing else.
    let feed = super::events::subscribe(&stage.url, &stage.tokens.read, &["transaction.updated"])?;
    let url = format!("{}/webhooks/transaction_updated", stage.url);
    let data = json!({"transaction_id": "TXN-5001", "status": "completed", "customer_id": "CUST-1001"});
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
    // The sim signs; `apply: false` leaves its data alone.
    let send = |extra: Value| -> Result<Value> {
        let mut request = json!({"url": url, "event": "transaction.updated", "data": data, "apply": false});
        if let (Some(r), Some(e)) = (request.as_object_mut(), extra.as_object()) {
            r.extend(e.clone());
        }
        let r = stage.client.send(
            &Method::POST,
            &format!("{}/_sim/webhooks", stage.sim),
            None,
            Some(&request),
            &[],
        )?;
        ensure!(r.status == 200, "the sim could not deliver: {}", r.summary());
        Ok(r.json())
    };
    let mut refused = Vec::new();
    let other_key = "whsec_Y2hhb3MtZm9yZ2VkLWtleS1ub3QtdGhlLWh1YnMtb25lISE=";
    for (what, extra) in [
        ("forged: signed with another key", json!({"secret": other_key})),
        (
            "forged: the sim's bad_signature tamper",
            json!({"tamper": "bad_signature"}),
        ),
        ("stale: an hour old", json!({"timestamp": now - 3600})),
        ("stale: an hour ahead", json!({"timestamp": now + 3600})),
    ] {
        let d = send(extra)?;
        refused.push((what, d["status"].as_u64().unwrap_or(0)));
    }
    let after_forged = cache_status()?;

    // Hand-made: no signature headers, a garbage signature, a valid signature over another body.
    let genuine = send(json!({"id": format!("chaos-{}", crate::harness::random_hex())}))?;
    ensure!(genuine["status"] == 204, "a genuine delivery: {genuine}");
    let after_genuine = cache_status()?;
    // The cache does not store a fetch that began in the invalidation's millisecond (its
    // no-resurrection rule, at millisecond resolution): the entry may take a read more.
    let mut rewarmed = cache_status()?;
    for _ in 0..20 {
        if rewarmed == "integration-hub; hit" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        rewarmed = cache_status()?;
    }
    let id = genuine["id"].as_str().unwrap_or_default().to_owned();
    let ts = genuine["timestamp"].as_i64().unwrap_or_default();
    let sig = genuine["signature"].as_str().unwrap_or_default().to_owned();
    let body = genuine["body"].as_str().unwrap_or_default().to_owned();
    let deliver = |headers: &[(&str, String)], body: &str| -> Result<u16> {
        let mut request = "POST /webhooks/transaction_updated HTTP/1.1\r\nhost: hub\r\ncontent-type: application/json\r\nconnection: close\r\n".to_owned();
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
        Ok(raw(stage.addr, request.as_bytes())?.0)
    };
    let signed = |id: &str, ts: i64, sig: &str| {
        vec![
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", sig.to_owned()),
        ]
    };
    let tampered = body.replacen("completed", "failed", 1);
    ensure!(
        tampered != body,
        "the genuine body has no status to tamper with: {body}"
    );
    for (what, status) in [
        ("no signature headers", deliver(&[], &body)?),
        (
            "a garbage signature",
            deliver(&signed(&format!("{id}-x"), ts, "v1,AAAA"), &body)?,
        ),
        (
            "the genuine signature over another body",
            deliver(&signed(&format!("{id}-y"), ts, &sig), &tampered)?,
        ),
        (
            "the genuine signature under another id",
            deliver(&signed(&format!("{id}-z"), ts, &sig), &body)?,
        ),
        (
            "a timestamp of i64::MIN (once an overflow)",
            deliver(&signed(&format!("{id}-m"), i64::MIN, &sig), &body)?,
        ),
        (
            "a timestamp past i64::MAX",
            deliver(
                &[
                    ("webhook-id", format!("{id}-n")),
                    ("webhook-timestamp", "99999999999999999999".to_owned()),
                    ("webhook-signature", sig.clone()),
                ],
                &body,
            )?,
        ),
    ] {
        refused.push((what, u64::from(status)));
    }
    let after_tampered = cache_status()?;
    // Replays: the exact delivery again, and the same id with another (validly signed) body.
    let replayed = deliver(&signed(&id, ts, &sig), &body)?;
    let resent = send(json!({"id": id, "data": {"transaction_id": "TXN-5001", "status": "refunded"}}))?;
    let after_replay = cache_status()?;
    let after = counters()?;
    let delta: Vec<f64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    // A last genuine delivery marks the end: events arrive in order, so once it is in,
    // anything the others published would be too.
    let marker = send(json!({"id": format!("chaos-end-{}", crate::harness::random_hex())}))?;
    let marker_id = marker["id"].as_str().unwrap_or_default().to_owned();
    let waited = std::time::Instant::now();
    while !feed.messages().iter().any(|m| m["id"] == marker_id.as_str()) {
        if waited.elapsed() > std::time::Duration::from_secs(10) || feed.closed().is_some() {
            break;
        }
        crate::harness::pause(std::time::Duration::from_millis(50))?;
    }
    let events: Vec<String> = feed
        .stop()
        .iter()
        .map(|m| m["id"].as_str().unwrap_or("?").to_owned())
        .collect();

    for (what, status) in &refused {
        println!("  {} {what}: {status}", if *status == 401 { "✓" } else { "✗" });
    }
    println!("  ✓ genuine delivery {id}: 204, and the cached read became {after_genuine}, then {rewarmed}");
    println!(
        "  {} the exact delivery replayed: {replayed}; the same id re-sent with another body: {}",
        if replayed == 204 && resent["status"] == 204 {
            "✓"
        } else {
            "✗"
        },
        resent["status"]
    );
    println!(
        "  cached read after the refused ones: {after_forged} / {after_tampered}; after the replays: {after_replay}"
    );
    println!(
        "  hub counters: bad_signature +{}, stale +{}, bad_timestamp +{}, missing_header +{}, duplicate +{}",
        delta[0], delta[1], delta[4], delta[3], delta[2]
    );
    let mut broken = Vec::new();
    for (what, status) in &refused {
        if *status != 401 {
            broken.push(format!("{what}: {status}, not 401"));
        }
    }
    if after_genuine != "integration-hub; fwd=miss" || rewarmed != "integration-hub; hit" {
        broken.push(format!(
            "the genuine delivery did not invalidate the read ({after_genuine}, then {rewarmed}): the observation cannot be trusted"
        ));
    }
    for (when, status) in [
        ("refused deliveries", &after_forged),
        ("tampered deliveries", &after_tampered),
        ("replays", &after_replay),
    ] {
        if status != "integration-hub; hit" {
            broken.push(format!(
                "after the {when} the cached read is {status}: they were processed"
            ));
        }
    }
    if replayed != 204 || resent["status"] != 204 {
        broken.push(format!(
            "replays must be acknowledged 204, got {replayed} and {}",
            resent["status"]
        ));
    }
    let expected = [5.0, 3.0, 2.0, 1.0, 1.0];
    if delta != expected {
        broken.push(format!(
            "counter increments [bad_signature, stale, duplicate, missing_header, bad_timestamp] are {delta:?}, expected {expected:?}"
        ));
    }
    println!("  events seen by a subscriber: {}", events.join(", "));
    if events != [id.clone(), marker_id.clone()] {
        broken.push(format!(
            "the subscriber saw {events:?}; only the genuine delivery {id} and the closing {marker_id} were processed"
        ));
    }
    if !broken.is_empty() {
        bail!("{}", broken.join("; "));
    }
    Ok(())
}
