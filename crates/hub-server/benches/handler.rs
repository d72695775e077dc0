//! The whole handler in-process, without sockets: a cached `GET /v1/transactions/{id}`
//! and an open circuit's refusal driven through the hub's real router (assembled from a
//! configuration as the binary assembles it, with its metrics recorder and its JSON log at
//! `info` written to a sink), on the allocator the server binary uses.
//!
//! The cached read is also driven with tracing on, the hub's OpenTelemetry layer sampling
//! 0 %, 10 % and 100 % of requests into an exporter whose transport discards every batch:
//! the request path's cost of tracing, without the collector's (the exporter's own thread
//! encodes each batch, off the request path).
//!
//! `cargo bench -p hub-server --bench handler` prints criterion's figures. The allocations
//! a cached hit makes are counted by the `allocations` benchmark.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::sync::Arc;

use criterion::{Criterion, criterion_group};
use http::{Request, StatusCode};
use support::{Bench, CACHED, REFUSED};

/// As in `hub-server`'s binary: spans are built on one thread and freed on the exporter's,
/// and the system allocator's cross-thread frees would be measured instead of the hub.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn handler(c: &mut Criterion) {
    let bench = Bench::start();
    c.bench_function("handler: cached GET /v1/transactions/{id} (in-process)", |b| {
        b.iter(|| assert_eq!(bench.get(CACHED), StatusCode::OK));
    });
    c.bench_function("handler: open circuit refusal (in-process)", |b| {
        b.iter(|| assert_eq!(bench.get(REFUSED), StatusCode::SERVICE_UNAVAILABLE));
    });
    for ratio in [0.0, 0.1, 1.0] {
        let tracing = traced(ratio);
        let name = format!(
            "handler: cached GET, {}% of requests traced (in-process)",
            ratio * 100.0
        );
        tracing::dispatcher::with_default(&tracing.dispatch, || {
            c.bench_function(&name, |b| {
                b.iter(|| assert_eq!(bench.get(CACHED), StatusCode::OK));
            });
        });
        tracing.export.shutdown(std::time::Duration::from_secs(1));
    }
}

/// A collector that takes every batch at once and keeps nothing.
#[derive(Debug)]
struct Discard;

#[async_trait::async_trait]
impl hub_telemetry::tracing_export::HttpClient for Discard {
    async fn send_bytes(
        &self,
        _request: Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, hub_telemetry::tracing_export::HttpError> {
        Ok(http::Response::new(bytes::Bytes::new()))
    }
}

/// The hub's subscriber with tracing on, as the binary assembles it (the OpenTelemetry
/// layer sampling `ratio`, then the JSON log into a sink), to be made the default for a
/// while, and its export.
struct Traced {
    dispatch: tracing::Dispatch,
    export: hub_telemetry::tracing_export::Tracing,
}

fn traced(ratio: f64) -> Traced {
    let settings = hub_telemetry::tracing_export::ExportSettings {
        endpoint: "http://collector.invalid:4318".to_owned(),
        service_name: "integration-hub".to_owned(),
        sample_ratio: ratio,
        batch_size: 512,
        queue_size: 2048,
        headers: Vec::new(),
    };
    let export = hub_telemetry::tracing_export::start(&settings, Arc::new(Discard)).unwrap();
    let (writer, _guard) = hub_telemetry::logging::background(std::io::sink);
    let subscriber =
        hub_telemetry::logging::with_traces(&export, hub_telemetry::logging::Style::Json, "info", Arc::new(writer));
    Traced {
        dispatch: tracing::Dispatch::new(subscriber),
        export,
    }
}

criterion_group!(benches, handler);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
