//! The one error taxonomy for calls to external systems, classified so that retry,
//! breaker and server code decide on the kind of failure, never on message text.

use std::fmt;
use std::time::Duration;

/// How far a failed request got, which decides whether retrying it can duplicate an effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// The request provably never reached the upstream (connect refused, DNS, TLS
    /// handshake, an open circuit, bad input): retrying it can never duplicate an effect.
    NotSent,
    /// The upstream received it and answered that it did not apply it (4xx, 429).
    Refused,
    /// The upstream may have applied it (timeout after sending, reset, 5xx): only an
    /// idempotent or keyed request may be sent again.
    Unknown,
    /// The upstream answered 2xx, so the request took effect, but its answer could not be
    /// used: a write is done and must never be sent again or dead-lettered; it is
    /// reconciled by a person instead.
    Applied,
}

/// What made a connection attempt fail; in every case nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectCause {
    /// The peer refused the connection.
    Refused,
    /// The host name did not resolve.
    Dns,
    /// The TLS handshake failed.
    Tls,
    /// The connection could not be established within the connect timeout.
    Timeout,
    /// Another connect-phase failure.
    Other,
}

impl fmt::Display for ConnectCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Refused => "connection refused",
            Self::Dns => "name resolution failed",
            Self::Tls => "TLS handshake failed",
            Self::Timeout => "connect timed out",
            Self::Other => "connect failed",
        })
    }
}

/// A failed call to an external system, or a call the hub refused to make.
///
/// Messages never contain an upstream's raw body or a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No connection could be made; nothing was sent.
    #[error("could not reach the upstream: {0}")]
    Connect(ConnectCause),
    /// The request was sent but no complete answer came before the attempt's timeout.
    #[error("the upstream did not answer in time")]
    Timeout,
    /// The connection broke after the request was (possibly) sent: reset, closed early, truncated body.
    #[error("the connection to the upstream broke mid-request")]
    ConnectionLost,
    /// The upstream answered 5xx.
    #[error("the upstream failed with HTTP {status}")]
    Upstream {
        /// The HTTP status, 500..=599.
        status: u16,
        /// `Retry-After`, when the upstream sent one (503 often does).
        retry_after: Option<Duration>,
    },
    /// The upstream answered 429.
    #[error("the upstream is rate limiting requests")]
    RateLimited {
        /// How long it asked us to wait (`Retry-After` or `X-RateLimit-Reset`).
        retry_after: Option<Duration>,
    },
    /// The upstream refused the credentials (401).
    #[error("the upstream refused the hub's credentials")]
    Unauthorized,
    /// The upstream denied access to the resource (403).
    #[error("the upstream denied access")]
    Forbidden,
    /// The upstream has no such resource (404, 410).
    #[error("the upstream has no such resource")]
    NotFound,
    /// The upstream rejected the request (another 4xx: 400, 409, 422, …).
    #[error("the upstream rejected the request with HTTP {status}{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// A short, sanitised reason the adapter extracted, if any.
        reason: Option<String>,
    },
    /// The adapter's circuit is open: the call was not made.
    #[error("the circuit is open; the next probe is due in {}s", whole_seconds_up(*retry_in))]
    CircuitOpen {
        /// Time until the half-open probe is admitted.
        retry_in: Duration,
    },
    /// The hub's own rate budget for the upstream account has no slot within the call's
    /// deadline: the request was not sent, so it may be sent again after `retry_after`
    /// (the upstream's 429 is [`Error::RateLimited`]).
    #[error("the upstream's rate budget is spent; the next slot is in {}s", whole_seconds_up(*retry_after))]
    RateBudgetSpent {
        /// How long until the budget would admit the request.
        retry_after: Duration,
    },
    /// The retry budget for this upstream is spent: the failure was not retried.
    #[error("the retry budget is exhausted; last failure: {last}")]
    RetryBudgetExhausted {
        /// The failure that would have been retried.
        last: Box<Error>,
    },
    /// The call's overall deadline passed before the next attempt could be made.
    #[error("the deadline passed before an answer; last failure: {last}")]
    DeadlineExceeded {
        /// The failure of the last attempt.
        last: Box<Error>,
    },
    /// The hub could not obtain credentials (secret missing, token endpoint refused).
    #[error("could not obtain credentials: {reason}")]
    Credentials {
        /// What went wrong, without the secret.
        reason: String,
    },
    /// The input was refused before any call.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field at fault.
        field: String,
        /// Why.
        reason: String,
    },
    /// The upstream answered 2xx with a body the adapter cannot decode (a read).
    #[error("could not decode the upstream's answer: {reason}")]
    Decode {
        /// What was wrong (never the body itself).
        reason: String,
    },
    /// The hub refused to send a write because its `started` audit record could not be
    /// made durable in time (the hub's own store is slow or down): nothing was sent, and
    /// the same request may be sent again later.
    #[error("the write was not sent: its audit record could not be made durable ({reason})")]
    NotRecorded {
        /// What the store said (no credentials).
        reason: String,
    },
    /// The upstream accepted a write (2xx) but its answer cannot be used: the effect
    /// happened, so the write is neither retried nor dead-lettered.
    #[error("the upstream accepted the write (HTTP {status}) but its answer could not be read: {reason}")]
    AnswerUnreadable {
        /// The upstream's 2xx status.
        status: u16,
        /// What was wrong (field names and kinds, never the body itself).
        reason: String,
    },
}

