//! The page's HTML, built with maud: every interpolated value is escaped, every URL built
//! from fixed paths and percent-encoded values.

use hub_core::{AuditRecord, DlqEntry, DlqStatus};
use maud::{DOCTYPE, Markup, html};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::session::Flash;
use hub_app::error_rates::Counts;
use hub_app::health::{BudgetView, CircuitState};

/// Characters left as they are in a query value or a path segment.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// The DLQ view's filters, as in `GET /v1/dlq` (all already validated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Only entries in this status.
    pub status: Option<DlqStatus>,
    /// Only this adapter.
    pub adapter: Option<String>,
    /// Only this operation.
    pub operation: Option<String>,
    /// Continue after a previous page.
    pub cursor: Option<String>,
}

impl Filters {
    /// The filters (and the cursor when `with_cursor`) as a query string, `?` included
    /// unless empty.
    ///
    /// ```
    /// use hub_core::DlqStatus;
    /// use hub_admin::render::Filters;
    /// let f = Filters { status: Some(DlqStatus::Pending), adapter: Some("a&b".into()), ..Filters::default() };
    /// assert_eq!(f.query(false), "?status=pending&adapter=a%26b");
    /// assert_eq!(Filters::default().query(true), "");
    /// ```
    pub fn query(&self, with_cursor: bool) -> String {
        let pairs = [
            ("status", self.status.map(DlqStatus::as_str)),
            ("adapter", self.adapter.as_deref()),
            ("operation", self.operation.as_deref()),
            ("cursor", self.cursor.as_deref().filter(|_| with_cursor)),
        ];
        let parts: Vec<String> = pairs
            .iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k}={}", utf8_percent_encode(v, ENCODE))))
            .collect();
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }
}

/// One adapter's row: its circuit and its recent calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitRow {
    /// The adapter.
    pub adapter: String,
    /// Its circuit, when the adapter has a breaker.
    pub state: Option<CircuitState>,
    /// Its calls in the window.
    pub counts: Counts,
}

/// The sections that refresh live: circuits, dead letters, audit records.
#[derive(Debug, Clone)]
pub struct Live {
    /// Each adapter.
    pub circuits: Vec<CircuitRow>,
    /// Each adapter's rate budget, for those that have one.
    pub budgets: Vec<(String, BudgetView)>,
    /// How far back the error rates reach, in seconds.
    pub window_s: u64,
    /// How often their window moves on, in seconds.
    pub step_s: u64,
    /// The filters in force.
    pub filters: Filters,
    /// Why a filter was ignored, if one was.
    pub filter_error: Option<String>,
    /// The dead-letter entries as shown ([`DlqEntry::shown`]: secret-named keys redacted),
    /// with the next page's cursor; or why they could not be read.
    pub dlq: Result<(Vec<DlqEntry>, Option<String>), String>,
    /// The newest audit records, or why they could not be read.
    pub audit: Result<Vec<AuditRecord>, String>,
    /// The session's CSRF token, for the action forms.
    pub csrf: String,
}

/// The whole page of a signed-in supervisor.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// Who is signed in.
    pub who: String,
    /// The last action's result.
    pub flash: Option<Flash>,
    /// The live sections.
    pub live: Live,
}

fn layout(title: &str, with_script: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Integration Hub" }
                link rel="stylesheet" href="/admin/admin.css";
                @if with_script {
                    script src="/admin/admin.js" defer {}
                }
            }
            body { (body) }
        }
    }
}

fn flash_box(flash: Option<&Flash>) -> Markup {
    html! {
        @if let Some(f) = flash {
            p id="flash" class=(if f.ok { "flash ok" } else { "flash error" }) role="status" { (f.text) }
        }
    }
}

fn time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// The sign-in form; `nonce` is the login-CSRF double-submit value also set as a cookie.
pub fn sign_in(nonce: &str, message: Option<&Flash>) -> Markup {
    layout(
        "Sign in",
        false,
        html! {
            main class="narrow" {
                h1 { "Integration Hub — supervisor" }
                (flash_box(message))
                form method="post" action="/admin/login" id="sign-in" {
                    input type="hidden" name="login" value=(nonce);
                    label for="token" { "Admin token" }
                    input type="password" id="token" name="token" autocomplete="off" required;
                    button type="submit" { "Sign in" }
                }
                p class="hint" { "Use a token with the admin role. The token stays on the server; the browser keeps only a session cookie." }
            }
        },
    )
}

/// A short page saying why something was refused, with a way back.
pub fn message(title: &str, text: &str) -> Markup {
    layout(
        title,
        false,
        html! {
            main class="narrow" {
                h1 { (title) }
                p id="message" { (text) }
                p { a href="/admin" { "Back to the supervisor's page" } }
            }
        },
    )
}

