use std::sync::Arc;

use opentelemetry_sdk::trace::SpanData;
use tracing_subscriber::layer::SubscriberExt as _;

use super::*;
use crate::tracing_export::testing::traced_at;

/// [`traced_at`] with every new trace sampled.
fn traced(f: impl FnOnce()) -> Vec<SpanData> {
    traced_at(1.0, f)
}

/// Runs `f` (a request's work) in `trace` on a current-thread runtime; what `f` returns
/// is the answer's status and route.
fn serve(trace: RequestTrace, f: impl FnOnce() -> (u16, Option<&'static str>)) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(trace.within(log("req"), async { f() }, |answer| *answer));
}

/// A request's log context, as the edge makes it, with the request id `id`.
fn log(id: &str) -> LogContext {
    LogContext {
        request_id: LogId::new(id),
        conversation_id: None,
        trace: None,
    }
}

/// The request id `id` as the edge passes it.
fn id(id: &str) -> LogId {
    LogId::new(id)
}

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn a_request_continues_the_callers_trace_and_an_attempt_sends_its_own_span() {
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", PARENT.parse().unwrap());
    let mut sent = HeaderMap::new();
    let mut seen_trace = None;
    let spans = traced(|| {
        let trace = request(&http::Method::GET, &headers, &id("req-1"));
        seen_trace = trace.trace_id();
        serve(trace, || {
            // The use case: its parent is the request's server span, though no span encloses it.
            let use_case = tracing::info_span!("use case");
            let _in_use_case = use_case.enter();
            let attempt = attempt_span(
                "get_ticket",
                &"http://user:secret@tickets.example:8443/t/1?x=2".parse().unwrap(),
                0,
            );
            inject(&attempt, &mut sent);
            record_attempt(&attempt, Some(503), Some("upstream_5xx"));
            breaker_transition(&attempt, "ticketing", "closed", "open");
            budget_wait(&use_case, 40);
            drop(attempt);
            (502, Some("/v1/tickets/{id}"))
        });
    });
    assert_eq!(seen_trace.map(|t| t.hex()), Some(*b"4bf92f3577b34da6a3ce929d0e0e4736"));
    let server = spans.iter().find(|s| s.name == "GET").unwrap();
    let use_case = spans.iter().find(|s| s.name == "use case").unwrap();
    let attempt = spans.iter().find(|s| s.name == "get_ticket").unwrap();
    assert_eq!(server.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert!(server.parent_span_is_remote);
    assert_eq!(use_case.parent_span_id, server.span_context.span_id());
    assert!(!use_case.parent_span_is_remote);
    assert_eq!(
        server.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(attempt.parent_span_id, use_case.span_context.span_id());
    let traceparent = sent.get("traceparent").unwrap().to_str().unwrap();
    assert_eq!(
        traceparent,
        format!(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
            attempt.span_context.span_id()
        )
    );
    let attr = |s: &SpanData, k: &str| {
        s.attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(attr(server, "http.route").as_deref(), Some("/v1/tickets/{id}"));
    assert_eq!(attr(server, "http.response.status_code").as_deref(), Some("502"));
    assert_eq!(attr(server, "error.type").as_deref(), Some("502"));
    assert_eq!(attr(server, "hub.request_id").as_deref(), Some("req-1"));
    assert_eq!(attr(attempt, "http.request.resend_count").as_deref(), Some("0"));
    assert_eq!(attr(attempt, "error.type").as_deref(), Some("upstream_5xx"));
    assert_eq!(attr(attempt, "server.address").as_deref(), Some("tickets.example"));
    let events = |s: &SpanData| s.events.iter().map(|e| e.name.to_string()).collect::<Vec<_>>();
    assert_eq!(events(attempt), ["circuit changed"]);
    assert_eq!(events(use_case), ["rate budget wait"]);
    assert_eq!(
        attr(attempt, "url.full").as_deref(),
        Some("http://tickets.example:8443/t/1?x=2")
    );
}

#[test]
fn a_malformed_traceparent_starts_a_new_trace() {
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", "00-zz-00f067aa0ba902b7-01".parse().unwrap());
    let spans = traced(|| serve(request(&http::Method::GET, &headers, &id("req-2")), || (200, None)));
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].parent_span_id, opentelemetry::trace::SpanId::INVALID);
}

/// The hub's subscriber without tracing: no trace id, nothing sent. (Whether the span is
/// disabled depends on the other tests' subscribers alive at the time, so it is not asserted.)
#[test]
fn without_the_layer_nothing_is_traced_or_sent() {
    let subscriber = tracing_subscriber::registry().with(crate::logging::layer(
        crate::logging::Style::Json,
        "trace",
        Arc::new(super::super::testing::Discard),
    ));
    tracing::subscriber::with_default(subscriber, || {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", PARENT.parse().unwrap());
        assert!(request(&http::Method::GET, &headers, &id("req-3")).trace_id().is_none());
        let mut sent = HeaderMap::new();
        inject(&attempt_span("op", &"http://h/".parse().unwrap(), 0), &mut sent);
        assert!(sent.is_empty());
    });
}

/// A request whose trace is not sampled builds no span, not even its server span, and
/// passes on its context flagged not sampled: the caller's when it sent one, else a new one.
#[test]
fn an_unsampled_request_builds_no_span_and_passes_the_decision_on() {
    let unsampled_parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    let mut from_caller = HeaderMap::new();
    from_caller.insert("traceparent", unsampled_parent.parse().unwrap());
    let mut sent = [HeaderMap::new(), HeaderMap::new()];
    let mut trace_ids = Vec::new();
    // Sampled at ratio 1, the caller's "not sampled" still wins; at ratio 0 a new trace is not sampled.
    let spans = traced(|| {
        let trace = request(&http::Method::GET, &from_caller, &id("req-4"));
        trace_ids.push(trace.trace_id());
        serve(trace, || {
            let use_case = tracing::info_span!("use case");
            assert!(use_case.is_disabled(), "the span is built");
            assert!(matches!(super::use_case("read"), UseCaseTrace::Skipped));
            inject(&attempt_span("op", &"http://h/".parse().unwrap(), 0), &mut sent[0]);
            (200, None)
        });
    });
    assert!(spans.is_empty(), "{spans:?}");
    let spans = traced_at(0.0, || {
        let trace = request(&http::Method::GET, &HeaderMap::new(), &id("req-5"));
        trace_ids.push(trace.trace_id());
        serve(trace, || {
            inject(&attempt_span("op", &"http://h/".parse().unwrap(), 0), &mut sent[1]);
            (200, None)
        });
    });
    assert!(spans.is_empty(), "{spans:?}");
    let header = |h: &HeaderMap| h.get("traceparent").unwrap().to_str().unwrap().to_owned();
    assert_eq!(header(&sent[0]), unsampled_parent);
    let new_trace = header(&sent[1]);
    let parts: Vec<&str> = new_trace.split('-').collect();
    assert_eq!((parts[0], parts[3]), ("00", "00"), "{new_trace}");
    assert_eq!(
        trace_ids[1]
            .map(|t| t.hex())
            .map(|h| String::from_utf8(h.to_vec()).unwrap()),
        Some(parts[1].to_owned())
    );
    assert_eq!(
        trace_ids[0].map(|t| t.hex()),
        Some(*b"4bf92f3577b34da6a3ce929d0e0e4736")
    );
}

/// At ratio 0 a caller's sampled trace is still followed, down to the spans inside it.
#[test]
fn a_sampled_caller_is_followed_whatever_the_ratio() {
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", PARENT.parse().unwrap());
    let spans = traced_at(0.0, || {
        serve(request(&http::Method::GET, &headers, &id("req-6")), || {
            let _use_case = tracing::info_span!("use case").entered();
            (200, None)
        });
    });
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(names, ["use case", "GET"]);
    assert!(
        spans
            .iter()
            .all(|s| s.span_context.trace_id().to_string() == "4bf92f3577b34da6a3ce929d0e0e4736")
    );
}

/// A request dropped before it answers (its caller went away) still exports its server
/// span, without an answer; a task it spawned keeps its trace.
#[test]
fn a_request_dropped_unfinished_exports_its_server_span_and_its_task_keeps_the_trace() {
    let spans = traced(|| {
        let trace = request(&http::Method::POST, &HeaderMap::new(), &id("req-7"));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let work = async {
                let task = in_current_trace(async {
                    let _spawned = tracing::info_span!("use case").entered();
                });
                tokio::spawn(task).await.unwrap();
                std::future::pending::<()>().await;
            };
            let mut served = std::pin::pin!(trace.within(log("req-7"), work, |_| (200, None)));
            assert!(poll_a_while(served.as_mut()).await.is_none());
        });
    });
    let server = spans.iter().find(|s| s.name == "POST").expect("the server span");
    let spawned = spans
        .iter()
        .find(|s| s.name == "use case")
        .expect("the spawned task's span");
    assert_eq!(spawned.parent_span_id, server.span_context.span_id());
    assert!(
        !server
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "http.response.status_code")
    );
}

