//! OAuth2 client credentials: a cached bearer token, refreshed by exactly one request.
//!
//! The token is used until `expires_in` minus a skew (by default the smaller of 30 s
//! and 10 % of `expires_in`). However many callers find it expired at once, one token
//! request is made, in a task of its own (a caller giving up does not cancel it), and
//! every waiter gets its outcome — the token or the error. A 4xx from the token
//! endpoint is a credentials error, which is not retried. With traces exported, the token
//! request is a client span (`oauth2_token`) of the call that found no valid token.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request, Uri};
use hub_core::{Adapter, Error};
use hub_resilience::clock::{MonotonicClock, TokioClock};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::watch;
use tracing::Instrument as _;

use super::{Authenticate, sensitive_value};
use crate::client::HttpClient;
use crate::response::classify_status;
use crate::secret::SecretCell;
use crate::spans;

/// `application/x-www-form-urlencoded` leaves only these unescaped.
const FORM: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'*');

/// Where and how to ask for tokens.
#[derive(Debug, Clone)]
pub struct OAuth2Config {
    /// The token endpoint (`{base_url}/oauth/token`).
    pub token_url: Uri,
    /// An optional `scope`.
    pub scope: Option<String>,
    /// How the token request's parameters are encoded.
    pub body: TokenBody,
    /// A fixed skew; `None` means the smaller of 30 s and 10 % of `expires_in`.
    pub skew: Option<Duration>,
    /// How long one token request may take.
    pub timeout: Duration,
    /// The adapter's name, for the token-refresh metric.
    pub adapter: String,
    /// When tokens expire is judged on this clock (a manual clock in tests).
    pub clock: Arc<dyn MonotonicClock>,
}

impl OAuth2Config {
    /// Tokens from `token_url` for `adapter`, with the default skew, a 10 s request
    /// timeout and tokio's clock.
    pub fn new(token_url: Uri, adapter: Adapter) -> Self {
        Self {
            token_url,
            scope: None,
            body: TokenBody::Form,
            skew: None,
            timeout: Duration::from_secs(10),
            adapter: adapter.as_str().to_owned(),
            clock: Arc::new(TokioClock::new()),
        }
    }
}

/// The encoding of the token request's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenBody {
    /// `application/x-www-form-urlencoded`, as RFC 6749 says.
    Form,
    /// A JSON object, as Zendesk's `/oauth/tokens` requires.
    Json,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    expires_in: Option<u64>,
}

type Outcome = Option<Result<(SecretString, u64), Error>>;

enum State {
    Empty,
    Valid {
        token: SecretString,
        generation: u64,
        refresh_at: tokio::time::Instant,
    },
    Refreshing(watch::Receiver<Outcome>),
}

struct Inner {
    http: HttpClient,
    config: OAuth2Config,
    client_id: SecretCell,
    client_secret: SecretCell,
    state: Mutex<State>,
    generation: AtomicU64,
    requests: AtomicU64,
}

/// Which token a request was authorised with (left in its extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    owner: usize,
    generation: u64,
}

/// The OAuth2 client-credentials strategy.
#[derive(Clone)]
pub struct OAuth2ClientCredentials {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for OAuth2ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2ClientCredentials")
            .field("token_url", &self.inner.config.token_url)
            .finish_non_exhaustive()
    }
}

impl OAuth2ClientCredentials {
    /// A strategy fetching tokens from `config.token_url` with these credentials.
    pub fn new(http: HttpClient, config: OAuth2Config, client_id: SecretCell, client_secret: SecretCell) -> Self {
        Self {
            inner: Arc::new(Inner {
                http,
                config,
                client_id,
                client_secret,
                state: Mutex::new(State::Empty),
                generation: AtomicU64::new(0),
                requests: AtomicU64::new(0),
            }),
        }
    }

    /// How many token requests this strategy has made.
    pub fn token_requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// A valid token and its generation, fetching one if needed (one fetch for all callers).
    pub async fn token(&self) -> Result<(SecretString, u64), Error> {
        loop {
            let mut rx = {
                let mut state = self.inner.state.lock().unwrap_or_else(PoisonError::into_inner);
                match &*state {
                    State::Valid {
                        token,
                        generation,
                        refresh_at,
                    } if self.inner.config.clock.instant() < *refresh_at => {
                        return Ok((token.clone(), *generation));
                    }
                    State::Refreshing(rx) => rx.clone(),
                    State::Empty | State::Valid { .. } => {
                        let (tx, rx) = watch::channel(None);
                        *state = State::Refreshing(rx.clone());
                        // The token request's client span, a child of the call that
                        // found no token (of none, when that call's trace is not sampled).
                        let span = spans::attempt_span("oauth2_token", &self.inner.config.token_url, 0);
                        tokio::spawn(Inner::refresh(self.inner.clone(), tx).instrument(span));
                        rx
                    }
                }
            };
            let waited = rx.wait_for(Option::is_some).await.map(|outcome| outcome.clone());
            match waited {
                Ok(Some(result)) => return result,
                Ok(None) => {}
                // The refresh task ended without an outcome (its runtime shut down): try again.
                Err(_) => {
                    let mut state = self.inner.state.lock().unwrap_or_else(PoisonError::into_inner);
                    if matches!(&*state, State::Refreshing(r) if r.same_channel(&rx)) {
                        *state = State::Empty;
                    }
                }
            }
        }
    }

