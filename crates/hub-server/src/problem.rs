//! RFC 9457 problem details: the one error type every failed request is answered with.

use std::fmt;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hub_core::{DlqId, Error, Operation, StoreError};
use serde::Serialize;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The prefix of every problem `type`.
pub const TYPE_PREFIX: &str = "urn:integration-hub:problem:";

/// The short codes the contract defines (plus the hub's own store failure and internal error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// No token, or an unknown one (401).
    Unauthorized,
    /// A known token without the role the route needs (403).
    Forbidden,
    /// A path id that breaks the id rule (400).
    InvalidId,
    /// A body (or query parameter) that is not what the route takes (422).
    InvalidBody,
    /// A body over the limit (413).
    PayloadTooLarge,
    /// No such resource, route or method (404; 405 for a known path with another method).
    NotFound,
    /// The upstream refused the request (422).
    UpstreamRejected,
    /// The upstream failed or could not be reached (502).
    UpstreamUnavailable,
    /// The upstream did not answer in time (504).
    UpstreamTimeout,
    /// The upstream is rate limiting (429).
    RateLimited,
    /// The adapter's circuit is open (503).
    CircuitOpen,
    /// The commit route needs `Idempotency-Key` (400).
    IdempotencyKeyMissing,
    /// The key's first request is still running (409).
    IdempotencyInFlight,
    /// The key was used for another request (422).
    IdempotencyMismatch,
    /// The dead-letter entry is not pending (409).
    DlqConflict,
    /// The upstream accepted a write (2xx) but its answer could not be read (502): the
    /// effect happened; nothing is retried or dead-lettered.
    UpstreamAnswerUnreadable,
    /// One of the hub's own stores failed (503). Not in the contract's list: the hub's design.
    StoreUnavailable,
    /// Anything else (500). Not in the contract's list: the hub's design.
    Internal,
    /// The hub is at one of its own capacity limits, e.g. live subscriptions (503). Not
    /// in the contract's list: the hub's design.
    Overloaded,
}

impl ProblemCode {
    /// Every code, for tests and documentation.
    pub const ALL: [ProblemCode; 19] = [
        Self::Unauthorized,
        Self::Forbidden,
        Self::InvalidId,
        Self::InvalidBody,
        Self::PayloadTooLarge,
        Self::NotFound,
        Self::UpstreamRejected,
        Self::UpstreamUnavailable,
        Self::UpstreamTimeout,
        Self::RateLimited,
        Self::CircuitOpen,
        Self::IdempotencyKeyMissing,
        Self::IdempotencyInFlight,
        Self::IdempotencyMismatch,
        Self::DlqConflict,
        Self::UpstreamAnswerUnreadable,
        Self::StoreUnavailable,
        Self::Internal,
        Self::Overloaded,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::InvalidId => "invalid_id",
            Self::InvalidBody => "invalid_body",
            Self::PayloadTooLarge => "payload_too_large",
            Self::NotFound => "not_found",
            Self::UpstreamRejected => "upstream_rejected",
            Self::UpstreamUnavailable => "upstream_unavailable",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::RateLimited => "rate_limited",
            Self::CircuitOpen => "circuit_open",
            Self::IdempotencyKeyMissing => "idempotency_key_missing",
            Self::IdempotencyInFlight => "idempotency_in_flight",
            Self::IdempotencyMismatch => "idempotency_mismatch",
            Self::DlqConflict => "dlq_conflict",
            Self::UpstreamAnswerUnreadable => "upstream_answer_unreadable",
            Self::StoreUnavailable => "store_unavailable",
            Self::Internal => "internal",
            Self::Overloaded => "overloaded",
        }
    }

    /// The HTTP status the code is answered with by default.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::InvalidId | Self::IdempotencyKeyMissing => StatusCode::BAD_REQUEST,
            Self::InvalidBody | Self::UpstreamRejected | Self::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::UpstreamUnavailable | Self::UpstreamAnswerUnreadable => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::CircuitOpen | Self::StoreUnavailable | Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::IdempotencyInFlight | Self::DlqConflict => StatusCode::CONFLICT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short, human title that never changes for the code.
    pub fn title(self) -> &'static str {
        match self {
            Self::Unauthorized => "Authentication required",
            Self::Forbidden => "Insufficient role",
            Self::InvalidId => "Invalid identifier",
            Self::InvalidBody => "Invalid request",
            Self::PayloadTooLarge => "Request body too large",
            Self::NotFound => "Not found",
            Self::UpstreamRejected => "The upstream system rejected the request",
            Self::UpstreamUnavailable => "The upstream system is unavailable",
            Self::UpstreamTimeout => "The upstream system did not answer in time",
            Self::RateLimited => "The upstream system is rate limiting",
            Self::CircuitOpen => "The upstream system is failing; calls are suspended",
            Self::IdempotencyKeyMissing => "Idempotency-Key required",
            Self::IdempotencyInFlight => "A request with this Idempotency-Key is in progress",
            Self::IdempotencyMismatch => "Idempotency-Key reused for a different request",
            Self::DlqConflict => "The dead-letter entry is not pending",
            Self::UpstreamAnswerUnreadable => "The upstream system accepted the write but its answer could not be read",
            Self::StoreUnavailable => "A hub store is unavailable",
            Self::Internal => "Internal error",
            Self::Overloaded => "The hub is at a capacity limit",
        }
    }
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem, as sent (RFC 9457 members plus the contract's extensions); boxed in
/// [`Problem`] so results that carry one stay small.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDetails {
    /// `urn:integration-hub:problem:{code}`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// The short code.
    #[schema(value_type = String)]
    pub code: ProblemCode,
    /// A fixed title per code.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong with this request (never a secret, a trace or an upstream body).
    pub detail: String,
    /// The request's `X-Request-Id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The adapter concerned, for upstream failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    /// The operation concerned, for upstream failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// How long to wait before trying again, in whole seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
    /// The dead-letter entry that holds the failed write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dlq_id: Option<String>,
    /// `Allow` for 405 answers (sent as a header, not in the body).
    #[serde(skip)]
    pub allow: Option<String>,
}