/// Polls `f` until it stops making progress on its own (yielding to the runtime between
/// polls); `Some` when it finished.
async fn poll_a_while<F: Future>(mut f: std::pin::Pin<&mut F>) -> Option<F::Output> {
    for _ in 0..10 {
        if let std::task::Poll::Ready(out) =
            std::future::poll_fn(|cx| std::task::Poll::Ready(f.as_mut().poll(cx))).await
        {
            return Some(out);
        }
        tokio::task::yield_now().await;
    }
    None
}

/// A caller that has looked for `traceparent` itself is believed: found, the caller's
/// trace is continued; not found, a new one starts.
#[test]
fn a_request_told_of_its_traceparent_follows_what_it_is_told() {
    let mut headers = HeaderMap::new();
    headers.insert(TRACEPARENT.clone(), PARENT.parse().unwrap());
    let mut trace_ids = Vec::new();
    let spans = traced(|| {
        for (seen, rid) in [(true, "req-8"), (false, "req-9")] {
            let trace = request_with(&http::Method::GET, &headers, seen, &id(rid));
            trace_ids.push(trace.trace_id().map(|t| t.hex()));
            serve(trace, || (200, None));
        }
    });
    assert_eq!(trace_ids[0], Some(*b"4bf92f3577b34da6a3ce929d0e0e4736"));
    assert!(trace_ids[1].is_some_and(|t| t != *b"4bf92f3577b34da6a3ce929d0e0e4736"));
    let servers: Vec<_> = spans.iter().filter(|s| s.name == "GET").collect();
    assert_eq!(servers.len(), 2);
    assert_eq!(servers.iter().filter(|s| s.parent_span_is_remote).count(), 1);
}

