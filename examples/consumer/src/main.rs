use std::time::Duration;

use hub_core::Error;
use hub_resilience::{Backoff, Idempotency, RetryPolicy, Upstream};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let backoff = Backoff { initial: Duration::from_millis(50), ..Backoff::default() };
    let upstream = Upstream::builder("inventory")
        .policy(RetryPolicy { backoff, deadline: Duration::from_secs(5), ..RetryPolicy::default() })
        .build();
    // Any async call returning `Result<T, hub_core::Error>`; this one loses its connection once.
    let mut drops = 1;
    let outcome = upstream
        .call("stock_level", Idempotency::Idempotent, |attempt| {
            let dropped = std::mem::take(&mut drops) > 0;
            async move { if dropped { Err(Error::ConnectionLost) } else { Ok(attempt.number * 10) } }
        })
        .await;
    assert_eq!((outcome.result, outcome.attempts), (Ok(20), 2));
    println!("stock level read after {} attempts; circuit {:?}", outcome.attempts, upstream.breaker().state());
}
