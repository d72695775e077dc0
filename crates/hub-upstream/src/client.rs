//! A pooled HTTP/1.1 and HTTP/2 client over rustls that sends one attempt and classifies how it failed.

use std::error::Error as StdError;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hub_core::{ConnectCause, Error};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How the client connects and what it accepts.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// How long establishing a connection (TCP and TLS) may take; failing it means nothing was sent.
    pub connect_timeout: Duration,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
    /// How many idle connections are kept per host.
    pub max_idle_per_host: usize,
    /// The largest response body accepted; a larger one fails as a decode error.
    pub max_response_bytes: usize,
    /// The `User-Agent` sent with every request.
    pub user_agent: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            pool_idle_timeout: Duration::from_secs(90),
            max_idle_per_host: 64,
            max_response_bytes: 4 * 1024 * 1024,
            user_agent: concat!("integration-hub/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The TLS configuration was refused.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The user agent is not a valid header value.
    #[error("the user agent is not a valid header value")]
    UserAgent,
}

/// A complete upstream response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The whole body (at most the configured cap).
    pub body: Bytes,
}

/// The shared HTTP client: cheap to clone, one connection pool.
///
/// ```no_run
/// use bytes::Bytes;
/// use hub_upstream::client::{ClientConfig, HttpClient};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = HttpClient::new(&ClientConfig::default())?;
/// let req = http::Request::get("http://127.0.0.1:9/health").body(Bytes::new())?;
/// let response = client.send(req).await?;
/// println!("{}", response.status);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    max_response_bytes: usize,
    user_agent: HeaderValue,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Builds a client: rustls with the `ring` provider and the Mozilla roots, HTTP/1.1
    /// and HTTP/2 (negotiated by ALPN), plain HTTP allowed for loopback and test upstreams.
    pub fn new(config: &ClientConfig) -> Result<Self, BuildError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.connect_timeout));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(config.pool_idle_timeout)
            .pool_max_idle_per_host(config.max_idle_per_host)
            .build(https);
        let user_agent = HeaderValue::from_str(&config.user_agent).map_err(|_| BuildError::UserAgent)?;
        Ok(Self {
            inner,
            max_response_bytes: config.max_response_bytes,
            user_agent,
        })
    }

    /// Sends one attempt and reads the whole response. No timeout is applied here: the
    /// caller bounds the attempt (see the resilient call).
    pub async fn send(&self, mut request: Request<Bytes>) -> Result<Response, Error> {
        request
            .headers_mut()
            .entry(header::USER_AGENT)
            .or_insert_with(|| self.user_agent.clone());
        let response = self
            .inner
            .request(request.map(Full::new))
            .await
            .map_err(|e| classify_send_error(&e))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, self.max_response_bytes)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>().is_none() {
                    return Error::ConnectionLost;
                }
                if parts.status.is_success() {
                    // The upstream did what was asked; only its answer is too large to read.
                    Error::AnswerUnreadable {
                        status: parts.status.as_u16(),
                        reason: format!("the response body exceeds {} bytes", self.max_response_bytes),
                    }
                } else {
                    crate::response::classify_status(parts.status, &parts.headers)
                }
            })?;
        Ok(Response {
            status: parts.status,
            headers: parts.headers,
            body: body.to_bytes(),
        })
    }
}

/// Classifies a failed send: connect-phase failures mean nothing was sent; anything
/// else may have reached the upstream.
fn classify_send_error(e: &hyper_util::client::legacy::Error) -> Error {
    if e.is_connect() {
        Error::Connect(connect_cause(e))
    } else {
        Error::ConnectionLost
    }
}

fn connect_cause(e: &(dyn StdError + 'static)) -> ConnectCause {
    let mut source: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = source {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return ConnectCause::Tls;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return ConnectCause::Refused,
                std::io::ErrorKind::TimedOut => return ConnectCause::Timeout,
                _ => {}
            }
            if io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
            {
                return ConnectCause::Tls;
            }
        }
        source = err.source();
    }
    ConnectCause::Other
}
