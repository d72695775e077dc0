//! The page's handlers: sign-in and sign-out, the page and its live fragment, replay and
//! discard through plain forms answered by redirect-after-POST with a flash message.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, FromRequest, MatchedPath, Path, Query, Request, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use hub_core::{AuditQuery, DlqEntry, DlqError, DlqFilter, DlqId, DlqStatus};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::render::{self, CircuitRow, Dashboard, Filters, Live};
use super::session::{Active, Flash, SessionError};
use super::throttle::{self, Subject};
use super::{Page, cookie, csrf, random};
use hub_app::callers::Role;
use hub_app::dlq::filter_value;
use hub_app::{ReplayError, Replayed};

/// DLQ entries per page.
const DLQ_PAGE: u32 = 50;
/// Audit records shown.
const AUDIT_RECORDS: u32 = 25;
/// The route the page's script polls.
const REFRESH_ROUTE: &str = "/admin/fragment";
/// The longest discard reason kept.
const MAX_REASON: usize = 500;

fn html(status: StatusCode, markup: maud::Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

fn refusal(status: StatusCode, title: &str, text: &str) -> Response {
    html(status, render::message(title, text))
}

fn not_signed_in() -> Response {
    refusal(
        StatusCode::UNAUTHORIZED,
        "Not signed in",
        "You are not signed in, or your session has ended. Sign in again; nothing was done.",
    )
}

fn store_unavailable(e: &hub_core::StoreError) -> Response {
    tracing::warn!(error = %e, "the supervisor's session store is unavailable");
    refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "Unavailable",
        "The session store is unavailable; nothing was done. Try again shortly.",
    )
}

fn random_failed() -> Response {
    tracing::error!("the operating system's random source failed: no session or form token can be issued");
    refusal(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Unavailable",
        "The page cannot issue tokens right now. Try again later.",
    )
}

/// Route middleware: checks the session a route of [`super::ROUTES`] needs and puts the
/// [`Active`] session in the request.
pub(super) async fn require_session(State(state): State<Arc<Page>>, mut req: Request, next: Next) -> Response {
    let path = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let Some(needed) = super::required_role(req.method(), path.as_deref().unwrap_or("")) else {
        return next.run(req).await;
    };
    // The refresh script's fetches do not count as use: an unattended tab still times out.
    let refresh = path.as_deref() == Some(REFRESH_ROUTE);
    let id = cookie::get(req.headers(), cookie::SESSION).unwrap_or("");
    let session = if refresh {
        state.sessions.peek(id, &state.auth).await
    } else {
        state.sessions.lookup(id, &state.auth).await
    };
    match session {
        Err(e) => store_unavailable(&e),
        Ok(Some(active)) if active.principal.role >= needed => {
            req.extensions_mut().insert(active);
            next.run(req).await
        }
        _ => not_signed_in(),
    }
}

/// A form that carries the session's CSRF token.
pub(super) trait CsrfForm {
    /// The token the form carried.
    fn csrf(&self) -> &str;
}

/// A form of a signed-in session, accepted only from this origin and with the session's
/// CSRF token; anything else is refused with 403 before the handler runs.
pub(super) struct Checked<T>(Active, T);

impl<T: DeserializeOwned + CsrfForm + Send> FromRequest<Arc<Page>> for Checked<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<Page>) -> Result<Self, Response> {
        let Some(active) = req.extensions().get::<Active>().cloned() else {
            return Err(not_signed_in());
        };
        let refused = |why: &str| {
            tracing::warn!(principal = %active.principal.name, reason = why, "supervisor form refused");
            refusal(
                StatusCode::FORBIDDEN,
                "Refused",
                &format!("The form was refused ({why}); nothing was done. Reload the page and try again."),
            )
        };
        let authority = req.uri().authority().map(|a| a.as_str().to_owned());
        if let Err(e) = csrf::same_origin(req.headers(), authority.as_deref()) {
            return Err(refused(&e.to_string()));
        }
        let Ok(Form(form)) = Form::<T>::from_request(req, state).await else {
            return Err(refused("the form could not be read"));
        };
        if !csrf::verify(&active.csrf, Some(form.csrf())) {
            return Err(refused("its CSRF token is missing or wrong"));
        }
        Ok(Self(active, form))
    }
}

