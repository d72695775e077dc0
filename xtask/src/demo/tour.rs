//! The scripted tour: each step says what it does, shows the HTTP call and the key fields
//! of the answer, and checks them (✓/✗); the first failed check ends the tour, naming it.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};
use ureq::http::Method;

use crate::harness::http::{Client, Resp, show};
use crate::harness::{Harness, HubProc, Tokens, interrupted, pause, random_hex};

/// Who calls.
#[derive(Debug, Clone, Copy)]
enum As {
    Reader,
    Writer,
    Admin,
    Nobody,
}

/// The tour's state.
pub(crate) struct Tour<'a> {
    http: Client,
    sim: String,
    hubs: &'a [HubProc],
    tokens: &'a Tokens,
    quick: bool,
    harness: &'a mut Harness,
    run_id: String,
    step: String,
    checks: usize,
    started: Instant,
}

const MISS: &str = "integration-hub; fwd=miss";
const HIT: &str = "integration-hub; hit";
const STALE: &str = "integration-hub; hit; stale";

impl<'a> Tour<'a> {
    pub(crate) fn new(
        http: Client,
        sim: String,
        hubs: &'a [HubProc],
        tokens: &'a Tokens,
        quick: bool,
        harness: &'a mut Harness,
    ) -> Self {
        Self {
            http,
            sim,
            hubs,
            tokens,
            quick,
            harness,
            run_id: random_hex()[..8].to_owned(),
            step: String::new(),
            checks: 0,
            started: Instant::now(),
        }
    }

    /// Walks every step.
    pub(crate) fn run(mut self) -> Result<()> {
        let result = self.steps();
        match &result {
            Ok(()) => println!(
                "\n✓ the tour passed: {} checks in {:.1} s",
                self.checks,
                self.started.elapsed().as_secs_f64()
            ),
            Err(e) => {
                if let Err(dead) = self.harness.check_alive() {
                    println!("\n✗ {dead}");
                }
                println!("\n✗ the tour failed at step {}: {e:#}", self.step);
            }
        }
        result.map_err(|_| anyhow!("the demo failed at step {} (the answer it got is above)", self.step))
    }

    fn steps(&mut self) -> Result<()> {
        self.tickets()?;
        self.transactions()?;
        self.drafts()?;
        self.webhook()?;
        let dlq = self.outage()?;
        self.recovery(&dlq)?;
        self.metrics()
    }

    // ---- presentation and checks ----

    fn section(&self, n: u32, title: &str) {
        println!("\n[{n}] {title}");
    }

    fn step(&mut self, label: &str, what: &str) -> Result<()> {
        interrupted()?;
        self.step = format!("{label} ({what})");
        println!("  {label} {what}");
        Ok(())
    }

    fn check(&mut self, ok: bool, what: &str, resp: Option<&Resp>) -> Result<()> {
        self.checks += 1;
        if ok {
            println!("      ✓ {what}");
            Ok(())
        } else {
            println!("      ✗ {what}");
            match resp {
                Some(r) => bail!("expected {what}; got {}", r.summary()),
                None => bail!("expected {what}"),
            }
        }
    }

    fn expect_status(&mut self, resp: &Resp, status: u16, what: &str) -> Result<()> {
        self.check(resp.status == status, &format!("{status} {what}"), Some(resp))
    }

    fn token(&self, who: As) -> Option<&str> {
        match who {
            As::Reader => Some(&self.tokens.read),
            As::Writer => Some(&self.tokens.write),
            As::Admin => Some(&self.tokens.admin),
            As::Nobody => None,
        }
    }

    /// One call, shown: the request line (and body), then the answer's status, its
    /// telling headers and the body's `fields` (problem bodies: code, detail, dlq_id).
    fn call(
        &mut self,
        method: Method,
        url: &str,
        who: As,
        body: Option<Value>,
        headers: &[(&str, &str)],
        fields: &[&str],
    ) -> Result<Resp> {
        let mut line = format!("      → {method} {url}");
        for (k, v) in headers {
            line.push_str(&format!("  {k}: {v}"));
        }
        if let Some(b) = &body {
            line.push_str(&format!("  {}", clip(&b.to_string(), 110)));
        }
        println!("{line}");
        let resp = self.http.send(&method, url, self.token(who), body.as_ref(), headers)?;
        println!("      ← {}", describe(&resp, fields));
        Ok(resp)
    }

