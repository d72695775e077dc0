//! `GET /v1/events` over a real WebSocket: filters, both ways of authenticating, closing
//! a subscriber that lags, heartbeats.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use hub_core::{Event, EventPublisher, Topic};
use hub_server::events_ws::LiveSettings;
use hub_server::{ApiSettings, AppState};
use hub_store::LocalEvents;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::*;
use crate::webhooks::{RecordingCache, receiver, signed};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const DEADLINE: Duration = Duration::from_secs(5);

fn state(hub: &Hub, bus: &Arc<LocalEvents>, live: LiveSettings) -> AppState {
    let mut state = hub
        .state
        .clone()
        .with_webhooks(receiver(&Arc::new(RecordingCache::default())));
    state.hub.services.events = bus.clone();
    state.settings = Arc::new(ApiSettings {
        live,
        ..(*state.settings).clone()
    });
    state
}

async fn connect(srv: &Server, query: &str, token: Option<&str>) -> Result<Socket, WsError> {
    let mut req = format!("ws://{}/v1/events{query}", srv.addr)
        .into_client_request()
        .unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.map(|(socket, _)| socket)
}

/// The next text message as JSON, skipping pings; fails after the deadline.
async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let msg = tokio::time::timeout(DEADLINE, socket.next())
            .await
            .expect("no message before the deadline")
            .expect("the socket ended")
            .unwrap();
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_filtered_subscriber_gets_its_events_and_not_the_others() {
    let hub = Hub::new();
    let bus = Arc::new(LocalEvents::new(64));
    let srv = Server::start(state(&hub, &bus, LiveSettings::default())).await;
    let mut tx1 = connect(&srv, "?topic=transaction.updated&transaction_id=TX-1", Some(READ))
        .await
        .unwrap();
    let mut all = connect(&srv, "", Some(READ)).await.unwrap();
    // Filtered out for `tx1`: another transaction, and another topic.
    let other = json!({"transaction_id": "TX-2", "status": "failed"});
    assert_eq!(signed(&srv, "transaction_updated", "msg_a", &other).await.status, 204);
    let ticket = json!({"ticket_id": "TX-1", "status": "open"});
    assert_eq!(signed(&srv, "ticket_updated", "msg_b", &ticket).await.status, 204);
    let wanted = json!({"transaction_id": "TX-1", "status": "completed", "customer_id": "C-1"});
    assert_eq!(signed(&srv, "transaction_updated", "msg_c", &wanted).await.status, 204);

    let got = next_json(&mut tx1).await;
    assert_eq!(got["id"], "msg_c");
    assert_eq!(got["event"], "transaction.updated");
    assert_eq!(got["data"], wanted);
    assert!(
        time::OffsetDateTime::parse(
            got["at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339
        )
        .is_ok()
    );
    // The unfiltered subscriber saw all three, in order.
    let ids: Vec<Value> = [
        next_json(&mut all).await,
        next_json(&mut all).await,
        next_json(&mut all).await,
    ]
    .into_iter()
    .map(|m| m["id"].clone())
    .collect();
    assert_eq!(ids, vec![json!("msg_a"), json!("msg_b"), json!("msg_c")]);
}

#[tokio::test]
async fn browsers_authenticate_with_a_query_token_and_strangers_are_refused() {
    let hub = Hub::new();
    let bus = Arc::new(LocalEvents::new(64));
    let srv = Server::start(state(&hub, &bus, LiveSettings::default())).await;
    let mut socket = connect(&srv, &format!("?topic=dlq.enqueued&access_token={READ}"), None)
        .await
        .unwrap();
    let event = Event {
        id: "evt-1".to_owned(),
        topic: Topic::DlqEnqueued,
        at: time::OffsetDateTime::now_utc(),
        data: json!({"dlq_id": "dlq-1", "adapter": "ticketing", "operation": "create_ticket"}),
    };
    bus.publish(event).await.unwrap();
    assert_eq!(next_json(&mut socket).await["data"]["dlq_id"], "dlq-1");
    for (query, token) in [("", None), ("?access_token=nope", None), ("", Some("nope"))] {
        match connect(&srv, query, token).await {
            Err(WsError::Http(res)) => assert_eq!(res.status(), 401),
            other => panic!("{query} {token:?}: {:?}", other.map(|_| ())),
        }
    }
    match connect(&srv, "?topic=everything", Some(READ)).await {
        Err(WsError::Http(res)) => assert_eq!(res.status(), 422),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn a_subscriber_that_lags_is_closed_with_a_reason() {
    let hub = Hub::new();
    let bus = Arc::new(LocalEvents::new(4));
    let srv = Server::start(state(&hub, &bus, LiveSettings::default())).await;
    let mut socket = connect(&srv, "", Some(READ)).await.unwrap();
    // Published without yielding: the subscriber's feed overflows before it can read.
    for n in 0..50 {
        bus.send(Event {
            id: format!("evt-{n}"),
            topic: Topic::CircuitChanged,
            at: time::OffsetDateTime::now_utc(),
            data: json!({"adapter": "ticketing", "from": "closed", "to": "open"}),
        });
    }
    let close = loop {
        let msg = tokio::time::timeout(DEADLINE, socket.next())
            .await
            .expect("not closed before the deadline")
            .expect("ended without a close frame")
            .unwrap();
        if let Message::Close(frame) = msg {
            break frame.expect("a close frame with a reason");
        }
    };
    assert_eq!(close.code, CloseCode::Again);
    assert!(close.reason.contains("lagged"), "{}", close.reason);
}

#[tokio::test]
async fn idle_connections_are_pinged() {
    let hub = Hub::new();
    let bus = Arc::new(LocalEvents::new(4));
    let live = LiveSettings {
        heartbeat: Duration::from_millis(50),
        ..LiveSettings::default()
    };
    let srv = Server::start(state(&hub, &bus, live)).await;
    let mut socket = connect(&srv, "", Some(READ)).await.unwrap();
    let msg = tokio::time::timeout(DEADLINE, socket.next())
        .await
        .expect("no ping before the deadline")
        .unwrap()
        .unwrap();
    assert!(matches!(msg, Message::Ping(_)), "{msg:?}");
}

#[tokio::test]
async fn an_open_subscription_does_not_hold_up_shutdown() {
    let hub = Hub::new();
    let bus = Arc::new(LocalEvents::new(4));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = state(&hub, &bus, LiveSettings::default());
    let task = tokio::spawn(async move {
        hub_server::shutdown::serve(
            listener,
            state,
            async move { drop(stopped.await) },
            Duration::from_secs(60),
        )
        .await
        .unwrap()
    });
    let mut req = format!("ws://{addr}/v1/events").into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {READ}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    stop.send(()).unwrap();
    let outcome = tokio::time::timeout(DEADLINE, task)
        .await
        .expect("shutdown waited for the subscriber")
        .unwrap();
    assert_eq!(outcome, hub_server::shutdown::Stopped::Drained);
    // The subscriber is told why, rather than reset.
    let close = loop {
        match tokio::time::timeout(DEADLINE, socket.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break frame.expect("a close frame with a reason"),
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(close.code, CloseCode::Away);
    assert!(close.reason.contains("shutting down"), "{}", close.reason);
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_is_cut_off_without_holding_anything_up() {
    let hub = Hub::new();
    let bus = Arc::new(LocalEvents::new(4096));
    let live = LiveSettings {
        send_buffer: 2,
        send_timeout: Duration::from_millis(200),
        ..LiveSettings::default()
    };
    let srv = Server::start(state(&hub, &bus, live)).await;
    let mut socket = connect(&srv, "", Some(READ)).await.unwrap();
    // Large events until the socket's buffers are full and the subscriber's queue with them.
    let big = "x".repeat(256 * 1024);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut n = 0;
    while bus.subscribers() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the subscriber was never cut off"
        );
        bus.send(Event {
            id: format!("evt-{n}"),
            topic: Topic::CircuitChanged,
            at: time::OffsetDateTime::now_utc(),
            data: json!({"adapter": "ticketing", "padding": big}),
        });
        n += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Publishing never waited on it, and the connection ends once the client reads on.
    let ended = tokio::time::timeout(DEADLINE, async {
        while let Some(Ok(msg)) = socket.next().await {
            if let Message::Close(frame) = msg {
                return frame.map(|f| f.code);
            }
        }
        None
    })
    .await
    .expect("the connection did not end");
    assert!(matches!(ended, None | Some(CloseCode::Again)), "{ended:?}");
}

#[tokio::test]
async fn subscriptions_beyond_the_limit_are_refused_with_503_until_one_closes() {
    // Regression: nothing bounded the number of live subscriptions, so thousands of idle
    // WebSockets each held two tasks and a buffer for as long as they answered pings.
    let hub = Hub::new();
    let bus = Arc::new(LocalEvents::new(4));
    let live = LiveSettings {
        max_subscribers: 2,
        ..LiveSettings::default()
    };
    let state = state(&hub, &bus, live);
    let open = state.subscribers.clone();
    let srv = Server::start(state).await;
    let first = connect(&srv, "", Some(READ)).await.unwrap();
    let _second = connect(&srv, "", Some(READ)).await.unwrap();
    match connect(&srv, "", Some(READ)).await {
        Err(WsError::Http(res)) => {
            assert_eq!(res.status(), 503);
            assert_eq!(res.headers()["retry-after"], "5");
            let body: Value = serde_json::from_slice(res.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body["code"], "overloaded");
        }
        other => panic!("a third subscription: {:?}", other.map(|_| ())),
    }
    assert_eq!(open.count(), 2);
    drop(first);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let third = loop {
        match connect(&srv, "", Some(READ)).await {
            Ok(socket) => break socket,
            Err(e) if tokio::time::Instant::now() < deadline => {
                drop(e);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("no place freed after a subscriber left: {e}"),
        }
    };
    drop(third);
}

#[tokio::test]
async fn a_subscriber_sending_an_oversized_message_is_cut_off() {
    // Regression: the socket took tungstenite's default limit, a 64 MiB message buffered
    // per connection, from any caller with the read role.
    use futures_util::SinkExt;
    let hub = Hub::new();
    let bus = Arc::new(LocalEvents::new(4));
    let srv = Server::start(state(&hub, &bus, LiveSettings::default())).await;
    let mut socket = connect(&srv, "", Some(READ)).await.unwrap();
    let big = "x".repeat(hub_server::routes::events::MAX_INCOMING_MESSAGE + 1);
    // The hub may cut the connection while this is still being written.
    let _ = socket.send(Message::Text(big.into())).await;
    let ended = tokio::time::timeout(DEADLINE, async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) => return None,
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("the connection is still open after an oversized message");
    if let Some(frame) = ended {
        assert_eq!(frame.code, CloseCode::Size, "{frame:?}");
    }
}
