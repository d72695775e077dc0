//! Contract tests: the transaction adapters over real HTTP against hub-sim (OAuth2, HMAC, idempotent commits).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hub_core::{
    Amount, CacheOutcome, Currency, CustomerId, DraftStatus, Error, HistoryLimit, IdempotencyKey, Money, NewDraft,
    TransactionCreatePort, TransactionId, TransactionStatusPort,
};
use hub_resilience::cache::CacheManager;
use hub_resilience::clock::ManualClock;
use hub_resilience::memory_store::MemoryCache;
use hub_resilience::retry::RetryPolicy;
use hub_sim::{EffectFilter, EffectKind, FaultKind, FaultRule, Sim, SimConfig, SimHandle, System};
use hub_transactions::cache_keys::Ttls;
use hub_transactions::{TransactionCreateAdapter, TransactionStatusAdapter};
use hub_upstream::auth::{Chain, HmacSigner, OAuth2ClientCredentials, OAuth2Config};
use hub_upstream::request::{Call, Idempotency};
use hub_upstream::testing::{MemoryAudit, StaticSecrets, ctx, fast_policy as policy};
use hub_upstream::{Authenticate, ClientConfig, Endpoint, EndpointParts, HttpClient, SecretCell};

struct Rig {
    sim: SimHandle,
    secrets: Arc<StaticSecrets>,
    http: HttpClient,
    clock: Arc<ManualClock>,
}

impl Rig {
    async fn start() -> Self {
        let sim = Sim::start(SimConfig::default()).await.unwrap();
        let secrets = Arc::new(StaticSecrets::default());
        for (reference, value) in [
            ("env:STATUS_ID", "hub-status"),
            ("env:STATUS_SECRET", "sim-status-secret"),
            ("env:SALES_ID", "hub-sales"),
            ("env:SALES_SECRET", "sim-sales-secret"),
            ("env:SALES_HMAC", "sim-sales-hmac-secret"),
        ] {
            secrets.set(reference, value);
        }
        let http = HttpClient::new(&ClientConfig::default()).unwrap();
        Self {
            sim,
            secrets,
            http,
            clock: Arc::new(ManualClock::new(1_800_000_000_000)),
        }
    }

    fn cell(&self, reference: &str) -> SecretCell {
        SecretCell::new(self.secrets.clone(), reference.parse().unwrap())
    }

    fn oauth(&self, system: System, id: &str, secret: &str) -> OAuth2ClientCredentials {
        let mut config = OAuth2Config::new(
            format!("{}/oauth/token", self.sim.url(system)).parse().unwrap(),
            hub_core::Adapter::TransactionCreate,
        );
        config.clock = self.clock.clone();
        OAuth2ClientCredentials::new(self.http.clone(), config, self.cell(id), self.cell(secret))
    }

    fn endpoint(&self, system: System, auth: Arc<dyn Authenticate>) -> Arc<Endpoint> {
        let mut parts = EndpointParts::new(
            hub_core::Adapter::TransactionStatus,
            self.sim.url(system).parse().unwrap(),
            self.http.clone(),
            Arc::new(MemoryAudit::default()),
        );
        parts.auth = auth;
        parts.policy = policy();
        Arc::new(Endpoint::new(parts))
    }

    fn sales_auth(&self) -> Arc<dyn Authenticate> {
        Arc::new(Chain(vec![
            Arc::new(self.oauth(System::Sales, "env:SALES_ID", "env:SALES_SECRET")),
            Arc::new(HmacSigner::new(self.cell("env:SALES_HMAC"))),
        ]))
    }

    fn effects(&self, kind: EffectKind) -> usize {
        self.sim.control().effects(&EffectFilter::kind(kind)).len()
    }
}

fn draft(customer: &str, amount: &str) -> NewDraft {
    NewDraft {
        customer_id: CustomerId::parse(customer).unwrap(),
        money: Money::new(amount.parse::<Amount>().unwrap(), Currency::parse("USD").unwrap()),
        description: "Replacement card".into(),
        metadata: serde_json::Map::new(),
    }
}