/// The fields of the action forms (sign-out, replay, discard): the CSRF token, the view to
/// return to, a discard's reason, and a forced replay's confirmation (`force=yes`).
#[derive(Debug, Deserialize)]
pub(super) struct ActionForm {
    csrf: String,
    #[serde(default)]
    force: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    adapter: Option<String>,
    #[serde(default)]
    operation: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

impl CsrfForm for ActionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl ActionForm {
    /// The view the form came from (unusable values are dropped).
    fn back(&self) -> Redirect {
        let (filters, _) = parse_filters(&[
            ("status", self.status.as_deref()),
            ("adapter", self.adapter.as_deref()),
            ("operation", self.operation.as_deref()),
        ]);
        Redirect::to(&format!("/admin{}", filters.query(false)))
    }
}

fn parse_status(raw: &str) -> Result<DlqStatus, String> {
    match raw {
        "pending" => Ok(DlqStatus::Pending),
        "replayed" => Ok(DlqStatus::Replayed),
        "discarded" => Ok(DlqStatus::Discarded),
        _ => Err("status must be pending, replayed or discarded".to_owned()),
    }
}

/// The filters among `pairs` (empty values mean "any"), and why any was dropped.
fn parse_filters(pairs: &[(&str, Option<&str>)]) -> (Filters, Option<String>) {
    let mut f = Filters::default();
    let mut errors = Vec::new();
    for (name, value) in pairs {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            continue;
        };
        let token = || filter_value(value).map_err(|e| format!("{name} {e}"));
        let parsed = match *name {
            "status" => parse_status(value).map(|s| f.status = Some(s)),
            "adapter" => token().map(|v| f.adapter = Some(v)),
            "operation" => token().map(|v| f.operation = Some(v)),
            "cursor" => token().map(|v| f.cursor = Some(v)),
            _ => Ok(()),
        };
        if let Err(e) = parsed {
            errors.push(e);
        }
    }
    let error = (!errors.is_empty()).then(|| format!("Ignored: {}.", errors.join("; ")));
    (f, error)
}

/// The page's query string: the DLQ filters and the cursor.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ViewQuery {
    status: Option<String>,
    adapter: Option<String>,
    operation: Option<String>,
    cursor: Option<String>,
}

impl ViewQuery {
    fn filters(&self) -> (Filters, Option<String>) {
        parse_filters(&[
            ("status", self.status.as_deref()),
            ("adapter", self.adapter.as_deref()),
            ("operation", self.operation.as_deref()),
            ("cursor", self.cursor.as_deref()),
        ])
    }
}

async fn live(state: &Page, query: &ViewQuery, csrf: String) -> Live {
    let (filters, filter_error) = query.filters();
    let filter = DlqFilter {
        status: filters.status,
        adapter: filters.adapter.clone(),
        operation: filters.operation.clone(),
        limit: DLQ_PAGE,
        cursor: filters.cursor.clone(),
    };
    let dlq = state.hub.dead_letters(&filter).await.map_or_else(
        |e| {
            tracing::warn!(error = %e, "the supervisor's page could not list the DLQ");
            Err("The dead-letter store is unavailable; try again shortly.".to_owned())
        },
        |p| Ok((p.items.into_iter().map(DlqEntry::shown).collect(), p.next_cursor)),
    );
    let audit_query = AuditQuery {
        limit: AUDIT_RECORDS,
        ..AuditQuery::default()
    };
    let audit = state.hub.services.audit.query(&audit_query).await.map_or_else(
        |e| {
            tracing::warn!(error = %e, "the supervisor's page could not read the audit log");
            Err("The audit log is unavailable; try again shortly.".to_owned())
        },
        |p| Ok(p.items),
    );
    let rates = state.error_rates.snapshot(Instant::now());
    let circuits = hub_app::health::adapters(&state.circuits.circuits(), &rates)
        .into_iter()
        .map(|row| CircuitRow {
            adapter: row.adapter.to_owned(),
            state: row.state,
            counts: row.counts,
        })
        .collect();
    Live {
        circuits,
        budgets: state.budgets.budgets().await,
        window_s: state.error_rates.window().as_secs(),
        step_s: state.error_rates.step().as_secs(),
        filters,
        filter_error,
        dlq,
        audit,
        csrf,
    }
}

