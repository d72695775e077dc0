//! Unit-test rig: a hub over hub-core's fakes (the scriptable upstream, the in-memory
//! services), answering in plain JSON.

use std::sync::Arc;

use hub_core::testing::{FakeUpstream, Inbox, MemoryAudit, MemoryDlq, MemoryIdempotency, RecordingEvents};
use hub_core::*;
use serde_json::Value;

use crate::alerts::{AlertSettings, Supervisor};
use crate::answer::PlainAnswers;
use crate::hub::{Hub, Settings};
use crate::ports::{Ports, Services};

/// A hub over fakes, and the fakes.
pub(crate) struct Rig {
    pub hub: Hub,
    pub upstream: Arc<FakeUpstream>,
    pub keys: Arc<MemoryIdempotency>,
    pub dlq: Arc<MemoryDlq>,
    pub events: Arc<RecordingEvents>,
    pub inbox: Arc<Inbox>,
}

impl Rig {
    pub(crate) fn new() -> Self {
        Self::with_settings(Settings::default())
    }

    pub(crate) fn with_settings(settings: Settings) -> Self {
        let upstream = Arc::new(FakeUpstream::default());
        let keys = Arc::new(MemoryIdempotency::default());
        let dlq = Arc::new(MemoryDlq::default());
        let events = Arc::new(RecordingEvents::default());
        let inbox = Arc::new(Inbox::default());
        let ports = Ports {
            ticketing: upstream.clone(),
            transaction_status: upstream.clone(),
            transaction_create: upstream.clone(),
        };
        let services = Services {
            idempotency: keys.clone(),
            dlq: dlq.clone(),
            audit: Arc::new(MemoryAudit::default()),
            events: events.clone(),
        };
        let supervisor = Supervisor::new(inbox.clone(), AlertSettings::default());
        let hub = Hub::new(ports, services, Arc::new(PlainAnswers), supervisor, settings);
        Self {
            hub,
            upstream,
            keys,
            dlq,
            events,
            inbox,
        }
    }
}

/// The context of request `rid`.
pub(crate) fn ctx(rid: &str) -> CallContext {
    CallContext::new(RequestId::parse(rid).unwrap())
}

/// The JSON body of an answer.
pub(crate) fn body(answer: &crate::answer::WriteAnswer) -> Value {
    serde_json::from_slice(&answer.response.body).unwrap()
}
