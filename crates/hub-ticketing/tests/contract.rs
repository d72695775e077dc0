//! Contract tests: every dialect's operations over real HTTP against hub-sim.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use hub_core::{
    CacheOutcome, CustomerId, Error, IdempotencyKey, NewComment, NewTicket, Priority, TicketId, TicketStatus,
    TicketingPort,
};
use hub_resilience::cache::CacheManager;
use hub_resilience::clock::ManualClock;
use hub_resilience::memory_store::MemoryCache;
use hub_resilience::retry::RetryPolicy;
use hub_sim::{EffectFilter, EffectKind, FaultKind, FaultRule, RequestFilter, Sim, SimConfig, SimHandle, System};
use hub_ticketing::jira::{CreateFields, PriorityNames};
use hub_ticketing::{Dialect, Generic, Jira, TicketingAdapter, Zendesk};
use hub_upstream::auth::{ApiKey, Basic, Bearer, OAuth2ClientCredentials, OAuth2Config, TokenBody};
use hub_upstream::testing::{MemoryAudit, StaticSecrets, ctx, fast_policy as policy};
use hub_upstream::{ClientConfig, Endpoint, EndpointParts, HttpClient, SecretCell};

struct Rig {
    sim: SimHandle,
    secrets: Arc<StaticSecrets>,
    audit: Arc<MemoryAudit>,
    http: HttpClient,
}

impl Rig {
    async fn start() -> Self {
        let sim = Sim::start(SimConfig::default()).await.unwrap();
        let secrets = Arc::new(StaticSecrets::default());
        secrets.set("env:GENERIC_KEY", "sim-generic-key");
        secrets.set("env:ZENDESK_TOKEN", "sim-zendesk-token");
        secrets.set("env:JIRA_TOKEN", "sim-jira-token");
        Self {
            sim,
            secrets,
            audit: Arc::default(),
            http: HttpClient::new(&ClientConfig::default()).unwrap(),
        }
    }

    fn cell(&self, reference: &str) -> SecretCell {
        SecretCell::new(self.secrets.clone(), reference.parse().unwrap())
    }

    fn endpoint(&self, system: System, policy: RetryPolicy) -> Arc<Endpoint> {
        let auth: Arc<dyn hub_upstream::Authenticate> = match system {
            System::Generic => Arc::new(ApiKey::new(
                http::HeaderName::from_static("x-api-key"),
                self.cell("env:GENERIC_KEY"),
            )),
            System::Zendesk => Arc::new(Basic::zendesk("agent@example.com", self.cell("env:ZENDESK_TOKEN"))),
            System::Jira => Arc::new(Basic::jira("agent@example.com", self.cell("env:JIRA_TOKEN"))),
            other => panic!("not a ticketing system: {other:?}"),
        };
        let mut parts = EndpointParts::new(
            hub_core::Adapter::Ticketing,
            self.sim.url(system).parse().unwrap(),
            self.http.clone(),
            self.audit.clone(),
        );
        parts.auth = auth;
        parts.policy = policy;
        parts.reject_reason = match system {
            System::Zendesk => Some(hub_ticketing::zendesk::reject_reason),
            System::Jira => Some(hub_ticketing::jira::reject_reason),
            _ => None,
        };
        Arc::new(Endpoint::new(parts))
    }

    fn adapter<D: Dialect>(&self, dialect: D, system: System) -> TicketingAdapter<D> {
        let cache = Arc::new(CacheManager::builder(Arc::new(MemoryCache::default())).build());
        TicketingAdapter::new(dialect, self.endpoint(system, policy())).with_cache(cache, Duration::from_secs(300))
    }

    fn jira(&self) -> Jira {
        Jira {
            project_key: "SUP".into(),
            issue_type: "Task".into(),
            browse_url: self.sim.url(System::Jira),
            service_management: true,
            create_fields: CreateFields::default(),
        }
    }

    fn created(&self, system: System) -> usize {
        self.sim
            .control()
            .effects(&EffectFilter {
                system: Some(system),
                ..EffectFilter::kind(EffectKind::TicketCreated)
            })
            .len()
    }
}

fn new_ticket() -> NewTicket {
    NewTicket {
        customer_id: CustomerId::parse("CUST-1001").unwrap(),
        subject: "Card declined".into(),
        description: "Twice today.\nPlease help.".into(),
        priority: Priority::High,
    }
}

