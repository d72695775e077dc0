//! The supervisor's [`Notifier`]: always a structured log line and a metric, and a sink
//! (the shell's outbound webhook) when one is given.

use std::sync::Arc;

use async_trait::async_trait;
use hub_core::{Alert, Notifier, StoreError};

/// Tells the supervisor: a `warn` log line (target `supervisor`) and
/// `integration_supervisor_notifications_total{channel}` for every alert, and the sink
/// when one is set.
#[derive(Default)]
pub struct SupervisorNotifier {
    sink: Option<(&'static str, Arc<dyn Notifier>)>,
}

impl std::fmt::Debug for SupervisorNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorNotifier")
            .field("sink", &self.sink.as_ref().map(|(channel, _)| channel))
            .finish()
    }
}

impl SupervisorNotifier {
    /// Also hands every alert to `sink`, counted as `channel`.
    #[must_use]
    pub fn with_sink(mut self, channel: &'static str, sink: Arc<dyn Notifier>) -> Self {
        self.sink = Some((channel, sink));
        self
    }
}

fn count(channel: &'static str, result: &'static str) {
    metrics::counter!("integration_supervisor_notifications_total", "channel" => channel, "result" => result)
        .increment(1);
}

#[async_trait]
impl Notifier for SupervisorNotifier {
    async fn notify(&self, alert: &Alert) -> Result<(), StoreError> {
        tracing::warn!(
            target: "supervisor",
            adapter = %alert.adapter,
            operation = %alert.operation,
            summary = %alert.summary,
            count = alert.count,
            first_at = %alert.first_at,
            last_at = %alert.last_at,
            sample_dlq_ids = ?alert.sample_dlq_ids,
            "supervisor alert"
        );
        count("log", "sent");
        let Some((channel, sink)) = &self.sink else {
            return Ok(());
        };
        match sink.notify(alert).await {
            Ok(()) => {
                count(channel, "sent");
                Ok(())
            }
            Err(e) => {
                count(channel, "failed");
                tracing::error!(error = %e, channel, "a supervisor alert was not delivered");
                Err(e)
            }
        }
    }
}
