//! Request correlation: `X-Request-Id` echoed or generated, `X-Conversation-Id` carried along.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use hub_core::{CallContext, ConversationId, RequestId};

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
        Self::from_values(headers.get(&X_REQUEST_ID), headers.get(&X_CONVERSATION_ID))
    }

    /// [`Correlation::from_headers`] of the two headers' values, already found.
    pub fn from_values(request_id: Option<&HeaderValue>, conversation_id: Option<&HeaderValue>) -> Self {
        let request_id = request_id
            .and_then(|v| v.to_str().ok())
            .and_then(|s| RequestId::parse(s).ok())
            .unwrap_or_else(generate_request_id);
        let conversation_id = conversation_id
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
