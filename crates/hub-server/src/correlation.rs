//! Request correlation: `X-Request-Id` echoed or generated, `X-Conversation-Id` carried along.

use axum::http::{HeaderName, HeaderValue};
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
    /// The ids of a request's `X-Request-Id` and `X-Conversation-Id` values (as
    /// [`crate::request_headers::RequestHeaders`] finds them), generating a request id when
    /// absent or invalid.
    ///
    /// ```
    /// use axum::http::HeaderValue;
    /// use hub_server::correlation::Correlation;
    /// let given = HeaderValue::from_static("req-42");
    /// assert_eq!(Correlation::from_values(Some(&given), None).request_id.as_str(), "req-42");
    /// let invalid = HeaderValue::from_static("has space");
    /// assert_ne!(Correlation::from_values(Some(&invalid), None).request_id.as_str(), "has space");
    /// ```
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
