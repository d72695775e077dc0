use std::sync::Arc;

use opentelemetry::trace::{SpanId, SpanKind};
use opentelemetry::{Key, Value};
use opentelemetry_sdk::trace::SpanData;
use proptest::prelude::*;
use tracing::field::Empty;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::logging::{self, Style};
use crate::tracing_export::Tracing;
use crate::tracing_export::testing::{Discard, recorded_under, traced_at};

/// The value of `key` on `span`.
fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == Key::from(key.to_owned()))
        .map(|kv| kv.value.clone())
}

#[test]
fn fields_name_the_span_give_its_kind_and_become_attributes() {
    let spans = traced_at(1.0, || {
        let span = tracing::info_span!(
            "declared",
            otel.name = "get_ticket",
            otel.kind = "client",
            small = 7_u64,
            huge = u64::MAX,
            negative = -3_i64,
            flag = true,
            later = Empty,
            shown = %"display",
        );
        span.record("later", "set once");
        span.record("small", 8_u64);
    });
    let [span] = spans.as_slice() else {
        panic!("one span expected, got {spans:?}");
    };
    assert_eq!(span.name, "get_ticket");
    assert_eq!(span.span_kind, SpanKind::Client);
    assert_eq!(
        attr(span, "small"),
        Some(Value::I64(8)),
        "a field recorded again is replaced"
    );
    assert_eq!(attr(span, "huge"), Some(Value::from(u64::MAX.to_string())));
    assert_eq!(attr(span, "negative"), Some(Value::I64(-3)));
    assert_eq!(attr(span, "flag"), Some(Value::Bool(true)));
    assert_eq!(attr(span, "later"), Some(Value::from("set once")));
    assert_eq!(attr(span, "shown"), Some(Value::from("display")));
    assert_eq!(attr(span, "otel.name"), None);
    assert_eq!(span.attributes.len(), 6, "{:?}", span.attributes);
    assert!(span.end_time >= span.start_time);
}

#[test]
fn a_span_that_follows_another_links_to_it() {
    let spans = traced_at(1.0, || {
        let cause = tracing::info_span!("cause");
        let effect = tracing::info_span!(parent: None, "effect");
        effect.follows_from(&cause);
    });
    let cause = spans.iter().find(|s| s.name == "cause").unwrap();
    let effect = spans.iter().find(|s| s.name == "effect").unwrap();
    assert_ne!(cause.span_context.trace_id(), effect.span_context.trace_id());
    assert_eq!(effect.links.len(), 1);
    assert_eq!(effect.links[0].span_context, cause.span_context);
}

#[test]
fn spans_of_other_crates_are_not_recorded() {
    let spans = traced_at(1.0, || {
        let _ = tracing::info_span!(target: "hyper", "connection");
    });
    assert!(spans.is_empty(), "{spans:?}");
}

/// The recorder filters for itself, as a plain layer: what it does not record, it leaves
/// enabled for the subscriber's other layers (an embedding program's own).
#[test]
fn other_crates_spans_and_events_are_left_to_the_other_layers() {
    let alone = |tracing: &Tracing| tracing_subscriber::registry().with(tracing.layer());
    let spans = recorded_under(alone, || {
        let other = tracing::info_span!(target: "hyper", "connection");
        assert!(!other.is_disabled(), "another crate's span was turned off");
        let _in = other.enter();
        assert!(
            tracing::enabled!(target: "hyper", tracing::Level::DEBUG),
            "an event was turned off"
        );
        let _ = tracing::info_span!(target: "hub_app", "use case");
    });
    let names: Vec<_> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(names, ["use case"], "only the hub's span is recorded");
}

/// The hub's log layer lets no span be built, but the hub's own when the OpenTelemetry
/// layer is in the same subscriber, whichever of the two was added first.
#[test]
fn the_log_layer_lets_the_hubs_spans_through_added_before_or_after() {
    let spans = || {
        assert!(tracing::info_span!(target: "hyper", "connection").is_disabled());
        let _ = tracing::info_span!(target: "hub_app", "use case");
    };
    let after = recorded_under(
        |t| {
            let log = logging::layer(Style::Json, "info", Arc::new(Discard));
            tracing_subscriber::registry().with(t.layer()).with(log)
        },
        spans,
    );
    let before = recorded_under(
        |t| {
            let log = logging::layer(Style::Json, "info", Arc::new(Discard));
            tracing_subscriber::registry().with(log).with(t.layer())
        },
        spans,
    );
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(before.len(), 1, "{before:?}");
}

/// One span of a generated tree: a root (a server span or not), or the child of an
/// earlier span.
#[derive(Debug, Clone)]
enum Node {
    Root { server: bool },
    Child { of: usize },
}

fn node() -> impl Strategy<Value = Node> {
    prop_oneof![
        any::<bool>().prop_map(|server| Node::Root { server }),
        (0..32usize).prop_map(|of| Node::Child { of }),
    ]
}

proptest! {
    /// Every span is exported exactly when its root was sampled: a server span always, any
    /// other root by the ratio (here all or nothing); a child is in its parent's trace,
    /// under its parent's id, and a root has no parent.
    #[test]
    fn a_tree_is_exported_whole_or_not_at_all(nodes in prop::collection::vec(node(), 1..24), keep in any::<bool>()) {
        let ratio = if keep { 1.0 } else { 0.0 };
        // Each span's root, as built (a child of a span not yet built is a root).
        let mut roots = Vec::new();
        let spans = traced_at(ratio, || {
            let mut open: Vec<tracing::Span> = Vec::new();
            for (n, node) in nodes.iter().enumerate() {
                let span = match node {
                    Node::Child { of } if *of < n => {
                        roots.push(roots[*of]);
                        tracing::info_span!(parent: &open[*of], "child", n = n)
                    }
                    Node::Root { server: true } => {
                        roots.push(n);
                        tracing::info_span!(parent: None, "root", otel.kind = "server", n = n)
                    }
                    _ => {
                        roots.push(n);
                        tracing::info_span!(parent: None, "root", n = n)
                    }
                };
                open.push(span);
            }
        });
        let by_n = |n: usize| spans.iter().find(|s| attr(s, "n") == Some(Value::I64(i64::try_from(n).unwrap())));
        for (n, node) in nodes.iter().enumerate() {
            let root_server = matches!(nodes[roots[n]], Node::Root { server: true });
            let expected = root_server || keep;
            let exported = by_n(n);
            prop_assert_eq!(exported.is_some(), expected, "span {} of {:?}", n, nodes);
            let Some(span) = exported else { continue };
            prop_assert!(span.span_context.is_sampled());
            match node {
                Node::Child { of } if *of < n => {
                    let parent = by_n(*of).unwrap();
                    prop_assert_eq!(span.span_context.trace_id(), parent.span_context.trace_id());
                    prop_assert_eq!(span.parent_span_id, parent.span_context.span_id());
                }
                _ => prop_assert_eq!(span.parent_span_id, SpanId::INVALID),
            }
        }
        prop_assert_eq!(spans.len(), (0..nodes.len()).filter(|n| matches!(nodes[roots[*n]], Node::Root { server: true }) || keep).count());
    }
}