/// The caller's `tracestate` is passed on as it came, sampled or not: by a request whose
/// own context is sent (not sampled), and by the spans of a sampled one. The request's
/// log context holds its place in the trace, and a task it spawns keeps that context.
#[test]
fn the_callers_tracestate_is_passed_on_and_the_log_context_holds_the_trace() {
    const STATE: &str = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
    let mut sent = Vec::new();
    let mut logged = Vec::new();
    for flags in ["00", "01"] {
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{flags}")
                .parse()
                .unwrap(),
        );
        headers.insert("tracestate", STATE.parse().unwrap());
        traced(|| {
            let trace = request(&http::Method::GET, &headers, &id("req-10"));
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let (mine, spawned) = rt.block_on(trace.within(
                log("req-10"),
                async {
                    let mut out = HeaderMap::new();
                    inject(&attempt_span("op", &"http://h/".parse().unwrap(), 0), &mut out);
                    sent.push(out);
                    let mine = context::current().and_then(|c| c.trace);
                    let spawned = tokio::spawn(in_current_trace(async {
                        context::current().map(|c| (c.request_id.as_str().to_owned(), c.trace))
                    }))
                    .await
                    .unwrap();
                    (mine, spawned)
                },
                |_| (200, None),
            ));
            logged.push((mine, spawned));
        });
    }
    for (out, flags) in sent.iter().zip(["00", "01"]) {
        assert_eq!(out["tracestate"], STATE);
        assert!(out["traceparent"].to_str().unwrap().ends_with(flags));
    }
    for (mine, spawned) in logged {
        let mine = mine.expect("the request's place in its trace");
        assert_eq!(mine.trace_id.hex(), *b"4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(mine.state.as_deref(), Some(STATE));
        assert_eq!(spawned, Some(("req-10".to_owned(), Some(mine))));
    }
}

