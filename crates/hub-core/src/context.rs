//! What travels with every call: correlation ids and the idempotency key.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};

/// Why a header value was not accepted as a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to {max} visible ASCII characters")]
pub struct TokenError {
    /// The longest accepted value.
    pub max: usize,
}

macro_rules! define_token {
    ($(#[$meta:meta])* $name:ident, $max:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Arc<str>);

        impl $name {
            /// The longest accepted value, in bytes.
            pub const MAX_LEN: usize = $max;

            /// Accepts 1 to `MAX_LEN` visible ASCII characters (no spaces, no control characters).
            pub fn parse(s: &str) -> Result<Self, TokenError> {
                if s.is_empty() || s.len() > $max || !s.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(TokenError { max: $max });
                }
                Ok(Self(Arc::from(s)))
            }

            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value's text, shared rather than copied.
            pub fn shared(&self) -> Arc<str> {
                Arc::clone(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = TokenError;
            fn try_from(s: String) -> Result<Self, TokenError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0.as_ref().to_owned()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

define_token!(
    /// The id of one request to the hub (`X-Request-Id`).
    RequestId,
    128
);
define_token!(
    /// The support conversation a request belongs to (`X-Conversation-Id`).
    ConversationId,
    128
);
define_token!(
    /// A client's promise that requests with this key are one operation (`Idempotency-Key`).
    ///
    /// ```
    /// use hub_core::IdempotencyKey;
    /// assert!(IdempotencyKey::parse("order-42-commit").is_ok());
    /// assert!(IdempotencyKey::parse("has space").is_err());
    /// assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
    /// ```
    IdempotencyKey,
    255
);

/// How many attempts an adapter made for one port call, written by the adapter and read
/// by the caller (a dead-letter entry records it). Clones share the count.
///
/// ```
/// use hub_core::context::AttemptCount;
/// let count = AttemptCount::default();
/// count.add(3);
/// assert_eq!(count.clone().get(), 3);
/// ```
#[derive(Debug, Clone, Default)]
pub struct AttemptCount(Arc<AtomicU32>);

impl AttemptCount {
    /// Adds `n` attempts.
    pub fn add(&self, n: u32) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The attempts so far.
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

impl PartialEq for AttemptCount {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for AttemptCount {}

/// Everything a port call carries besides its arguments. (The time budget of a call is
/// its adapter's configured deadline.)
///
/// ```
/// use hub_core::{CallContext, IdempotencyKey, RequestId};
/// let ctx = CallContext::new(RequestId::parse("req-1").unwrap())
///     .with_idempotency_key(IdempotencyKey::parse("k-1").unwrap());
/// assert_eq!(ctx.idempotency_key.unwrap().as_str(), "k-1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// The hub request this call serves.
    pub request_id: RequestId,
    /// The support conversation, when the caller said.
    pub conversation_id: Option<ConversationId>,
    /// The key that makes a write safe to repeat; adapters derive one when absent.
    pub idempotency_key: Option<IdempotencyKey>,
    /// Filled in by the adapter: how many upstream attempts the call made.
    pub attempts: AttemptCount,
}

impl CallContext {
    /// A context with just a request id.
    pub fn new(request_id: RequestId) -> Self {
        Self {
            request_id,
            conversation_id: None,
            idempotency_key: None,
            attempts: AttemptCount::default(),
        }
    }

    /// Sets the conversation id.
    #[must_use]
    pub fn with_conversation_id(mut self, id: ConversationId) -> Self {
        self.conversation_id = Some(id);
        self
    }

    /// Sets the idempotency key.
    #[must_use]
    pub fn with_idempotency_key(mut self, key: IdempotencyKey) -> Self {
        self.idempotency_key = Some(key);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn tokens_accept_exactly_visible_ascii(s in "\\PC{0,300}") {
            let ok = !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| (0x21..=0x7e).contains(&b));
            prop_assert_eq!(IdempotencyKey::parse(&s).is_ok(), ok);
        }
    }
}
