//! The audit log that writes on each record the trace id of the span it was recorded in,
//! so audit records, log lines and traces join on one id.

use std::sync::Arc;

use async_trait::async_trait;
use hub_core::{AuditLog, AuditQuery, AuditRecord, Page, StoreError, TraceContext};

/// An [`AuditLog`] that sets each record's `trace_id` (when it has none) from the
/// calling task's span, then passes it on. Records are made by the adapters' endpoints
/// in the span of their call, so the id is the trace of the request (or replay) that
/// made it; untraced, records pass unchanged.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use hub_app::TracedAudit;
/// use hub_core::testing::{FixedTrace, MemoryAudit};
/// use hub_core::{AuditLog, AuditOutcome, AuditRecord, TraceParent};
/// let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap();
/// let inner = Arc::new(MemoryAudit::default());
/// let audit = TracedAudit::new(inner.clone(), Arc::new(FixedTrace::new(tp)));
/// audit.record(AuditRecord {
///     at: time::OffsetDateTime::UNIX_EPOCH, adapter: "ticketing".into(), operation: "get_ticket".into(),
///     outcome: AuditOutcome::Success, http_status: Some(200), attempts: 1, duration_ms: 3,
///     request_id: None, conversation_id: None, params: serde_json::json!({}), error: None, trace_id: None, calls: 1,
/// }).await.unwrap();
/// assert_eq!(inner.records()[0].trace_id.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
/// # }
/// ```
pub struct TracedAudit {
    inner: Arc<dyn AuditLog>,
    trace: Arc<dyn TraceContext>,
}

impl TracedAudit {
    /// Records into `inner`, reading the trace through `trace`.
    pub fn new(inner: Arc<dyn AuditLog>, trace: Arc<dyn TraceContext>) -> Self {
        Self { inner, trace }
    }

    fn stamp(&self, record: &mut AuditRecord) {
        if record.trace_id.is_none() {
            record.trace_id = self.trace.current().map(|t| t.trace_id().to_string());
        }
    }
}

#[async_trait]
impl AuditLog for TracedAudit {
    async fn record(&self, mut record: AuditRecord) -> Result<(), StoreError> {
        self.stamp(&mut record);
        self.inner.record(record).await
    }

    async fn query(&self, query: &AuditQuery) -> Result<Page<AuditRecord>, StoreError> {
        self.inner.query(query).await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush().await
    }

    async fn record_durable(&self, mut record: AuditRecord) -> Result<(), StoreError> {
        self.stamp(&mut record);
        self.inner.record_durable(record).await
    }
}

#[cfg(test)]
mod tests {
    use hub_core::testing::{FixedTrace, MemoryAudit};
    use hub_core::{AuditOutcome, TraceParent, Untraced};

    use super::*;

    fn record(trace_id: Option<&str>) -> AuditRecord {
        AuditRecord {
            at: time::OffsetDateTime::UNIX_EPOCH,
            adapter: "transaction_create".into(),
            operation: "commit_transaction".into(),
            outcome: AuditOutcome::Started,
            http_status: None,
            attempts: 0,
            duration_ms: 0,
            request_id: Some("req-1".into()),
            conversation_id: None,
            params: serde_json::json!({}),
            error: None,
            trace_id: trace_id.map(str::to_owned),
            calls: 1,
        }
    }

    #[tokio::test]
    async fn records_carry_the_trace_they_were_made_in() {
        let tp: TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            .parse()
            .unwrap();
        let inner = Arc::new(MemoryAudit::default());
        let audit = TracedAudit::new(inner.clone(), Arc::new(FixedTrace::new(tp)));
        audit.record(record(None)).await.unwrap();
        audit.record_durable(record(None)).await.unwrap();
        // A record that names its trace keeps it.
        audit
            .record(record(Some("4bf92f3577b34da6a3ce929d0e0e4736")))
            .await
            .unwrap();
        let ids: Vec<Option<String>> = inner.records().into_iter().map(|r| r.trace_id).collect();
        assert_eq!(
            ids,
            [
                Some("0af7651916cd43dd8448eb211c80319c".to_owned()),
                Some("0af7651916cd43dd8448eb211c80319c".to_owned()),
                Some("4bf92f3577b34da6a3ce929d0e0e4736".to_owned()),
            ]
        );
        assert_eq!(
            inner.flushes.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "durable flushes"
        );
    }

    #[tokio::test]
    async fn untraced_records_pass_unchanged() {
        let inner = Arc::new(MemoryAudit::default());
        let audit = TracedAudit::new(inner.clone(), Arc::new(Untraced));
        audit.record(record(None)).await.unwrap();
        assert_eq!(inner.records(), [record(None)]);
    }
}