/// A failed request's answer: problem details behind one pointer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Problem(Box<ProblemDetails>);

impl std::ops::Deref for Problem {
    type Target = ProblemDetails;
    fn deref(&self) -> &ProblemDetails {
        &self.0
    }
}

impl std::ops::DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut ProblemDetails {
        &mut self.0
    }
}

impl Problem {
    /// A problem with the code's status and title.
    ///
    /// ```
    /// use hub_core::IdError;
    /// use hub_server::problem::{Problem, ProblemCode};
    /// let p = Problem::new(ProblemCode::InvalidId, "ticket_id: the id is empty");
    /// assert_eq!(p.status, 400);
    /// assert_eq!(p.type_uri, "urn:integration-hub:problem:invalid_id");
    /// ```
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self(Box::new(ProblemDetails {
            type_uri: format!("{TYPE_PREFIX}{}", code.as_str()),
            code,
            title: code.title().to_owned(),
            status: code.status().as_u16(),
            detail: detail.into(),
            request_id: None,
            adapter: None,
            operation: None,
            retry_after_s: None,
            dlq_id: None,
            allow: None,
        }))
    }

    /// 405 for a path that exists with other methods.
    pub fn method_not_allowed(method: &str, path: &str, allow: String) -> Self {
        let mut p = Self::new(
            ProblemCode::NotFound,
            format!("{method} is not allowed on {path}; allowed: {allow}"),
        );
        p.title = "Method not allowed".to_owned();
        p.status = StatusCode::METHOD_NOT_ALLOWED.as_u16();
        p.allow = Some(allow);
        p
    }

    /// An invalid body or parameter, naming the field.
    pub fn invalid_body(field: &str, reason: impl fmt::Display) -> Self {
        if field.is_empty() || field == "." {
            Self::new(ProblemCode::InvalidBody, reason.to_string())
        } else {
            Self::new(ProblemCode::InvalidBody, format!("{field}: {reason}"))
        }
    }

    /// A failure of one of the hub's stores; the reason is logged, not sent.
    pub fn store(what: &str, err: &StoreError) -> Self {
        tracing::error!(store = what, error = %err, "store failure");
        Self::new(
            ProblemCode::StoreUnavailable,
            format!("the {what} store could not be used ({})", err.code()),
        )
    }

    /// A failure of a store's listing: a cursor the store refuses (`Invalid`) is the
    /// caller's mistake, 422 naming `cursor`; anything else is [`Problem::store`].
    pub fn store_listing(what: &str, err: &StoreError) -> Self {
        match err {
            StoreError::Invalid { .. } => Self::invalid_body(
                "cursor",
                "not a cursor this hub issued (pass next_cursor as it was given)",
            ),
            _ => Self::store(what, err),
        }
    }

    /// Maps an upstream error (contract section 4).
    ///
    /// ```
    /// use std::time::Duration;
    /// use hub_server::problem::{Problem, ProblemCode};
    /// let p = Problem::upstream(&hub_core::Error::CircuitOpen { retry_in: Duration::from_millis(2500) }, hub_core::Operation::CreateTicket);
    /// assert_eq!((p.code, p.status, p.retry_after_s), (ProblemCode::CircuitOpen, 503, Some(3)));
    /// let p = Problem::upstream(&hub_core::Error::RateBudgetSpent { retry_after: Duration::from_millis(1200) }, hub_core::Operation::CreateTicket);
    /// assert_eq!((p.code, p.status, p.retry_after_s), (ProblemCode::RateLimited, 429, Some(2)));
    /// ```
    pub fn upstream(err: &Error, operation: Operation) -> Self {
        // Rate limiting that outlasted the retries or the deadline is still rate limiting:
        // the caller learns how long to wait.
        let err = match err {
            Error::DeadlineExceeded { last } | Error::RetryBudgetExhausted { last }
                if matches!(**last, Error::RateLimited { .. }) =>
            {
                &**last
            }
            other => other,
        };
        let (code, detail) = match err {
            Error::CircuitOpen { .. } => (ProblemCode::CircuitOpen, err.to_string()),
            Error::RateLimited { .. } => (ProblemCode::RateLimited, err.to_string()),
            Error::RateBudgetSpent { .. } => (
                ProblemCode::RateLimited,
                "the upstream's rate budget has no slot before the call's deadline; nothing was sent: retry after \
                 Retry-After (a write with the same Idempotency-Key)"
                    .to_owned(),
            ),
            Error::NotFound => (
                ProblemCode::NotFound,
                "the upstream system has no such resource".to_owned(),
            ),
            Error::Rejected { status, reason } => (
                ProblemCode::UpstreamRejected,
                match reason {
                    Some(r) => format!("the upstream rejected the request with HTTP {status}: {r}"),
                    None => format!("the upstream rejected the request with HTTP {status}"),
                },
            ),
            Error::InvalidInput { field, reason } => (ProblemCode::InvalidBody, format!("{field}: {reason}")),
            Error::NotRecorded { .. } => (
                ProblemCode::StoreUnavailable,
                "the write was not sent: the hub could not record it durably first (its own store is slow or \
                 unavailable); nothing reached the upstream, retry with the same Idempotency-Key"
                    .to_owned(),
            ),
            Error::AnswerUnreadable { status, reason } => (
                ProblemCode::UpstreamAnswerUnreadable,
                format!(
                    "the upstream accepted the write (HTTP {status}), so it took effect, but its answer could not \
                     be read ({reason}); it is not retried or dead-lettered: do not send it again, the supervisor \
                     reconciles it by this request id"
                ),
            ),
            Error::Timeout | Error::DeadlineExceeded { .. } => (ProblemCode::UpstreamTimeout, err.to_string()),
            Error::Unauthorized | Error::Forbidden | Error::Credentials { .. } => (
                ProblemCode::UpstreamUnavailable,
                "the upstream refused the hub's own credentials".to_owned(),
            ),
            _ => (ProblemCode::UpstreamUnavailable, err.to_string()),
        };
        let mut p = Self::new(code, detail).naming(operation);
        if matches!(code, ProblemCode::CircuitOpen | ProblemCode::RateLimited) {
            p.retry_after_s = err.retry_after().map(ceil_secs);
        }
        if matches!(err, Error::NotRecorded { .. }) {
            p.retry_after_s = Some(STORE_RETRY_AFTER_S);
        }
        p
    }

    /// Names the operation (and its adapter) the problem is about.
    #[must_use]
    pub fn naming(mut self, operation: Operation) -> Self {
        self.adapter = Some(operation.adapter().as_str().to_owned());
        self.operation = Some(operation.as_str().to_owned());
        self
    }

    /// Sets the request id.
    #[must_use]
    pub fn with_request_id(mut self, id: &str) -> Self {
        self.request_id = Some(id.to_owned());
        self
    }

    /// Sets the dead-letter id.
    #[must_use]
    pub fn with_dlq_id(mut self, id: &DlqId) -> Self {
        self.dlq_id = Some(id.as_str().to_owned());
        self
    }

    /// The HTTP status to answer with.
    pub fn http_status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The body bytes.
    pub fn body(&self) -> Vec<u8> {
        // A struct of strings and integers always serialises.
        serde_json::to_vec(&*self.0).unwrap_or_default()
    }
}

/// `Retry-After` of a write refused because the hub's own store failed: long enough for
/// a database blip or a lock to pass.
pub const STORE_RETRY_AFTER_S: u64 = 2;

/// Whole seconds, rounded up, so a client never retries early.
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.detail)
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut res = (self.http_status(), self.body()).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(s) = self.retry_after_s
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        if self.code == ProblemCode::Unauthorized {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(allow) = &self.allow
            && let Ok(v) = HeaderValue::from_str(allow)
        {
            headers.insert(header::ALLOW, v);
        }
        // The edge middleware fills in the request id when the handler could not.
        res.extensions_mut().insert(self);
        res
    }
}

#[cfg(test)]
mod tests;