/// Creates, reads (miss, then hit), comments (which invalidates), reads again (miss).
async fn round_trip(port: &dyn TicketingPort, rig: &Rig, system: System) {
    let created = port.create_ticket(&ctx("r-create"), &new_ticket()).await.unwrap();
    assert_eq!(rig.created(system), 1);
    let id = created.ticket_id.as_str();
    match system {
        // A link a person can open, not the JSON API's URL.
        System::Zendesk => assert_eq!(created.url, format!("{}/agent/tickets/{id}", rig.sim.url(system))),
        System::Jira => assert_eq!(created.url, format!("{}/browse/{id}", rig.sim.url(system))),
        _ => {}
    }
    // Jira's create answers no status: the adapter reads it back, one read more.
    let read_back: &[&str] = if system == System::Jira {
        &["get_ticket_status"]
    } else {
        &[]
    };
    let first = port
        .get_ticket_status(&ctx("r-get-1"), &created.ticket_id)
        .await
        .unwrap();
    assert_eq!(first.cache, CacheOutcome::Miss);
    assert_eq!(first.value.ticket_id, created.ticket_id);
    let second = port
        .get_ticket_status(&ctx("r-get-2"), &created.ticket_id)
        .await
        .unwrap();
    assert_eq!(second.cache, CacheOutcome::Hit);
    let comment = port
        .add_comment(
            &ctx("r-comment"),
            &created.ticket_id,
            &NewComment {
                body: "Looking into it".into(),
                public: false,
            },
        )
        .await
        .unwrap();
    assert!(!comment.comment_id.as_str().is_empty());
    let comments = rig.sim.control().effects(&EffectFilter {
        system: Some(system),
        ..EffectFilter::kind(EffectKind::CommentAdded)
    });
    assert_eq!(comments.len(), 1);
    let third = port
        .get_ticket_status(&ctx("r-get-3"), &created.ticket_id)
        .await
        .unwrap();
    assert_eq!(
        third.cache,
        CacheOutcome::Miss,
        "a comment invalidates the cached status"
    );
    // Every upstream call (not the hit) is audited with its attempts; each write also has
    // a `started` record made before it was sent, reads do not.
    let records = rig.audit.records();
    let of = |started: bool| -> Vec<String> {
        records
            .iter()
            .filter(|r| (r.outcome == hub_core::AuditOutcome::Started) == started)
            .map(|r| r.operation.clone())
            .collect()
    };
    let expected: Vec<&str> = [
        &["create_ticket"][..],
        read_back,
        &["get_ticket_status", "add_comment", "get_ticket_status"],
    ]
    .concat();
    assert_eq!(of(false), expected);
    assert_eq!(of(true), ["create_ticket", "add_comment"]);
}

#[tokio::test]
async fn generic_round_trip() {
    let rig = Rig::start().await;
    round_trip(&rig.adapter(Generic, System::Generic), &rig, System::Generic).await;
}

#[tokio::test]
async fn zendesk_round_trip() {
    let rig = Rig::start().await;
    round_trip(&rig.adapter(Zendesk::default(), System::Zendesk), &rig, System::Zendesk).await;
}

#[tokio::test]
async fn jira_round_trip() {
    let rig = Rig::start().await;
    round_trip(&rig.adapter(rig.jira(), System::Jira), &rig, System::Jira).await;
}

#[tokio::test]
async fn seeded_statuses_normalise_per_dialect() {
    let rig = Rig::start().await;
    let jira = rig.adapter(rig.jira(), System::Jira);
    let t = jira
        .get_ticket_status(&ctx("r-1"), &TicketId::parse("SUP-2").unwrap())
        .await
        .unwrap()
        .value;
    assert_eq!(
        (t.status, t.vendor_status.as_str()),
        (TicketStatus::Open, "In Progress")
    );
    assert!(t.assigned_to.is_some());
    let generic = rig.adapter(Generic, System::Generic);
    let t = generic
        .get_ticket_status(&ctx("r-2"), &TicketId::parse("TCK-1001").unwrap())
        .await
        .unwrap()
        .value;
    assert_eq!(t.status.as_str(), TicketStatus::normalise(&t.vendor_status).as_str());
    let missing = generic
        .get_ticket_status(&ctx("r-3"), &TicketId::parse("TCK-404404").unwrap())
        .await;
    assert_eq!(missing.unwrap_err(), Error::NotFound);
}

