//! Trace and span ids: random, drawn from a generator of each thread's own (wyrand, seeded
//! from the operating system's randomness through the standard library's hasher keys),
//! one thread-local access per id.
//!
//! The SDK's `RandomIdGenerator` also draws from a per-thread non-cryptographic generator
//! (xoshiro256++); this one costs about half as much, and an id is made for every request
//! when tracing is on, sampled or not. Ids are unguessable only as far as any fast
//! generator's are: they name traces, they guard nothing.

use std::cell::Cell;
use std::hash::BuildHasher as _;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::IdGenerator;

thread_local! {
    static STATE: Cell<u64> = Cell::new(std::collections::hash_map::RandomState::new().hash_one(0u64));
}

/// One step of wyrand: a 64-bit value from `state`, which it advances.
fn next(state: &Cell<u64>) -> u64 {
    let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
    state.set(s);
    let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
    (t >> 64) as u64 ^ t as u64
}

/// The hub's id generator.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ids;

impl IdGenerator for Ids {
    fn new_trace_id(&self) -> TraceId {
        TraceId::from(valid(|state| u128::from(next(state)) << 64 | u128::from(next(state))))
    }

    fn new_span_id(&self) -> SpanId {
        // A span id is 64 bits: one draw.
        SpanId::from(valid(|state| u128::from(next(state))) as u64)
    }
}

/// The first id `draw` makes from this thread's generator that is not all zeros (the
/// invalid id).
fn valid(draw: impl Fn(&Cell<u64>) -> u128) -> u128 {
    STATE.with(|state| {
        loop {
            let id = draw(state);
            if id != 0 {
                return id;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Ids are valid and do not repeat, on one thread or across threads.
    #[test]
    fn ids_are_valid_and_distinct() {
        let draw = || {
            (0..10_000)
                .map(|_| (Ids.new_trace_id(), Ids.new_span_id()))
                .collect::<Vec<_>>()
        };
        let mut all = draw();
        all.extend(std::thread::spawn(draw).join().unwrap());
        assert!(all.iter().all(|(t, s)| *t != TraceId::INVALID && *s != SpanId::INVALID));
        assert_eq!(all.iter().map(|(t, _)| *t).collect::<HashSet<_>>().len(), all.len());
        assert_eq!(all.iter().map(|(_, s)| *s).collect::<HashSet<_>>().len(), all.len());
    }

    /// The ratio sampler, which reads a trace id's low 64 bits, keeps about the share it
    /// is asked to: 10 % of 20,000 new traces is 2,000, give or take 42 (one standard
    /// deviation); the bounds are 10 of them away.
    #[test]
    fn the_ratio_rule_keeps_its_share_of_new_ids() {
        let kept = (0..20_000)
            .filter(|_| super::super::sampling::keeps(0.1, Ids.new_trace_id()))
            .count();
        assert!((1_580..=2_420).contains(&kept), "{kept}");
    }
}