/// The signed-in page.
pub fn dashboard(d: &Dashboard) -> Markup {
    layout(
        "Supervisor",
        true,
        html! {
            header {
                h1 { "Integration Hub — supervisor" }
                span class="who" { "Signed in as " strong { (d.who) } }
                form method="post" action="/admin/logout" class="inline" {
                    input type="hidden" name="csrf" value=(d.live.csrf);
                    button type="submit" id="sign-out" { "Sign out" }
                }
            }
            (flash_box(d.flash.as_ref()))
            p class="hint" {
                a href={ "/admin" (d.live.filters.query(true)) } id="reload" { "Reload" }
                " — with JavaScript the sections below refresh by themselves "
                span id="refreshed" {}
            }
            (live(&d.live))
        },
    )
}

fn circuit_label(state: Option<CircuitState>) -> &'static str {
    match state {
        Some(CircuitState::Closed) => "closed",
        Some(CircuitState::Open) => "open",
        Some(CircuitState::HalfOpen) => "half_open",
        None => "unknown",
    }
}

/// `300` → "5 minutes", `45` → "45 seconds".
fn duration_text(s: u64) -> String {
    let (n, unit) = if s >= 60 && s.is_multiple_of(60) {
        (s / 60, "minute")
    } else {
        (s, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

fn ratio(c: &Counts) -> String {
    c.error_ratio()
        .map_or_else(|| "—".to_owned(), |r| format!("{:.1} %", r * 100.0))
}

/// Each adapter's upstream rate budget: the ceiling, what is in force, and what the vendor said.
fn budgets(rows: &[(String, BudgetView)]) -> Markup {
    let per_s = |r: Option<f64>| r.map_or_else(|| "—".to_owned(), |r| format!("{r:.3} /s"));
    let ms = |m: Option<u64>| m.map_or_else(|| "—".to_owned(), |m| duration_text(m.div_ceil(1000)));
    html! {
        table id="budgets" {
            caption { "Upstream rate budgets" }
            thead { tr { th { "Adapter" } th { "Kept in" } th { "Ceiling" } th { "In force" } th { "Writes that could go now" } th { "Paused for" } th { "Vendor's quota" } th { "Vendor's window" } th { "Window resets in" } } }
            tbody {
                @for (adapter, b) in rows {
                    tr data-adapter=(adapter) {
                        td { (adapter) }
                        td { (b.store) }
                        td { (per_s(Some(b.requests_per_s))) ", burst " (b.burst) }
                        td { (per_s(Some(b.effective_requests_per_s))) }
                        td { (b.remaining) }
                        td { (ms((b.paused_for_ms > 0).then_some(b.paused_for_ms))) }
                        td { (per_s(b.learned_requests_per_s)) }
                        td { (per_s(b.window_requests_per_s)) }
                        td { (ms(b.window_resets_in_ms)) }
                    }
                }
            }
        }
    }
}

/// The live sections (`<div id="live">`), also served alone for the refresh.
pub fn live(l: &Live) -> Markup {
    html! {
        div id="live" data-query=(l.filters.query(true)) {
            section id="circuits" {
                h2 { "Adapters" }
                table {
                    thead { tr { th { "Adapter" } th { "Circuit" } th { "Calls" } th { "Failed" } th { "Rejected (open circuit)" } th { "Error rate" } } }
                    tbody {
                        @for c in &l.circuits {
                            tr data-adapter=(c.adapter) {
                                td { (c.adapter) }
                                td class={ "circuit " (circuit_label(c.state)) } { (circuit_label(c.state)) }
                                td { (c.counts.calls) }
                                td { (c.counts.failures) }
                                td { (c.counts.rejected) }
                                td class="rate" { (ratio(&c.counts)) }
                            }
                        }
                    }
                }
                p class="hint" { "Calls in the last " (duration_text(l.window_s)) ", moving on every " (duration_text(l.step_s)) "." }
                @if !l.budgets.is_empty() {
                    (budgets(&l.budgets))
                }
            }
            section id="dlq" {
                h2 { "Dead-letter queue" }
                (filters_form(l))
                @match &l.dlq {
                    Err(e) => p class="flash error" { (e) },
                    Ok((entries, next)) => {
                        @if entries.is_empty() {
                            p id="dlq-empty" { "No entries match." }
                        } @else {
                            table {
                                thead { tr { th { "Created" } th { "Entry" } th { "Adapter" } th { "Operation" } th { "Status" } th { "Attempts" } th { "Last error" } th { "Actions" } } }
                                tbody {
                                    @for e in entries { (dlq_row(e, l)) }
                                }
                            }
                        }
                        @if let Some(cursor) = next {
                            @let older = Filters { cursor: Some(cursor.clone()), ..l.filters.clone() };
                            p { a href={ "/admin" (older.query(true)) } id="older" { "Older entries" } }
                        }
                    }
                }
            }
            section id="audit" {
                h2 { "Recent upstream calls (audit)" }
                @match &l.audit {
                    Err(e) => p class="flash error" { (e) },
                    Ok(records) => {
                        table {
                            thead { tr { th { "Time" } th { "Adapter" } th { "Operation" } th { "Outcome" } th { "HTTP" } th { "Attempts" } th { "ms" } th { "Request" } th { "Trace" } th { "Error" } } }
                            tbody {
                                @for r in records {
                                    tr class={ "audit " (r.outcome.as_str()) } {
                                        td { (time(r.at)) }
                                        td { (r.adapter) }
                                        td { (r.operation) }
                                        // A storm of refusals is one record for many calls.
                                        td { (r.outcome.as_str()) @if r.calls > 1 { " × " (r.calls) } }
                                        td { @if let Some(s) = r.http_status { (s) } }
                                        td { (r.attempts) }
                                        td { (r.duration_ms) }
                                        td class="id" { (r.request_id.as_deref().unwrap_or("")) }
                                        td class="id" { (r.trace_id.as_deref().unwrap_or("")) }
                                        td { (r.error.as_deref().unwrap_or("")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn filters_form(l: &Live) -> Markup {
    let f = &l.filters;
    let status = f.status.map(DlqStatus::as_str);
    html! {
        form method="get" action="/admin" id="filters" class="filters" {
            label { "Status "
                select name="status" {
                    option value="" selected[status.is_none()] { "any" }
                    @for s in ["pending", "replayed", "discarded"] {
                        option value=(s) selected[status == Some(s)] { (s) }
                    }
                }
            }
            label { "Adapter " input type="text" name="adapter" value=(f.adapter.as_deref().unwrap_or("")) list="adapters"; }
            datalist id="adapters" { @for c in &l.circuits { option value=(c.adapter) {} } }
            label { "Operation " input type="text" name="operation" value=(f.operation.as_deref().unwrap_or("")); }
            button type="submit" { "Filter" }
            @if let Some(e) = &l.filter_error {
                span class="flash error" id="filter-error" { (e) }
            }
        }
    }
}

fn hidden_filters(l: &Live) -> Markup {
    let f = &l.filters;
    html! {
        input type="hidden" name="csrf" value=(l.csrf);
        @if let Some(s) = f.status { input type="hidden" name="status" value=(s.as_str()); }
        @if let Some(a) = &f.adapter { input type="hidden" name="adapter" value=(a); }
        @if let Some(o) = &f.operation { input type="hidden" name="operation" value=(o); }
    }
}

fn dlq_row(e: &DlqEntry, l: &Live) -> Markup {
    let id = e.id.as_str();
    let path = utf8_percent_encode(id, ENCODE).to_string();
    let payload = serde_json::to_string_pretty(&e.failure.payload).unwrap_or_default();
    html! {
        tr class="dlq" data-dlq-id=(id) {
            td { (time(e.created_at)) }
            td class="id" {
                details {
                    summary { (id) }
                    dl {
                        dt { "Idempotency key" } dd { (e.failure.idempotency_key.as_deref().unwrap_or("—")) }
                        dt { "Conversation" } dd { (e.failure.conversation_id.as_deref().unwrap_or("—")) }
                        dt { "Request" } dd { (e.failure.request_id.as_deref().unwrap_or("—")) }
                        @if let Some(t) = &e.failure.traceparent { dt { "Trace" } dd { (t.trace_id()) } }
                        dt { "Payload" } dd { pre { (payload) } }
                        @if let Some(r) = &e.result {
                            dt { "Result" } dd { pre { (serde_json::to_string_pretty(r).unwrap_or_default()) } }
                        }
                        @if let Some(r) = &e.reason { dt { "Reason" } dd { (r) } }
                        @if let Some(by) = &e.acted_by {
                            dt { "By" } dd { (by) @if let Some(at) = e.acted_at { " at " (time(at)) } }
                        }
                    }
                }
            }
            td { (e.failure.adapter) }
            td { (e.failure.operation) }
            td class={ "status " (e.status.as_str()) } { (e.status.as_str()) }
            td { (e.failure.attempts) }
            td { (e.failure.error_code) ": " (e.failure.error) }
            td class="actions" {
                @if e.status == DlqStatus::Pending {
                    form method="post" action={ "/admin/dlq/" (path) "/replay" } class="inline replay" {
                        (hidden_filters(l))
                        @if e.failure.error_code == "outcome_unknown" {
                            // The write may have taken effect and cannot be checked upstream.
                            label title="The write may already have taken effect and the upstream cannot be asked: a forced replay may do it twice." {
                                input type="checkbox" name="force" value="yes";
                                " force (may duplicate)"
                            }
                        }
                        button type="submit" { "Replay" }
                    }
                    form method="post" action={ "/admin/dlq/" (path) "/discard" } class="inline discard" {
                        (hidden_filters(l))
                        input type="text" name="reason" placeholder="reason (optional)" maxlength="500";
                        button type="submit" { "Discard" }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_core::{DlqId, NewDlqEntry};
    use proptest::prelude::*;

    fn entry(text: &str) -> DlqEntry {
        DlqEntry {
            id: DlqId::parse("dlq-1").unwrap(),
            failure: NewDlqEntry {
                adapter: text.to_owned(),
                operation: text.to_owned(),
                payload: serde_json::json!({ "subject": text }),
                idempotency_key: Some(text.to_owned()),
                error: text.to_owned(),
                error_code: text.to_owned(),
                attempts: 1,
                request_id: Some(text.to_owned()),
                conversation_id: Some(text.to_owned()),
                traceparent: None,
            },
            created_at: OffsetDateTime::UNIX_EPOCH,
            status: DlqStatus::Pending,
            result: Some(serde_json::json!(text)),
            reason: Some(text.to_owned()),
            acted_by: Some(text.to_owned()),
            acted_at: None,
        }
    }

    fn page_with(text: &str) -> String {
        let live = Live {
            circuits: vec![CircuitRow {
                adapter: text.to_owned(),
                state: Some(CircuitState::Open),
                counts: Counts::default(),
            }],
            budgets: vec![(
                text.to_owned(),
                BudgetView {
                    store: "redis",
                    requests_per_s: 10.0,
                    burst: 20,
                    effective_requests_per_s: 2.5,
                    remaining: 4,
                    paused_for_ms: 1_200,
                    learned_requests_per_s: Some(2.5),
                    window_requests_per_s: None,
                    window_resets_in_ms: Some(59_001),
                },
            )],
            window_s: 300,
            step_s: 10,
            filters: Filters {
                status: None,
                adapter: Some(text.to_owned()),
                operation: Some(text.to_owned()),
                cursor: Some(text.to_owned()),
            },
            filter_error: Some(text.to_owned()),
            dlq: Ok((vec![entry(text)], Some(text.to_owned()))),
            audit: Err(text.to_owned()),
            csrf: "tok".to_owned(),
        };
        dashboard(&Dashboard {
            who: text.to_owned(),
            flash: Some(Flash::error(text)),
            live,
        })
        .into_string()
    }

    /// The page's markup characters: none may come from a value.
    fn markup_counts(html: &str) -> [usize; 3] {
        [b'<', b'>', b'"'].map(|c| html.bytes().filter(|b| *b == c).count())
    }

    #[test]
    fn values_are_escaped_in_text_and_attributes() {
        let html = page_with("<script>alert(\"x\")</script>&");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;"));
        // In URLs the value is percent-encoded before it is escaped.
        assert!(html.contains("adapter=%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E%26"));
    }

    #[test]
    fn a_budget_shows_its_ceiling_what_is_in_force_and_what_the_vendor_said() {
        let html = page_with("ticketing");
        let row = html.split("<table id=\"budgets\">").nth(1).expect("a budgets table");
        for text in [
            "Upstream rate budgets",
            "<td>redis</td>",
            "10.000 /s, burst 20",
            "<td>2.500 /s</td>",
            "<td>4</td>",
            "<td>2 seconds</td>",
            "<td>—</td>",
            "<td>1 minute</td>",
        ] {
            assert!(row.contains(text), "{text} not in {row}");
        }
    }

    proptest! {
        /// Whatever the values hold, the page has exactly the markup of a page with a
        /// harmless value: no `<`, `>` or `"` of a value survives unescaped.
        #[test]
        fn no_value_breaks_out_of_escaping(s in "\\PC{0,40}") {
            let reference = markup_counts(&page_with("x"));
            prop_assert_eq!(markup_counts(&page_with(&s)), reference);
        }

        #[test]
        fn the_sign_in_and_message_pages_escape_too(s in "\\PC{0,40}") {
            let reference = markup_counts(&sign_in("x", Some(&Flash::error("x"))).into_string());
            prop_assert_eq!(markup_counts(&sign_in(&s, Some(&Flash::error(s.clone()))).into_string()), reference);
            let reference = markup_counts(&message("x", "x").into_string());
            prop_assert_eq!(markup_counts(&message(&s, &s).into_string()), reference);
        }
    }
}