/// The sim answers in Jira's error shape; the rejection carries the vendor's reason
/// (field and message) into the error and the audit record, not a bare status.
#[tokio::test]
async fn a_rejection_carries_the_vendors_reason_into_the_error_and_the_audit() {
    let rig = Rig::start().await;
    let port = rig.adapter(
        Jira {
            project_key: "NOPE".into(),
            ..rig.jira()
        },
        System::Jira,
    );
    let err = port.create_ticket(&ctx("r-1"), &new_ticket()).await.unwrap_err();
    assert_eq!(
        err,
        Error::Rejected {
            status: 400,
            reason: Some("project: valid project is required".into())
        }
    );
    let last = rig.audit.records().pop().unwrap();
    assert_eq!(
        last.error.as_deref(),
        Some("rejected: the upstream rejected the request with HTTP 400: project: valid project is required")
    );
}

/// A project whose create screen lacks Priority: the default create (the four fields
/// every screen has) works; a deployment that configures priority gets Jira's refusal,
/// with the field and Jira's message as the reason.
#[tokio::test]
async fn jira_creates_send_only_the_configured_fields() {
    let rig = Rig::start().await;
    rig.sim
        .control()
        .set_jira_create_screen(&["project", "issuetype", "summary", "description", "components"]);
    let safe = rig.adapter(rig.jira(), System::Jira);
    safe.create_ticket(&ctx("r-1"), &new_ticket()).await.unwrap();
    let with_priority = rig.adapter(
        Jira {
            create_fields: CreateFields {
                priority: Some(PriorityNames::default()),
                ..CreateFields::default()
            },
            ..rig.jira()
        },
        System::Jira,
    );
    let err = with_priority
        .create_ticket(&ctx("r-2"), &new_ticket())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::Rejected {
            status: 400,
            reason: Some(
                "priority: Field 'priority' cannot be set. It is not on the appropriate screen, or unknown.".into()
            )
        }
    );
    assert_eq!(rig.created(System::Jira), 1);
}

/// A new Jira issue reports its workflow's real first status: the sim's Bugs start in
/// the classic workflow's "Open", not "To Do".
#[tokio::test]
async fn a_new_jira_issue_reports_its_real_status() {
    let rig = Rig::start().await;
    let bugs = rig.adapter(
        Jira {
            issue_type: "Bug".into(),
            ..rig.jira()
        },
        System::Jira,
    );
    let created = bugs.create_ticket(&ctx("r-1"), &new_ticket()).await.unwrap();
    assert_eq!(created.status, TicketStatus::Open);
    let tasks = rig.adapter(rig.jira(), System::Jira);
    let created = tasks.create_ticket(&ctx("r-2"), &new_ticket()).await.unwrap();
    assert_eq!(created.status, TicketStatus::New);
}

/// Jira hides most users' e-mail addresses; the assignee is then named, not lost.
#[tokio::test]
async fn a_jira_assignee_with_a_hidden_email_is_named() {
    let rig = Rig::start().await;
    let port = rig.adapter(rig.jira(), System::Jira);
    let t = port
        .get_ticket_status(&ctx("r-1"), &TicketId::parse("SUP-3").unwrap())
        .await
        .unwrap()
        .value;
    assert_eq!(t.assigned_to.as_deref(), Some("Bob Agent"));
}

/// What the vendors would refuse is refused before anything is sent.
#[tokio::test]
async fn invalid_input_never_reaches_the_vendor() {
    let rig = Rig::start().await;
    let plain_jira = rig.adapter(
        Jira {
            service_management: false,
            ..rig.jira()
        },
        System::Jira,
    );
    let long = NewTicket {
        subject: "x".repeat(256),
        ..new_ticket()
    };
    let e = plain_jira.create_ticket(&ctx("r-1"), &long).await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput { field, .. } if field == "subject"),
        "{e:?}"
    );
    let internal = NewComment {
        body: "note".into(),
        public: false,
    };
    let e = plain_jira
        .add_comment(&ctx("r-2"), &TicketId::parse("SUP-1").unwrap(), &internal)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput { field, .. } if field == "is_public"),
        "{e:?}"
    );
    let zendesk = rig.adapter(Zendesk::default(), System::Zendesk);
    let blank = NewTicket {
        description: " ".into(),
        ..new_ticket()
    };
    let e = zendesk.create_ticket(&ctx("r-3"), &blank).await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput { field, .. } if field == "description"),
        "{e:?}"
    );
    for system in [System::Jira, System::Zendesk] {
        let sent = rig.sim.control().requests(&RequestFilter {
            system: Some(system),
            ..RequestFilter::default()
        });
        assert!(sent.is_empty(), "{system:?}: {sent:?}");
    }
}

