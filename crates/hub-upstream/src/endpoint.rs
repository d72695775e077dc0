//! One adapter's resilient path to its upstream: breaker, retry with budget and deadline,
//! authentication per attempt, classification, and the audit record, metrics and log line
//! of every call.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Uri};
use hub_core::redact::redacted;
use hub_core::{Adapter, AuditLog, AuditOutcome, AuditRecord, CallContext, Error};
use hub_resilience::breaker::{BreakerConfig, BreakerObserver, CircuitBreaker, CircuitState};
use hub_resilience::budget::BudgetConfig;
use hub_resilience::clock::{MonotonicClock, TokioClock};
use hub_resilience::compose::Upstream;
use hub_resilience::rate_budget::{Admission, BudgetKey, Class, RateBudget, Snapshot};
use hub_resilience::retry::{Attempt, Idempotency as RetryIdempotency, RetryPolicy};
use time::OffsetDateTime;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::attempt_span::AttemptSpans;
use crate::auth::{Authenticate, NoAuth};
use crate::client::{HttpClient, Response};
use crate::every::Every;
use crate::observe::AdapterMetrics;
use crate::rate_headers::{self, RateFamily};
use crate::refusals::Refusals;
use crate::request::{Call, Idempotency};
use crate::response::{self, RejectReason};

/// Everything an [`Endpoint`] is made of.
pub struct EndpointParts {
    /// The adapter's name: a metrics label, the audit record's `adapter`.
    pub adapter: String,
    /// Scheme, authority and path prefix of the upstream.
    pub base_url: Uri,
    /// The shared HTTP client.
    pub http: HttpClient,
    /// How requests are authenticated.
    pub auth: Arc<dyn Authenticate>,
    /// Attempts, backoff, per-attempt timeout and deadline.
    pub policy: RetryPolicy,
    /// When the circuit opens and for how long.
    pub breaker: BreakerConfig,
    /// How many retries the upstream's callers may make.
    pub budget: BudgetConfig,
    /// Where every call is recorded.
    pub audit: Arc<dyn AuditLog>,
    /// Told of circuit transitions after the metrics (the server publishes `circuit.changed`).
    pub breaker_observer: Option<Arc<dyn BreakerObserver>>,
    /// The clock for the breaker and the budget.
    pub clock: Arc<dyn MonotonicClock>,
    /// How long a write waits for its `started` audit record to be durable before it is
    /// refused unsent ([`Error::NotRecorded`]).
    pub audit_timeout: Duration,
    /// Reads the upstream's reason out of a rejection's body (the dialect's error shape).
    pub reject_reason: Option<RejectReason>,
    /// The upstream account's rate budget; `None` sends without one.
    pub rate: Option<EndpointRate>,
}

/// An endpoint's rate budget: every attempt is admitted by it before it is sent, and
/// every answer's rate headers (and a 429's `Retry-After`) narrow it.
#[derive(Debug, Clone)]
pub struct EndpointRate {
    /// The budget (in process, or shared through Redis).
    pub budget: Arc<dyn RateBudget>,
    /// The account it counts: adapter and credential identity, never a secret.
    pub key: BudgetKey,
    /// How the vendor writes its rate headers.
    pub family: RateFamily,
}

/// When a 429 names no wait, the budget pauses this long.
pub const DEFAULT_RATE_LIMIT_PAUSE: Duration = Duration::from_secs(1);

/// The default of [`EndpointParts::audit_timeout`].
pub const DEFAULT_AUDIT_TIMEOUT: Duration = Duration::from_secs(2);

/// How often `integration_rate_budget_remaining` is read after admissions that did not wait.
const RATE_GAUGE_EVERY: Duration = Duration::from_secs(1);

impl EndpointParts {
    /// Parts with the contract's defaults, no authentication, and the given audit log.
    pub fn new(adapter: Adapter, base_url: Uri, http: HttpClient, audit: Arc<dyn AuditLog>) -> Self {
        Self {
            adapter: adapter.as_str().to_owned(),
            base_url,
            http,
            auth: Arc::new(NoAuth),
            policy: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
            budget: BudgetConfig::default(),
            audit,
            breaker_observer: None,
            clock: Arc::new(TokioClock::default()),
            audit_timeout: DEFAULT_AUDIT_TIMEOUT,
            reject_reason: None,
            rate: None,
        }
    }
}

