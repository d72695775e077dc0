//! The application: the ports and services every use case runs over, with the settings
//! and shared state of the use cases, cheap to clone.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hub_core::{TraceContext, Untraced};
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use crate::alerts::Supervisor;
use crate::answer::AnswerFormat;
use crate::ports::{Ports, Services};
use crate::replay::{PortReplayer, Replayer};

/// The use cases' tunables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long an idempotency claim lasts unless completed (longer than any write's deadline).
    pub idempotency_lease: Duration,
    /// How long a dead-letter replay holds its entry between renewals.
    pub replay_lease: Duration,
    /// At most this many writes run at once; one more is refused unsent.
    pub max_write_tasks: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            idempotency_lease: Duration::from_secs(120),
            replay_lease: Duration::from_secs(120),
            max_write_tasks: 1024,
        }
    }
}

/// Every use case of the hub, over `Arc<dyn Port>`s.
#[derive(Clone)]
pub struct Hub {
    /// The upstream ports.
    pub ports: Ports,
    /// The hub's own services.
    pub services: Services,
    /// Tunables.
    pub settings: Settings,
    /// Aggregated alerts to the supervisor.
    pub supervisor: Supervisor,
    /// How answers are written and stored for repeats.
    pub format: Arc<dyn AnswerFormat>,
    /// Runs dead-lettered writes again.
    pub replayer: Arc<dyn Replayer>,
    /// The running trace: the context a dead letter keeps, the link a replay makes, who
    /// keeps a read's span ([`Untraced`] unless [`Hub::with_trace_context`] sets one).
    pub trace: Arc<dyn TraceContext>,
    /// One permit per running write.
    pub(crate) write_slots: Arc<Semaphore>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// The use cases over `ports` and `services`, answering in `format`, replaying dead
    /// letters through the same ports, alerting into `supervisor`.
    pub fn new(
        ports: Ports,
        services: Services,
        format: Arc<dyn AnswerFormat>,
        supervisor: Supervisor,
        settings: Settings,
    ) -> Self {
        let replayer = Arc::new(PortReplayer::new(ports.clone(), Arc::clone(&format)));
        Self {
            ports,
            services,
            write_slots: Arc::new(Semaphore::new(settings.max_write_tasks.max(1))),
            settings,
            supervisor,
            format,
            replayer,
            trace: Arc::new(Untraced),
        }
    }

    /// Replaces the dead-letter replayer.
    #[must_use]
    pub fn with_replayer(mut self, replayer: Arc<dyn Replayer>) -> Self {
        self.replayer = replayer;
        self
    }

    /// Reads the running trace through `trace`: dead letters keep the context of the
    /// span their write failed in, and a replay's span links to it. Give the audit log
    /// the same port ([`crate::TracedAudit`]) so its records carry their trace id.
    #[must_use]
    pub fn with_trace_context(mut self, trace: Arc<dyn TraceContext>) -> Self {
        self.trace = trace;
        self
    }

    /// Runs `task` in a task of its own (a caller that goes away cannot cut it short)
    /// within the calling task's span and trace ([`TraceContext::in_current_trace`]),
    /// and waits for its output.
    pub async fn spawn_in_trace<T: Send + 'static>(
        &self,
        task: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, TaskFailed> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = async move {
            // The receiver is only gone when the caller's future was dropped.
            let _ = tx.send(task.await);
        };
        let handle = tokio::spawn(self.trace.in_current_trace(Box::pin(task.in_current_span())));
        handle.await.map_err(|e| TaskFailed { reason: e.to_string() })?;
        // A task that ended has sent its output.
        rx.await.map_err(|e| TaskFailed { reason: e.to_string() })
    }
}

/// A task [`Hub::spawn_in_trace`] ran did not finish: it panicked or was cancelled.
#[derive(Debug, thiserror::Error)]
#[error("the task did not finish: {reason}")]
pub struct TaskFailed {
    reason: String,
}
