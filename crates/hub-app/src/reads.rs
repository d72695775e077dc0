//! The cached reads: a ticket's status, a transaction, a customer's history — each
//! through its port, which answers from its cache when it can and says so.

use hub_core::{
    CallContext, CustomerId, Encoded, Error, Fetched, HistoryLimit, Ticket, TicketId, Transaction, TransactionId,
};

use crate::hub::Hub;

impl Hub {
    /// A ticket's status.
    pub async fn ticket(&self, ctx: &CallContext, id: &TicketId) -> Result<Fetched<Ticket>, Error> {
        crate::spans::read(&*self.trace, "ticket", self.ports.ticketing.get_ticket_status(ctx, id)).await
    }

    /// One transaction.
    pub async fn transaction(&self, ctx: &CallContext, id: &TransactionId) -> Result<Fetched<Transaction>, Error> {
        crate::spans::read(
            &*self.trace,
            "transaction",
            self.ports.transaction_status.get_transaction_status(ctx, id),
        )
        .await
    }

    /// One transaction as its JSON: a cached read answers the bytes the cache holds.
    pub async fn transaction_encoded(
        &self,
        ctx: &CallContext,
        id: &TransactionId,
    ) -> Result<Fetched<Encoded<Transaction>>, Error> {
        let fetch = self.ports.transaction_status.get_transaction_status_encoded(ctx, id);
        crate::spans::read(&*self.trace, "transaction", fetch).await
    }

    /// A customer's most recent transactions, newest first.
    pub async fn history(
        &self,
        ctx: &CallContext,
        customer: &CustomerId,
        limit: HistoryLimit,
    ) -> Result<Fetched<Vec<Transaction>>, Error> {
        let fetch = self
            .ports
            .transaction_status
            .get_transaction_history(ctx, customer, limit);
        crate::spans::read(&*self.trace, "history", fetch).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hub_core::mock::MockTicketingPort;
    use hub_core::{CacheOutcome, TicketStatus};

    use crate::test_support::{Rig, ctx};

    #[tokio::test]
    async fn a_read_goes_to_its_port_once_and_keeps_the_cache_outcome() {
        let mut port = MockTicketingPort::new();
        port.expect_get_ticket_status()
            .withf(|ctx, id| ctx.request_id.as_str() == "r-1" && id.as_str() == "T-7")
            .times(1)
            .returning(|_, id| {
                Ok(hub_core::Fetched {
                    value: hub_core::Ticket {
                        ticket_id: id.clone(),
                        status: TicketStatus::Open,
                        vendor_status: "open".into(),
                        assigned_to: None,
                        last_updated: None,
                    },
                    cache: CacheOutcome::Stale,
                })
            });
        let mut hub = Rig::new().hub;
        hub.ports.ticketing = Arc::new(port);
        let read = hub.ticket(&ctx("r-1"), &"T-7".parse().unwrap()).await.unwrap();
        assert_eq!(
            (read.value.ticket_id.as_str(), read.cache),
            ("T-7", CacheOutcome::Stale)
        );
    }

    #[tokio::test]
    async fn a_missing_upstream_refuses_reads_unsent() {
        let mut hub = Rig::new().hub;
        hub.ports = crate::ports::Ports::default();
        let err = hub
            .transaction(&ctx("r-2"), &"TX-1".parse().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.delivery(), hub_core::Delivery::NotSent);
    }
}