/// One adapter's upstream. Cheap to share behind an `Arc`; the breaker and the retry
/// budget (hub-resilience's [`Upstream`]) are per endpoint, so one upstream's outage
/// never opens another's circuit.
pub struct Endpoint {
    adapter: Arc<str>,
    base_url: Uri,
    http: HttpClient,
    auth: Arc<dyn Authenticate>,
    upstream: Upstream,
    audit: Arc<dyn AuditLog>,
    audit_timeout: Duration,
    reject_reason: Option<RejectReason>,
    rate: Option<EndpointRate>,
    /// When `integration_rate_budget_remaining` is read from the budget after an
    /// admission: at most once a second (a shared budget's state is a Redis round trip).
    rate_gauge: Every,
    /// Refusals by the hub itself, audited per second.
    refusals: Refusals,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("adapter", &self.adapter)
            .field("base_url", &self.base_url)
            .field("circuit", &self.upstream.breaker().state())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Builds the endpoint from its parts.
    pub fn new(parts: EndpointParts) -> Self {
        let observer = Arc::new(AdapterMetrics::new(&parts.adapter, parts.breaker_observer));
        let upstream = Upstream::builder(parts.adapter.as_str())
            .policy(parts.policy)
            .breaker(parts.breaker)
            .budget(parts.budget)
            .clock(parts.clock)
            .observer(observer)
            .build();
        Self {
            adapter: parts.adapter.into(),
            base_url: parts.base_url,
            http: parts.http,
            auth: parts.auth,
            upstream,
            audit: parts.audit,
            audit_timeout: parts.audit_timeout,
            reject_reason: parts.reject_reason,
            rate: parts.rate,
            rate_gauge: Every::new(RATE_GAUGE_EVERY),
            refusals: Refusals::default(),
        }
    }

    /// The rate budget's state for this endpoint's account, when it has a budget.
    pub async fn rate_snapshot(&self) -> Option<Snapshot> {
        match &self.rate {
            Some(rate) => Some(rate.budget.snapshot(&rate.key).await),
            None => None,
        }
    }

    /// The adapter's name.
    pub fn adapter(&self) -> &str {
        &self.adapter
    }

    /// The circuit's state, read without changing it.
    pub fn circuit_state(&self) -> CircuitState {
        self.upstream.breaker().state()
    }

    /// The breaker itself (for readiness and tests).
    pub fn breaker(&self) -> &CircuitBreaker {
        self.upstream.breaker()
    }

    /// Runs `call` through the breaker and the retry engine, authenticating each
    /// attempt, and records it. A non-2xx answer comes back as its classified error.
    pub async fn send(&self, ctx: &CallContext, call: &Call) -> Result<Response, Error> {
        self.send_and_read(ctx, call, Ok).await
    }

    /// Like [`Endpoint::send`], then reads the 2xx answer with `read` before the call is
    /// recorded, so the audit record says what the caller is told.
    ///
    /// When `read` fails on a write's 2xx answer, the write happened all the same: the
    /// error becomes [`Error::AnswerUnreadable`] (never retried, never dead-lettered),
    /// audited as [`AuditOutcome::AppliedUnreadable`]. A read's failure stays
    /// [`Error::Decode`]; so does an answer too large to read.
    pub async fn send_and_read<T>(
        &self,
        ctx: &CallContext,
        call: &Call,
        read: impl FnOnce(Response) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let at = OffsetDateTime::now_utc();
        let started = Instant::now();
        let idempotency = match call.idempotency {
            Idempotency::Idempotent => RetryIdempotency::Idempotent,
            Idempotency::Keyed(_) => RetryIdempotency::Keyed,
            Idempotency::NonIdempotent => RetryIdempotency::NonIdempotent,
        };
        let is_write = !matches!(call.idempotency, Idempotency::Idempotent);
        // A write is recorded durably before it is sent, so a hub killed while the call is
        // in flight still has a record of it; when the record cannot be made durable the
        // write is not sent at all (fail closed). Not when the open circuit will refuse it:
        // nothing is sent then, and fail-fast must not wait on the audit store.
        if is_write
            && self.upstream.breaker().retry_in().is_none_or(|d| d.is_zero())
            && let Err(refused) = self.record_started(ctx, call, at).await
        {
            let result = Err(refused);
            self.report(ctx, call, &result, 0, None, at, started.elapsed()).await;
            return result;
        }
        let last_status = AtomicU16::new(0);
        let maybe_applied = Mutex::new(None);
        let spans = AttemptSpans::default();
        let outcome = self
            .upstream
            .call(call.operation.as_str(), idempotency, |attempt| {
                self.attempt(ctx, call, attempt, (&last_status, &maybe_applied, &spans))
            })
            .await;
        ctx.attempts.add(outcome.attempts);
        let status = match last_status.load(Ordering::Relaxed) {
            0 => None,
            s => Some(s),
        };
        let result = match outcome.result {
            Ok(response) => {
                let answered = response.status.as_u16();
                read(response).map_err(|e| match e {
                    Error::Decode { reason } if is_write => Error::AnswerUnreadable {
                        status: answered,
                        reason,
                    },
                    other => other,
                })
            }
            Err(Error::AnswerUnreadable { reason, .. }) if !is_write => Err(Error::Decode { reason }),
            Err(e) => Err(e),
        };
        self.report(ctx, call, &result, outcome.attempts, status, at, started.elapsed())
            .await;
        result
    }

