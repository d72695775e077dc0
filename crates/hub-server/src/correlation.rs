//! Request correlation: `X-Request-Id` echoed or generated, `X-Conversation-Id` carried along.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hub_core::{CallContext, ConversationId, RequestId};
use hub_telemetry::logging::context::{self, LogContext, LogId};
use hub_telemetry::tracing_export::spans;
use tracing::Instrument as _;

use crate::problem::Problem;

/// `X-Request-Id`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `X-Conversation-Id`.
pub static X_CONVERSATION_ID: HeaderName = HeaderName::from_static("x-conversation-id");

/// The correlation ids of one request, put in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlation {
    /// The caller's valid `X-Request-Id`, or a generated UUID v7.
    pub request_id: RequestId,
    /// The caller's valid `X-Conversation-Id`, if any.
    pub conversation_id: Option<ConversationId>,
}

impl Correlation {
    /// Reads the ids from request headers, generating a request id when absent or invalid.
    ///
    /// ```
    /// use axum::http::HeaderMap;
    /// use hub_server::correlation::Correlation;
    /// let mut h = HeaderMap::new();
    /// h.insert("x-request-id", "req-42".parse().unwrap());
    /// assert_eq!(Correlation::from_headers(&h).request_id.as_str(), "req-42");
    /// h.insert("x-request-id", "has space".parse().unwrap());
    /// assert_ne!(Correlation::from_headers(&h).request_id.as_str(), "has space");
    /// ```
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let request_id = headers
            .get(&X_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| RequestId::parse(s).ok())
            .unwrap_or_else(generate_request_id);
        let conversation_id = headers
            .get(&X_CONVERSATION_ID)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| ConversationId::parse(s).ok());
        Self {
            request_id,
            conversation_id,
        }
    }

    /// A port call context for this request.
    pub fn call_context(&self) -> CallContext {
        let ctx = CallContext::new(self.request_id.clone());
        match &self.conversation_id {
            Some(c) => ctx.with_conversation_id(c.clone()),
            None => ctx,
        }
    }
}

pub use hub_app::generate_request_id;

/// Middleware: sets [`Correlation`] on the request and the log context of everything it
/// logs, echoes `X-Request-Id`, puts the request id into problem bodies that lack it, and
/// writes the request's one access line (`answered`) and metrics.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let corr = Correlation::from_headers(req.headers());
    let span = spans::server_span(req.method().as_str(), req.headers(), corr.request_id.as_str());
    let log = LogContext {
        request_id: LogId::new(corr.request_id.as_str()),
        conversation_id: corr.conversation_id.as_ref().map(|c| LogId::new(c.as_str())),
        trace_id: spans::trace_id(&span),
    };
    let request_id = corr.request_id.clone();
    let method = req.method().clone();
    let started = std::time::Instant::now();
    req.extensions_mut().insert(corr);
    // The URI's parts are shared bytes: keeping it for the log line copies nothing.
    let uri = req.uri().clone();
    context::scope(log, async move {
        let mut res = next.run(req).await;
        if let Some(problem) = res.extensions().get::<Problem>()
            && problem.request_id.is_none()
        {
            let problem = problem.clone().with_request_id(request_id.as_str());
            let headers = res.headers().clone();
            res = problem.into_response();
            for (name, value) in &headers {
                if name != header::CONTENT_LENGTH {
                    res.headers_mut().insert(name, value.clone());
                }
            }
        }
        if let Ok(v) = HeaderValue::from_str(request_id.as_str()) {
            res.headers_mut().insert(X_REQUEST_ID.clone(), v);
        }
        let elapsed = started.elapsed();
        let route = res.extensions().get::<crate::http_metrics::RouteLabel>().map(|r| &*r.0);
        spans::record_answer(&tracing::Span::current(), res.status().as_u16(), route, None);
        crate::http_metrics::record(&method, &res, elapsed);
        tracing::info!(
            method = method.as_str(),
            path = uri.path(),
            status = res.status().as_u16(),
            duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            "answered"
        );
        res
    })
    .instrument(span)
    .await
}