/// A Zendesk whose API tokens are retired answers only OAuth bearer tokens; the token
/// comes from the secret store and a rotated one is picked up after a 401.
#[tokio::test]
async fn zendesk_oauth_bearer_where_api_tokens_are_refused() {
    let rig = Rig::start().await;
    rig.zendesk_oauth_only();
    let basic = rig.adapter(Zendesk::default(), System::Zendesk);
    assert_eq!(
        basic.create_ticket(&ctx("r-1"), &new_ticket()).await.unwrap_err(),
        Error::Unauthorized
    );
    rig.secrets.set("env:ZENDESK_OAUTH", "expired-token");
    let mut parts = EndpointParts::new(
        hub_core::Adapter::Ticketing,
        rig.sim.url(System::Zendesk).parse().unwrap(),
        rig.http.clone(),
        rig.audit.clone(),
    );
    parts.auth = Arc::new(Bearer::new(rig.cell("env:ZENDESK_OAUTH")));
    parts.policy = policy();
    let bearer = TicketingAdapter::new(Zendesk::default(), Arc::new(Endpoint::new(parts)));
    assert_eq!(
        bearer.create_ticket(&ctx("r-2"), &new_ticket()).await.unwrap_err(),
        Error::Unauthorized
    );
    // The operator stores a fresh token; the 401 made the adapter forget the old one.
    rig.secrets.set("env:ZENDESK_OAUTH", "sim-zendesk-oauth");
    let created = bearer.create_ticket(&ctx("r-3"), &new_ticket()).await.unwrap();
    assert_eq!(rig.created(System::Zendesk), 1);
    let sent = rig.sim.control().requests(&RequestFilter {
        system: Some(System::Zendesk),
        ..RequestFilter::default()
    });
    // Basic: 401, re-read, 401. Bearer with the expired token: the same. Then 201.
    let statuses: Vec<Option<u16>> = sent.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(401), Some(401), Some(401), Some(401), Some(201)]);
    assert!(!created.ticket_id.as_str().is_empty());
}

impl Rig {
    /// Zendesk refuses API-token basic auth from now on.
    fn zendesk_oauth_only(&self) {
        self.sim.control().set_settings(hub_sim::Settings {
            zendesk_oauth_only: true,
            ..self.sim.control().settings()
        });
    }

    /// A Zendesk adapter fetching its tokens at `/oauth/tokens` with this client secret.
    fn zendesk_oauth_client(
        &self,
        secret: &str,
        body: TokenBody,
    ) -> (TicketingAdapter<Zendesk>, OAuth2ClientCredentials) {
        self.secrets.set("env:ZENDESK_CLIENT_ID", "hub-zendesk");
        self.secrets.set("env:ZENDESK_CLIENT_SECRET", secret);
        let token_url = format!("{}/oauth/tokens", self.sim.url(System::Zendesk));
        let mut config = OAuth2Config::new(token_url.parse().unwrap(), hub_core::Adapter::Ticketing);
        config.body = body;
        config.scope = Some("read write".to_owned());
        let oauth = OAuth2ClientCredentials::new(
            self.http.clone(),
            config,
            self.cell("env:ZENDESK_CLIENT_ID"),
            self.cell("env:ZENDESK_CLIENT_SECRET"),
        );
        let mut parts = EndpointParts::new(
            hub_core::Adapter::Ticketing,
            self.sim.url(System::Zendesk).parse().unwrap(),
            self.http.clone(),
            self.audit.clone(),
        );
        parts.auth = Arc::new(oauth.clone());
        parts.policy = policy();
        (
            TicketingAdapter::new(Zendesk::default(), Arc::new(Endpoint::new(parts))),
            oauth,
        )
    }
}

