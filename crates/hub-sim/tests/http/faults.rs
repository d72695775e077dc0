//! Each fault kind over real HTTP, per system and route, reproducible from a seed.

use std::time::{Duration, Instant};

use hub_sim::{EffectFilter, EffectKind, FaultKind, FaultRule, RequestFilter, Sim, SimConfig, System};

use crate::support::{JSON, call, send, start};

const KEY: (&str, &str) = ("x-api-key", "sim-generic-key");
const TICKET: &[u8] = br#"{"subject":"s","description":"d"}"#;

fn read_url(sim: &hub_sim::SimHandle) -> String {
    format!("{}/tickets/TCK-1001", sim.url(System::Generic))
}

#[tokio::test]
async fn error_rate_is_reproducible_from_the_seed() {
    async fn run(seed: u64) -> Vec<u16> {
        let sim = Sim::start(SimConfig {
            seed,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        sim.control()
            .add_fault(
                FaultRule::new(FaultKind::Error)
                    .system(System::Generic)
                    .rate(0.5)
                    .status(502),
            )
            .unwrap();
        let mut out = Vec::new();
        for _ in 0..24 {
            out.push(call("GET", &read_url(&sim), &[KEY], b"").await.status);
        }
        out
    }
    let a = run(7).await;
    assert_eq!(a, run(7).await);
    assert!(a.contains(&502) && a.contains(&200), "{a:?}");
    assert!(a.iter().all(|s| *s == 502 || *s == 200));
}

#[tokio::test]
async fn faults_match_system_route_and_times() {
    let sim = start().await;
    let c = sim.control();
    c.add_fault(
        FaultRule::new(FaultKind::Error)
            .system(System::Generic)
            .route("POST", "/tickets")
            .times(2),
    )
    .unwrap();
    let url = format!("{}/tickets", sim.url(System::Generic));
    assert_eq!(
        call("GET", &read_url(&sim), &[KEY], b"").await.status,
        200,
        "other route untouched"
    );
    assert_eq!(call("POST", &url, &[KEY, JSON], TICKET).await.status, 503);
    assert_eq!(call("POST", &url, &[KEY, JSON], TICKET).await.status, 503);
    assert_eq!(
        call("POST", &url, &[KEY, JSON], TICKET).await.status,
        201,
        "fired twice, then done"
    );
    assert_eq!(c.faults()[0].fired, 2);
    let failed = c.requests(&RequestFilter {
        status: Some(503),
        ..Default::default()
    });
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0].fault, Some(FaultKind::Error));
    assert_eq!(failed[0].route, "/tickets");
    assert_eq!(
        c.effects(&EffectFilter::kind(EffectKind::TicketCreated)).len(),
        1,
        "a 5xx fault runs nothing"
    );
}

#[tokio::test]
async fn rate_limits_with_and_without_retry_after() {
    let sim = start().await;
    let c = sim.control();
    c.add_fault(
        FaultRule::new(FaultKind::RateLimit)
            .system(System::Zendesk)
            .retry_after_s(7)
            .times(1),
    )
    .unwrap();
    c.add_fault(FaultRule::new(FaultKind::RateLimit).system(System::Jira).times(1))
        .unwrap();
    let z = call(
        "GET",
        &format!("{}/api/v2/tickets/1", sim.url(System::Zendesk)),
        &[],
        b"",
    )
    .await;
    assert_eq!(z.status, 429);
    assert_eq!(z.header("retry-after"), Some("7"));
    // Zendesk's account headers, as its rate-limit documentation shows them.
    assert_eq!(z.header("ratelimit-limit"), Some("700"));
    assert_eq!(z.header("ratelimit-remaining"), Some("0"));
    assert_eq!(z.header("ratelimit-reset"), Some("7"));
    let j = call(
        "GET",
        &format!("{}/rest/api/3/issue/SUP-1", sim.url(System::Jira)),
        &[],
        b"",
    )
    .await;
    assert_eq!(j.status, 429);
    assert_eq!(j.header("retry-after"), None);
    assert_eq!(j.header("ratelimit-reason"), Some("jira-burst-based"));
    assert_eq!(j.header("x-ratelimit-reset"), None, "no wait given, no reset time");
}

/// Jira's reset is an ISO 8601 minute (`yyyy-MM-ddTHH:mmZ`) at or after now + the wait.
#[tokio::test]
async fn jira_rate_limits_carry_an_iso_8601_reset() {
    let sim = start().await;
    let c = sim.control();
    c.add_fault(
        FaultRule::new(FaultKind::RateLimit)
            .system(System::Jira)
            .retry_after_s(90)
            .times(1),
    )
    .unwrap();
    let before = c.now();
    let j = call(
        "GET",
        &format!("{}/rest/api/3/issue/SUP-1", sim.url(System::Jira)),
        &[],
        b"",
    )
    .await;
    assert_eq!(j.status, 429);
    let reset = j.header("x-ratelimit-reset").unwrap().to_owned();
    assert_eq!(reset.len(), "2026-12-04T10:15Z".len(), "{reset}");
    let parsed = time::PrimitiveDateTime::parse(
        reset.trim_end_matches('Z'),
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]"),
    )
    .unwrap()
    .assume_utc();
    assert!(
        parsed >= before + time::Duration::seconds(90) - time::Duration::minutes(1),
        "{reset}"
    );
    assert!(parsed <= before + time::Duration::seconds(90 + 120), "{reset}");
}