#[tokio::test]
async fn status_reads_with_oauth_and_cache() {
    let rig = Rig::start().await;
    let oauth = rig.oauth(System::Status, "env:STATUS_ID", "env:STATUS_SECRET");
    let cache = Arc::new(CacheManager::builder(Arc::new(MemoryCache::default())).build());
    let port = TransactionStatusAdapter::new(rig.endpoint(System::Status, Arc::new(oauth.clone())))
        .with_cache(cache, Ttls::default());
    let id = TransactionId::parse("TXN-5001").unwrap();
    let first = port.get_transaction_status(&ctx("r-1"), &id).await.unwrap();
    assert_eq!(
        (first.cache, first.value.transaction_id.as_str()),
        (CacheOutcome::Miss, "TXN-5001")
    );
    assert_eq!(
        port.get_transaction_status(&ctx("r-2"), &id).await.unwrap().cache,
        CacheOutcome::Hit
    );
    let customer = CustomerId::parse("CUST-1001").unwrap();
    let history = port
        .get_transaction_history(&ctx("r-3"), &customer, HistoryLimit::new(2).unwrap())
        .await
        .unwrap();
    assert!(history.value.len() <= 2 && !history.value.is_empty());
    assert_eq!(oauth.token_requests(), 1, "the token is cached across calls");
    let missing = port
        .get_transaction_status(&ctx("r-4"), &TransactionId::parse("TXN-0").unwrap())
        .await;
    assert_eq!(missing.unwrap_err(), Error::NotFound);
}

#[tokio::test]
async fn a_thousand_calls_across_a_token_expiry_make_one_token_request() {
    let rig = Rig::start().await;
    let oauth = rig.oauth(System::Status, "env:STATUS_ID", "env:STATUS_SECRET");
    let port = Arc::new(TransactionStatusAdapter::new(
        rig.endpoint(System::Status, Arc::new(oauth.clone())),
    ));
    let id = TransactionId::parse("TXN-5002").unwrap();
    port.get_transaction_status(&ctx("r-0"), &id).await.unwrap();
    assert_eq!(rig.sim.control().token_requests().status.issued, 1);
    // The hub's clock passes the token's expiry (3600 s minus the 30 s skew).
    rig.clock.advance(Duration::from_secs(3_600));
    let calls = (0..1_000).map(|i| {
        let port = port.clone();
        let id = id.clone();
        tokio::spawn(async move { port.get_transaction_status(&ctx(&format!("r-{i}")), &id).await })
    });
    for result in futures_util::future::join_all(calls).await {
        result.unwrap().unwrap();
    }
    assert_eq!(
        rig.sim.control().token_requests().status.issued,
        2,
        "exactly one refresh for a thousand callers"
    );
    assert_eq!(oauth.token_requests(), 2);
}

#[tokio::test]
async fn a_refused_token_request_is_a_credentials_error_shared_by_every_waiter() {
    let rig = Rig::start().await;
    rig.secrets.set("env:STATUS_SECRET", "wrong");
    let oauth = rig.oauth(System::Status, "env:STATUS_ID", "env:STATUS_SECRET");
    let port = Arc::new(TransactionStatusAdapter::new(
        rig.endpoint(System::Status, Arc::new(oauth.clone())),
    ));
    let id = TransactionId::parse("TXN-5002").unwrap();
    let calls = (0..50).map(|i| {
        let port = port.clone();
        let id = id.clone();
        tokio::spawn(async move { port.get_transaction_status(&ctx(&format!("r-{i}")), &id).await })
    });
    for result in futures_util::future::join_all(calls).await {
        assert!(matches!(result.unwrap(), Err(Error::Credentials { .. })));
    }
    // Not retried forever: at most a handful of token requests for fifty callers.
    assert!(oauth.token_requests() <= 2, "{}", oauth.token_requests());
}

#[tokio::test]
async fn draft_commit_replay_and_cancel() {
    let rig = Rig::start().await;
    let cache = Arc::new(CacheManager::builder(Arc::new(MemoryCache::default())).build());
    let status_auth = Arc::new(rig.oauth(System::Status, "env:STATUS_ID", "env:STATUS_SECRET"));
    let status = TransactionStatusAdapter::new(rig.endpoint(System::Status, status_auth))
        .with_cache(cache.clone(), Ttls::default());
    let sales = TransactionCreateAdapter::new(rig.endpoint(System::Sales, rig.sales_auth())).with_cache(cache);
    let customer = CustomerId::parse("CUST-1002").unwrap();
    let before = status
        .get_transaction_history(&ctx("r-h1"), &customer, HistoryLimit::default())
        .await
        .unwrap();
    assert_eq!(before.cache, CacheOutcome::Miss);

    let created = sales
        .create_draft_transaction(&ctx("r-1"), &draft("CUST-1002", "500.10"))
        .await
        .unwrap();
    assert_eq!(
        (created.status, created.amount.to_string()),
        (DraftStatus::PendingConfirmation, "500.10".to_owned())
    );
    let key = IdempotencyKey::parse("commit-1").unwrap();
    let committed = sales
        .commit_transaction(&ctx("r-2"), &created.draft_id, &key)
        .await
        .unwrap();
    let again = sales
        .commit_transaction(&ctx("r-3"), &created.draft_id, &key)
        .await
        .unwrap();
    assert_eq!(committed, again, "a replayed commit returns the first result");
    assert_eq!(rig.effects(EffectKind::DraftCommitted), 1);
    assert_eq!(committed.amount.to_string(), "500.10");

    // The commit invalidated the customer's history: the next read sees the new transaction.
    let after = status
        .get_transaction_history(&ctx("r-h2"), &customer, HistoryLimit::default())
        .await
        .unwrap();
    assert_eq!(after.cache, CacheOutcome::Miss);
    assert!(after.value.iter().any(|t| t.transaction_id == committed.transaction_id));

    let other = sales
        .create_draft_transaction(&ctx("r-4"), &draft("CUST-1002", "1"))
        .await
        .unwrap();
    let cancelled = sales.cancel_draft(&ctx("r-5"), &other.draft_id).await.unwrap();
    assert_eq!(cancelled.status, DraftStatus::Cancelled);
    // Committing a cancelled draft is an upstream rejection.
    let err = sales
        .commit_transaction(
            &ctx("r-6"),
            &other.draft_id,
            &IdempotencyKey::parse("commit-2").unwrap(),
        )
        .await;
    assert!(matches!(err, Err(Error::Rejected { status: 409, .. })), "{err:?}");
}