fn sign_in_page(status: StatusCode, message: Option<&Flash>) -> Response {
    let Ok(nonce) = random::token() else {
        return random_failed();
    };
    let mut res = html(status, render::sign_in(&nonce, message));
    res.headers_mut().append(
        header::SET_COOKIE,
        cookie::set(cookie::LOGIN, &nonce, Some(cookie::LOGIN_MAX_AGE_S)),
    );
    res
}

/// `GET /admin`: the page when signed in, else the sign-in form.
pub(super) async fn page(
    State(state): State<Arc<Page>>,
    headers: HeaderMap,
    query: Result<Query<ViewQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|q| q.0).unwrap_or_default();
    let id = cookie::get(&headers, cookie::SESSION).unwrap_or("");
    let session = match state.sessions.lookup(id, &state.auth).await {
        Ok(s) => s,
        Err(e) => return store_unavailable(&e),
    };
    let Some(active) = session.filter(|s| s.principal.role >= Role::Admin) else {
        return sign_in_page(StatusCode::OK, None);
    };
    let flash = state.sessions.take_flash(&active).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the supervisor's flash message could not be read");
        None
    });
    let live = live(&state, &query, active.csrf.clone()).await;
    html(
        StatusCode::OK,
        render::dashboard(&Dashboard {
            who: active.principal.name.to_string(),
            flash,
            live,
        }),
    )
}

/// `GET /admin/fragment`: the live sections alone, for the page's refresh script.
pub(super) async fn fragment(
    State(state): State<Arc<Page>>,
    Extension(active): Extension<Active>,
    query: Result<Query<ViewQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|q| q.0).unwrap_or_default();
    let live = live(&state, &query, active.csrf.clone()).await;
    (StatusCode::OK, Html(render::live(&live).into_string())).into_response()
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    token: String,
}

/// `POST /admin/login`: an admin token starts a session; other tokens are refused.
///
/// Failed sign-ins are throttled per client address and per account ([`throttle`]): past
/// the limit, 429 with `Retry-After`, before the token is even looked at.
///
/// Login CSRF is refused by the double-submit nonce (the form's hidden `login` field must
/// equal the `hub_admin_login` cookie set with the form, which another site can neither
/// read nor set) and by the same-origin check of the browser's headers.
pub(super) async fn login(State(state): State<Arc<Page>>, req: Request) -> Response {
    let headers = req.headers().clone();
    let authority = req.uri().authority().map(|a| a.as_str().to_owned());
    let client = Subject::address(client_address(&req));
    let form = Form::<LoginForm>::from_request(req, &state).await;
    let cross_site = csrf::same_origin(&headers, authority.as_deref()).err();
    let Ok(Form(form)) = form else {
        return refusal(
            StatusCode::FORBIDDEN,
            "Refused",
            "The sign-in form could not be read. Open the page again and sign in.",
        );
    };
    if cross_site.is_some() || !csrf::verify(cookie::get(&headers, cookie::LOGIN).unwrap_or(""), Some(&form.login)) {
        tracing::warn!(reason = ?cross_site, "supervisor sign-in refused: the form did not come from this page");
        return refusal(
            StatusCode::FORBIDDEN,
            "Refused",
            "The sign-in form has expired or came from another site. Open the page again and sign in.",
        );
    }
    let now = Instant::now();
    let throttle = &state.throttle;
    // A throttled address learns nothing about the token it sent.
    if let Some(wait) = throttle.retry_after(&client, now) {
        return throttled(&client, wait);
    }
    let token = form.token.trim();
    let principal = state.auth.authenticate(token);
    let account = principal
        .as_ref()
        .map_or_else(|| Subject::credential(token), |p| Subject::token(&p.name));
    if let Some(wait) = throttle.retry_after(&account, now) {
        return throttled(&account, wait);
    }
    let refused = |status: StatusCode, text: String| {
        throttle.failed(&client, now);
        throttle.failed(&account, now);
        sign_in_page(status, Some(&Flash::error(text)))
    };
    let Some(principal) = principal else {
        tracing::warn!("supervisor sign-in refused: unknown token");
        return refused(StatusCode::UNAUTHORIZED, "That token is not known.".to_owned());
    };
    if principal.role < Role::Admin {
        tracing::warn!(principal = %principal.name, role = %principal.role, "supervisor sign-in refused: not an admin token");
        let text = format!(
            "This token has the '{}' role; the supervisor's page needs a token with the 'admin' role.",
            principal.role
        );
        return refused(StatusCode::FORBIDDEN, text);
    }
    let name = principal.name.clone();
    let id = match state.sessions.create(principal, &state.auth).await {
        Ok(id) => id,
        Err(SessionError::Random(_)) => return random_failed(),
        Err(SessionError::Store(e)) => return store_unavailable(&e),
    };
    throttle.succeeded(&client);
    throttle.succeeded(&account);
    tracing::info!(principal = %name, "supervisor signed in");
    let mut res = Redirect::to("/admin").into_response();
    let h = res.headers_mut();
    h.append(header::SET_COOKIE, cookie::set(cookie::SESSION, &id, None));
    h.append(header::SET_COOKIE, cookie::clear(cookie::LOGIN));
    res
}