#[tokio::test]
async fn reset_closes_the_connection_without_an_answer() {
    let sim = start().await;
    let c = sim.control();
    c.add_fault(FaultRule::new(FaultKind::Reset).system(System::Generic).times(1))
        .unwrap();
    let err = send("GET", &read_url(&sim), &[KEY], b"").await.unwrap_err();
    assert!(
        err.to_lowercase().contains("reset"),
        "a TCP reset, not an orderly close: {err}"
    );
    assert_eq!(call("GET", &read_url(&sim), &[KEY], b"").await.status, 200);
    let recorded = c.requests(&RequestFilter {
        system: Some(System::Generic),
        ..Default::default()
    });
    assert_eq!(recorded[0].status, None);
    assert_eq!(recorded[0].fault, Some(FaultKind::Reset));

    // After the handler: the write happened, the answer was lost.
    c.add_fault(
        FaultRule::new(FaultKind::Reset)
            .route("POST", "/tickets")
            .after_handler()
            .times(1),
    )
    .unwrap();
    let url = format!("{}/tickets", sim.url(System::Generic));
    assert!(
        send("POST", &url, &[KEY, JSON, ("idempotency-key", "lost")], TICKET)
            .await
            .is_err()
    );
    let created = c.effects(&EffectFilter::kind(EffectKind::TicketCreated));
    assert_eq!(created.len(), 1);
    let retry = call("POST", &url, &[KEY, JSON, ("idempotency-key", "lost")], TICKET).await;
    assert_eq!(retry.header("x-idempotency-lookup"), Some("hit"));
    assert_eq!(retry.json()["id"], created[0].id.as_str());
}

#[tokio::test]
async fn hang_never_answers_until_the_client_gives_up() {
    let sim = start().await;
    sim.control()
        .add_fault(FaultRule::new(FaultKind::Hang).system(System::Status).ms(30_000))
        .unwrap();
    let url = format!("{}/transactions/TXN-5001", sim.url(System::Status));
    let gave_up = tokio::time::timeout(Duration::from_millis(300), send("GET", &url, &[], b"")).await;
    assert!(gave_up.is_err(), "no answer within the client's timeout");
    let recorded = sim.control().requests(&RequestFilter {
        system: Some(System::Status),
        ..Default::default()
    });
    assert_eq!(recorded.len(), 1);
    assert_eq!((recorded[0].status, recorded[0].fault), (None, Some(FaultKind::Hang)));

    // Bounded: with a short maximum the connection is closed without an answer.
    sim.control().clear_faults(None);
    sim.control()
        .add_fault(FaultRule::new(FaultKind::Hang).system(System::Status).ms(50))
        .unwrap();
    assert!(send("GET", &url, &[], b"").await.is_err());
}

#[tokio::test]
async fn latency_is_added() {
    let sim = start().await;
    sim.control()
        .add_fault(FaultRule::new(FaultKind::Latency).system(System::Generic).ms(150))
        .unwrap();
    let started = Instant::now();
    assert_eq!(call("GET", &read_url(&sim), &[KEY], b"").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn malformed_and_truncated_json() {
    let sim = start().await;
    let c = sim.control();
    c.add_fault(
        FaultRule::new(FaultKind::MalformedJson)
            .system(System::Generic)
            .route("GET", "/tickets/{id}")
            .times(1),
    )
    .unwrap();
    let r = call("GET", &read_url(&sim), &[KEY], b"").await;
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());

    c.add_fault(
        FaultRule::new(FaultKind::TruncatedJson)
            .route("POST", "/tickets")
            .times(1),
    )
    .unwrap();
    let r = call(
        "POST",
        &format!("{}/tickets", sim.url(System::Generic)),
        &[KEY, JSON],
        TICKET,
    )
    .await;
    assert_eq!(r.status, 201);
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());
    assert!(r.body.starts_with(b"{\"id\":"), "{:?}", r.body);
    assert_eq!(
        c.effects(&EffectFilter::kind(EffectKind::TicketCreated)).len(),
        1,
        "truncation happens after the route ran"
    );
}

#[tokio::test]
async fn outage_takes_down_one_whole_system() {
    let sim = start().await;
    sim.control().set_outage(System::Generic, true);
    assert_eq!(call("GET", &read_url(&sim), &[KEY], b"").await.status, 503);
    assert_eq!(
        call(
            "POST",
            &format!("{}/tickets", sim.url(System::Generic)),
            &[KEY, JSON],
            TICKET
        )
        .await
        .status,
        503
    );
    let vault = call("GET", &format!("{}/v1/sys/health", sim.url(System::Vault)), &[], b"").await;
    assert_eq!(vault.status, 200, "other systems stay up");
    sim.control().set_outage(System::Generic, false);
    assert_eq!(call("GET", &read_url(&sim), &[KEY], b"").await.status, 200);
}