    async fn attempt(
        &self,
        ctx: &CallContext,
        call: &Call,
        attempt: Attempt,
        (last_status, maybe_applied, spans): (&AtomicU16, &Mutex<Option<Error>>, &AttemptSpans),
    ) -> Result<Response, Error> {
        if let Some(rate) = &self.rate {
            self.admit(rate, call, attempt, maybe_applied).await?;
        }
        let (mut parts, body): (_, Bytes) = call.to_request(&self.base_url, ctx)?.into_parts();
        self.auth.authorize(&mut parts, &body).await?;
        let span = spans.begin(call.operation.as_str(), &mut parts, attempt);
        // Which credentials this attempt used, so a 401 drops exactly those.
        let stamps = parts.extensions.clone();
        let sent = self.http.send(Request::from_parts(parts, body));
        let response = match sent.instrument(span.clone()).await {
            Ok(response) => response,
            Err(e) => {
                spans.end(&span, None, Some(&e));
                remember_unknown(maybe_applied, &e);
                return Err(e);
            }
        };
        last_status.store(response.status.as_u16(), Ordering::Relaxed);
        if let Some(rate) = &self.rate {
            self.learn(rate, &response).await;
        }
        if response.status == http::StatusCode::UNAUTHORIZED {
            self.auth.reauthenticate(&stamps).await;
        }
        let status = response.status.as_u16();
        let result = response::success_with(response, self.reject_reason);
        spans.end(&span, Some(status), result.as_ref().err());
        if let Err(e) = &result {
            remember_unknown(maybe_applied, e);
        }
        result
    }

    /// Admits one attempt through the rate budget: sends now, after its reserved slot,
    /// or not at all.
    ///
    /// An attempt waits for its slot at most half of its own time, so that it still has
    /// time to be answered. When refused, the call ends with [`Error::RateBudgetSpent`]
    /// (nothing sent: the caller may try again after its `retry_after`) — unless an
    /// earlier attempt of the call may have taken effect, in which case it ends with
    /// [`Error::DeadlineExceeded`] over that attempt's failure, as if the deadline had
    /// passed, so a write that may have landed is kept rather than released.
    async fn admit(
        &self,
        rate: &EndpointRate,
        call: &Call,
        attempt: Attempt,
        maybe_applied: &Mutex<Option<Error>>,
    ) -> Result<(), Error> {
        let class = match call.idempotency {
            Idempotency::Idempotent => Class::Read,
            Idempotency::Keyed(_) | Idempotency::NonIdempotent => Class::Write,
        };
        let admission = rate.budget.admit(&rate.key, class, attempt.timeout / 2).await;
        // After a wait or a refusal always; after admissions at once, once a second.
        if admission != Admission::Now || self.rate_gauge.due() {
            let snapshot = rate.budget.snapshot(&rate.key).await;
            // A gauge is an f64; budgets this large lose nothing that matters.
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!("integration_rate_budget_remaining", "adapter" => self.adapter.to_string())
                .set(snapshot.remaining as f64);
        }
        match admission {
            Admission::Now => Ok(()),
            Admission::Wait(d) => {
                let waited = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
                crate::spans::budget_wait(&tracing::Span::current(), waited);
                tokio::time::sleep(d).await;
                Ok(())
            }
            Admission::Refused { retry_after } => {
                metrics::counter!("integration_rate_limited_total",
                    "adapter" => self.adapter.to_string(), "source" => "hub")
                .increment(1);
                let earlier = maybe_applied.lock().map(|e| e.clone()).unwrap_or(None);
                Err(match earlier {
                    Some(last) => Error::DeadlineExceeded { last: Box::new(last) },
                    None => Error::RateBudgetSpent { retry_after },
                })
            }
        }
    }