/// A use case span the request keeps: the server span's child, the parent of the attempts
/// and of the context a dead letter would keep while it is open, not after; exported with
/// its name, `hub.use_case` and what was recorded on it.
#[test]
fn a_kept_use_case_span_is_the_parent_while_it_is_open() {
    let mut sent = HeaderMap::new();
    let mut inside = None;
    let mut after = None;
    let spans = traced(|| {
        assert!(matches!(use_case("read"), UseCaseTrace::Span), "outside any request");
        serve(request(&http::Method::GET, &HeaderMap::new(), &id("req-9")), || {
            let UseCaseTrace::Kept(mut kept) = use_case("transaction") else {
                panic!("a sampled request keeps its use case span");
            };
            let attempt = attempt_span("get_transaction", &"http://h/t/1".parse().unwrap(), 0);
            inject(&attempt, &mut sent);
            drop(attempt);
            inside = current_ids();
            kept.record("hub.cache.status", "miss");
            drop(kept);
            after = current_ids();
            drop(attempt_span("later", &"http://h/".parse().unwrap(), 0));
            (200, Some("/v1/transactions/{id}"))
        });
    });
    let named = |name: &str| spans.iter().find(|s| s.name == name).unwrap();
    let (server, use_case, attempt, later) = (
        named("GET"),
        named("transaction"),
        named("get_transaction"),
        named("later"),
    );
    assert_eq!(use_case.parent_span_id, server.span_context.span_id());
    assert_eq!(use_case.span_kind, opentelemetry::trace::SpanKind::Internal);
    assert_eq!(use_case.span_context.trace_id(), server.span_context.trace_id());
    assert_eq!(attempt.parent_span_id, use_case.span_context.span_id());
    assert_eq!(
        later.parent_span_id,
        server.span_context.span_id(),
        "closed, it is no one's parent"
    );
    let attributes: Vec<String> = use_case
        .attributes
        .iter()
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    assert_eq!(attributes, ["hub.use_case=transaction", "hub.cache.status=miss"]);
    assert_eq!(
        inside.map(|i| i.span_id),
        Some(use_case.span_context.span_id().to_bytes())
    );
    assert_eq!(after.map(|i| i.span_id), Some(server.span_context.span_id().to_bytes()));
    let traceparent = sent.get("traceparent").unwrap().to_str().unwrap();
    assert!(
        traceparent.contains(&attempt.span_context.span_id().to_string()),
        "{traceparent}"
    );
    // Exported as it closed: before the server span.
    let position = |name: &str| spans.iter().position(|s| s.name == name).unwrap();
    assert!(position("transaction") < position("GET"));
}

/// A kept use case span nested in another (a use case of a use case) is its child, and
/// closing it makes the outer one the parent again.
#[test]
fn a_nested_kept_span_gives_the_parent_back_to_the_outer_one() {
    let spans = traced(|| {
        serve(request(&http::Method::GET, &HeaderMap::new(), &id("req-10")), || {
            let UseCaseTrace::Kept(outer) = use_case("outer") else {
                panic!("kept");
            };
            let UseCaseTrace::Kept(inner) = use_case("inner") else {
                panic!("kept");
            };
            drop(inner);
            drop(attempt_span("after inner", &"http://h/".parse().unwrap(), 0));
            drop(outer);
            (200, None)
        });
    });
    let named = |name: &str| spans.iter().find(|s| s.name == name).unwrap();
    assert_eq!(named("inner").parent_span_id, named("outer").span_context.span_id());
    assert_eq!(
        named("after inner").parent_span_id,
        named("outer").span_context.span_id()
    );
    assert_eq!(named("outer").parent_span_id, named("GET").span_context.span_id());
}
