//! A small blocking HTTP client for the demo: loopback only, every answer read whole.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::Value;
use ureq::http::{Method, Request};

/// One answer, read whole.
#[derive(Debug, Clone)]
pub(crate) struct Resp {
    /// The status code.
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    /// The body as text.
    pub(crate) body: String,
    /// How long the call took.
    pub(crate) elapsed: Duration,
}

impl Resp {
    /// A header's value, by case-insensitive name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// A top-level field of the JSON body as text: strings unquoted, `-` when absent.
    pub(crate) fn field(&self, key: &str) -> String {
        show(self.json().get(key))
    }

    /// The status and the start of the body, for a failure report.
    pub(crate) fn summary(&self) -> String {
        let mut body: String = self.body.chars().take(600).collect();
        if body.len() < self.body.len() {
            body.push_str(" …");
        }
        format!("HTTP {} {body}", self.status)
    }
}

/// A JSON value as text: strings unquoted, `-` when absent.
pub(crate) fn show(value: Option<&Value>) -> String {
    match value {
        None => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A keep-alive HTTP agent for loopback: every status is an answer (not an error), no
/// proxy, no redirects followed, 30 s at most per request.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// The client: no proxy (the demo only talks to loopback), non-2xx answers are answers.
pub(crate) struct Client {
    agent: ureq::Agent,
}

impl Client {
    pub(crate) fn new() -> Self {
        Self { agent: agent() }
    }

    /// Sends one request; `body` is sent as JSON.
    pub(crate) fn send(
        &self,
        method: &Method,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Resp> {
        let mut req = Request::builder().method(method.clone()).uri(url);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let started = Instant::now();
        let answer = match body {
            Some(b) => {
                let req = req
                    .header("content-type", "application/json")
                    .body(b.to_string())
                    .context("building the request")?;
                self.agent.run(req)
            }
            None if *method == Method::POST => {
                let req = req.body(Vec::<u8>::new()).context("building the request")?;
                self.agent.run(req)
            }
            None => {
                let req = req.body(()).context("building the request")?;
                self.agent.run(req)
            }
        };
        let mut resp = answer.with_context(|| format!("{method} {url}"))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .with_context(|| format!("reading the answer to {method} {url}"))?;
        Ok(Resp {
            status,
            headers,
            body,
            elapsed: started.elapsed(),
        })
    }

    /// `GET url`.
    pub(crate) fn get(&self, url: &str, token: Option<&str>) -> Result<Resp> {
        self.send(&Method::GET, url, token, None, &[])
    }
}