    fn hub(&self, dialect: &str) -> Result<&'a HubProc> {
        self.hubs
            .iter()
            .find(|h| h.dialect == dialect)
            .ok_or_else(|| anyhow!("no {dialect} hub"))
    }

    fn generic(&self) -> Result<String> {
        Ok(self.hub("generic")?.url.clone())
    }

    fn sim_get(&self, path: &str) -> Result<Value> {
        let r = self.http.get(&format!("{}{path}", self.sim), None)?;
        if r.status != 200 {
            bail!("the sim answered GET {path} with {}", r.summary());
        }
        Ok(r.json())
    }

    /// `POST`/`DELETE /_sim/outage/{system}`, shown.
    fn set_outage(&mut self, system: &str, down: bool) -> Result<()> {
        let method = if down { Method::POST } else { Method::DELETE };
        let r = self.call(
            method,
            &format!("{}/_sim/outage/{system}", self.sim),
            As::Nobody,
            None,
            &[],
            &["system", "down"],
        )?;
        self.check(
            r.status == 200 && r.json()["down"] == down,
            &format!(
                "the sim's {system} system is {}",
                if down { "down" } else { "up again" }
            ),
            Some(&r),
        )
    }

    fn circuit(&self, hub: &str, adapter: &str) -> Result<String> {
        let r = self.http.get(&format!("{hub}/readyz"), None)?;
        Ok(show(r.json()["adapters"][adapter].get("circuit")))
    }

    // ---- 1. tickets ----

    fn tickets(&mut self) -> Result<()> {
        self.section(
            1,
            "Tickets in each ticketing dialect (one hub per dialect, all over the one sim)",
        );
        for (i, dialect) in ["generic", "zendesk", "jira"].into_iter().enumerate() {
            let url = self.hub(dialect)?.url.clone();
            let n = i + 1;
            self.step(
                &format!("1.{n}"),
                &format!("{dialect}: create a ticket, read it twice, comment"),
            )?;
            let created = self.call(
                Method::POST,
                &format!("{url}/v1/tickets"),
                As::Writer,
                Some(json!({
                    "customer_id": "CUST-1001",
                    "subject": "Card declined twice",
                    "description": "The customer's card was declined twice today.",
                    "priority": "high"
                })),
                &[("x-conversation-id", &format!("demo-{}-{dialect}", self.run_id))],
                &["ticket_id", "status", "url"],
            )?;
            self.expect_status(&created, 201, "Created, with the vendor's ticket id")?;
            let id = created.field("ticket_id");
            let ticket = format!("{url}/v1/tickets/{id}");
            let first = self.call(
                Method::GET,
                &ticket,
                As::Reader,
                None,
                &[],
                &["status", "vendor_status", "assigned_to", "last_updated"],
            )?;
            self.check(
                first.status == 200 && first.header("cache-status") == Some(MISS),
                "200, fetched from the vendor (Cache-Status: fwd=miss), status normalised",
                Some(&first),
            )?;
            let second = self.call(Method::GET, &ticket, As::Reader, None, &[], &["status"])?;
            self.check(
                second.status == 200 && second.header("cache-status") == Some(HIT) && second.json() == first.json(),
                "200 from the cache (Cache-Status: hit), the same body",
                Some(&second),
            )?;
            let comment = self.call(
                Method::POST,
                &format!("{ticket}/comments"),
                As::Writer,
                Some(json!({"comment": "We are looking into it.", "is_public": false})),
                &[],
                &["comment_id"],
            )?;
            self.expect_status(&comment, 201, "Created, with the comment's id")?;
        }
        Ok(())
    }

    // ---- 2. transactions ----

    fn transactions(&mut self) -> Result<()> {
        let g = self.generic()?;
        self.section(
            2,
            "Transactions: one read, one customer's history (OAuth2 client credentials upstream)",
        );
        self.step("2.1", "read transaction TXN-5001")?;
        let t = self.call(
            Method::GET,
            &format!("{g}/v1/transactions/TXN-5001"),
            As::Reader,
            None,
            &[],
            &["status", "amount", "currency", "created_at"],
        )?;
        self.check(
            t.status == 200 && t.json()["amount"] == "500.00" && t.header("cache-status") == Some(MISS),
            "200, amount an exact decimal string \"500.00\", fwd=miss",
            Some(&t),
        )?;
        self.step("2.2", "read the history of customer CUST-1001")?;
        let h = self.call(
            Method::GET,
            &format!("{g}/v1/customers/CUST-1001/transactions?limit=3"),
            As::Reader,
            None,
            &[],
            &[],
        )?;
        let items = h.json()["transactions"].as_array().cloned().unwrap_or_default();
        for item in &items {
            println!(
                "        {}  {:>8}  {:<10} {}",
                show(item.get("transaction_id")),
                show(item.get("amount")),
                show(item.get("status")),
                show(item.get("created_at"))
            );
        }
        self.check(
            h.status == 200 && items.len() == 3,
            "200 with the customer's 3 transactions",
            Some(&h),
        )
    }

    // ---- 3. drafts ----

    fn drafts(&mut self) -> Result<()> {
        let g = self.generic()?;
        self.section(
            3,
            "Drafts: create, commit (HMAC-signed upstream), replay the commit, cancel another",
        );
        self.step("3.1", "create a draft for CUST-1002")?;
        let d = self.call(
            Method::POST,
            &format!("{g}/v1/transactions/drafts"),
            As::Writer,
            Some(json!({"customer_id": "CUST-1002", "amount": "120.00", "currency": "EUR", "description": "Replacement card"})),
            &[],
            &["draft_id", "status", "amount", "expires_at"],
        )?;
        self.expect_status(&d, 201, "Created, pending confirmation")?;
        let draft = d.field("draft_id");

        self.step("3.2", "commit it with an Idempotency-Key")?;
        let key = format!("demo-commit-{}", self.run_id);
        let commit_url = format!("{g}/v1/transactions/drafts/{draft}/commit");
        let c = self.call(
            Method::POST,
            &commit_url,
            As::Writer,
            None,
            &[("idempotency-key", &key)],
            &["transaction_id", "status", "amount"],
        )?;
        self.check(
            c.status == 200 && c.json()["amount"] == "120.00",
            "200: the transaction, amount 120.00",
            Some(&c),
        )?;

        self.step("3.3", "send the same commit again, same key")?;
        let again = self.call(
            Method::POST,
            &commit_url,
            As::Writer,
            None,
            &[("idempotency-key", &key)],
            &["transaction_id", "status"],
        )?;
        self.check(
            again.status == 200 && again.header("idempotent-replayed") == Some("true") && again.json() == c.json(),
            "200 with Idempotent-Replayed: true and the very same body",
            Some(&again),
        )?;
        let effects = self.sim_get(&format!(
            "/_sim/ledger/effects?kind=draft_committed&idempotency_key={key}"
        ))?;
        let n = effects["effects"].as_array().map_or(0, Vec::len);
        println!("      (the sim's ledger: {n} draft_committed effect with key {key})");
        self.check(n == 1, "the sales system committed exactly once", None)?;

        self.step("3.4", "create another draft and cancel it")?;
        let other = self.call(
            Method::POST,
            &format!("{g}/v1/transactions/drafts"),
            As::Writer,
            Some(json!({"customer_id": "CUST-1002", "amount": 9.99, "description": "Duplicate order"})),
            &[],
            &["draft_id", "amount", "status"],
        )?;
        self.check(
            other.status == 201 && other.json()["amount"] == "9.99",
            "201, a JSON number kept exact (\"9.99\"), the default currency",
            Some(&other),
        )?;
        let cancel = self.call(
            Method::POST,
            &format!("{g}/v1/transactions/drafts/{}/cancel", other.field("draft_id")),
            As::Writer,
            None,
            &[],
            &["status"],
        )?;
        self.check(
            cancel.status == 200 && cancel.json()["status"] == "cancelled",
            "200, status cancelled",
            Some(&cancel),
        )
    }

    // ---- 4. webhook ----

    fn webhook(&mut self) -> Result<()> {
        let g = self.generic()?;
        let txn = format!("{g}/v1/transactions/TXN-5002");
        self.section(4, "A signed webhook invalidates the cache");
        self.step("4.1", "read TXN-5002 twice: miss, then hit")?;
        let first = self.call(Method::GET, &txn, As::Reader, None, &[], &["status"])?;
        self.check(
            first.status == 200 && first.header("cache-status") == Some(MISS) && first.json()["status"] == "pending",
            "200, pending, fwd=miss",
            Some(&first),
        )?;
        let second = self.call(Method::GET, &txn, As::Reader, None, &[], &["status"])?;
        self.check(
            second.header("cache-status") == Some(HIT),
            "served from the cache (hit)",
            Some(&second),
        )?;

        self.step(
            "4.2",
            "the sim completes TXN-5002 and sends transaction.updated, signed (Standard Webhooks)",
        )?;
        let sent = self.call(
            Method::POST,
            &format!("{}/_sim/webhooks", self.sim),
            As::Nobody,
            Some(json!({
                "url": format!("{g}/webhooks/transaction_updated"),
                "event": "transaction.updated",
                "data": {"transaction_id": "TXN-5002", "status": "completed", "customer_id": "CUST-1001"}
            })),
            &[],
            &["id", "status", "applied"],
        )?;
        self.check(
            sent.status == 200 && sent.json()["status"] == 204,
            "the hub accepted the signed delivery (204)",
            Some(&sent),
        )?;

        self.step("4.3", "read TXN-5002 again")?;
        let after = self.call(Method::GET, &txn, As::Reader, None, &[], &["status"])?;
        self.check(
            after.status == 200 && after.header("cache-status") == Some(MISS) && after.json()["status"] == "completed",
            "the cache entry was dropped: fwd=miss, and the new status completed",
            Some(&after),
        )
    }

    // ---- 5. outage ----

    /// Returns the dead-lettered write's entry id.
    fn outage(&mut self) -> Result<String> {
        let g = self.generic()?;
        self.section(5, "An outage of the transaction status and sales systems");
        self.step("5.1", "take both systems down (every route answers 503)")?;
        self.set_outage("status", true)?;
        self.set_outage("sales", true)?;

        self.step("5.2", "read TXN-5006, not cached: the hub retries, then gives up")?;
        let r = self.call(
            Method::GET,
            &format!("{g}/v1/transactions/TXN-5006"),
            As::Reader,
            None,
            &[],
            &[],
        )?;
        self.check(
            r.status == 502 && r.json()["code"] == "upstream_unavailable",
            "502 upstream_unavailable (a problem+json body, nothing of the upstream's)",
            Some(&r),
        )?;
        let sent = self.sim_get("/_sim/ledger/requests?system=status&path_prefix=/status/transactions/TXN-5006")?;
        let statuses: Vec<String> = sent["requests"]
            .as_array()
            .map(|a| a.iter().map(|q| show(q.get("status"))).collect())
            .unwrap_or_default();
        println!(
            "      (the sim's ledger: {} attempts, answered {}; backoff between them, {:.1} s in all)",
            statuses.len(),
            statuses.join(", "),
            r.elapsed.as_secs_f64()
        );
        self.check(statuses.len() == 3, "3 attempts in all (max_attempts = 3)", None)?;

        self.step(
            "5.3",
            "read TXN-5001 (cached in step 2, now past its TTL): served stale",
        )?;
        let url = format!("{g}/v1/transactions/TXN-5001");
        let mut stale = self.call(Method::GET, &url, As::Reader, None, &[], &["status", "amount"])?;
        if stale.status == 200 && stale.header("cache-status") == Some(HIT) {
            let ttl = if self.quick { 1 } else { 2 };
            println!("      (still fresh: asking again every 100 ms until the {ttl} s status TTL has passed)");
            let waited = Instant::now();
            while stale.status == 200
                && stale.header("cache-status") == Some(HIT)
                && waited.elapsed() < Duration::from_secs(15)
            {
                pause(Duration::from_millis(100))?;
                stale = self.http.get(&url, Some(&self.tokens.read))?;
            }
            println!(
                "      ← {} after {:.1} s",
                describe(&stale, &["status", "amount"]),
                waited.elapsed().as_secs_f64()
            );
        }
        self.check(
            stale.status == 200 && stale.header("cache-status") == Some(STALE) && stale.json()["amount"] == "500.00",
            "200 with the last known answer, Cache-Status: hit; stale",
            Some(&stale),
        )?;

        self.step(
            "5.4",
            "the circuit opens after 5 consecutive failed attempts; calls fail fast",
        )?;
        let status_requests = |t: &Self| -> Result<usize> {
            Ok(t.sim_get("/_sim/ledger/requests?system=status")?["requests"]
                .as_array()
                .map_or(0, Vec::len))
        };
        let mut fast = None;
        for _ in 0..4 {
            let before = status_requests(self)?;
            let r = self.call(
                Method::GET,
                &format!("{g}/v1/transactions/TXN-5004"),
                As::Reader,
                None,
                &[],
                &[],
            )?;
            if r.status == 503 {
                fast = Some((r, status_requests(self)? - before));
                break;
            }
        }
        let (fast, sent) = fast.ok_or_else(|| anyhow!("the circuit never opened"))?;
        let circuit = self.circuit(&g, "transaction_status")?;
        println!(
            "      (answered in {:.1} ms, {sent} request(s) upstream; GET /readyz: transaction_status circuit {circuit})",
            fast.elapsed.as_secs_f64() * 1000.0
        );
        let retry_after: Option<u64> = fast.header("retry-after").and_then(|v| v.parse().ok());
        self.check(
            fast.json()["code"] == "circuit_open" && retry_after.is_some_and(|s| (1..=2).contains(&s)) && sent == 0,
            "503 circuit_open at once, nothing sent upstream, Retry-After: seconds until the half-open probe",
            Some(&fast),
        )?;
        self.check(
            circuit == "open",
            "GET /readyz shows the transaction_status circuit open",
            None,
        )?;

        self.step("5.5", "create a draft while sales is down: the write lands in the DLQ")?;
        let conversation = format!("demo-{}-refund", self.run_id);
        let w = self.call(
            Method::POST,
            &format!("{g}/v1/transactions/drafts"),
            As::Writer,
            Some(json!({"customer_id": "CUST-1003", "amount": "42.00", "currency": "GBP", "description": "Refund of a double charge"})),
            &[("x-conversation-id", &conversation)],
            &[],
        )?;
        let dlq_id = w.field("dlq_id");
        self.check(
            w.status == 502 && w.json()["dlq_id"].is_string(),
            "502 with the dead-letter entry's id (dlq_id), stored before the answer went out",
            Some(&w),
        )?;
        let list = self.call(
            Method::GET,
            &format!("{g}/v1/dlq?status=pending"),
            As::Admin,
            None,
            &[],
            &[],
        )?;
        let items = list.json()["items"].as_array().cloned().unwrap_or_default();
        for e in &items {
            println!(
                "        {}  {}/{}  {}  attempts {}  conversation {}  key {}",
                show(e.get("id")),
                show(e.get("adapter")),
                show(e.get("operation")),
                show(e.get("status")),
                show(e.get("attempts")),
                show(e.get("conversation_id")),
                show(e.get("idempotency_key"))
            );
        }
        let entry = items
            .iter()
            .find(|e| e["id"] == dlq_id.as_str())
            .cloned()
            .unwrap_or_default();
        self.check(
            list.status == 200
                && entry["operation"] == "create_draft_transaction"
                && entry["status"] == "pending"
                && entry["idempotency_key"].is_string()
                && entry["conversation_id"] == conversation.as_str(),
            "GET /v1/dlq (admin) lists it: create_draft_transaction, pending, its idempotency key, the conversation",
            Some(&list),
        )?;

        self.step(
            "5.6",
            "the supervisor is alerted (a signed webhook to the sim's notification sink)",
        )?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let alert = loop {
            let got = self.sim_get("/_sim/notifications")?;
            let found = got["notifications"].as_array().and_then(|all| {
                all.iter()
                    .map(|n| match &n["body"] {
                        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
                        other => other.clone(),
                    })
                    .find(|b| {
                        b["sample_dlq_ids"]
                            .as_array()
                            .is_some_and(|ids| ids.iter().any(|i| i == dlq_id.as_str()))
                    })
            });
            if let Some(a) = found {
                break Some(a);
            }
            if Instant::now() > deadline {
                break None;
            }
            pause(Duration::from_millis(100))?;
        };
        let alert = alert.unwrap_or_default();
        println!(
            "      ← GET {}/_sim/notifications: {}/{} \"{}\" count {} samples {}",
            self.sim,
            show(alert.get("adapter")),
            show(alert.get("operation")),
            show(alert.get("summary")),
            show(alert.get("count")),
            show(alert.get("sample_dlq_ids"))
        );
        self.check(
            alert["operation"] == "create_draft_transaction",
            "the sink received an alert naming the dead-lettered write",
            None,
        )?;
        Ok(dlq_id)
    }

    // ---- 6. recovery ----

    fn recovery(&mut self, dlq_id: &str) -> Result<()> {
        let g = self.generic()?;
        self.section(6, "Recovery");
        self.step("6.1", "bring both systems back")?;
        self.set_outage("status", false)?;
        self.set_outage("sales", false)?;

        self.step(
            "6.2",
            "wait for the half-open probe (breaker_open_s) to close the circuit",
        )?;
        println!("      → GET {g}/v1/transactions/TXN-5004 every 100 ms while it answers 503 circuit_open");
        let started = Instant::now();
        let deadline = started + Duration::from_secs(15);
        let probe = loop {
            interrupted()?;
            let r = self
                .http
                .get(&format!("{g}/v1/transactions/TXN-5004"), Some(&self.tokens.read))?;
            if r.status != 503 || Instant::now() > deadline {
                break r;
            }
            pause(Duration::from_millis(100))?;
        };
        println!(
            "      ← {} after {:.1} s",
            describe(&probe, &["status", "amount", "currency"]),
            started.elapsed().as_secs_f64()
        );
        self.check(
            probe.status == 200,
            "200: the probe went through and succeeded",
            Some(&probe),
        )?;
        let circuit = self.circuit(&g, "transaction_status")?;
        println!("      (GET /readyz: transaction_status circuit {circuit})");
        self.check(circuit == "closed", "the circuit is closed again", None)?;

        self.step("6.3", "replay the dead-lettered write")?;
        let r = self.call(
            Method::POST,
            &format!("{g}/v1/dlq/{dlq_id}/replay"),
            As::Admin,
            None,
            &[],
            &["status", "attempts", "result"],
        )?;
        self.check(
            r.status == 200 && r.json()["status"] == "replayed",
            "200, the entry is now replayed, holding the result",
            Some(&r),
        )?;
        let key = r.field("idempotency_key");
        let effects = self.sim_get(&format!(
            "/_sim/ledger/effects?kind=draft_created&idempotency_key={key}"
        ))?;
        let n = effects["effects"].as_array().map_or(0, Vec::len);
        println!("      (the sim's ledger: {n} draft_created effect with the entry's key {key})");
        self.check(n == 1, "the draft exists exactly once upstream", None)?;
        let again = self.call(
            Method::POST,
            &format!("{g}/v1/dlq/{dlq_id}/replay"),
            As::Admin,
            None,
            &[],
            &[],
        )?;
        self.check(
            again.status == 409 && again.json()["code"] == "dlq_conflict",
            "a second replay is refused: 409 dlq_conflict",
            Some(&again),
        )
    }

    // ---- 7. metrics ----

    fn metrics(&mut self) -> Result<()> {
        let g = self.generic()?;
        self.section(7, "The metrics that moved (generic hub)");
        self.step("7.1", "GET /metrics: integration_* series with non-zero values")?;
        println!("      → GET {g}/metrics");
        let m = self.http.get(&format!("{g}/metrics"), None)?;
        let moved: Vec<&str> = m
            .body
            .lines()
            .filter(|l| l.starts_with("integration_"))
            .filter(|l| !l.contains("_bucket{") && !l.contains("_sum"))
            .filter(|l| {
                l.rsplit(' ')
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .is_some_and(|v| v != 0.0)
            })
            .collect();
        let mut shown: Vec<&str> = Vec::new();
        for (prefix, n) in [
            ("integration_requests_total", 4),
            ("integration_retries_total", 3),
            ("integration_cache_requests_total", 4),
            ("integration_latency_seconds_count", 2),
        ] {
            shown.extend(moved.iter().filter(|l| l.starts_with(prefix)).take(n));
        }
        for l in &shown {
            println!("        {l}");
        }
        println!("        … {} non-zero integration_* series in all", moved.len());
        let has = |prefix: &str| moved.iter().any(|l| l.starts_with(prefix));
        self.check(
            m.status == 200
                && has("integration_requests_total")
                && has("integration_retries_total")
                && moved
                    .iter()
                    .any(|l| l.starts_with("integration_cache_requests_total") && l.contains("hit")),
            "requests, retries and cache hits were counted",
            Some(&m),
        )
    }
}

/// The answer in one line: status, telling headers, then `fields` (or a problem's code).
fn describe(resp: &Resp, fields: &[&str]) -> String {
    let mut out = format!("{}", resp.status);
    for h in ["cache-status", "idempotent-replayed", "retry-after"] {
        if let Some(v) = resp.header(h) {
            out.push_str(&format!("  {h}: {v}"));
        }
    }
    let json = resp.json();
    if resp.status >= 400 && json.get("code").is_some() {
        for k in ["code", "detail", "dlq_id", "retry_after_s"] {
            if let Some(v) = json.get(k) {
                out.push_str(&format!("  {k}={}", clip(&show(Some(v)), 90)));
            }
        }
    } else {
        for k in fields {
            out.push_str(&format!("  {k}={}", clip(&show(json.get(*k)), 90)));
        }
    }
    out
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut c: String = s.chars().take(max).collect();
        c.push('…');
        c
    }
}
