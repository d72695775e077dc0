//! The request a log line belongs to: correlation ids carried in a task-local for the
//! duration of a request, so every line written while serving it names it, without a
//! span per request.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

/// An id as it appears in log lines: up to [`MAX_ID`] bytes, its text shared (a request's
/// context is moved in and out of its task-local on every poll, so it is kept small).
#[derive(Clone)]
pub struct LogId(Arc<str>);

/// The longest id kept; longer ones are cut (the hub's ids are at most 128 bytes).
pub const MAX_ID: usize = 128;

impl LogId {
    /// `s`, cut to [`MAX_ID`] bytes at a character boundary (a copy).
    pub fn new(s: &str) -> Self {
        let mut end = s.len().min(MAX_ID);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        Self(Arc::from(&s[..end]))
    }

    /// `s` itself when it is at most [`MAX_ID`] bytes (no copy), else cut as by [`LogId::new`].
    pub fn shared(s: Arc<str>) -> Self {
        if s.len() <= MAX_ID { Self(s) } else { Self::new(&s) }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id's text, shared rather than copied.
    #[cfg(feature = "otel")]
    pub(crate) fn text(&self) -> Arc<str> {
        Arc::clone(&self.0)
    }
}

impl std::fmt::Debug for LogId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The correlation ids of the request being served.
#[derive(Debug, Clone)]
pub struct LogContext {
    /// `X-Request-Id`, echoed or generated.
    pub request_id: LogId,
    /// `X-Conversation-Id`, when the caller sent one.
    pub conversation_id: Option<LogId>,
    /// The request's place in its trace, when tracing is on.
    pub trace: Option<TraceIds>,
}

/// A request's place in its W3C trace: the trace id its log lines carry, the span its
/// hub spans descend from and whether the trace is sampled (set by
/// `tracing_export::spans::RequestTrace::within`, which keeps it here so that a request
/// carries one task-local, not two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceIds {
    /// The trace id.
    pub trace_id: TraceId,
    /// The request's server span when the trace is sampled; else the span id it passes on
    /// (the caller's, or a new one).
    pub span_id: [u8; 8],
    /// Whether the trace is sampled.
    pub sampled: bool,
    /// The caller's `tracestate`, passed on as it came (`None` when it sent none).
    pub state: Option<Arc<str>>,
    /// The span the request's hub spans descend from now: `span_id`, or the use case span
    /// the request keeps open (`tracing_export::spans::use_case`).
    pub(crate) parent: Cell<[u8; 8]>,
}

impl TraceIds {
    /// The place of a request in trace `trace_id`, its spans descending from `span_id`.
    pub fn new(trace_id: TraceId, span_id: [u8; 8], sampled: bool, state: Option<Arc<str>>) -> Self {
        Self {
            trace_id,
            span_id,
            sampled,
            state,
            parent: Cell::new(span_id),
        }
    }

    /// The span the request's hub spans descend from now: its open use case span, or
    /// [`TraceIds::span_id`].
    pub fn parent_span_id(&self) -> [u8; 8] {
        self.parent.get()
    }
}

/// A W3C trace id (16 bytes), written in log lines as 32 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TraceId(pub [u8; 16]);

impl TraceId {
    /// The 32 lower-case hex digits.
    ///
    /// ```
    /// use hub_telemetry::logging::context::TraceId;
    /// let id = TraceId([0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36]);
    /// assert_eq!(id.hex(), *b"4bf92f3577b34da6a3ce929d0e0e4736");
    /// ```
    pub fn hex(&self) -> [u8; 32] {
        let mut out = [0; 32];
        let (high, low) = self.words();
        out[..16].copy_from_slice(&hex_word(high));
        out[16..].copy_from_slice(&hex_word(low));
        out
    }

    /// Appends the 32 hex digits of [`TraceId::hex`] to `buf`.
    pub fn write_hex(&self, buf: &mut Vec<u8>) {
        let (high, low) = self.words();
        buf.reserve(32);
        buf.extend_from_slice(&hex_word(high));
        buf.extend_from_slice(&hex_word(low));
    }

