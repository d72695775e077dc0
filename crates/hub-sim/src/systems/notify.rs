//! The notification sink: records every supervisor notification the hub sends, headers and body.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, Uri};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::reply::Reply;
use crate::state::{SimState, lock};
use crate::system::System;
use crate::systems::at;

/// One notification the sink received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Order in the ledger.
    pub seq: u64,
    /// When it arrived (simulated time).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The path it was posted to, prefix included.
    pub path: String,
    /// Its headers, names in lower case (repeated headers joined with `, `).
    pub headers: BTreeMap<String, String>,
    /// Its body: the JSON value, or a string when the body is not JSON.
    pub body: Value,
}

pub(crate) fn routes(router: Router<Arc<SimState>>) -> Router<Arc<SimState>> {
    let s = System::Notify;
    router
        .route(s.prefix(), post(receive))
        .route(&at(s, "/{*path}"), post(receive))
}

async fn receive(State(st): State<Arc<SimState>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Reply {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        map.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let body =
        serde_json::from_slice(&body).unwrap_or_else(|_| Value::from(String::from_utf8_lossy(&body).into_owned()));
    let note = Notification {
        seq: st.ledger.next_seq(),
        at: st.clock.now(),
        path: uri.path().to_owned(),
        headers: map,
        body,
    };
    lock(&st.notifications).push(note);
    st.ledger.changed();
    Reply::json(StatusCode::OK, &json!({"ok": true}))
}