/// The client's address: the connection's peer. `X-Forwarded-For` and the like are not
/// read (a client could set them); without a peer (a router served without connection
/// information) every client counts as one.
fn client_address(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// 429 with `Retry-After` and the sign-in form saying how long to wait.
fn throttled(subject: &Subject, wait: std::time::Duration) -> Response {
    let secs = throttle::retry_after_secs(wait);
    metrics::counter!("integration_admin_signin_throttled_total", "scope" => subject.scope()).increment(1);
    tracing::warn!(
        scope = subject.scope(),
        retry_after_s = secs,
        "supervisor sign-in throttled"
    );
    let whose = match subject {
        Subject::Address(_) => "from this address",
        Subject::Account(_) => "with this token",
    };
    let text = format!("Too many failed sign-ins {whose}. Wait {secs} seconds, then try again.");
    let mut res = sign_in_page(StatusCode::TOO_MANY_REQUESTS, Some(&Flash::error(text)));
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    res
}

/// `POST /admin/logout`: ends the session.
pub(super) async fn logout(State(state): State<Arc<Page>>, Checked(active, _): Checked<ActionForm>) -> Response {
    if let Err(e) = state.sessions.end(&active).await {
        return store_unavailable(&e);
    }
    tracing::info!(principal = %active.principal.name, "supervisor signed out");
    let mut res = Redirect::to("/admin").into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, cookie::clear(cookie::SESSION));
    res
}

/// Leaves `flash` for the session's next page; the action is done whether or not it can be.
async fn leave_flash(state: &Page, active: &Active, flash: Flash) {
    if let Err(e) = state.sessions.set_flash(active, flash).await {
        tracing::warn!(error = %e, "the supervisor's flash message could not be stored");
    }
}

/// 400: an action's path does not hold an entry id.
fn bad_id(e: &hub_core::IdError) -> Response {
    refusal(
        StatusCode::BAD_REQUEST,
        "Refused",
        &format!("That is not a dead-letter entry id ({e}); nothing was done."),
    )
}

fn conflict_text(id: &DlqId, err: &DlqError) -> String {
    match err {
        DlqError::NotFound => format!("There is no dead-letter entry {id}."),
        DlqError::Conflict { claimed: true, .. } => {
            format!("Entry {id} is being replayed by another request; nothing was done.")
        }
        DlqError::Conflict { status, .. } => {
            format!("Entry {id} is {}, not pending; nothing was done.", status.as_str())
        }
        DlqError::Store(e) => {
            tracing::warn!(dlq_id = %id, error = %e, "the supervisor's action could not reach the DLQ");
            format!("The dead-letter store is unavailable; entry {id} was not changed.")
        }
    }
}

