//! Reviewing dead letters: list, read and discard (replay is in [`crate::replay`]) — the
//! one flow behind the API, the supervisor's page and the command line.

use hub_core::{DlqEntry, DlqError, DlqFilter, DlqId, Page, StoreError};

use crate::dead_letter::refresh_pending_gauge;
use crate::hub::Hub;

impl Hub {
    /// A page of entries, newest first.
    pub async fn dead_letters(&self, filter: &DlqFilter) -> Result<Page<DlqEntry>, StoreError> {
        self.services.dlq.list(filter).await
    }

    /// Entry `id`.
    pub async fn dead_letter(&self, id: &DlqId) -> Result<DlqEntry, DlqError> {
        self.services.dlq.get(id).await?.ok_or(DlqError::NotFound)
    }

    /// Gives up pending entry `id` for `actor`, with an optional reason.
    pub async fn discard(&self, id: &DlqId, actor: &str, reason: Option<String>) -> Result<DlqEntry, DlqError> {
        let entry = self.services.dlq.discard(id, actor, reason).await?;
        tracing::info!(dlq_id = %id, actor, "dead-letter entry discarded");
        refresh_pending_gauge(&self.services.dlq);
        Ok(entry)
    }
}

/// A filter value a caller passes (an adapter, an operation, a cursor): 1 to 512 visible
/// ASCII characters; the error says so.
///
/// ```
/// use hub_app::dlq::filter_value;
/// assert_eq!(filter_value("ticketing").as_deref(), Ok("ticketing"));
/// assert!(filter_value("two words").is_err());
/// assert!(filter_value("").is_err());
/// ```
pub fn filter_value(raw: &str) -> Result<String, String> {
    if raw.is_empty() || raw.len() > 512 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        Err("must be 1 to 512 visible ASCII characters".to_owned())
    } else {
        Ok(raw.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use hub_core::{DeadLetterQueue, DlqStatus, NewDlqEntry};

    use crate::test_support::Rig;

    fn failure() -> NewDlqEntry {
        NewDlqEntry {
            adapter: "transaction_create".into(),
            operation: "cancel_draft".into(),
            payload: serde_json::json!({"draft_id": "D-1"}),
            idempotency_key: None,
            error: "timeout".into(),
            error_code: "timeout".into(),
            attempts: 1,
            request_id: None,
            conversation_id: None,
            traceparent: None,
        }
    }

    #[tokio::test]
    async fn a_discard_is_final_and_names_who_and_why() {
        let rig = Rig::new();
        let entry = rig.dlq.enqueue(failure(), None).await.unwrap();
        let done = rig
            .hub
            .discard(&entry.id, "ops", Some("duplicate".into()))
            .await
            .unwrap();
        assert_eq!(
            (done.status, done.acted_by.as_deref(), done.reason.as_deref()),
            (DlqStatus::Discarded, Some("ops"), Some("duplicate"))
        );
        assert!(matches!(
            rig.hub.discard(&entry.id, "ops", None).await,
            Err(hub_core::DlqError::Conflict { .. })
        ));
        assert!(matches!(
            rig.hub
                .replay(&entry.id, "ops", crate::test_support::ctx("r"), false)
                .await,
            Err(hub_core::DlqError::Conflict { .. })
        ));
        assert_eq!(
            rig.hub.dead_letter(&entry.id).await.unwrap().status,
            DlqStatus::Discarded
        );
        let unknown = hub_core::DlqId::parse("dlq-404").unwrap();
        assert!(matches!(
            rig.hub.dead_letter(&unknown).await,
            Err(hub_core::DlqError::NotFound)
        ));
    }
}
