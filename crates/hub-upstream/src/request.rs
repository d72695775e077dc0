//! One upstream call as an adapter describes it: operation, method, path, body and idempotency.

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use hub_core::{CallContext, Error, Operation};

/// The header carrying the hub's request id upstream.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The header carrying the support conversation id upstream.
pub const CONVERSATION_ID: HeaderName = HeaderName::from_static("x-conversation-id");
/// The header carrying the idempotency key upstream.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The idempotency key a write goes upstream with: the caller's, else one derived from
/// the hub request and the operation, stable across the call's retries.
///
/// ```
/// use hub_core::{CallContext, RequestId};
/// let ctx = CallContext::new(RequestId::parse("r-1").unwrap());
/// assert_eq!(hub_upstream::request::write_key(&ctx, hub_core::Operation::CreateTicket), "hub-r-1-create_ticket");
/// ```
pub fn write_key(ctx: &CallContext, operation: Operation) -> String {
    match &ctx.idempotency_key {
        Some(key) => key.as_str().to_owned(),
        None => format!("hub-{}-{}", ctx.request_id, operation.as_str()),
    }
}

/// Whether sending a request twice can do something twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotency {
    /// Repeating it is harmless (reads, PUT of a whole state).
    Idempotent,
    /// The upstream deduplicates by this key, sent in `Idempotency-Key`.
    Keyed(String),
    /// Repeating it may repeat its effect: retried only when it provably never left.
    NonIdempotent,
}

/// One call to an upstream.
#[derive(Debug, Clone)]
pub struct Call {
    /// The operation's name, for audit, metrics and logs (`create_ticket`).
    pub operation: Operation,
    /// The method.
    pub method: Method,
    /// The path below the endpoint's base URL, ids already percent-encoded, starting with `/`.
    pub path: String,
    /// The query string without `?`, already encoded.
    pub query: Option<String>,
    /// The exact body bytes (JSON) or none.
    pub body: Option<Bytes>,
    /// Whether a retry may repeat an effect.
    pub idempotency: Idempotency,
    /// The parameters as recorded in the audit log (redacted before storing).
    pub params: serde_json::Value,
}

impl Call {
    /// A GET of `path`.
    pub fn get(operation: Operation, path: String) -> Self {
        Self {
            operation,
            method: Method::GET,
            path,
            query: None,
            body: None,
            idempotency: Idempotency::Idempotent,
            params: serde_json::Value::Null,
        }
    }

    /// A call with a JSON body, serialised once so that every attempt (and its signature)
    /// sends exactly the same bytes.
    pub fn json<B: serde::Serialize>(
        operation: Operation,
        method: Method,
        path: String,
        body: &B,
        idempotency: Idempotency,
    ) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::InvalidInput {
            field: "body".to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            operation,
            method,
            path,
            query: None,
            body: Some(Bytes::from(bytes)),
            idempotency,
            params: serde_json::Value::Null,
        })
    }

    /// Adds a query string.
    #[must_use]
    pub fn with_query(mut self, query: String) -> Self {
        self.query = Some(query);
        self
    }

    /// Sets what the audit log records as the call's parameters.
    #[must_use]
    pub fn with_params(mut self, params: serde_json::Value) -> Self {
        self.params = params;
        self
    }

    /// Builds the request for one attempt against `base` (scheme, authority and any path prefix).
    pub fn to_request(&self, base: &Uri, ctx: &CallContext) -> Result<Request<Bytes>, Error> {
        let prefix = base.path().trim_end_matches('/');
        let path_and_query = match &self.query {
            Some(q) => format!("{prefix}{}?{q}", self.path),
            None => format!("{prefix}{}", self.path),
        };
        let mut parts = base.clone().into_parts();
        parts.path_and_query = Some(path_and_query.parse().map_err(|_| Error::InvalidInput {
            field: "path".to_owned(),
            reason: "not a valid URL path".to_owned(),
        })?);
        let uri = Uri::from_parts(parts).map_err(|_| Error::InvalidInput {
            field: "base_url".to_owned(),
            reason: "not a valid URL".to_owned(),
        })?;
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(uri)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(REQUEST_ID, header_value(ctx.request_id.as_str())?);
        if self.body.is_some() {
            builder = builder.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Some(conversation) = &ctx.conversation_id {
            builder = builder.header(CONVERSATION_ID, header_value(conversation.as_str())?);
        }
        if let Idempotency::Keyed(key) = &self.idempotency {
            builder = builder.header(IDEMPOTENCY_KEY, header_value(key)?);
        }
        builder
            .body(self.body.clone().unwrap_or_default())
            .map_err(|_| Error::InvalidInput {
                field: "request".to_owned(),
                reason: "could not build the request".to_owned(),
            })
    }
}

fn header_value(v: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(v).map_err(|_| Error::InvalidInput {
        field: "header".to_owned(),
        reason: "not a valid header value".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_core::{ConversationId, RequestId};

    #[test]
    fn requests_keep_the_base_prefix_and_carry_correlation() {
        let base: Uri = "http://127.0.0.1:9000/sales/".parse().unwrap();
        let ctx = CallContext::new(RequestId::parse("req-1").unwrap())
            .with_conversation_id(ConversationId::parse("conv-9").unwrap());
        let call = Call::json(
            Operation::CommitTransaction,
            Method::POST,
            "/transactions/drafts/D%3A1/commit".to_owned(),
            &serde_json::json!({}),
            Idempotency::Keyed("k-1".into()),
        )
        .unwrap()
        .with_query("a=1".into());
        let req = call.to_request(&base, &ctx).unwrap();
        assert_eq!(
            req.uri().to_string(),
            "http://127.0.0.1:9000/sales/transactions/drafts/D%3A1/commit?a=1"
        );
        assert_eq!(req.headers()["idempotency-key"], "k-1");
        assert_eq!(req.headers()["x-request-id"], "req-1");
        assert_eq!(req.headers()["x-conversation-id"], "conv-9");
        assert_eq!(req.headers()["content-type"], "application/json");
        assert_eq!(req.body().as_ref(), b"{}");
    }
}
