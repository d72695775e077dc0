//! Micro-benchmarks of the server's per-request pieces: bearer-token authentication and
//! webhook signature verification.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use hub_app::webhooks::signature::{WebhookKeys, sign};
use hub_server::auth::{Authenticator, Role};

fn authentication(c: &mut Criterion) {
    let auth = Authenticator::default()
        .with_token("reader", Role::Read, &"bench-read-0123456789abcdef".to_owned().into())
        .with_token("writer", Role::Write, &"bench-write-0123456789abcdef".to_owned().into())
        .with_token(
            "operator",
            Role::Admin,
            &"bench-admin-0123456789abcdef".to_owned().into(),
        );
    c.bench_function("auth: authenticate a known token (3 configured)", |b| {
        b.iter(|| auth.authenticate(black_box("bench-read-0123456789abcdef")).unwrap());
    });
    c.bench_function("auth: refuse an unknown token (3 configured)", |b| {
        b.iter(|| auth.authenticate(black_box("bench-none-0123456789abcdef")).is_none());
    });
}

fn webhook_verification(c: &mut Criterion) {
    let secret = "whsec_aHViLXNpbSB3ZWJob29rIHNpZ25pbmcga2V5LCAzMmI=";
    let keys = WebhookKeys::parse([secret]).unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&secret["whsec_".len()..])
        .unwrap();
    let body = br#"{"type":"transaction.updated","data":{"transaction_id":"TXN-5001","status":"completed"}}"#;
    let ts = 1_700_000_000;
    let signature = sign(&raw, "msg_2Kx", ts, body);
    c.bench_function("webhook: verify a signed delivery (1 key)", |b| {
        b.iter(|| {
            keys.verify("msg_2Kx", "1700000000", black_box(&signature), black_box(body), ts + 5)
                .unwrap();
        });
    });
}

criterion_group!(benches, authentication, webhook_verification);
criterion_main!(benches);