/// A duration in whole seconds, rounded up (as `Retry-After` says it).
fn whole_seconds_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The answers retry and breaker code need about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    /// Whether another attempt may succeed (for a request that is safe to resend).
    pub retryable: bool,
    /// Whether the upstream may have applied the request.
    pub outcome_unknown: bool,
    /// Whether it counts as a failure towards opening the circuit.
    pub breaker_failure: bool,
}

impl Error {
    /// How far the request got.
    ///
    /// ```
    /// use hub_core::{ConnectCause, Delivery, Error};
    /// assert_eq!(Error::Connect(ConnectCause::Refused).delivery(), Delivery::NotSent);
    /// assert_eq!(Error::Timeout.delivery(), Delivery::Unknown);
    /// assert_eq!(Error::NotFound.delivery(), Delivery::Refused);
    /// ```
    pub fn delivery(&self) -> Delivery {
        match self {
            Self::Connect(_)
            | Self::CircuitOpen { .. }
            | Self::RateBudgetSpent { .. }
            | Self::Credentials { .. }
            | Self::InvalidInput { .. }
            | Self::NotRecorded { .. } => Delivery::NotSent,
            Self::RateLimited { .. }
            | Self::Unauthorized
            | Self::Forbidden
            | Self::NotFound
            | Self::Rejected { .. } => Delivery::Refused,
            Self::Timeout | Self::ConnectionLost | Self::Upstream { .. } | Self::Decode { .. } => Delivery::Unknown,
            Self::AnswerUnreadable { .. } => Delivery::Applied,
            Self::RetryBudgetExhausted { last } | Self::DeadlineExceeded { last } => last.delivery(),
        }
    }

    /// Whether retrying may help, whether the outcome is unknown, and whether it trips the breaker.
    ///
    /// A 401 is not `retryable` here: it earns exactly one retry after re-authenticating,
    /// which the retry engine handles on its own ([`Error::needs_reauth`]).
    ///
    /// ```
    /// use hub_core::Error;
    /// let c = Error::Upstream { status: 503, retry_after: None }.classify();
    /// assert!(c.retryable && c.outcome_unknown && c.breaker_failure);
    /// let c = Error::RateLimited { retry_after: None }.classify();
    /// assert!(c.retryable && !c.outcome_unknown && !c.breaker_failure);
    /// assert!(!Error::CircuitOpen { retry_in: Default::default() }.classify().retryable);
    /// // A write the upstream accepted is done, whatever its answer looked like.
    /// let c = Error::AnswerUnreadable { status: 200, reason: "missing field `id`".into() }.classify();
    /// assert!(!c.retryable && !c.outcome_unknown && !c.breaker_failure);
    /// ```
    pub fn classify(&self) -> Classification {
        let retryable = matches!(
            self,
            Self::Connect(_)
                | Self::Timeout
                | Self::ConnectionLost
                | Self::Upstream { .. }
                | Self::RateLimited { .. }
                | Self::Decode { .. }
        );
        let breaker_failure = matches!(
            self,
            Self::Connect(_) | Self::Timeout | Self::ConnectionLost | Self::Upstream { .. }
        );
        Classification {
            retryable,
            outcome_unknown: self.delivery() == Delivery::Unknown,
            breaker_failure,
        }
    }

    /// Whether the error calls for fresh credentials and one more try.
    pub fn needs_reauth(&self) -> bool {
        matches!(self, Self::Unauthorized)
    }

