//! The request headers the edge reads, found in one pass over the header map instead of
//! a hashed look-up each.

use axum::http::{HeaderMap, HeaderValue, header};
use hub_telemetry::tracing_export::spans::TRACEPARENT;

use crate::correlation::{X_CONVERSATION_ID, X_REQUEST_ID};

/// The first value of each header the edge reads (as `HeaderMap::get` gives it), and
/// whether the request carries a `traceparent`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RequestHeaders<'a> {
    /// `X-Request-Id`.
    pub request_id: Option<&'a HeaderValue>,
    /// `X-Conversation-Id`.
    pub conversation_id: Option<&'a HeaderValue>,
    /// `Authorization`.
    pub authorization: Option<&'a HeaderValue>,
    /// `If-None-Match`.
    pub if_none_match: Option<&'a HeaderValue>,
    /// Whether a W3C `traceparent` is there.
    pub traceparent: bool,
}

impl<'a> RequestHeaders<'a> {
    /// Reads `headers` once, comparing names (the standard ones by their index).
    ///
    /// ```
    /// use axum::http::HeaderMap;
    /// use hub_server::request_headers::RequestHeaders;
    /// let mut h = HeaderMap::new();
    /// h.insert("authorization", "Bearer t".parse().unwrap());
    /// h.append("x-request-id", "first".parse().unwrap());
    /// h.append("x-request-id", "second".parse().unwrap());
    /// let seen = RequestHeaders::scan(&h);
    /// assert_eq!(seen.authorization.unwrap(), "Bearer t");
    /// assert_eq!(seen.request_id.unwrap(), "first");
    /// assert!(seen.if_none_match.is_none() && !seen.traceparent);
    /// ```
    pub fn scan(headers: &'a HeaderMap) -> Self {
        let mut seen = Self::default();
        for (name, value) in headers {
            let slot = if *name == header::AUTHORIZATION {
                &mut seen.authorization
            } else if *name == header::IF_NONE_MATCH {
                &mut seen.if_none_match
            } else if *name == X_REQUEST_ID {
                &mut seen.request_id
            } else if *name == X_CONVERSATION_ID {
                &mut seen.conversation_id
            } else {
                seen.traceparent |= *name == TRACEPARENT;
                continue;
            };
            slot.get_or_insert(value);
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderName;
    use proptest::prelude::*;

    use super::*;

    fn name() -> impl Strategy<Value = HeaderName> {
        prop_oneof![
            Just(header::AUTHORIZATION),
            Just(header::IF_NONE_MATCH),
            Just(X_REQUEST_ID.clone()),
            Just(X_CONVERSATION_ID.clone()),
            Just(TRACEPARENT.clone()),
            Just(header::HOST),
            Just(header::ACCEPT),
            "x-[a-z]{1,12}".prop_map(|n| HeaderName::try_from(n).unwrap()),
        ]
    }

    proptest! {
        /// Whatever headers a request carries, in whatever order and however repeated,
        /// the pass finds what a look-up of each would.
        #[test]
        fn the_pass_finds_what_look_ups_find(pairs in proptest::collection::vec((name(), "[ -~]{0,12}"), 0..24)) {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.append(name, HeaderValue::try_from(value).unwrap());
            }
            let looked_up = RequestHeaders {
                request_id: headers.get(&X_REQUEST_ID),
                conversation_id: headers.get(&X_CONVERSATION_ID),
                authorization: headers.get(header::AUTHORIZATION),
                if_none_match: headers.get(header::IF_NONE_MATCH),
                traceparent: headers.contains_key(&TRACEPARENT),
            };
            prop_assert_eq!(RequestHeaders::scan(&headers), looked_up);
        }
    }
}