#[tokio::test]
async fn zendesk_client_credentials_fetch_one_token_and_reuse_it() {
    let rig = Rig::start().await;
    rig.zendesk_oauth_only();
    let (port, oauth) = rig.zendesk_oauth_client("sim-zendesk-secret", TokenBody::Json);
    port.create_ticket(&ctx("r-1"), &new_ticket()).await.unwrap();
    port.create_ticket(&ctx("r-2"), &new_ticket()).await.unwrap();
    assert_eq!(rig.created(System::Zendesk), 2);
    assert_eq!(oauth.token_requests(), 1);
}

/// A wrong client secret (401) and a form-encoded token request, which Zendesk does not
/// accept (400), are credentials errors, and no ticket is sent.
#[tokio::test]
async fn zendesk_token_refusals_are_credentials_errors_sending_no_ticket() {
    for (secret, body, status) in [
        ("wrong", TokenBody::Json, 401),
        ("sim-zendesk-secret", TokenBody::Form, 400),
    ] {
        let rig = Rig::start().await;
        let (port, _) = rig.zendesk_oauth_client(secret, body);
        let err = port.create_ticket(&ctx("r-1"), &new_ticket()).await.unwrap_err();
        let reason = format!("the token endpoint answered {status}");
        assert_eq!(err, Error::Credentials { reason }, "{body:?}");
        assert_eq!(rig.created(System::Zendesk), 0);
    }
}

#[tokio::test]
async fn wrong_credentials_are_unauthorized_after_one_reauth() {
    let rig = Rig::start().await;
    rig.secrets.set("env:ZENDESK_TOKEN", "wrong");
    let port = rig.adapter(Zendesk::default(), System::Zendesk);
    let reads_before = rig.secrets.reads();
    let err = port.create_ticket(&ctx("r-1"), &new_ticket()).await.unwrap_err();
    assert_eq!(err, Error::Unauthorized);
    // One attempt, a 401, the secret re-read, one more attempt: two requests in all.
    let sent = rig.sim.control().requests(&RequestFilter {
        system: Some(System::Zendesk),
        ..RequestFilter::default()
    });
    assert_eq!(sent.len(), 2);
    assert_eq!(rig.secrets.reads() - reads_before, 2);
}

#[tokio::test]
async fn a_rotated_secret_is_picked_up_after_a_401() {
    let rig = Rig::start().await;
    rig.secrets.set("env:ZENDESK_TOKEN", "rotated-away");
    let port = rig.adapter(Zendesk::default(), System::Zendesk);
    assert_eq!(
        port.create_ticket(&ctx("r-1"), &new_ticket()).await.unwrap_err(),
        Error::Unauthorized
    );
    // The operator rotates the secret; the 401 made the adapter forget the old value,
    // so the next call uses the new one without a restart.
    rig.secrets.set("env:ZENDESK_TOKEN", "sim-zendesk-token");
    port.create_ticket(&ctx("r-2"), &new_ticket()).await.unwrap();
    assert_eq!(rig.created(System::Zendesk), 1);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let rig = Rig::start().await;
    rig.sim
        .control()
        .add_fault(
            FaultRule::new(FaultKind::RateLimit)
                .system(System::Zendesk)
                .retry_after_s(1)
                .times(1),
        )
        .unwrap();
    let port = rig.adapter(Zendesk::default(), System::Zendesk);
    let started = std::time::Instant::now();
    port.create_ticket(&ctx("r-1"), &new_ticket()).await.unwrap();
    // A lower bound only: the engine waited at least what the upstream asked.
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(rig.created(System::Zendesk), 1);
}

#[tokio::test]
async fn resets_after_the_effect_never_duplicate_a_keyed_ticket() {
    let rig = Rig::start().await;
    // The ticket is created, then the connection is reset before the answer: outcome unknown.
    rig.sim
        .control()
        .add_fault(
            FaultRule::new(FaultKind::Reset)
                .system(System::Zendesk)
                .route("POST", "/api/v2/tickets.json")
                .after_handler()
                .times(2),
        )
        .unwrap();
    let port = rig.adapter(Zendesk::default(), System::Zendesk);
    let ctx = ctx("r-1").with_idempotency_key(IdempotencyKey::parse("ticket-key-1").unwrap());
    let created = port.create_ticket(&ctx, &new_ticket()).await.unwrap();
    // Three attempts reached the sim; the key made them one ticket.
    assert_eq!(rig.created(System::Zendesk), 1);
    let effects = rig
        .sim
        .control()
        .effects(&EffectFilter::kind(EffectKind::TicketCreated));
    assert_eq!(effects[0].id, created.ticket_id.as_str());
}

