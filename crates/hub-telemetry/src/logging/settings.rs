//! The `[log]` settings: the lines' format and the level filter.

use serde::Deserialize;

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `auto` (JSON unless on a terminal), `json` or `pretty`.
    pub format: LogFormat,
    /// A tracing filter (default `info`); `RUST_LOG` wins when set.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Auto,
            level: "info".to_owned(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON, or human-readable on a terminal.
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}
