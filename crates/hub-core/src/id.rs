//! Validated identifiers: a value of these types has passed the contract's id rule.
//!
//! The rule is `^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`. Because an id that reached an
//! adapter is already one of these newtypes, adapters never re-check, and
//! [`TicketId::path_segment`] (and its siblings) percent-encode the id again before it
//! is placed in an upstream URL.

use std::borrow::Cow;
use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The longest id the contract accepts, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Everything but RFC 3986 `unreserved` characters is encoded in a path segment.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string is empty.
    #[error("the id is empty")]
    Empty,
    /// The string is longer than [`MAX_ID_LEN`] bytes.
    #[error("the id is longer than {MAX_ID_LEN} characters")]
    TooLong,
    /// The first character is not an ASCII letter or digit.
    #[error("the id must start with an ASCII letter or digit")]
    BadFirst,
    /// A character outside `A-Z a-z 0-9 . _ : -`, at this byte offset.
    #[error("the id contains a character outside A-Z, a-z, 0-9, '.', '_', ':' and '-' at position {0}")]
    BadChar(usize),
}

/// Checks `s` against the contract's id rule.
///
/// ```
/// use hub_core::id::{validate_id, IdError};
/// assert!(validate_id("TICKET-123").is_ok());
/// assert_eq!(validate_id("../etc"), Err(IdError::BadFirst));
/// assert_eq!(validate_id("a/b"), Err(IdError::BadChar(1)));
/// ```
pub fn validate_id(s: &str) -> Result<(), IdError> {
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return Err(IdError::Empty);
    };
    if bytes.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    if !first.is_ascii_alphanumeric() {
        return Err(IdError::BadFirst);
    }
    match bytes
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-')))
    {
        Some(pos) => Err(IdError::BadChar(pos)),
        None => Ok(()),
    }
}

/// Percent-encodes `s` for use as one URL path segment (everything but unreserved characters).
pub fn encode_path_segment(s: &str) -> Cow<'_, str> {
    utf8_percent_encode(s, PATH_SEGMENT).into()
}

macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `s` and wraps it.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                validate_id(s)?;
                Ok(Self(s.to_owned()))
            }

            /// The id as it was given.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id percent-encoded for one upstream URL path segment.
            pub fn path_segment(&self) -> Cow<'_, str> {
                encode_path_segment(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                validate_id(&s)?;
                Ok(Self(s))
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
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

define_id!(
    /// A ticket in a ticketing system (a Zendesk ticket number, a Jira issue key, …).
    ///
    /// ```
    /// use hub_core::TicketId;
    /// let id = TicketId::parse("PROJ-7").unwrap();
    /// assert_eq!(id.as_str(), "PROJ-7");
    /// assert!(TicketId::parse("../admin").is_err());
    /// ```
    TicketId
);
define_id!(
    /// A transaction in the transaction-status system.
    TransactionId
);
define_id!(
    /// A customer of the support platform.
    CustomerId
);
define_id!(
    /// A draft transaction awaiting commit.
    DraftId
);
define_id!(
    /// An entry in the dead-letter queue.
    DlqId
);
define_id!(
    /// A comment on a ticket, as the ticketing system numbers it.
    CommentId
);

#[cfg(test)]
mod tests {
    use super::*;
    use percent_encoding::percent_decode_str;
    use proptest::prelude::*;

    fn check(input: &str, expected: Result<(), IdError>) {
        assert_eq!(validate_id(input), expected, "input {input:?}");
    }

    #[test]
    fn the_contract_rule() {
        check("TICKET-123", Ok(()));
        check("a", Ok(()));
        check("9:x.y_z-1", Ok(()));
        check(&"a".repeat(128), Ok(()));
        check(&"a".repeat(129), Err(IdError::TooLong));
        check("", Err(IdError::Empty));
        check(".hidden", Err(IdError::BadFirst));
        check("..", Err(IdError::BadFirst));
        check("-x", Err(IdError::BadFirst));
        check("a/b", Err(IdError::BadChar(1)));
        check("a%2Fb", Err(IdError::BadChar(1)));
        check("a b", Err(IdError::BadChar(1)));
        check("a?b", Err(IdError::BadChar(1)));
        check("a#b", Err(IdError::BadChar(1)));
        check("é", Err(IdError::BadFirst));
        check("aé", Err(IdError::BadChar(1)));
        check("a\u{0}", Err(IdError::BadChar(1)));
    }

    #[test]
    fn colons_are_encoded_in_paths() {
        let id = TicketId::parse("urn:x.1_2-3").unwrap();
        assert_eq!(id.path_segment(), "urn%3Ax.1_2-3");
    }

    #[test]
    fn serde_validates() {
        let ok: TransactionId = serde_json::from_str("\"TXN-1\"").unwrap();
        assert_eq!(ok.as_str(), "TXN-1");
        assert!(serde_json::from_str::<TransactionId>("\"../x\"").is_err());
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"TXN-1\"");
    }

    proptest! {
        #[test]
        fn accepted_ids_round_trip_through_percent_encoding(s in "[A-Za-z0-9][A-Za-z0-9._:-]{0,127}") {
            let id = DraftId::parse(&s).unwrap();
            let seg = id.path_segment();
            prop_assert!(!seg.contains('/') && !seg.contains('?') && !seg.contains('#'));
            prop_assert_eq!(percent_decode_str(&seg).decode_utf8().unwrap(), s.as_str());
        }

        #[test]
        fn any_string_is_accepted_iff_it_matches_the_rule(s in "\\PC{0,140}|[A-Za-z0-9./%:_-]{0,140}") {
            let matches = !s.is_empty()
                && s.len() <= 128
                && s.as_bytes()[0].is_ascii_alphanumeric()
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b".:_-".contains(&b));
            prop_assert_eq!(CustomerId::parse(&s).is_ok(), matches);
            if !matches {
                // A rejected id can never become a value a port accepts.
                prop_assert!(serde_json::from_value::<CustomerId>(serde_json::Value::String(s)).is_err());
            }
        }
    }
}