#[tokio::test]
async fn jira_writes_are_never_resent_once_they_may_have_landed() {
    let rig = Rig::start().await;
    rig.sim
        .control()
        .add_fault(
            FaultRule::new(FaultKind::Reset)
                .system(System::Jira)
                .route("POST", "/rest/api/3/issue")
                .after_handler()
                .times(1),
        )
        .unwrap();
    let port = rig.adapter(rig.jira(), System::Jira);
    let err = port.create_ticket(&ctx("r-1"), &new_ticket()).await.unwrap_err();
    assert_eq!(err, Error::ConnectionLost);
    // Jira has no idempotency keys: the hub did not resend, so there is exactly one issue.
    assert_eq!(rig.created(System::Jira), 1);
    let sent = rig.sim.control().requests(&RequestFilter {
        system: Some(System::Jira),
        ..RequestFilter::default()
    });
    assert_eq!(sent.len(), 1);
}

#[tokio::test]
async fn the_circuit_opens_after_five_failures_then_fails_fast_without_traffic() {
    let rig = Rig::start().await;
    rig.sim
        .control()
        .add_fault(FaultRule::new(FaultKind::Error).system(System::Generic).status(503))
        .unwrap();
    let one_attempt = RetryPolicy {
        max_attempts: 1,
        ..policy()
    };
    let port = TicketingAdapter::new(Generic, rig.endpoint(System::Generic, one_attempt));
    let id = TicketId::parse("TCK-1001").unwrap();
    for i in 0..5 {
        let err = port.get_ticket_status(&ctx(&format!("r-{i}")), &id).await.unwrap_err();
        assert!(matches!(err, Error::Upstream { status: 503, .. }), "{err:?}");
    }
    let sent_before = rig.sim.control().requests(&RequestFilter::default()).len();
    for i in 5..20 {
        let err = port.get_ticket_status(&ctx(&format!("r-{i}")), &id).await.unwrap_err();
        assert!(
            matches!(err, Error::CircuitOpen { retry_in } if retry_in > Duration::from_secs(50)),
            "{err:?}"
        );
    }
    assert_eq!(
        rig.sim.control().requests(&RequestFilter::default()).len(),
        sent_before,
        "no upstream traffic"
    );
}

#[tokio::test]
async fn stale_reads_are_served_while_the_upstream_is_down() {
    let rig = Rig::start().await;
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let store = Arc::new(MemoryCache::builder().clock(clock.clone()).build());
    let cache = Arc::new(CacheManager::builder(store).clock(clock.clone()).build());
    let port = TicketingAdapter::new(
        Generic,
        rig.endpoint(
            System::Generic,
            RetryPolicy {
                max_attempts: 1,
                ..policy()
            },
        ),
    )
    .with_cache(cache, Duration::from_secs(300));
    let id = TicketId::parse("TCK-1002").unwrap();
    let fresh = port.get_ticket_status(&ctx("r-1"), &id).await.unwrap();
    assert_eq!(fresh.cache, CacheOutcome::Miss);
    rig.sim.control().set_outage(System::Generic, true);
    assert_eq!(
        port.get_ticket_status(&ctx("r-2"), &id).await.unwrap().cache,
        CacheOutcome::Hit
    );
    // Past the TTL, within max_stale: the refresh fails and the stale entry is served.
    clock.advance(Duration::from_secs(301));
    let stale = port.get_ticket_status(&ctx("r-3"), &id).await.unwrap();
    assert_eq!((stale.cache, &stale.value), (CacheOutcome::Stale, &fresh.value));
    // Past max_stale (10 min): the failure comes through.
    clock.advance(Duration::from_secs(600));
    assert!(port.get_ticket_status(&ctx("r-4"), &id).await.is_err());
}

#[tokio::test]
async fn a_401_on_a_non_idempotent_write_earns_its_reauthenticated_retry() {
    let rig = Rig::start().await;
    rig.secrets.set("env:JIRA_TOKEN", "rotated-away");
    let port = rig.adapter(rig.jira(), System::Jira);
    assert_eq!(
        port.create_ticket(&ctx("r-1"), &new_ticket()).await.unwrap_err(),
        Error::Unauthorized
    );
    // A 401 means Jira applied nothing: the write was sent again once, with fresh credentials.
    let sent = rig.sim.control().requests(&RequestFilter {
        system: Some(System::Jira),
        ..RequestFilter::default()
    });
    assert_eq!(sent.len(), 2);
    assert_eq!(rig.created(System::Jira), 0);
}

