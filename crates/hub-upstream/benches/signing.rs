//! Micro-benchmark of HMAC request signing: every attempt of a sales write is signed.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use hub_core::{SecretError, SecretRef, SecretSource};
use hub_upstream::auth::HmacSigner;
use hub_upstream::{Authenticate, SecretCell};
use secrecy::SecretString;

/// One fixed secret.
struct Fixed;

#[async_trait]
impl SecretSource for Fixed {
    async fn resolve(&self, _reference: &SecretRef) -> Result<SecretString, SecretError> {
        Ok(SecretString::from("sim-sales-hmac-secret".to_owned()))
    }
}

fn signing(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let reference: SecretRef = "env:SALES_HMAC_SECRET".parse().unwrap();
    let signer = HmacSigner::new(SecretCell::new(Arc::new(Fixed), reference));
    let body = br#"{"customer_id":"CUST-1001","amount":"129.90","currency":"EUR","description":"Annual plan"}"#;
    let (parts, ()) = http::Request::post("http://127.0.0.1:8900/sales/transactions/drafts")
        .body(())
        .unwrap()
        .into_parts();
    // The secret is resolved once and kept; every iteration signs anew.
    rt.block_on(signer.authorize(&mut parts.clone(), body)).unwrap();
    c.bench_function("hmac: sign a draft request (88-byte body)", |b| {
        b.iter(|| {
            let mut p = parts.clone();
            rt.block_on(signer.authorize(&mut p, black_box(body))).unwrap();
            p
        });
    });
}

criterion_group!(benches, signing);
criterion_main!(benches);
