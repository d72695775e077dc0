//! Serves an axum `Router` over TCP the way an edge proxy would: HTTP/1.1 (with upgrades)
//! and HTTP/2 with prior knowledge on one port, header, body and idle timeouts, a
//! connection limit, and a graceful drain on shutdown.
//!
//! ```no_run
//! # async fn run(router: axum::Router) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let settings = hub_listener::ServeSettings::default();
//! let stopped = hub_listener::serve(listener, router, hub_listener::signal(), settings, || {}).await?;
//! println!("{stopped:?}");
//! # Ok(())
//! # }
//! ```
//!
//! A handler that reads a body past its deadline gets a body error whose source is
//! [`BodyReadTimeout`]; answer it as `408`.

mod body;
mod idle;
mod serve;
mod signal;

pub use body::{BodyReadTimeout, ReadDeadline};
pub use serve::{ServeSettings, Stopped, serve};
pub use signal::signal;