/// A deployment's requester mapping reaches Zendesk in a shape it accepts: the customer
/// is the ticket's requester (found by external id, or made from the e-mail template);
/// without a mapping, the API user is.
#[tokio::test]
async fn zendesk_requesters_are_the_mapped_customers() {
    use hub_ticketing::zendesk::Requester;
    let rig = Rig::start().await;
    let requester_of = |port: TicketingAdapter<Zendesk>, customer: &'static str, request: &'static str| {
        let endpoint = rig.endpoint(System::Zendesk, policy());
        async move {
            let ticket = NewTicket {
                customer_id: CustomerId::parse(customer).unwrap(),
                ..new_ticket()
            };
            let created = port.create_ticket(&ctx(request), &ticket).await.unwrap();
            let read = hub_upstream::Call::get(
                hub_core::Operation::GetTicketStatus,
                format!("/api/v2/tickets/{}.json", created.ticket_id.as_str()),
            )
            .with_query("include=users".to_owned());
            let body: serde_json::Value =
                serde_json::from_slice(&endpoint.send(&ctx("r-read"), &read).await.unwrap().body).unwrap();
            let id = body["ticket"]["requester_id"].clone();
            let user = body["users"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["id"] == id)
                .cloned();
            user.unwrap()
        }
    };
    let by_id = rig.adapter(
        Zendesk {
            requester: Requester::ExternalId,
        },
        System::Zendesk,
    );
    let carol = requester_of(by_id, "CUST-1001", "r-ext").await;
    assert_eq!(
        (carol["id"].clone(), carol["external_id"].clone()),
        (9101.into(), "CUST-1001".into())
    );
    let by_email = rig.adapter(
        Zendesk {
            requester: Requester::email_template("{customer_id}@customers.example.com").unwrap(),
        },
        System::Zendesk,
    );
    let made = requester_of(by_email, "CUST-7", "r-mail").await;
    assert_eq!(made["email"], "CUST-7@customers.example.com");
    assert_eq!(made["role"], "end-user");
    let unmapped = requester_of(rig.adapter(Zendesk::default(), System::Zendesk), "CUST-1001", "r-none").await;
    assert_eq!(unmapped["email"], "agent@example.com", "the API user");
}

/// A comment that provably did nothing (the upstream refused it: 429 through every
/// attempt) leaves the cached status alone; one that may have landed (a 5xx) clears it.
#[tokio::test]
async fn only_a_comment_that_may_have_landed_invalidates_the_cached_status() {
    let rig = Rig::start().await;
    let generic = rig.adapter(Generic, System::Generic);
    let created = generic.create_ticket(&ctx("r-create"), &new_ticket()).await.unwrap();
    let id = &created.ticket_id;
    let generic = &generic;
    let read = |n: &'static str| async move { generic.get_ticket_status(&ctx(n), id).await };
    assert_eq!(read("r-get-1").await.unwrap().cache, CacheOutcome::Miss);
    assert_eq!(read("r-get-2").await.unwrap().cache, CacheOutcome::Hit);
    let comment = NewComment {
        body: "note".into(),
        public: true,
    };
    let comment_route = FaultRule::new(FaultKind::RateLimit)
        .system(System::Generic)
        .route("POST", "/tickets/{id}/comments");
    rig.sim.control().add_fault(comment_route.clone()).unwrap();
    let refused = generic.add_comment(&ctx("r-c-1"), id, &comment).await.unwrap_err();
    assert_eq!(refused.delivery(), hub_core::Delivery::Refused, "{refused:?}");
    assert_eq!(read("r-get-3").await.unwrap().cache, CacheOutcome::Hit);
    rig.sim.control().clear_faults(None);
    let failing = FaultRule {
        kind: FaultKind::Error,
        ..comment_route
    };
    rig.sim.control().add_fault(failing).unwrap();
    let unknown = generic.add_comment(&ctx("r-c-2"), id, &comment).await.unwrap_err();
    assert_eq!(unknown.delivery(), hub_core::Delivery::Unknown, "{unknown:?}");
    assert_eq!(read("r-get-4").await.unwrap().cache, CacheOutcome::Miss);
}