    /// How long the upstream (or the breaker) asked callers to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Upstream { retry_after, .. } | Self::RateLimited { retry_after } => *retry_after,
            Self::CircuitOpen { retry_in } => Some(*retry_in),
            Self::RateBudgetSpent { retry_after } => Some(*retry_after),
            Self::RetryBudgetExhausted { last } | Self::DeadlineExceeded { last } => last.retry_after(),
            _ => None,
        }
    }

    /// The upstream's HTTP status, when it answered with one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Upstream { status, .. } | Self::Rejected { status, .. } | Self::AnswerUnreadable { status, .. } => {
                Some(*status)
            }
            Self::RateLimited { .. } => Some(429),
            Self::Unauthorized => Some(401),
            Self::Forbidden => Some(403),
            Self::NotFound => Some(404),
            Self::RetryBudgetExhausted { last } | Self::DeadlineExceeded { last } => last.http_status(),
            _ => None,
        }
    }

    /// A short, stable, low-cardinality name for metrics labels and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Connect(_) => "connect",
            Self::Timeout => "timeout",
            Self::ConnectionLost => "connection_lost",
            Self::Upstream { .. } => "upstream_5xx",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Rejected { .. } => "rejected",
            Self::CircuitOpen { .. } => "circuit_open",
            Self::RateBudgetSpent { .. } => "rate_budget_spent",
            Self::RetryBudgetExhausted { .. } => "retry_budget_exhausted",
            Self::DeadlineExceeded { .. } => "deadline_exceeded",
            Self::Credentials { .. } => "credentials",
            Self::InvalidInput { .. } => "invalid_input",
            Self::Decode { .. } => "decode",
            Self::AnswerUnreadable { .. } => "answer_unreadable",
            Self::NotRecorded { .. } => "not_recorded",
        }
    }

    /// Classifies an upstream HTTP status that is not a success.
    ///
    /// ```
    /// use hub_core::Error;
    /// assert_eq!(Error::from_status(404, None), Error::NotFound);
    /// assert_eq!(Error::from_status(422, None), Error::Rejected { status: 422, reason: None });
    /// ```
    pub fn from_status(status: u16, retry_after: Option<Duration>) -> Self {
        match status {
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 | 410 => Self::NotFound,
            429 => Self::RateLimited { retry_after },
            500..=599 => Self::Upstream { status, retry_after },
            _ => Self::Rejected { status, reason: None },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(e: Error, retryable: bool, outcome_unknown: bool, breaker_failure: bool) {
        assert_eq!(
            e.classify(),
            Classification {
                retryable,
                outcome_unknown,
                breaker_failure
            },
            "{e:?}"
        );
    }

    #[test]
    fn classification_table() {
        check(Error::Connect(ConnectCause::Refused), true, false, true);
        check(Error::Connect(ConnectCause::Dns), true, false, true);
        check(Error::Connect(ConnectCause::Tls), true, false, true);
        check(Error::Connect(ConnectCause::Timeout), true, false, true);
        check(Error::Timeout, true, true, true);
        check(Error::ConnectionLost, true, true, true);
        check(
            Error::Upstream {
                status: 500,
                retry_after: None,
            },
            true,
            true,
            true,
        );
        check(
            Error::RateLimited {
                retry_after: Some(Duration::from_secs(3)),
            },
            true,
            false,
            false,
        );
        check(Error::Unauthorized, false, false, false);
        check(Error::Forbidden, false, false, false);
        check(Error::NotFound, false, false, false);
        check(
            Error::Rejected {
                status: 409,
                reason: None,
            },
            false,
            false,
            false,
        );
        check(
            Error::CircuitOpen {
                retry_in: Duration::from_secs(5),
            },
            false,
            false,
            false,
        );
        check(
            Error::RateBudgetSpent {
                retry_after: Duration::from_secs(2),
            },
            false,
            false,
            false,
        );
        assert_eq!(
            Error::RateBudgetSpent {
                retry_after: Duration::from_millis(1_200)
            }
            .delivery(),
            Delivery::NotSent
        );
        check(
            Error::InvalidInput {
                field: "x".into(),
                reason: "y".into(),
            },
            false,
            false,
            false,
        );
        check(
            Error::Credentials {
                reason: "no secret".into(),
            },
            false,
            false,
            false,
        );
        check(Error::Decode { reason: "eof".into() }, true, true, false);
        check(
            Error::NotRecorded {
                reason: "pool timed out".into(),
            },
            false,
            false,
            false,
        );
        check(
            Error::AnswerUnreadable {
                status: 201,
                reason: "missing field `id`".into(),
            },
            false,
            false,
            false,
        );
        assert_eq!(
            Error::AnswerUnreadable {
                status: 201,
                reason: "x".into()
            }
            .delivery(),
            Delivery::Applied
        );
        check(
            Error::RetryBudgetExhausted {
                last: Box::new(Error::Timeout),
            },
            false,
            true,
            false,
        );
        check(
            Error::DeadlineExceeded {
                last: Box::new(Error::Connect(ConnectCause::Refused)),
            },
            false,
            false,
            false,
        );
    }

    #[test]
    fn statuses_map_to_kinds() {
        for (status, code) in [
            (400, "rejected"),
            (401, "unauthorized"),
            (403, "forbidden"),
            (404, "not_found"),
            (409, "rejected"),
            (422, "rejected"),
            (429, "rate_limited"),
            (500, "upstream_5xx"),
            (503, "upstream_5xx"),
        ] {
            let e = Error::from_status(status, None);
            assert_eq!(e.code(), code, "{status}");
            assert_eq!(e.http_status(), Some(status));
        }
        let e = Error::from_status(503, Some(Duration::from_secs(7)));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert!(Error::Unauthorized.needs_reauth());
    }

    #[test]
    fn messages_are_plain() {
        assert_eq!(
            Error::CircuitOpen {
                retry_in: Duration::from_millis(12_500)
            }
            .to_string(),
            "the circuit is open; the next probe is due in 13s"
        );
    }
}
