//! The log line formatter: a `tracing` layer that writes each event as one JSON object
//! (or one human-readable line) into a reused per-thread buffer and hands the bytes to a
//! [`LineSink`], adding the request's correlation ids from [`super::context`].
//!
//! Fields are written as they are visited, straight into the buffer: no span fields are
//! formatted, stored or parsed again, and a line costs no allocation once the thread's
//! buffer has grown.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;

use super::context::{LogContext, TraceId};
use super::{LineSink, context, timestamp};

/// How lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `{"timestamp":…,"level":"INFO","target":…,"message":…,<fields>,"request_id":…}`.
    Json,
    /// `2026-12-04T10:03:20.123456Z  INFO target: message key=value … request_id=…`.
    Text,
}

/// The layer; see the module documentation.
pub struct Lines {
    style: Style,
    sink: Arc<dyn LineSink>,
}

impl fmt::Debug for Lines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lines")
            .field("style", &self.style)
            .finish_non_exhaustive()
    }
}

/// A line's buffer grows to the longest line written; beyond this it is given back.
const KEEP_CAPACITY: usize = 64 * 1024;

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
}

impl Lines {
    /// Lines of `style` into `sink`.
    pub fn new(style: Style, sink: Arc<dyn LineSink>) -> Self {
        Self { style, sink }
    }

    /// Formats `event` as one line (with its newline) into `buf`.
    pub fn format(&self, event: &Event<'_>, buf: &mut Vec<u8>) {
        let meta = event.metadata();
        match self.style {
            Style::Json => {
                buf.extend_from_slice(b"{\"timestamp\":\"");
                timestamp::write(buf, SystemTime::now());
                buf.extend_from_slice(b"\",\"level\":\"");
                buf.extend_from_slice(level(meta.level()).as_bytes());
                buf.extend_from_slice(b"\",\"target\":");
                json_str(buf, meta.target());
                let mut fields = JsonFields {
                    buf,
                    own: ContextKeys::NONE,
                };
                event.record(&mut fields);
                let own = fields.own;
                context::with_current(|ctx| {
                    context_fields(ctx, own, |key, value| {
                        buf.extend_from_slice(b",\"");
                        buf.extend_from_slice(key.as_bytes());
                        buf.extend_from_slice(b"\":");
                        match value {
                            ContextValue::Text(text) => json_str(buf, text),
                            ContextValue::Trace(id) => {
                                buf.push(b'"');
                                id.write_hex(buf);
                                buf.push(b'"');
                            }
                        }
                    });
                });
                buf.extend_from_slice(b"}\n");
            }
            Style::Text => {
                timestamp::write(buf, SystemTime::now());
                buf.push(b' ');
                buf.extend_from_slice(format!("{:>5} ", level(meta.level())).as_bytes());
                buf.extend_from_slice(meta.target().as_bytes());
                buf.push(b':');
                let mut fields = TextFields {
                    buf,
                    own: ContextKeys::NONE,
                };
                event.record(&mut fields);
                let own = fields.own;
                context::with_current(|ctx| {
                    context_fields(ctx, own, |key, value| {
                        buf.push(b' ');
                        buf.extend_from_slice(key.as_bytes());
                        buf.push(b'=');
                        match value {
                            ContextValue::Text(text) => buf.extend_from_slice(text.as_bytes()),
                            ContextValue::Trace(id) => id.write_hex(buf),
                        }
                    });
                });
                buf.push(b'\n');
            }
        }
    }
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for Lines {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        BUFFER.with(|cell| {
            // A line logged while formatting a line (a field's `Debug` that logs) gets a buffer of its own.
            let mut spare = Vec::new();
            let mut guard = cell.try_borrow_mut();
            let buf = match guard.as_deref_mut() {
                Ok(buf) => buf,
                Err(_) => &mut spare,
            };
            buf.clear();
            self.format(event, buf);
            self.sink.append(buf);
            if buf.capacity() > KEEP_CAPACITY {
                *buf = Vec::with_capacity(1024);
            }
        });
    }
}

