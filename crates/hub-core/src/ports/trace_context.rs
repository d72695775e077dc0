//! The port to the running trace: which span the calling task is in, linking that span
//! to a stored one, and who keeps a use case's span.

use std::future::Future;
use std::pin::Pin;

use crate::trace::TraceParent;

/// The trace context of the calling task, as the tracing setup sees it.
///
/// The use cases ask it for the context to store with a dead letter and an audit record,
/// and to link a replay's span to the span of the write that failed. Both are called
/// off the cached-read path (writes, dead letters, audit records). The reads ask it how
/// their span is kept ([`TraceContext::use_case`]). Without tracing ([`Untraced`])
/// nothing is found and nothing is linked, and a use case opens its own `tracing` span.
///
/// ```
/// use hub_core::ports::trace_context::{TraceContext, Untraced};
/// assert_eq!(Untraced.current(), None);
/// ```
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait TraceContext: Send + Sync {
    /// The context of the span the calling task is in; `None` when tracing is off or no
    /// span is current. Must not allocate when tracing is off.
    fn current(&self) -> Option<TraceParent>;

    /// Adds to the span the calling task is in a link to the span `original` names (a
    /// span of another trace, ended long ago). Nothing when tracing is off.
    fn link_current(&self, original: &TraceParent);

    /// `task`, about to be spawned by the calling task, made to run in the calling task's
    /// trace: spawned work of a request whose trace is not sampled builds no span either
    /// (a span is carried by instrumenting the task; that decision is not). Without
    /// tracing, `task` as it is.
    fn in_current_trace(&self, task: SpawnedTask) -> SpawnedTask {
        task
    }

    /// How the use case `name`, about to run in the calling task, is traced: by a
    /// `tracing` span it opens (the default), by none, or by a span the tracing setup
    /// keeps itself. Called on the cached-read path: must not allocate unless it keeps a
    /// span.
    fn use_case(&self, name: &'static str) -> UseCaseSpan {
        let _ = name;
        UseCaseSpan::Tracing
    }
}

/// How a use case is traced ([`TraceContext::use_case`]).
pub enum UseCaseSpan {
    /// The use case opens a `tracing` span: every layer of the subscriber sees it.
    Tracing,
    /// No span at all: the trace of the request it serves is not sampled.
    Skipped,
    /// The tracing setup keeps the span itself, not as a `tracing` span: the use case
    /// records its outcome on it, and it ends when dropped.
    Kept(Box<dyn KeptSpan>),
}

impl std::fmt::Debug for UseCaseSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tracing => "Tracing",
            Self::Skipped => "Skipped",
            Self::Kept(_) => "Kept",
        })
    }
}

/// A use case's span that the tracing setup keeps ([`UseCaseSpan::Kept`]); it ends when
/// dropped.
pub trait KeptSpan: Send {
    /// Records the attribute `key` as `value`.
    fn record(&mut self, key: &'static str, value: &'static str);
}

/// A task handed to [`TraceContext::in_current_trace`] before it is spawned.
pub type SpawnedTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// No tracing: no context, no links.
#[derive(Debug, Clone, Copy, Default)]
pub struct Untraced;

impl TraceContext for Untraced {
    fn current(&self) -> Option<TraceParent> {
        None
    }

    fn link_current(&self, _: &TraceParent) {}
}