#[tokio::test]
async fn commits_never_duplicate_under_resets_and_timeouts() {
    let rig = Rig::start().await;
    let sales = TransactionCreateAdapter::new(rig.endpoint(System::Sales, rig.sales_auth()));
    let created = sales
        .create_draft_transaction(&ctx("r-1"), &draft("CUST-1003", "42.00"))
        .await
        .unwrap();
    // The commit lands, then the connection is reset; then it lands (replayed) and hangs.
    rig.sim
        .control()
        .add_fault(
            FaultRule::new(FaultKind::Reset)
                .system(System::Sales)
                .route("POST", "/transactions/drafts/{id}/commit")
                .after_handler()
                .times(1),
        )
        .unwrap();
    rig.sim
        .control()
        .add_fault(
            FaultRule::new(FaultKind::Hang)
                .system(System::Sales)
                .route("POST", "/transactions/drafts/{id}/commit")
                .after_handler()
                .times(1),
        )
        .unwrap();
    let short = RetryPolicy {
        per_attempt_timeout: Duration::from_millis(500),
        ..policy()
    };
    let mut parts = EndpointParts::new(
        hub_core::Adapter::TransactionCreate,
        rig.sim.url(System::Sales).parse().unwrap(),
        rig.http.clone(),
        Arc::new(MemoryAudit::default()),
    );
    parts.auth = rig.sales_auth();
    parts.policy = short;
    let sales = TransactionCreateAdapter::new(Arc::new(Endpoint::new(parts)));
    let key = IdempotencyKey::parse("commit-under-fire").unwrap();
    let result = sales
        .commit_transaction(&ctx("r-2"), &created.draft_id, &key)
        .await
        .unwrap();
    let commits = rig
        .sim
        .control()
        .effects(&EffectFilter::kind(EffectKind::DraftCommitted));
    assert_eq!(commits.len(), 1, "three attempts, one commit");
    assert_eq!(commits[0].related.as_deref(), Some(result.transaction_id.as_str()));
}

#[tokio::test]
async fn the_signature_covers_the_exact_bytes_sent() {
    let rig = Rig::start().await;
    let auth = rig.sales_auth();
    let base: http::Uri = rig.sim.url(System::Sales).parse().unwrap();
    let body = serde_json::json!({"customer_id": "CUST-1001", "amount": "5.00", "currency": "USD", "description": "x"});
    let call = Call::json(
        hub_core::Operation::CreateDraftTransaction,
        http::Method::POST,
        "/transactions/drafts".into(),
        &body,
        Idempotency::NonIdempotent,
    )
    .unwrap();

    // Signed as sent: accepted.
    let (mut parts, bytes) = call.to_request(&base, &ctx("r-1")).unwrap().into_parts();
    auth.authorize(&mut parts, &bytes).await.unwrap();
    let ok = rig.http.send(http::Request::from_parts(parts, bytes)).await.unwrap();
    assert_eq!(ok.status, 201);

    // Altered after signing (one digit of the amount): refused.
    let (mut parts, bytes) = call.to_request(&base, &ctx("r-2")).unwrap().into_parts();
    auth.authorize(&mut parts, &bytes).await.unwrap();
    let tampered = Bytes::from(String::from_utf8(bytes.to_vec()).unwrap().replace("5.00", "9.00"));
    let refused = rig.http.send(http::Request::from_parts(parts, tampered)).await.unwrap();
    assert_eq!(refused.status, 401);
    assert_eq!(rig.effects(EffectKind::DraftCreated), 1);
}
