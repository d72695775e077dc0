//! The allocations one cached `GET /v1/transactions/{id}` makes in the hub's router,
//! driven in-process (no sockets, so nothing of hyper's is counted), counted by an
//! instrumented system allocator.
//!
//! `cargo bench -p hub-server --bench allocations` prints `allocations per cached hit: X`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::alloc::System;

use http::StatusCode;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use support::{Bench, CACHED};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Cached hits the count is taken over, after as many to warm up.
const COUNTED_HITS: u64 = 1_000;

/// Allocations made by `n` cached reads, per read.
fn allocations_per_hit(bench: &Bench, n: u64) -> f64 {
    for _ in 0..n {
        assert_eq!(bench.get(CACHED), StatusCode::OK);
    }
    let region = Region::new(GLOBAL);
    for _ in 0..n {
        bench.get(CACHED);
    }
    let change = region.change();
    change.allocations as f64 / n as f64
}

fn main() {
    println!(
        "allocations per cached hit: {:.1}",
        allocations_per_hit(&Bench::start(), COUNTED_HITS)
    );
}