    fn owner(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }
}

impl Inner {
    async fn refresh(self: Arc<Self>, tx: watch::Sender<Outcome>) {
        let fetched = tokio::time::timeout(self.config.timeout, self.fetch())
            .await
            .unwrap_or(Err(Error::Timeout));
        if let Err(e) = &fetched {
            spans::record_attempt(&tracing::Span::current(), None, Some(e.code()));
        }
        let outcome = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            match fetched {
                Ok((token, expires_in)) => {
                    let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
                    let lifetime = Duration::from_secs(expires_in);
                    let skew = self.config.skew.unwrap_or_else(|| default_skew(lifetime));
                    let refresh_at = self.config.clock.instant() + lifetime.saturating_sub(skew);
                    *state = State::Valid {
                        token: token.clone(),
                        generation,
                        refresh_at,
                    };
                    Ok((token, generation))
                }
                Err(e) => {
                    *state = State::Empty;
                    Err(e)
                }
            }
        };
        metrics::counter!("integration_token_refreshes_total", "adapter" => self.config.adapter.clone(),
            "result" => if outcome.is_ok() { "success" } else { "failure" })
        .increment(1);
        let _ = tx.send(Some(outcome));
    }

    async fn fetch(&self) -> Result<(SecretString, u64), Error> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let client_id = self.client_id.get().await?;
        let client_secret = self.client_secret.get().await?;
        let (content_type, body) = match self.config.body {
            TokenBody::Form => {
                let mut form = format!(
                    "grant_type=client_credentials&client_id={}&client_secret={}",
                    utf8_percent_encode(client_id.expose_secret(), FORM),
                    utf8_percent_encode(client_secret.expose_secret(), FORM)
                );
                if let Some(scope) = &self.config.scope {
                    form.push_str("&scope=");
                    form.extend(utf8_percent_encode(scope, FORM));
                }
                ("application/x-www-form-urlencoded", Bytes::from(form))
            }
            TokenBody::Json => {
                let mut json = serde_json::json!({
                    "grant_type": "client_credentials",
                    "client_id": client_id.expose_secret(),
                    "client_secret": client_secret.expose_secret(),
                });
                if let Some(scope) = &self.config.scope {
                    json["scope"] = serde_json::Value::from(scope.as_str());
                }
                ("application/json", Bytes::from(json.to_string()))
            }
        };
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.config.token_url.clone())
            .header(CONTENT_TYPE, content_type)
            .header(ACCEPT, "application/json")
            .body(body)
            .map_err(|_| Error::Credentials {
                reason: "the token URL is not usable".to_owned(),
            })?;
        let span = tracing::Span::current();
        spans::inject(&span, request.headers_mut());
        let response = self.http.send(request).await?;
        spans::record_attempt(&span, Some(response.status.as_u16()), None);
        if !response.status.is_success() {
            return Err(match classify_status(response.status, &response.headers) {
                // Any other 4xx from the token endpoint means our credentials are wrong:
                // retrying cannot help.
                Error::Unauthorized | Error::Forbidden | Error::NotFound | Error::Rejected { .. } => {
                    Error::Credentials {
                        reason: format!("the token endpoint answered {}", response.status.as_u16()),
                    }
                }
                other => other,
            });
        }
        let body: TokenResponse = serde_json::from_slice(&response.body).map_err(|e| Error::Decode {
            reason: format!("token response: {}", e.classify_name()),
        })?;
        if body
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(Error::Credentials {
                reason: "the token endpoint issued a non-bearer token".to_owned(),
            });
        }
        if body.access_token.is_empty() {
            return Err(Error::Decode {
                reason: "token response: empty access_token".to_owned(),
            });
        }
        Ok((SecretString::from(body.access_token), body.expires_in.unwrap_or(300)))
    }
}

/// The smaller of 30 s and 10 % of the token's lifetime.
fn default_skew(lifetime: Duration) -> Duration {
    Duration::from_secs(30).min(lifetime / 10)
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "i/o",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "unexpected shape",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

#[async_trait]
impl Authenticate for OAuth2ClientCredentials {
    async fn authorize(&self, parts: &mut http::request::Parts, _body: &[u8]) -> Result<(), Error> {
        let (token, generation) = self.token().await?;
        parts.headers.insert(
            AUTHORIZATION,
            sensitive_value(&format!("Bearer {}", token.expose_secret()))?,
        );
        parts.extensions.insert(Stamp {
            owner: self.owner(),
            generation,
        });
        Ok(())
    }

    async fn reauthenticate(&self, failed: &http::Extensions) {
        let failed_generation = failed
            .get::<Stamp>()
            .filter(|s| s.owner == self.owner())
            .map(|s| s.generation);
        let mut state = self.inner.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let State::Valid { generation, .. } = &*state
            && failed_generation.is_none_or(|g| g == *generation)
        {
            *state = State::Empty;
            self.inner.client_id.forget();
            self.inner.client_secret.forget();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_is_the_smaller_of_30s_and_a_tenth() {
        assert_eq!(default_skew(Duration::from_secs(3600)), Duration::from_secs(30));
        assert_eq!(default_skew(Duration::from_secs(100)), Duration::from_secs(10));
        assert_eq!(default_skew(Duration::from_secs(1)), Duration::from_millis(100));
    }
}