/// `POST /admin/dlq/{id}/replay`: runs the entry again through [`hub_app::Hub::replay`].
pub(super) async fn replay(
    State(state): State<Arc<Page>>,
    extensions: Extensions,
    Path(raw): Path<String>,
    Checked(active, form): Checked<ActionForm>,
) -> Response {
    let id = match DlqId::parse(&raw) {
        Ok(id) => id,
        Err(e) => return bad_id(&e),
    };
    let Some(ctx) = (state.context)(&extensions) else {
        tracing::error!("no call context in the request: the page is mounted without the server's edge middleware");
        return refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Unavailable",
            "The page is misconfigured; nothing was done.",
        );
    };
    let actor = active.principal.name.clone();
    let task_state = state.clone();
    let task_id = id.clone();
    let force = form.force.as_deref() == Some("yes");
    // Its own task, as in the API: a browser that goes away cannot cut the replay short
    // between the upstream call and recording its outcome. It is in the request's trace.
    let hub = state.hub.clone();
    let outcome = hub
        .spawn_in_trace(async move { task_state.hub.replay(&task_id, &actor, ctx, force).await })
        .await;
    let flash = match outcome {
        Ok(Ok(Replayed::Done(entry))) => Flash::ok(format!(
            "Replayed {id} ({} {}): it is now {}.",
            entry.failure.adapter,
            entry.failure.operation,
            entry.status.as_str()
        )),
        Ok(Ok(Replayed::Failed {
            error: ReplayError::Upstream(e),
            ..
        })) => Flash::error(format!(
            "The replay of {id} failed again ({}: {e}); the entry stays pending.",
            e.code()
        )),
        Ok(Ok(Replayed::Failed {
            error: ReplayError::Unreplayable(e),
            ..
        })) => Flash::error(format!("Entry {id} cannot be replayed: {e}.")),
        Ok(Ok(Replayed::Failed {
            error: e @ ReplayError::OutcomeUnknown,
            ..
        })) => Flash::error(format!(
            "Entry {id} was not replayed: {e} (tick \"force\" and replay again)."
        )),
        Ok(Err(e)) => Flash::error(conflict_text(&id, &e)),
        Err(e) => {
            tracing::error!(error = %e, "the replay task failed");
            Flash::error(format!("The replay of {id} could not be completed."))
        }
    };
    leave_flash(&state, &active, flash).await;
    form.back().into_response()
}

/// `POST /admin/dlq/{id}/discard`: gives the entry up, with the form's optional reason.
pub(super) async fn discard(
    State(state): State<Arc<Page>>,
    Path(raw): Path<String>,
    Checked(active, form): Checked<ActionForm>,
) -> Response {
    let id = match DlqId::parse(&raw) {
        Ok(id) => id,
        Err(e) => return bad_id(&e),
    };
    let reason = form
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let flash = if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON) {
        Flash::error(format!(
            "The reason is longer than {MAX_REASON} characters; entry {id} was not changed."
        ))
    } else {
        let actor = &active.principal.name;
        match state.hub.discard(&id, actor, reason).await {
            Ok(entry) => Flash::ok(format!("Discarded {id}: it is now {}.", entry.status.as_str())),
            Err(e) => Flash::error(conflict_text(&id, &e)),
        }
    };
    leave_flash(&state, &active, flash).await;
    form.back().into_response()
}

/// `GET /admin/admin.js`: the live refresh (the page works without it).
pub(super) async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/admin.js"),
    )
        .into_response()
}

/// `GET /admin/admin.css`.
pub(super) async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/admin.css"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_keep_what_is_valid_and_say_what_was_dropped() {
        let (f, e) = parse_filters(&[
            ("status", Some("pending")),
            ("adapter", Some(" ticketing ")),
            ("operation", Some("")),
            ("cursor", None),
        ]);
        assert_eq!(f.status, Some(DlqStatus::Pending));
        assert_eq!(f.adapter.as_deref(), Some("ticketing"));
        assert_eq!((f.operation, f.cursor, e), (None, None, None));
        let (f, e) = parse_filters(&[("status", Some("lost")), ("adapter", Some("two words"))]);
        assert_eq!(f, Filters::default());
        let e = e.unwrap();
        assert!(e.contains("status must be") && e.contains("adapter must be"), "{e}");
    }
}
