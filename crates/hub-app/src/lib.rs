//! Integration Hub's use cases over hub-core's ports: a write claimed by its idempotency
//! key, sent once, dead-lettered when it fails and answered the same on every repeat;
//! dead letters listed, replayed and discarded; webhooks verified and turned into
//! invalidations and events; supervisor alerts and per-adapter error rates.
//!
//! It sees ports only (`Arc<dyn Port>`): any transport (the HTTP server, a queue
//! consumer, a command line) composes a [`Hub`] from adapters and stores and calls it.
//! How answers are written is the caller's [`AnswerFormat`].

pub mod alerts;
pub mod answer;
pub mod callers;
pub mod dead_letter;
pub mod dlq;
pub mod dlq_payload;
pub mod error_rates;
pub mod fingerprint;
pub mod health;
pub mod hub;
pub mod notify;
pub mod operation;
pub mod ports;
pub mod reads;
pub mod replay;
mod request_id;
mod spans;
pub mod supervisor;
pub mod traced_audit;
pub mod webhooks;
pub mod write;

pub use alerts::{AlertSettings, Supervisor};
pub use answer::{AnswerFormat, Failed, Failure, PlainAnswers, Rendered, WriteAnswer};
pub use callers::{Authenticator, Principal, Role};
pub use error_rates::{CountingAudit, ErrorRates};
pub use fingerprint::KeySource;
pub use hub::{Hub, Settings, TaskFailed};
pub use notify::SupervisorNotifier;
pub use operation::{WriteOp, Written};
pub use ports::{Ports, Services};
pub use replay::{PortReplayer, ReplayError, Replayed, Replayer};
pub use request_id::generate_request_id;
pub use traced_audit::TracedAudit;
pub use webhooks::{Received, WebhookError, WebhookKind, WebhookReceiver};
pub use write::WriteRequest;

#[cfg(test)]
mod test_support;
