//! W3C trace context as the hub stores it: the `traceparent` of the span a dead letter
//! was written in, and the trace id an audit record carries.
//!
//! A [`TraceParent`] is parsed and validated as the W3C Trace Context recommendation
//! says (`00-<32 hex>-<16 hex>-<2 hex>`, lower-case, neither id all zeros, version `ff`
//! refused, a later version read for its version-00 fields) and written back as version
//! `00`. How the current span's context is found, and how a span is linked to a stored
//! one, is the [`crate::ports::trace_context::TraceContext`] port's business.

use std::fmt;
use std::str::FromStr;

/// Why a string is not a valid `traceparent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TraceParentError {
    /// Not 55 characters (version 00), or a later version's fields not followed by `-`.
    #[error("a traceparent is 55 characters: 00-<32 hex>-<16 hex>-<2 hex>")]
    Length,
    /// The version is not two lower-case hex digits, or is `ff`.
    #[error("the traceparent's version is not two lower-case hex digits other than ff")]
    Version,
    /// The trace id is not 32 lower-case hex digits, or is all zeros.
    #[error("the trace id is not 32 lower-case hex digits, not all zero")]
    TraceId,
    /// The parent (span) id is not 16 lower-case hex digits, or is all zeros.
    #[error("the parent id is not 16 lower-case hex digits, not all zero")]
    SpanId,
    /// The flags are not two lower-case hex digits.
    #[error("the trace flags are not two lower-case hex digits")]
    Flags,
    /// A field is not followed by `-`.
    #[error("the traceparent's fields are not separated by '-'")]
    Separator,
}

/// A W3C trace id: 16 bytes, not all zero, written as 32 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

/// A W3C span (parent) id: 8 bytes, not all zero, written as 16 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId([u8; 8]);

impl TraceId {
    /// The id of `bytes`; `None` when they are all zero (the invalid trace id).
    pub fn from_bytes(bytes: [u8; 16]) -> Option<Self> {
        (bytes != [0; 16]).then_some(Self(bytes))
    }

    /// Its bytes.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }
}

impl SpanId {
    /// The id of `bytes`; `None` when they are all zero (the invalid span id).
    pub fn from_bytes(bytes: [u8; 8]) -> Option<Self> {
        (bytes != [0; 8]).then_some(Self(bytes))
    }

    /// Its bytes.
    pub fn to_bytes(self) -> [u8; 8] {
        self.0
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// The trace flag `sampled`.
const SAMPLED: u8 = 0x01;

/// A span's W3C trace context: its trace, its span and the trace flags — what a
/// `traceparent` header says, and what a dead letter keeps of the write that failed.
///
/// ```
/// use hub_core::trace::TraceParent;
/// let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap();
/// assert_eq!(tp.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(tp.span_id().to_string(), "00f067aa0ba902b7");
/// assert!(tp.sampled());
/// assert_eq!(tp.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// // Upper-case hex, an all-zero id and version ff are refused.
/// assert!(TraceParent::parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").is_err());
/// assert!(TraceParent::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_err());
/// assert!(TraceParent::parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TraceParent {
    trace_id: TraceId,
    span_id: SpanId,
    flags: u8,
}

/// The length of a version-00 `traceparent`.
const LEN: usize = 55;

impl TraceParent {
    /// The context of span `span_id` in trace `trace_id`, with the trace `flags` (bit 0: sampled).
    pub fn new(trace_id: TraceId, span_id: SpanId, flags: u8) -> Self {
        Self {
            trace_id,
            span_id,
            flags,
        }
    }

    /// Parses a `traceparent` header value (see the module's rules).
    pub fn parse(s: &str) -> Result<Self, TraceParentError> {
        let b = s.as_bytes();
        if b.len() < LEN {
            return Err(TraceParentError::Length);
        }
        let version = hex_byte(&b[0..2]).ok_or(TraceParentError::Version)?;
        if version == 0xff {
            return Err(TraceParentError::Version);
        }
        // Version 00 is exactly its fields; a later version may add fields after a '-'.
        if (version == 0 && b.len() != LEN) || (b.len() > LEN && b[LEN] != b'-') {
            return Err(TraceParentError::Length);
        }
        if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return Err(TraceParentError::Separator);
        }
        let mut trace = [0; 16];
        hex_into(&b[3..35], &mut trace).ok_or(TraceParentError::TraceId)?;
        let mut span = [0; 8];
        hex_into(&b[36..52], &mut span).ok_or(TraceParentError::SpanId)?;
        let flags = hex_byte(&b[53..55]).ok_or(TraceParentError::Flags)?;
        Ok(Self {
            trace_id: TraceId::from_bytes(trace).ok_or(TraceParentError::TraceId)?,
            span_id: SpanId::from_bytes(span).ok_or(TraceParentError::SpanId)?,
            flags,
        })
    }

    /// The trace.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The trace flags.
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the trace was sampled (flag bit 0).
    pub fn sampled(&self) -> bool {
        self.flags & SAMPLED != 0
    }
}

/// The value of one lower-case hex digit.
fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Two lower-case hex digits as a byte.
fn hex_byte(pair: &[u8]) -> Option<u8> {
    match pair {
        [hi, lo] => Some(hex_digit(*hi)? << 4 | hex_digit(*lo)?),
        _ => None,
    }
}

/// `digits` (twice `out`'s length of lower-case hex) into `out`.
fn hex_into(digits: &[u8], out: &mut [u8]) -> Option<()> {
    if digits.len() != out.len() * 2 {
        return None;
    }
    for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *o = hex_byte(pair)?;
    }
    Some(())
}

impl fmt::Display for TraceParent {
    /// The version-00 form: `00-<trace id>-<span id>-<flags>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "00-{}-{}-{:02x}", self.trace_id, self.span_id, self.flags)
    }
}

impl fmt::Debug for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceParent({self})")
    }
}

impl FromStr for TraceParent {
    type Err = TraceParentError;
    fn from_str(s: &str) -> Result<Self, TraceParentError> {
        Self::parse(s)
    }
}

impl TryFrom<String> for TraceParent {
    type Error = TraceParentError;
    fn try_from(s: String) -> Result<Self, TraceParentError> {
        Self::parse(&s)
    }
}

impl From<TraceParent> for String {
    fn from(tp: TraceParent) -> String {
        tp.to_string()
    }
}

#[cfg(test)]
mod tests;
