//! HTTP/1.1 and HTTP/2 (cleartext, prior knowledge) on the same port get the same
//! answers: status, body and the headers a client acts on.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Version};
use http_body_util::{BodyExt as _, Full};
use hub_sim::{EffectFilter, EffectKind};
use hub_tests::{Hub, Options, READ_TOKEN, WRITE_TOKEN};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The headers compared between the two protocols.
const COMPARED: [&str; 6] = [
    "content-type",
    "cache-status",
    "x-request-id",
    "idempotent-replayed",
    "www-authenticate",
    "etag",
];

struct Clients {
    h1: Client<HttpConnector, Full<Bytes>>,
    h2: Client<HttpConnector, Full<Bytes>>,
}

#[derive(Debug)]
struct Answer {
    version: Version,
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn compared(&self) -> Vec<(&'static str, Option<&str>)> {
        COMPARED
            .iter()
            .map(|name| (*name, self.headers.get(*name).and_then(|v| v.to_str().ok())))
            .collect()
    }
}

impl Clients {
    fn new() -> Self {
        Self {
            h1: Client::builder(TokioExecutor::new()).build_http(),
            h2: Client::builder(TokioExecutor::new()).http2_only(true).build_http(),
        }
    }

    async fn send(
        &self,
        version: Version,
        hub: &Hub,
        method: &Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(format!("{}{path}", hub.url));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::copy_from_slice(body.as_bytes()))).unwrap();
        let client = if version == Version::HTTP_2 { &self.h2 } else { &self.h1 };
        let res = client.request(req).await.unwrap();
        let (parts, body) = res.into_parts();
        Answer {
            version: parts.version,
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
        }
    }

    /// The same request over HTTP/1.1, then over HTTP/2.
    async fn both(
        &self,
        hub: &Hub,
        method: &Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (Answer, Answer) {
        let h1 = self.send(Version::HTTP_11, hub, method, path, headers, body).await;
        let h2 = self.send(Version::HTTP_2, hub, method, path, headers, body).await;
        assert_eq!((h1.version, h2.version), (Version::HTTP_11, Version::HTTP_2));
        (h1, h2)
    }
}

fn assert_same(h1: &Answer, h2: &Answer) {
    assert_eq!(h1.status, h2.status, "{h1:?}\n{h2:?}");
    assert_eq!(h1.compared(), h2.compared(), "{h1:?}\n{h2:?}");
    assert_eq!(h1.body, h2.body, "{h1:?}\n{h2:?}");
}

#[tokio::test]
async fn reads_refusals_and_problems_are_the_same_over_both_protocols() {
    let hub = Hub::start(Options::default()).await;
    let clients = Clients::new();
    let bearer = format!("Bearer {READ_TOKEN}");
    let path = "/v1/transactions/TXN-5001";

    // Filled once, then a cache hit on both.
    let first = clients
        .send(
            Version::HTTP_2,
            &hub,
            &Method::GET,
            path,
            &[("authorization", &bearer)],
            "",
        )
        .await;
    assert_eq!(first.status, 200, "{first:?}");
    let headers = [("authorization", bearer.as_str()), ("x-request-id", "h2-e2e-read")];
    let (h1, h2) = clients.both(&hub, &Method::GET, path, &headers, "").await;
    assert_same(&h1, &h2);
    assert_eq!(h2.status, 200);
    assert_eq!(h2.headers["cache-status"], "integration-hub; hit");
    assert_eq!(h2.headers["x-request-id"], "h2-e2e-read");
    assert_eq!(h2.headers["content-type"], "application/json");

    // A problem: an unknown route.
    let headers = [("authorization", bearer.as_str()), ("x-request-id", "h2-e2e-404")];
    let (h1, h2) = clients
        .both(&hub, &Method::GET, "/v1/no-such-thing", &headers, "")
        .await;
    assert_same(&h1, &h2);
    assert_eq!(h2.status, 404);
    assert_eq!(h2.headers["content-type"], "application/problem+json");

    // A refusal: no token, then a wrong one.
    for auth in [None, Some("Bearer not-a-token")] {
        let mut headers = vec![("x-request-id", "h2-e2e-401")];
        headers.extend(auth.map(|a| ("authorization", a)));
        let (h1, h2) = clients.both(&hub, &Method::GET, path, &headers, "").await;
        assert_same(&h1, &h2);
        assert_eq!(h2.status, 401);
        assert_eq!(h2.headers["content-type"], "application/problem+json");
    }
    hub.stop().await;
}

#[tokio::test]
async fn a_write_on_one_protocol_is_replayed_on_the_other() {
    let hub = Hub::start(Options::default()).await;
    let clients = Clients::new();
    let bearer = format!("Bearer {WRITE_TOKEN}");
    let body = r#"{"customer_id": "CUST-1001", "subject": "over h2", "description": "d"}"#;
    for (first, replay, key) in [
        (Version::HTTP_11, Version::HTTP_2, "h2-e2e-write-1"),
        (Version::HTTP_2, Version::HTTP_11, "h2-e2e-write-2"),
    ] {
        let headers = [
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
            ("idempotency-key", key),
            ("x-request-id", key),
        ];
        let created = clients
            .send(first, &hub, &Method::POST, "/v1/tickets", &headers, body)
            .await;
        let replayed = clients
            .send(replay, &hub, &Method::POST, "/v1/tickets", &headers, body)
            .await;
        assert_eq!((created.version, replayed.version), (first, replay));
        assert_eq!(
            (created.status, replayed.status),
            (201, 201),
            "{created:?}\n{replayed:?}"
        );
        assert_eq!(created.body, replayed.body);
        assert_eq!(created.headers["content-type"], replayed.headers["content-type"]);
        assert_eq!(replayed.headers["x-request-id"], key);
        assert_eq!(replayed.headers["idempotent-replayed"], "true");
        assert!(created.headers.get("idempotent-replayed").is_none(), "{created:?}");
    }
    assert_eq!(
        hub.sim
            .control()
            .effects(&EffectFilter::kind(EffectKind::TicketCreated))
            .len(),
        2
    );
    hub.stop().await;
}
