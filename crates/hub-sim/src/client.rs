//! A minimal HTTP/1.1 client for posting webhooks (plain `http://` only; one connection per call).

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Why a post failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The URL is not an absolute `http://` URL.
    #[error("not an absolute http:// URL: {0}")]
    BadUrl(String),
    /// Connecting, sending or reading failed.
    #[error("delivery failed: {0}")]
    Io(String),
    /// No complete answer within the time allowed.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// The answer to a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
}

/// POSTs a JSON body with extra headers, within `timeout`.
pub(crate) async fn post_json(
    url: &str,
    headers: &[(String, String)],
    body: Bytes,
    timeout: Duration,
) -> Result<Answer, ClientError> {
    let uri: Uri = url.parse().map_err(|_| ClientError::BadUrl(url.to_owned()))?;
    let (Some("http"), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(ClientError::BadUrl(url.to_owned()));
    };
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = authority.port_u16().unwrap_or(80);
    let path = uri.path_and_query().map_or("/", |pq| pq.as_str()).to_owned();
    let mut request = Request::post(path)
        .header(HOST, authority.as_str())
        .header(CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| ClientError::BadUrl(e.to_string()))?;
    let io = |e: &dyn std::fmt::Display| ClientError::Io(e.to_string());
    let exchange = async {
        let stream = TcpStream::connect((host.as_str(), port)).await.map_err(|e| io(&e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| io(&e))?;
        tokio::spawn(conn);
        let response = sender.send_request(request).await.map_err(|e| io(&e))?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(|e| io(&e))?.to_bytes();
        Ok(Answer { status, body })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| ClientError::Timeout(timeout))?
}
