//! Structured logs through `tracing`: one JSON object per line (or a human-readable line
//! on a terminal), formatted by [`lines::Lines`] and written by a background thread
//! ([`background()`]) so that a request never waits on the disk.
//!
//! Every line logged while a request is served carries its correlation ids from
//! [`context`] (a task-local the server sets per request) rather than from a span:
//! spans are left to tracing exporters, and the log layer enables none, so a request
//! that no exporter traces creates no span at all.
//!
//! Why: profiling the cached read (`cargo xtask bench`) showed `tracing-subscriber`'s
//! JSON formatter — the request span's fields formatted into a string at span creation,
//! then parsed back into a JSON map for every event — and the per-request `write(2)` as
//! the largest parts of the hub's own CPU time.

use std::io::{self, IsTerminal};
use std::sync::Arc;

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

pub mod background;
pub mod context;
pub(crate) mod layer;
pub mod lines;
mod settings;
#[cfg(test)]
mod testing;
pub mod timestamp;

pub use background::{Background, GATHER, LogGuard, MAX_PENDING, background};
pub use lines::Style;
pub use settings::{LogConfig, LogFormat};

/// Where formatted lines go: each call is one whole line, newline included.
pub trait LineSink: Send + Sync + 'static {
    /// Takes one line.
    fn append(&self, line: &[u8]);
}

/// Whether `filter` is a level filter [`init`] accepts (`info`, `hub_server=debug,info`).
///
/// ```
/// use hub_telemetry::logging::is_valid_filter;
/// assert!(is_valid_filter("hub_server=debug,info"));
/// assert!(!is_valid_filter("hub_server=loud"));
/// ```
pub fn is_valid_filter(filter: &str) -> bool {
    EnvFilter::try_new(filter).is_ok()
}

/// The log layer: events passing `filter`, formatted in `style`, into `sink`. It lets no
/// span be built, but the hub's own when the hub's OpenTelemetry layer is in the same
/// subscriber (added before or after it), for that layer to decide.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use tracing_subscriber::layer::SubscriberExt as _;
/// use hub_telemetry::logging::{self, LineSink, Style};
///
/// #[derive(Default)]
/// struct Lines(Mutex<Vec<u8>>);
/// impl LineSink for Lines {
///     fn append(&self, line: &[u8]) { self.0.lock().unwrap().extend_from_slice(line) }
/// }
/// let sink = Arc::new(Lines::default());
/// let layer = logging::layer(Style::Json, "info", sink.clone());
/// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
///     tracing::info!(status = 200u64, "answered");
///     tracing::debug!("not at info");
/// });
/// let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
/// assert_eq!(text.lines().count(), 1);
/// assert!(text.contains(r#""message":"answered","status":200"#));
/// ```
pub fn layer<S>(style: Style, filter: &str, sink: Arc<dyn LineSink>) -> impl Layer<S> + use<S>
where
    S: Subscriber + for<'a> LookupSpan<'a> + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    layer::LogLayer::new(lines::Lines::new(style, sink), filter)
}

/// Installs the global subscriber; `RUST_LOG` wins over the configured level. Keep the
/// guard until the process ends: dropping it flushes what is queued.
#[must_use = "dropping the guard flushes the logs; hold it until the end of main"]
pub fn init(config: &LogConfig) -> LogGuard {
    let (style, filter) = style_and_filter(config);
    let (writer, guard) = background(io::stdout);
    // A subscriber already installed (tests, embedding) is kept.
    drop(
        tracing_subscriber::registry()
            .with(layer(style, &filter, Arc::new(writer)))
            .try_init(),
    );
    guard
}

/// [`init`], with the OpenTelemetry layer of `tracing` in the same subscriber when tracing
/// is on.
#[cfg(feature = "otel")]
#[must_use = "dropping the guard flushes the logs; hold it until the end of main"]
pub fn init_with_traces(config: &LogConfig, tracing: Option<&crate::tracing_export::Tracing>) -> LogGuard {
    // Without tracing, no layer at all: an absent `Option` layer would enable every span.
    let Some(tracing) = tracing else {
        return init(config);
    };
    let (style, filter) = style_and_filter(config);
    let (writer, guard) = background(io::stdout);
    drop(with_traces(tracing, style, &filter, Arc::new(writer)).try_init());
    guard
}

/// The subscriber [`init_with_traces`] installs, its lines into `sink`: the OpenTelemetry
/// layer, then the log layer over the same registry.
#[cfg(feature = "otel")]
pub fn with_traces(
    tracing: &crate::tracing_export::Tracing,
    style: Style,
    filter: &str,
    sink: Arc<dyn LineSink>,
) -> impl Subscriber + Send + Sync + for<'a> LookupSpan<'a> + use<> {
    tracing_subscriber::registry()
        .with(tracing.layer())
        .with(layer(style, filter, sink))
}

/// The lines' style and the level filter: `RUST_LOG` when valid, else the configured level.
fn style_and_filter(config: &LogConfig) -> (Style, String) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|f| is_valid_filter(f))
        .unwrap_or_else(|| config.level.clone());
    let style = match config.format {
        LogFormat::Json => Style::Json,
        LogFormat::Pretty => Style::Text,
        LogFormat::Auto if io::stdout().is_terminal() => Style::Text,
        LogFormat::Auto => Style::Json,
    };
    (style, filter)
}
