//! The composed path as a `tower::Layer` (feature `tower`): every request runs through an [`Upstream`]'s breaker and retry engine.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hub_core::Error;
use tower::{Layer, Service};

use crate::compose::Upstream;
use crate::retry::Idempotency;

/// Wraps a service so each request runs through `upstream`'s breaker (per attempt),
/// retry engine, per-attempt timeout and deadline.
///
/// The request must be `Clone` (each attempt sends a copy); the inner service must
/// be `Clone` (each attempt drives its own clone to readiness).
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::sync::Arc;
/// use hub_core::Error;
/// use hub_resilience::compose::Upstream;
/// use hub_resilience::layer::UpstreamLayer;
/// use hub_resilience::retry::Idempotency;
/// use tower::{Layer, Service};
///
/// #[derive(Clone)]
/// struct Echo;
/// impl Service<u32> for Echo {
///     type Response = u32;
///     type Error = Error;
///     type Future = std::future::Ready<Result<u32, Error>>;
///     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Error>> {
///         std::task::Poll::Ready(Ok(()))
///     }
///     fn call(&mut self, n: u32) -> Self::Future {
///         std::future::ready(Ok(n))
///     }
/// }
///
/// let upstream = Arc::new(Upstream::builder("echo").build());
/// let mut svc = UpstreamLayer::new(upstream, "echo", Idempotency::Idempotent).layer(Echo);
/// assert_eq!(svc.call(7).await, Ok(7));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct UpstreamLayer {
    upstream: Arc<Upstream>,
    operation: &'static str,
    idempotency: Idempotency,
}

impl UpstreamLayer {
    /// Runs requests as `operation`, with the given idempotency.
    pub fn new(upstream: Arc<Upstream>, operation: &'static str, idempotency: Idempotency) -> Self {
        Self {
            upstream,
            operation,
            idempotency,
        }
    }
}

impl<S> Layer<S> for UpstreamLayer {
    type Service = UpstreamService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        UpstreamService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`UpstreamLayer`] makes.
#[derive(Debug, Clone)]
pub struct UpstreamService<S> {
    inner: S,
    layer: UpstreamLayer,
}

impl<S, Req> Service<Req> for UpstreamService<S>
where
    S: Service<Req, Error = Error> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Response: Send + 'static,
    Req: Clone + Send + Sync + 'static,
{
    type Response = S::Response;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, Error>> + Send>>;

    /// Always ready: each attempt drives its own clone of the inner service to readiness,
    /// inside the attempt's timeout.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let inner = self.inner.clone();
        let layer = self.layer.clone();
        Box::pin(async move {
            layer
                .upstream
                .call(layer.operation, layer.idempotency, |_| {
                    let mut svc = inner.clone();
                    let req = req.clone();
                    async move {
                        poll_fn(|cx| svc.poll_ready(cx)).await?;
                        svc.call(req).await
                    }
                })
                .await
                .result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Fails with a 503 until the third call.
    #[derive(Clone, Default)]
    struct Flaky(Arc<AtomicU32>);

    impl Service<&'static str> for Flaky {
        type Response = &'static str;
        type Error = Error;
        type Future = std::future::Ready<Result<&'static str, Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: &'static str) -> Self::Future {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            std::future::ready(if n < 2 {
                Err(Error::Upstream {
                    status: 503,
                    retry_after: None,
                })
            } else {
                Ok(req)
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_layer_retries_idempotent_requests_and_not_others() {
        let upstream = Arc::new(Upstream::builder("flaky").build());
        let flaky = Flaky::default();
        let mut svc = UpstreamLayer::new(upstream.clone(), "get", Idempotency::Idempotent).layer(flaky.clone());
        assert_eq!(svc.call("ok").await, Ok("ok"));
        assert_eq!(flaky.0.load(Ordering::SeqCst), 3);

        let flaky = Flaky::default();
        let mut svc = UpstreamLayer::new(upstream, "post", Idempotency::NonIdempotent).layer(flaky.clone());
        assert!(matches!(
            svc.call("once").await,
            Err(Error::Upstream { status: 503, .. })
        ));
        assert_eq!(flaky.0.load(Ordering::SeqCst), 1);
    }
}
