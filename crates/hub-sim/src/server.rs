//! The HTTP server: one listener, hyper connections, and closing a connection when a fault says so.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::Service;

use crate::config::SimConfig;
use crate::conn::ResettableStream;
use crate::control::Control;
use crate::intercept::AbortConnection;
use crate::state::SimState;
use crate::system::System;

/// Why the simulation could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// Entry point: starts the simulated systems on one listener.
#[derive(Debug, Clone, Copy)]
pub struct Sim;

impl Sim {
    /// Binds `config.listen` and serves every system until the handle is shut down or dropped.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sim = hub_sim::Sim::start(hub_sim::SimConfig::default()).await.unwrap();
    /// assert!(sim.url(hub_sim::System::Zendesk).ends_with("/zendesk"));
    /// sim.shutdown().await;
    /// # }
    /// ```
    pub async fn start(config: SimConfig) -> Result<SimHandle, StartError> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let base_url = format!("http://{addr}");
        let public_url = config
            .public_url
            .as_deref()
            .map_or_else(|| base_url.clone(), |u| u.trim_end_matches('/').to_owned());
        let state = Arc::new(SimState::new(&config, public_url));
        let router = crate::app(Arc::clone(&state));
        let (shutdown, signal) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, router, signal));
        tracing::info!(%addr, "hub-sim listening");
        Ok(SimHandle {
            addr,
            base_url,
            control: Control::new(state),
            shutdown,
            task: Some(task),
        })
    }
}

/// A running simulation: its address and its control handle. Dropping it stops the server.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    base_url: String,
    control: Control,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A system's base URL, prefix included (`http://127.0.0.1:PORT/zendesk`): what an adapter's `base_url` is set to.
    pub fn url(&self, system: System) -> String {
        format!("{}{}", self.base_url, system.prefix())
    }

    /// The control handle (faults, ledger, webhooks, reset, clock).
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Stops accepting, closes every connection and waits for the server task to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

#[derive(Debug, thiserror::Error)]
#[error("connection closed by a simulated fault")]
struct Aborted;

async fn accept_loop(listener: TcpListener, router: Router, mut signal: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(connection(stream, router.clone(), signal.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = signal.changed() => break,
        }
    }
}

async fn connection(stream: TcpStream, router: Router, mut signal: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let (stream, switch) = ResettableStream::new(stream);
    let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
        let mut router = router.clone();
        let switch = switch.clone();
        async move {
            let response = match router.call(req.map(Body::new)).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            if response.extensions().get::<AbortConnection>().is_some() {
                switch.trip();
                Err(Aborted)
            } else {
                Ok::<_, Aborted>(response)
            }
        }
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = conn => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended");
            }
        }
        _ = signal.changed() => {}
    }
}