    /// Narrows the budget by what the answer says; a 429 pauses it for its `Retry-After`.
    async fn learn(&self, rate: &EndpointRate, response: &Response) {
        let now = SystemTime::now();
        let policy = rate_headers::learned(rate.family, &response.headers, now);
        if !policy.is_empty() {
            rate.budget.learn(&rate.key, &policy).await;
        }
        if response.status == http::StatusCode::TOO_MANY_REQUESTS {
            let pause = response::requested_wait(&response.headers, now).unwrap_or(DEFAULT_RATE_LIMIT_PAUSE);
            rate.budget.pause(&rate.key, pause).await;
            metrics::counter!("integration_rate_limited_total",
                "adapter" => self.adapter.to_string(), "source" => "upstream")
            .increment(1);
            tracing::warn!(adapter = %self.adapter, pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                "the upstream answered 429: its rate budget is paused");
        }
    }

    /// Records that `call`, a write, is about to be sent, and makes the record durable
    /// within the audit timeout; otherwise the write must not be sent.
    async fn record_started(&self, ctx: &CallContext, call: &Call, at: OffsetDateTime) -> Result<(), Error> {
        let record = AuditRecord {
            at,
            adapter: self.adapter.to_string(),
            operation: call.operation.as_str().to_owned(),
            outcome: AuditOutcome::Started,
            http_status: None,
            attempts: 0,
            duration_ms: 0,
            request_id: Some(ctx.request_id.as_str().to_owned()),
            conversation_id: ctx.conversation_id.as_ref().map(|c| c.as_str().to_owned()),
            params: redacted(&call.params),
            error: None,
            // Set from the span of the call by the composition's audit log (`hub_app::TracedAudit`).
            trace_id: None,
            calls: 1,
        };
        let durable = match tokio::time::timeout(self.audit_timeout, self.audit.record_durable(record)).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!("not durable within {} ms", self.audit_timeout.as_millis())),
        };
        durable.map_err(|reason| {
            metrics::counter!("integration_audit_write_failures_total").increment(1);
            tracing::error!(adapter = %self.adapter, operation = call.operation.as_str(), error = %reason,
                "a write was not sent: its audit record could not be made durable");
            Error::NotRecorded { reason }
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn report<T>(
        &self,
        ctx: &CallContext,
        call: &Call,
        result: &Result<T, Error>,
        attempts: u32,
        http_status: Option<u16>,
        at: OffsetDateTime,
        elapsed: Duration,
    ) {
        let (outcome, status_label) = match result {
            Ok(_) => (AuditOutcome::Success, "success"),
            // Refused by the hub itself: nothing was sent.
            Err(e @ (Error::CircuitOpen { .. } | Error::NotRecorded { .. })) => (AuditOutcome::Rejected, e.code()),
            Err(e @ Error::RateBudgetSpent { .. }) => (AuditOutcome::RateLimited, e.code()),
            Err(e @ Error::AnswerUnreadable { .. }) => (AuditOutcome::AppliedUnreadable, e.code()),
            Err(e) => (AuditOutcome::Failure, e.code()),
        };
        let adapter = self.adapter.to_string();
        metrics::counter!("integration_requests_total",
            "adapter" => adapter.clone(), "operation" => call.operation.as_str(), "status" => status_label)
        .increment(1);
        metrics::histogram!("integration_latency_seconds", "adapter" => adapter.clone(), "operation" => call.operation.as_str())
            .record(elapsed.as_secs_f64());
        let duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let request_id = ctx.request_id.as_str();
        let conversation_id = ctx.conversation_id.as_ref().map(|c| c.as_str());
        let record = move || AuditRecord {
            at,
            adapter,
            operation: call.operation.as_str().to_owned(),
            outcome,
            http_status,
            attempts,
            duration_ms,
            request_id: Some(request_id.to_owned()),
            conversation_id: conversation_id.map(str::to_owned),
            params: redacted(&call.params),
            error: result.as_ref().err().map(|e| format!("{}: {e}", e.code())),
            // Set from the span of the call by the composition's audit log (`hub_app::TracedAudit`).
            trace_id: None,
            calls: 1,
        };
        // Refused by the hub itself, nothing sent: the first refusal of a second is logged
        // and recorded, the rest of that second counted into one record.
        let record = if matches!(result, Err(Error::CircuitOpen { .. } | Error::RateBudgetSpent { .. })) {
            match self
                .refusals
                .admit(call.operation.as_str(), outcome, record, &self.audit)
            {
                Some(record) => record,
                // Held: counted into the record of its second.
                None => return,
            }
        } else {
            record()
        };
        match result {
            Ok(_) => {
                tracing::info!(adapter = %self.adapter, operation = call.operation.as_str(), duration_ms, status = status_label,
                http_status, attempts, request_id, conversation_id, "upstream call");
            }
            Err(e) => {
                tracing::warn!(adapter = %self.adapter, operation = call.operation.as_str(), duration_ms, status = status_label,
                http_status, attempts, request_id, conversation_id, error = %e, "upstream call");
            }
        }
        // A write's record is made durable before its answer goes out, so that a crash
        // just after cannot leave an upstream effect the hub answered for without its
        // audit record (its `started` record already is). Reads stay write-behind: the
        // log's writer batches them.
        // A refusal sent nothing: best effort, never a wait on a store that just failed.
        let written = if matches!(call.idempotency, Idempotency::Idempotent)
            || matches!(outcome, AuditOutcome::Rejected | AuditOutcome::RateLimited)
        {
            self.audit.record(record).await.map_err(|e| e.to_string())
        } else {
            match tokio::time::timeout(self.audit_timeout, self.audit.record_durable(record)).await {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(_) => Err(format!("not durable within {} ms", self.audit_timeout.as_millis())),
            }
        };
        if let Err(e) = written {
            metrics::counter!("integration_audit_write_failures_total").increment(1);
            tracing::error!(adapter = %self.adapter, error = %e, "could not record an upstream call in the audit log");
        }
    }
}

/// Keeps `error` when the attempt it ended may have taken effect upstream.
fn remember_unknown(maybe_applied: &Mutex<Option<Error>>, error: &Error) {
    if error.delivery() == hub_core::Delivery::Unknown
        && let Ok(mut earlier) = maybe_applied.lock()
    {
        *earlier = Some(error.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_core::mock::{MockAuditLog, MockSecretSource};
    use hub_core::{Operation, RequestId, SecretRef};
    use hub_resilience::backoff::Backoff;
    use serde_json::json;

    use crate::auth::ApiKey;
    use crate::client::ClientConfig;
    use crate::request::Idempotency as CallIdempotency;
    use crate::secret::SecretCell;

    /// One failed call: three refused connects; a `started` record made durable before
    /// the first attempt (a write: a hub killed in flight still has its record), then one
    /// record with the attempts, the failure's code and the parameters redacted, flushed
    /// before `send` returns (`cargo xtask chaos` found records of writes lost to kill -9);
    /// the secret resolved once.
    #[tokio::test]
    async fn a_failed_call_is_audited_once_with_its_attempts_and_redacted_params() {
        let mut audit = MockAuditLog::new();
        let mut order = mockall::Sequence::new();
        audit
            .expect_record_durable()
            .withf(|r| {
                r.outcome == AuditOutcome::Started
                    && r.operation == "create_ticket"
                    && r.attempts == 0
                    && r.error.is_none()
                    && r.params == json!({"customer_id": "C-1", "api_key": "[REDACTED]"})
                    && r.request_id.as_deref() == Some("req-1")
            })
            .times(1)
            .in_sequence(&mut order)
            .returning(|_| Ok(()));
        audit
            .expect_record_durable()
            .withf(|r| {
                r.adapter == "ticketing"
                    && r.operation == "create_ticket"
                    && r.outcome == AuditOutcome::Failure
                    && r.attempts == 3
                    && r.http_status.is_none()
                    && r.error.as_deref().is_some_and(|e| e.starts_with("connect:"))
                    && r.params == json!({"customer_id": "C-1", "api_key": "[REDACTED]"})
                    && r.request_id.as_deref() == Some("req-1")
            })
            .times(1)
            .in_sequence(&mut order)
            .returning(|_| Ok(()));
        audit.expect_record().times(0);
        audit.expect_flush().times(0);
        let mut secrets = MockSecretSource::new();
        secrets
            .expect_resolve()
            .times(1)
            .returning(|_| Ok(secrecy::SecretString::from("k")));
        // Port 1 on loopback refuses connections: nothing is ever sent.
        let mut parts = EndpointParts::new(
            Adapter::Ticketing,
            "http://127.0.0.1:1/api".parse().unwrap(),
            HttpClient::new(&ClientConfig::default()).unwrap(),
            Arc::new(audit),
        );
        let reference: SecretRef = "env:KEY".parse().unwrap();
        parts.auth = Arc::new(ApiKey::new(
            http::HeaderName::from_static("x-api-key"),
            SecretCell::new(Arc::new(secrets), reference),
        ));
        parts.policy = RetryPolicy {
            backoff: Backoff {
                initial: Duration::from_millis(1),
                max: Duration::from_millis(2),
                ..Backoff::default()
            },
            ..RetryPolicy::default()
        };
        let endpoint = Endpoint::new(parts);
        let call = Call::json(
            Operation::CreateTicket,
            http::Method::POST,
            "/tickets".into(),
            &json!({}),
            CallIdempotency::NonIdempotent,
        )
        .unwrap()
        .with_params(json!({"customer_id": "C-1", "api_key": "k"}));
        let ctx = CallContext::new(RequestId::parse("req-1").unwrap());
        let err = endpoint.send(&ctx, &call).await.unwrap_err();
        assert!(matches!(err, Error::Connect(_)), "{err:?}");
        assert_eq!(
            ctx.attempts.get(),
            3,
            "a connect failure never left: even a non-idempotent write is retried"
        );
    }

    /// A write whose `started` record cannot be made durable is not sent (fail closed):
    /// `NotRecorded`, nothing sent, no attempt, the refusal recorded as best it can be.
    #[tokio::test]
    async fn a_write_whose_intent_cannot_be_recorded_is_not_sent() {
        let mut audit = MockAuditLog::new();
        audit.expect_record_durable().times(1).returning(|_| {
            Err(hub_core::StoreError::Unavailable {
                reason: "database is locked".into(),
            })
        });
        audit
            .expect_record()
            .withf(|r| r.outcome == AuditOutcome::Rejected && r.attempts == 0)
            .times(1)
            .returning(|_| Ok(()));
        // A listener that would accept the request: it must never see a connection.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/api", listener.local_addr().unwrap());
        let endpoint = Endpoint::new(EndpointParts::new(
            Adapter::Ticketing,
            url.parse().unwrap(),
            HttpClient::new(&ClientConfig::default()).unwrap(),
            Arc::new(audit),
        ));
        let call = Call::json(
            Operation::CreateTicket,
            http::Method::POST,
            "/tickets".into(),
            &json!({}),
            CallIdempotency::Keyed("k-1".into()),
        )
        .unwrap();
        let ctx = CallContext::new(RequestId::parse("req-3").unwrap());
        let err = endpoint.send(&ctx, &call).await.unwrap_err();
        assert!(matches!(err, Error::NotRecorded { .. }), "{err:?}");
        assert_eq!(err.delivery(), hub_core::Delivery::NotSent);
        assert_eq!(ctx.attempts.get(), 0);
        assert!(listener.accept().is_err(), "nothing may reach the upstream");
    }

    /// A read's record is left to the audit writer's batching: no flush.
    #[tokio::test]
    async fn a_read_is_audited_without_a_flush() {
        let mut audit = MockAuditLog::new();
        audit.expect_record().times(1).returning(|_| Ok(()));
        audit.expect_flush().times(0);
        let mut parts = EndpointParts::new(
            Adapter::TransactionStatus,
            "http://127.0.0.1:1/status".parse().unwrap(),
            HttpClient::new(&ClientConfig::default()).unwrap(),
            Arc::new(audit),
        );
        parts.policy = RetryPolicy {
            backoff: Backoff {
                initial: Duration::from_millis(1),
                max: Duration::from_millis(2),
                ..Backoff::default()
            },
            ..RetryPolicy::default()
        };
        let endpoint = Endpoint::new(parts);
        let call = Call::get(Operation::GetTransactionStatus, "/transactions/T-1".into());
        let ctx = CallContext::new(RequestId::parse("req-2").unwrap());
        assert!(endpoint.send(&ctx, &call).await.is_err());
    }

    /// A write the open circuit refuses was never sent: no `started` record, so fail-fast
    /// does not wait on the audit store for it; its `rejected` record is still made.
    #[tokio::test]
    async fn a_write_the_open_circuit_refuses_has_no_started_record() {
        let mut audit = MockAuditLog::new();
        let mut order = mockall::Sequence::new();
        // A write's start and end are made durable before going on; the refusal is
        // recorded best effort (it sent nothing).
        for outcome in [AuditOutcome::Started, AuditOutcome::Failure] {
            audit
                .expect_record_durable()
                .withf(move |r| r.outcome == outcome)
                .times(1)
                .in_sequence(&mut order)
                .returning(|_| Ok(()));
        }
        audit
            .expect_record()
            .withf(|r| r.outcome == AuditOutcome::Rejected)
            .times(1)
            .in_sequence(&mut order)
            .returning(|_| Ok(()));
        audit.expect_flush().times(0);
        let mut parts = EndpointParts::new(
            Adapter::Ticketing,
            "http://127.0.0.1:1/api".parse().unwrap(),
            HttpClient::new(&ClientConfig::default()).unwrap(),
            Arc::new(audit),
        );
        parts.policy.max_attempts = 1;
        parts.breaker.failure_threshold = 1;
        parts.breaker.recovery = Duration::from_secs(3600);
        let endpoint = Endpoint::new(parts);
        let call = || {
            Call::json(
                Operation::CreateTicket,
                http::Method::POST,
                "/tickets".into(),
                &json!({}),
                CallIdempotency::NonIdempotent,
            )
            .unwrap()
        };
        let first = CallContext::new(RequestId::parse("req-1").unwrap());
        assert!(matches!(endpoint.send(&first, &call()).await, Err(Error::Connect(_))));
        let second = CallContext::new(RequestId::parse("req-2").unwrap());
        let err = endpoint.send(&second, &call()).await.unwrap_err();
        assert!(matches!(err, Error::CircuitOpen { .. }), "{err:?}");
    }

    /// A write over its budget is not sent: `RateBudgetSpent` (nothing sent, so the
    /// caller may retry after it), audited as `rate_limited`, best effort.
    #[tokio::test]
    async fn a_write_over_its_rate_budget_is_refused_unsent() {
        use hub_resilience::clock::ManualClock;
        use hub_resilience::rate_budget::{LocalBudget, RateConfig};
        let mut audit = MockAuditLog::new();
        audit
            .expect_record_durable()
            .withf(|r| r.outcome == AuditOutcome::Started)
            .times(1)
            .returning(|_| Ok(()));
        audit
            .expect_record()
            .withf(|r| {
                r.outcome == AuditOutcome::RateLimited
                    && r.error.as_deref().is_some_and(|e| e.starts_with("rate_budget_spent:"))
            })
            .times(1)
            .returning(|_| Ok(()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/api", listener.local_addr().unwrap());
        let mut parts = EndpointParts::new(
            Adapter::Ticketing,
            url.parse().unwrap(),
            HttpClient::new(&ClientConfig::default()).unwrap(),
            Arc::new(audit),
        );
        // One request per 100 s, already spent: the next slot is far past any deadline.
        let budget = Arc::new(LocalBudget::new(
            RateConfig::new(0.01, 1),
            Arc::new(ManualClock::new(0)),
        ));
        let key = BudgetKey::new("ticketing:test");
        assert_eq!(budget.admit(&key, Class::Write, Duration::ZERO).await, Admission::Now);
        parts.rate = Some(EndpointRate {
            budget,
            key,
            family: RateFamily::Ietf,
        });
        let endpoint = Endpoint::new(parts);
        let call = Call::json(
            Operation::CreateTicket,
            http::Method::POST,
            "/tickets".into(),
            &json!({}),
            CallIdempotency::Keyed("k-1".into()),
        )
        .unwrap();
        let ctx = CallContext::new(RequestId::parse("req-4").unwrap());
        let err = endpoint.send(&ctx, &call).await.unwrap_err();
        let Error::RateBudgetSpent { retry_after } = err else {
            panic!("{err:?}")
        };
        assert_eq!(retry_after, Duration::from_secs(100));
        assert_eq!(err.delivery(), hub_core::Delivery::NotSent);
        assert!(listener.accept().is_err(), "nothing may reach the upstream");
        assert_eq!(endpoint.rate_snapshot().await.map(|s| s.remaining), Some(0));
    }
}
