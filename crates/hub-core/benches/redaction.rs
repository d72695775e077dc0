//! Micro-benchmark of redaction: every audited call's parameters go through it.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hub_core::redact::redacted;
use serde_json::json;

fn redaction(c: &mut Criterion) {
    // A draft's parameters as the sales adapter audits them: a few plain fields, one
    // nested secret, one list.
    let params = json!({
        "customer_id": "CUST-1001",
        "amount": "129.90",
        "currency": "EUR",
        "description": "Annual plan",
        "metadata": {"source": "support", "apiKey": "k-123", "tags": ["renewal", "priority"]},
        "lines": [{"sku": "PLAN-Y", "qty": 1}, {"sku": "SEAT", "qty": 4}],
    });
    c.bench_function("redaction: draft parameters (7 keys, 1 secret, nested)", |b| {
        b.iter(|| redacted(black_box(&params)));
    });
    let small = json!({"transaction_id": "TXN-5001"});
    c.bench_function("redaction: a read's parameters (1 key)", |b| {
        b.iter(|| redacted(black_box(&small)));
    });
}

criterion_group!(benches, redaction);
criterion_main!(benches);