fn level(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// Appends `s` as a JSON string (quoted, escaped).
///
/// ```
/// let mut buf = Vec::new();
/// hub_telemetry::logging::lines::json_str(&mut buf, "a \"quote\"\n");
/// assert_eq!(buf, br#""a \"quote\"\n""#);
/// ```
pub fn json_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    escape(buf, s);
    buf.push(b'"');
}

/// Appends `s` escaped for the inside of a JSON string.
fn escape(buf: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    // Most text needs no escape: checked eight bytes at a time, then one copy.
    if !any_needs_escape(bytes) {
        buf.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        if escaped.is_empty() {
            buf.extend_from_slice(b"\\u00");
            buf.push(HEX[usize::from(b >> 4)]);
            buf.push(HEX[usize::from(b & 0xf)]);
        } else {
            buf.extend_from_slice(escaped);
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// Whether `b` cannot stand for itself inside a JSON string (RFC 8259 §7), or is DEL: the
/// test's oracle for the word-wise check.
#[cfg(test)]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f
}

/// Whether any byte of `bytes` needs an escape (a control byte, `"`, `\\` or DEL), read as 64-bit words:
/// the log line's strings are mostly short, where a byte loop does not vectorise.
fn any_needs_escape(bytes: &[u8]) -> bool {
    let word = |chunk: &[u8]| {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        u64::from_le_bytes(word)
    };
    let mut chunks = bytes.chunks_exact(8);
    let mut any = 0u64;
    for chunk in &mut chunks {
        any |= escape_bits(word(chunk));
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        any |= escape_bits(if bytes.len() >= 8 {
            // The last eight bytes, overlapping the words already read.
            word(&bytes[bytes.len() - 8..])
        } else {
            // A short string, padded with a byte that needs no escape (no copy call).
            tail.iter()
                .rev()
                .fold(u64::from_le_bytes([b'a'; 8]), |w, &b| w << 8 | u64::from(b))
        });
    }
    any != 0
}

/// Non-zero when a byte of `w` needs an escape: a byte below 0x20, or equal to `"`, `\\`
/// or DEL (the "has a byte less than n" and "has a zero byte" bit tricks; each is exact
/// about whether there is such a byte, which is all that is asked).
fn escape_bits(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    below_space
        | zero_byte(w ^ (ONES * u64::from(b'"')))
        | zero_byte(w ^ (ONES * u64::from(b'\\')))
        | zero_byte(w ^ (ONES * 0x7f))
}

/// A `fmt::Write` that escapes what it is given into a JSON string's inside.
struct Escaping<'a>(&'a mut Vec<u8>);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape(self.0, s);
        Ok(())
    }
}

/// A `fmt::Write` straight into the buffer.
struct Raw<'a>(&'a mut Vec<u8>);

impl fmt::Write for Raw<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// The keys a line takes from the request's log context.
const REQUEST_ID: &str = "request_id";
const CONVERSATION_ID: &str = "conversation_id";
const TRACE_ID: &str = "trace_id";

/// A value a line takes from the request's log context.
enum ContextValue<'a> {
    Text(&'a str),
    Trace(&'a TraceId),
}

/// Calls `field` with each of the request's context fields a line adds after the event's
/// own: the request id, the conversation id and the trace id when there are ones, but
/// not a key the event carried itself (`own`): a line names each key once, and the
/// event's own value wins.
fn context_fields(ctx: &LogContext, own: ContextKeys, mut field: impl FnMut(&'static str, ContextValue<'_>)) {
    if !own.has(ContextKeys::REQUEST_ID) {
        field(REQUEST_ID, ContextValue::Text(ctx.request_id.as_str()));
    }
    if let Some(c) = &ctx.conversation_id
        && !own.has(ContextKeys::CONVERSATION_ID)
    {
        field(CONVERSATION_ID, ContextValue::Text(c.as_str()));
    }
    if let Some(t) = &ctx.trace
        && !own.has(ContextKeys::TRACE_ID)
    {
        field(TRACE_ID, ContextValue::Trace(&t.trace_id));
    }
}

/// The context keys among an event's fields, as a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ContextKeys(u8);

impl ContextKeys {
    const NONE: Self = Self(0);
    const REQUEST_ID: Self = Self(1);
    const CONVERSATION_ID: Self = Self(2);
    const TRACE_ID: Self = Self(4);

    /// The context key a field named `name` is, if any.
    fn of(name: &str) -> Self {
        match name {
            REQUEST_ID => Self::REQUEST_ID,
            CONVERSATION_ID => Self::CONVERSATION_ID,
            TRACE_ID => Self::TRACE_ID,
            _ => Self::NONE,
        }
    }

    fn add(&mut self, name: &str) {
        self.0 |= Self::of(name).0;
    }

    fn has(self, key: Self) -> bool {
        self.0 & key.0 != 0
    }
}

/// Writes an event's fields as `,"name":value` pairs, noting the context keys among them.
struct JsonFields<'a> {
    buf: &'a mut Vec<u8>,
    own: ContextKeys,
}

