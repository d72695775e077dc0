//! `/openapi.json` is OpenAPI 3.1 and lists every route of the API.

use hub_server::auth::ROUTES;

use crate::support::*;

#[tokio::test]
async fn every_route_is_in_the_document() {
    let hub = Hub::new();
    let srv = hub.serve().await;
    let res = srv.req("GET", "/openapi.json").send().await;
    assert_eq!(res.status, 200);
    let doc = res.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    for r in ROUTES {
        let op = &doc["paths"][r.path][r.method.to_lowercase()];
        assert!(
            op.is_object(),
            "{} {} missing from the OpenAPI document",
            r.method,
            r.path
        );
        assert_eq!(
            op.get("security").is_some(),
            r.role.is_some(),
            "{} {}",
            r.method,
            r.path
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(documented, ROUTES.len());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn no_secret_reaches_a_body_or_debug_output() {
    let hub = Hub::new();
    let debug = format!("{:?}", hub.state);
    for canary in [READ, WRITE, ADMIN] {
        assert!(!debug.contains(canary), "{debug}");
    }
    let state = hub
        .state
        .clone()
        .with_metrics(std::sync::Arc::new(|| "# TYPE up gauge\nup 1\n".to_owned()));
    let srv = Server::start(state).await;
    let metrics = srv.req("GET", "/metrics").send().await;
    assert_eq!(metrics.text(), "# TYPE up gauge\nup 1\n");
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    for path in ["/openapi.json", "/readyz", "/healthz", "/metrics"] {
        let text = srv.req("GET", path).send().await.text();
        for canary in [READ, WRITE, ADMIN] {
            assert!(!text.contains(canary), "{path}");
        }
    }
}
