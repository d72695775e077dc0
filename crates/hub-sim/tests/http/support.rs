//! Test helpers: a tiny HTTP client, credentials, OAuth2 tokens and HMAC signing as the hub would do them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hub_sim::{Sim, SimConfig, SimHandle, System};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// An answer.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Resp {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An error with its causes, so a test can tell a reset from an orderly close.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Sends one request on a fresh connection; `Err` when the connection failed or closed without an answer.
pub(crate) async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Resp, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{e}"))?;
    let authority = uri.authority().ok_or("no authority")?.clone();
    let stream = TcpStream::connect(authority.as_str())
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header("host", authority.as_str());
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(Full::new(Bytes::copy_from_slice(body))).unwrap();
    let resp = sender.send_request(req).await.map_err(|e| chain(&e))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Resp { status, headers, body })
}

pub(crate) async fn call(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    send(method, url, headers, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

pub(crate) async fn start() -> SimHandle {
    Sim::start(SimConfig::default()).await.unwrap()
}

pub(crate) fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

pub(crate) const JSON: (&str, &str) = ("content-type", "application/json");
pub(crate) const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

/// Gets an OAuth2 token from a system's token endpoint.
pub(crate) async fn token(sim: &SimHandle, system: System) -> String {
    let (id, secret) = match system {
        System::Status => ("hub-status", "sim-status-secret"),
        _ => ("hub-sales", "sim-sales-secret"),
    };
    let body = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    let r = call(
        "POST",
        &format!("{}/oauth/token", sim.url(system)),
        &[FORM],
        body.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.json()["access_token"].as_str().unwrap().to_owned()
}

pub(crate) fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Sends a signed sales request as the hub would: bearer token plus HMAC over the bytes on the wire.
pub(crate) async fn sales(
    sim: &SimHandle,
    token: &str,
    method: &str,
    path: &str,
    body: &[u8],
    extra: &[(&str, &str)],
) -> Resp {
    let ts = now_unix();
    let full_path = format!("{}{path}", System::Sales.prefix());
    let sig = hub_sim::signature::sign_request(b"sim-sales-hmac-secret", ts, method, &full_path, body);
    let bearer = format!("Bearer {token}");
    let ts = ts.to_string();
    let mut headers = vec![
        ("authorization", bearer.as_str()),
        ("x-hmac-timestamp", ts.as_str()),
        ("x-hmac-signature", sig.as_str()),
        JSON,
    ];
    headers.extend_from_slice(extra);
    call(method, &format!("{}{full_path}", sim.base_url()), &headers, body).await
}