impl JsonFields<'_> {
    fn key(&mut self, field: &Field) {
        self.own.add(field.name());
        self.buf.push(b',');
        json_str(self.buf, field.name());
        self.buf.push(b':');
    }

    fn number(&mut self, field: &Field, value: impl fmt::Display) {
        self.key(field);
        let _ = write!(Raw(self.buf), "{value}");
    }
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        json_str(self.buf, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        self.buf.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        self.buf.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.buf.extend_from_slice(if value { b"true" } else { b"false" });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.number(field, value);
        } else {
            self.record_str(field, &value.to_string());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        self.buf.push(b'"');
        let _ = write!(Escaping(self.buf), "{value:?}");
        self.buf.push(b'"');
    }
}

/// Writes an event's fields as ` message key=value`, noting the context keys among them.
struct TextFields<'a> {
    buf: &'a mut Vec<u8>,
    own: ContextKeys,
}

impl Visit for TextFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.buf.push(b' ');
        if field.name() != "message" {
            self.own.add(field.name());
            self.buf.extend_from_slice(field.name().as_bytes());
            self.buf.push(b'=');
        }
        let _ = write!(Raw(self.buf), "{value:?}");
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;
    use crate::logging::context::{LogContext, LogId};
    use crate::logging::testing::Collect;

    fn lines(style: Style, f: impl FnOnce()) -> String {
        let sink = Arc::new(Collect::default());
        let subscriber = tracing_subscriber::registry().with(Lines::new(style, sink.clone()));
        tracing::subscriber::with_default(subscriber, f);
        sink.text()
    }

    /// A request's log context: `request_id`, `conversation_id`, and a trace id of bytes 0xab.
    fn request(request_id: &str, conversation_id: &str) -> LogContext {
        LogContext {
            request_id: LogId::new(request_id),
            conversation_id: Some(LogId::new(conversation_id)),
            trace: Some(context::TraceIds::new(TraceId([0xab; 16]), [0xcd; 8], false, None)),
        }
    }

    /// Runs `f` as a task serving the request of `ctx` does.
    fn serving(ctx: LogContext, f: impl FnOnce()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(context::scope(ctx, async { f() }));
    }

    #[test]
    fn a_json_line_has_the_fields_and_the_request() {
        let out = lines(Style::Json, || {
            serving(request("req-1", "conv \"9\""), || {
                tracing::info!(status = 200u64, ok = true, ratio = 0.5, neg = -3i64, path = "/v1/x", err = ?"bad\n", "answered");
            });
            tracing::warn!("outside");
        });
        let mut it = out.lines();
        let first: serde_json::Value = serde_json::from_str(it.next().unwrap()).unwrap();
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["message"], "answered");
        assert_eq!(first["status"], 200);
        assert_eq!(first["ok"], true);
        assert_eq!(first["ratio"], 0.5);
        assert_eq!(first["neg"], -3);
        assert_eq!(first["path"], "/v1/x");
        assert_eq!(first["err"], "\"bad\\n\"");
        assert_eq!(first["request_id"], "req-1");
        assert_eq!(first["conversation_id"], "conv \"9\"");
        assert_eq!(first["trace_id"], "ab".repeat(16));
        assert!(first["target"].as_str().unwrap().starts_with("hub_telemetry"));
        assert_eq!(first["timestamp"].as_str().unwrap().len(), 27);
        let second: serde_json::Value = serde_json::from_str(it.next().unwrap()).unwrap();
        assert_eq!(second["message"], "outside");
        assert!(second.get("request_id").is_none());
        assert!(second.get("trace_id").is_none());
        assert!(it.next().is_none());
    }

    /// An event that carries a key of the request's context itself (an upstream call logs
    /// the request id of its call) keeps its own value, and no line names a key twice.
    #[test]
    fn a_key_the_event_carries_is_not_repeated_from_the_context() {
        for style in [Style::Json, Style::Text] {
            let out = lines(style, || {
                serving(request("req-ctx", "conv-ctx"), || {
                    tracing::info!(request_id = "req-own", "one");
                    tracing::info!(
                        request_id = "req-own",
                        conversation_id = "conv-own",
                        trace_id = "t-own",
                        "all"
                    );
                    tracing::info!("none");
                });
            });
            let named = |line: &str, key: &str| match style {
                Style::Json => line.matches(&format!("\"{key}\":")).count(),
                Style::Text => line.matches(&format!(" {key}=")).count(),
            };
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(lines.len(), 3, "{out}");
            for line in &lines {
                for key in ["request_id", "conversation_id", "trace_id"] {
                    assert_eq!(named(line, key), 1, "{key} in {line}");
                }
            }
            assert!(
                lines[0].contains("req-own") && !lines[0].contains("req-ctx"),
                "{}",
                lines[0]
            );
            assert!(
                lines[0].contains("conv-ctx") && lines[0].contains(&"ab".repeat(16)),
                "{}",
                lines[0]
            );
            assert!(!lines[1].contains("-ctx") && lines[1].contains("t-own"), "{}", lines[1]);
            assert!(
                lines[2].contains("req-ctx") && lines[2].contains("conv-ctx"),
                "{}",
                lines[2]
            );
            if style == Style::Json {
                for line in &lines {
                    serde_json::from_str::<serde_json::Value>(line).unwrap();
                }
            }
        }
    }

    #[test]
    fn a_text_line_reads_like_a_sentence() {
        let out = lines(Style::Text, || tracing::info!(status = 200u64, "answered"));
        assert!(
            out.ends_with(" INFO hub_telemetry::logging::lines::tests: answered status=200\n"),
            "{out}"
        );
    }

    #[test]
    fn non_finite_numbers_are_strings() {
        let out = lines(Style::Json, || tracing::info!(x = f64::NAN, "n"));
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["x"], "NaN");
    }

    proptest! {
        /// Whatever a string holds, the line is valid JSON and gives the string back.
        #[test]
        fn any_string_survives(s in "\\PC*|[\\x00-\\x7f]*") {
            let out = lines(Style::Json, || tracing::info!(value = s.as_str(), debug = ?s, "m"));
            let v: serde_json::Value = serde_json::from_str(out.trim_end_matches('\n')).unwrap();
            prop_assert_eq!(v["value"].as_str().unwrap(), s.as_str());
            prop_assert_eq!(v["debug"].as_str().unwrap(), format!("{s:?}"));
            prop_assert_eq!(out.matches('\n').count(), 1);
        }

        /// The word-wise check finds a byte that needs an escape exactly when one does.
        #[test]
        fn the_word_check_is_the_byte_check(bytes in proptest::collection::vec(prop_oneof![any::<u8>(), Just(b'"'), Just(b'\\'), Just(0x7f), Just(0x1f), Just(0x20)], 0..40)) {
            prop_assert_eq!(any_needs_escape(&bytes), bytes.iter().any(|&b| needs_escape(b)));
        }

        /// Any integer and boolean reads back as the number or boolean logged.
        #[test]
        fn any_number_survives(u in any::<u64>(), i in any::<i64>(), b in any::<bool>()) {
            let out = lines(Style::Json, || tracing::info!(u, i, b, "m"));
            let v: serde_json::Value = serde_json::from_str(out.trim_end_matches('\n')).unwrap();
            prop_assert_eq!(v["u"].as_u64(), Some(u));
            prop_assert_eq!(v["i"].as_i64(), Some(i));
            prop_assert_eq!(v["b"].as_bool(), Some(b));
        }
    }
}
