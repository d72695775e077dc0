use std::time::Duration;

use futures_util::StreamExt;
use hub_core::Topic;
use serde_json::json;
use time::macros::datetime;

use super::*;

/// Bounds a failure only: a healthy test never waits on it.
const FAILURE_BOUND: Duration = Duration::from_secs(10);

fn event(n: u64) -> Event {
    Event {
        id: format!("evt-{n}"),
        topic: Topic::TicketUpdated,
        at: datetime!(2030-01-01 0:00 UTC),
        data: json!({"ticket_id": format!("T-{n}"), "status": "open"}),
    }
}

async fn next(stream: &mut EventStream) -> Option<Result<Event, Lagged>> {
    tokio::time::timeout(FAILURE_BOUND, stream.next())
        .await
        .expect("the stream yields within the bound")
}

#[tokio::test]
async fn every_subscriber_gets_every_event_in_order() {
    let bus = LocalEvents::default();
    let mut feeds: Vec<EventStream> = (0..3).map(|_| bus.subscribe()).collect();
    assert_eq!(bus.subscribers(), 3);
    for n in 0..5 {
        bus.publish(event(n)).await.unwrap();
    }
    for feed in &mut feeds {
        for n in 0..5 {
            assert_eq!(next(feed).await, Some(Ok(event(n))));
        }
    }
}

#[tokio::test]
async fn a_subscriber_sees_only_what_is_published_after_it_subscribed() {
    let bus = LocalEvents::default();
    bus.publish(event(0)).await.unwrap(); // nobody listening: fine
    let mut feed = bus.subscribe();
    bus.publish(event(1)).await.unwrap();
    assert_eq!(next(&mut feed).await, Some(Ok(event(1))));
}

#[tokio::test]
async fn a_slow_subscriber_lags_then_gets_later_events_without_slowing_others() {
    let bus = LocalEvents::new(4);
    let mut slow = bus.subscribe();
    let mut fast = bus.subscribe();
    for n in 0..10 {
        bus.publish(event(n)).await.unwrap(); // never waits for `slow`
        assert_eq!(next(&mut fast).await, Some(Ok(event(n))));
    }
    assert_eq!(next(&mut slow).await, Some(Err(Lagged { missed: 6 })));
    for n in 6..10 {
        assert_eq!(next(&mut slow).await, Some(Ok(event(n))));
    }
    bus.publish(event(10)).await.unwrap();
    assert_eq!(next(&mut slow).await, Some(Ok(event(10))));
    assert_eq!(next(&mut fast).await, Some(Ok(event(10))));
}

#[tokio::test]
async fn streams_end_when_the_bus_is_dropped_and_dropped_streams_unsubscribe() {
    let bus = LocalEvents::new(0); // clamped to 1
    let mut feed = bus.subscribe();
    drop(bus.subscribe());
    assert_eq!(bus.subscribers(), 1);
    assert_eq!(bus.send(event(1)), 1);
    drop(bus);
    assert_eq!(next(&mut feed).await, Some(Ok(event(1))));
    assert_eq!(next(&mut feed).await, None);
}
