//! The error mapping of contract section 4, table-driven.

use std::time::Duration;

use hub_core::{ConnectCause, Error};

use super::*;

fn check(err: Error, code: ProblemCode, status: u16, retry_after_s: Option<u64>) {
    let p = Problem::upstream(&err, Operation::CreateTicket);
    assert_eq!(
        (p.code, p.status, p.retry_after_s),
        (code, status, retry_after_s),
        "{err:?}"
    );
    assert_eq!(p.adapter.as_deref(), Some("ticketing"));
    assert_eq!(p.operation.as_deref(), Some("create_ticket"));
    assert_eq!(p.type_uri, format!("urn:integration-hub:problem:{code}"));
}

#[test]
fn upstream_errors_map_as_the_contract_says() {
    use ProblemCode as C;
    check(
        Error::CircuitOpen {
            retry_in: Duration::from_secs(30),
        },
        C::CircuitOpen,
        503,
        Some(30),
    );
    check(
        Error::CircuitOpen {
            retry_in: Duration::from_millis(1),
        },
        C::CircuitOpen,
        503,
        Some(1),
    );
    check(
        Error::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
        },
        C::RateLimited,
        429,
        Some(7),
    );
    check(Error::RateLimited { retry_after: None }, C::RateLimited, 429, None);
    let limited = || {
        Box::new(Error::RateLimited {
            retry_after: Some(Duration::from_millis(40_001)),
        })
    };
    check(
        Error::DeadlineExceeded { last: limited() },
        C::RateLimited,
        429,
        Some(41),
    );
    check(
        Error::RetryBudgetExhausted { last: limited() },
        C::RateLimited,
        429,
        Some(41),
    );
    check(Error::NotFound, C::NotFound, 404, None);
    for status in [400, 409, 422] {
        check(Error::Rejected { status, reason: None }, C::UpstreamRejected, 422, None);
    }
    check(Error::Timeout, C::UpstreamTimeout, 504, None);
    check(
        Error::DeadlineExceeded {
            last: Box::new(Error::ConnectionLost),
        },
        C::UpstreamTimeout,
        504,
        None,
    );
    check(Error::Connect(ConnectCause::Refused), C::UpstreamUnavailable, 502, None);
    check(Error::ConnectionLost, C::UpstreamUnavailable, 502, None);
    check(
        Error::Upstream {
            status: 503,
            retry_after: Some(Duration::from_secs(3)),
        },
        C::UpstreamUnavailable,
        502,
        None,
    );
    check(
        Error::RetryBudgetExhausted {
            last: Box::new(Error::Timeout),
        },
        C::UpstreamUnavailable,
        502,
        None,
    );
    check(
        Error::Decode { reason: "eof".into() },
        C::UpstreamUnavailable,
        502,
        None,
    );
    check(
        Error::AnswerUnreadable {
            status: 200,
            reason: "missing field `id`".into(),
        },
        C::UpstreamAnswerUnreadable,
        502,
        None,
    );
    check(
        Error::NotRecorded {
            reason: "database is locked".into(),
        },
        C::StoreUnavailable,
        503,
        Some(2),
    );
    check(Error::Unauthorized, C::UpstreamUnavailable, 502, None);
    check(Error::Forbidden, C::UpstreamUnavailable, 502, None);
    check(
        Error::Credentials {
            reason: "env:X missing".into(),
        },
        C::UpstreamUnavailable,
        502,
        None,
    );
    check(
        Error::InvalidInput {
            field: "subject".into(),
            reason: "empty".into(),
        },
        C::InvalidBody,
        422,
        None,
    );
}

#[test]
fn credential_failures_reveal_nothing_of_the_credentials() {
    let p = Problem::upstream(
        &Error::Credentials {
            reason: "canary-secret-ref".into(),
        },
        Operation::CreateTicket,
    );
    assert!(!String::from_utf8(p.body()).unwrap().contains("canary"));
}

#[test]
fn every_code_has_a_distinct_name_and_a_client_or_server_status() {
    let mut names = std::collections::BTreeSet::new();
    for code in ProblemCode::ALL {
        assert!(names.insert(code.as_str()));
        assert!(code.status().is_client_error() || code.status().is_server_error());
        assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
    }
}

#[test]
fn the_body_has_the_rfc_9457_members() {
    let p = Problem::new(ProblemCode::InvalidId, "ticket_id: bad").with_request_id("req-1");
    let v: serde_json::Value = serde_json::from_slice(&p.body()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "type": "urn:integration-hub:problem:invalid_id",
            "code": "invalid_id",
            "title": "Invalid identifier",
            "status": 400,
            "detail": "ticket_id: bad",
            "request_id": "req-1",
        })
    );
}

#[test]
fn responses_carry_the_headers() {
    let res = Problem::upstream(
        &Error::CircuitOpen {
            retry_in: Duration::from_secs(12),
        },
        Operation::CreateTicket,
    )
    .into_response();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    assert_eq!(res.headers()[header::RETRY_AFTER], "12");
    let res = Problem::new(ProblemCode::Unauthorized, "no token").into_response();
    assert_eq!(res.headers()[header::WWW_AUTHENTICATE], "Bearer");
    let res = Problem::method_not_allowed("DELETE", "/v1/tickets", "POST".into()).into_response();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()[header::ALLOW], "POST");
}

/// The vendor's reason (read from its error body by the dialect) reaches the detail.
#[test]
fn a_rejections_reason_is_in_the_detail() {
    let reason = "priority: Field 'priority' cannot be set.";
    let err = Error::Rejected {
        status: 400,
        reason: Some(reason.to_owned()),
    };
    let p = Problem::upstream(&err, Operation::CreateTicket);
    assert_eq!(
        p.detail,
        format!("the upstream rejected the request with HTTP 400: {reason}")
    );
    // The DLQ entry and the audit record keep the error's text, which carries it too.
    assert!(err.to_string().ends_with(reason));
}
