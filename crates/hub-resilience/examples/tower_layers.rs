//! The same retry and breaker as `tower` layers around any `tower::Service`.
//!
//! Run with `cargo run -p hub-resilience --features tower --example tower_layers`.
#![allow(clippy::print_stdout)] // An example talks to its terminal.

use std::future::Ready;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hub_core::Error;
use hub_resilience::backoff::Backoff;
use hub_resilience::breaker::{BreakerConfig, CircuitState};
use hub_resilience::compose::Upstream;
use hub_resilience::layer::UpstreamLayer;
use hub_resilience::retry::{Idempotency, RetryPolicy};
use tower::{Layer, Service};

/// A service that fails with a lost connection every time `fail_next` says so.
#[derive(Clone)]
struct Lookup {
    calls: Arc<AtomicU32>,
    fail_next: Arc<AtomicU32>,
}

impl Service<u64> for Lookup {
    type Response = String;
    type Error = Error;
    type Future = Ready<Result<String, Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, id: u64) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let failing = self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        std::future::ready(if failing {
            Err(Error::ConnectionLost)
        } else {
            Ok(format!("customer {id}"))
        })
    }
}

/// Waits until `service` can take a request (what `tower::ServiceExt::ready` does).
async fn ready<S: Service<u64>>(service: &mut S) -> Result<&mut S, S::Error> {
    std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
    Ok(service)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let upstream = Arc::new(
        Upstream::builder("crm")
            .policy(RetryPolicy {
                backoff: Backoff {
                    initial: Duration::from_millis(20),
                    ..Backoff::default()
                },
                ..RetryPolicy::default()
            })
            .breaker(BreakerConfig {
                failure_threshold: 3,
                ..BreakerConfig::default()
            })
            .build(),
    );
    let calls = Arc::new(AtomicU32::new(0));
    let fail_next = Arc::new(AtomicU32::new(1));
    let inner = Lookup {
        calls: calls.clone(),
        fail_next: fail_next.clone(),
    };
    let mut service = UpstreamLayer::new(upstream.clone(), "customer_lookup", Idempotency::Idempotent).layer(inner);

    // A lost connection on a read is retried: the caller sees only the answer.
    let answer = ready(&mut service).await?.call(7).await?;
    println!(
        "call 1: {answer:?} after {} calls to the inner service",
        calls.load(Ordering::SeqCst)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // Three failures in a row open the circuit; the next request is refused without a call.
    fail_next.store(u32::MAX, Ordering::SeqCst);
    let failed = ready(&mut service).await?.call(8).await;
    println!("call 2: {failed:?}; circuit {:?}", upstream.breaker().state());
    let before = calls.load(Ordering::SeqCst);
    let refused = ready(&mut service).await?.call(9).await;
    println!(
        "call 3: {} (inner service called {} times)",
        refused.as_ref().err().map(ToString::to_string).unwrap_or_default(),
        calls.load(Ordering::SeqCst) - before
    );
    assert_eq!(upstream.breaker().state(), CircuitState::Open);
    assert!(matches!(refused, Err(Error::CircuitOpen { .. })));
    Ok(())
}