    /// The id as two big-endian words.
    fn words(&self) -> (u64, u64) {
        let id = u128::from_be_bytes(self.0);
        ((id >> 64) as u64, id as u64)
    }
}

/// The 16 lower-case hex digits of `word`, most significant first, computed a word at a
/// time (a trace id is written into every log line): each byte is spread to a 16-bit
/// lane, each lane's nibbles to its two bytes, and each nibble made a digit.
fn hex_word(word: u64) -> [u8; 16] {
    const LANE_BYTE: u128 = 0x0000_FF00_0000_FF00_0000_FF00_0000_FF00;
    const PAIR: u128 = 0x0000_0000_FFFF_0000_0000_0000_FFFF_0000;
    const HIGH_NIBBLE: u128 = 0x00F0_00F0_00F0_00F0_00F0_00F0_00F0_00F0;
    const EACH: u128 = 0x0101_0101_0101_0101_0101_0101_0101_0101;
    let x = u128::from(word);
    // Bytes 0–3 to the upper 64 bits, then pairs and single bytes to their lanes.
    let x = ((x & 0xFFFF_FFFF_0000_0000) << 32) | (x & 0xFFFF_FFFF);
    let x = ((x & PAIR) << 16) | (x & !PAIR);
    let x = ((x & LANE_BYTE) << 8) | (x & !LANE_BYTE);
    // Each lane's high nibble to its upper byte: one nibble per byte, in order.
    let x = ((x & HIGH_NIBBLE) << 4) | (x & (EACH * 0x0F));
    // '0' + n, and 39 more for n ≥ 10 ('a' is '0' + 49).
    let letters = ((x + EACH * 6) >> 4) & EACH;
    (x + EACH * b'0' as u128 + letters * 39).to_be_bytes()
}

impl std::fmt::Debug for TraceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(std::str::from_utf8(&self.hex()).unwrap_or_default())
    }
}

tokio::task_local! {
    static CURRENT: LogContext;
}

/// Runs `fut` with `ctx` as the context of every line it logs.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use hub_telemetry::logging::context::{self, LogContext, LogId};
/// let ctx = LogContext { request_id: LogId::new("req-1"), conversation_id: None, trace: None };
/// let seen = context::scope(ctx, async { context::current().map(|c| c.request_id.as_str().to_owned()) }).await;
/// assert_eq!(seen.as_deref(), Some("req-1"));
/// assert!(context::current().is_none());
/// # }
/// ```
pub fn scope<F: Future>(ctx: LogContext, fut: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(ctx, fut)
}

/// The context of the request this task is serving, if any.
pub fn current() -> Option<LogContext> {
    CURRENT.try_with(Clone::clone).ok()
}

/// `f` of the context of the request this task is serving (without a copy); `None` when
/// it serves none.
pub fn with_current<R>(f: impl FnOnce(&LogContext) -> R) -> Option<R> {
    CURRENT.try_with(f).ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// A trace id's hex digits are its bytes', as `format!` writes them.
        #[test]
        fn trace_ids_are_lower_case_hex(bytes in any::<[u8; 16]>()) {
            let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            prop_assert_eq!(&TraceId(bytes).hex()[..], expected.as_bytes());
            let mut buf = b"x".to_vec();
            TraceId(bytes).write_hex(&mut buf);
            prop_assert_eq!(&buf[1..], expected.as_bytes());
        }

        /// Any string keeps its first 128 bytes' worth of whole characters, copied or shared.
        #[test]
        fn ids_are_cut_at_character_boundaries(s in "\\PC{0,200}") {
            for id in [LogId::new(&s), LogId::shared(Arc::from(s.as_str()))] {
                prop_assert!(s.starts_with(id.as_str()));
                prop_assert!(id.as_str().len() <= MAX_ID);
                prop_assert!(s.len() <= MAX_ID || id.as_str().len() > MAX_ID - 4);
            }
        }
    }
}
