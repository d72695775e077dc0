//! A subscriber of a hub's `/v1/events` WebSocket, collecting messages in a thread, and
//! the circuit breaker's transitions checked against the contract.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

/// A live subscription; [`Feed::stop`] ends it and returns what arrived.
pub(crate) struct Feed {
    messages: Arc<Mutex<Vec<Value>>>,
    stop: Arc<AtomicBool>,
    closed: Arc<Mutex<Option<String>>>,
    thread: Option<JoinHandle<()>>,
}

/// Subscribes to `topics` on the hub at `url` (`http://host:port`) with `token`.
///
/// Returns once the hub answered the upgrade: the hub subscribes before answering, so
/// every event published afterwards arrives.
pub(crate) fn subscribe(url: &str, token: &str, topics: &[&str]) -> Result<Feed> {
    let authority = url.strip_prefix("http://").context("an http:// hub URL")?;
    let query: Vec<String> = topics.iter().map(|t| format!("topic={t}")).collect();
    let ws_url = format!("ws://{authority}/v1/events?{}", query.join("&"));
    let mut request = ws_url.as_str().into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", HeaderValue::from_str(&format!("Bearer {token}"))?);
    let stream = TcpStream::connect(authority).with_context(|| format!("connecting to {authority}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let (socket, response) =
        tungstenite::client(request, stream).map_err(|e| anyhow::anyhow!("WebSocket upgrade at {ws_url}: {e}"))?;
    if response.status().as_u16() != 101 {
        bail!("GET /v1/events answered {}", response.status());
    }
    // Short reads from now on, so the thread notices `stop`.
    socket.get_ref().set_read_timeout(Some(Duration::from_millis(100)))?;
    let messages = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let closed = Arc::new(Mutex::new(None));
    let thread = {
        let (messages, stop, closed) = (Arc::clone(&messages), Arc::clone(&stop), Arc::clone(&closed));
        std::thread::spawn(move || read_loop(socket, &messages, &stop, &closed))
    };
    Ok(Feed {
        messages,
        stop,
        closed,
        thread: Some(thread),
    })
}

fn read_loop(
    mut socket: WebSocket<TcpStream>,
    messages: &Mutex<Vec<Value>>,
    stop: &AtomicBool,
    closed: &Mutex<Option<String>>,
) {
    let why = loop {
        if stop.load(Ordering::SeqCst) {
            let _ = socket.close(None);
            let _ = socket.flush();
            return;
        }
        match socket.read() {
            Ok(Message::Text(text)) => {
                let value = serde_json::from_str(text.as_str()).unwrap_or(Value::String(text.as_str().to_owned()));
                messages.lock().unwrap_or_else(PoisonError::into_inner).push(value);
            }
            Ok(Message::Close(frame)) => break format!("closed by the hub: {frame:?}"),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => break format!("{e}"),
        }
    };
    *closed.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
}

impl Feed {
    /// What arrived so far.
    pub(crate) fn messages(&self) -> Vec<Value> {
        self.messages.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Why the subscription ended early, if it did.
    pub(crate) fn closed(&self) -> Option<String> {
        self.closed.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Ends the subscription; what arrived.
    pub(crate) fn stop(mut self) -> Vec<Value> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.messages()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// One adapter's `circuit.changed` transitions, in order of arrival.
pub(crate) type Transitions = BTreeMap<String, Vec<(String, String)>>;

/// The transitions in `messages`, per adapter.
pub(crate) fn transitions(messages: &[Value]) -> Transitions {
    let mut by_adapter = Transitions::new();
    for m in messages.iter().filter(|m| m["event"] == "circuit.changed") {
        let text = |k: &str| m["data"][k].as_str().unwrap_or("?").to_owned();
        by_adapter
            .entry(text("adapter"))
            .or_default()
            .push((text("from"), text("to")));
    }
    by_adapter
}

/// Checks one adapter's transitions against the contract: they chain (each starts where
/// the previous ended, the first from `closed`), and each is one the breaker may make —
/// closed→open (5 failures), open→half_open (the probe), half_open→closed (it succeeded)
/// or half_open→open (it failed). Returns the state it ended in.
pub(crate) fn check_transitions(adapter: &str, list: &[(String, String)]) -> Result<String> {
    let mut state = "closed".to_owned();
    for (i, (from, to)) in list.iter().enumerate() {
        if *from != state {
            bail!(
                "{adapter}: transition #{} is {from}→{to}, but the circuit was {state}",
                i + 1
            );
        }
        let allowed = matches!(
            (from.as_str(), to.as_str()),
            ("closed", "open") | ("open", "half_open") | ("half_open", "closed" | "open")
        );
        if !allowed {
            bail!(
                "{adapter}: transition #{} {from}→{to} is not one the contract's breaker makes",
                i + 1
            );
        }
        state.clone_from(to);
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn the_contracts_transitions() {
        let ok = t(&[
            ("closed", "open"),
            ("open", "half_open"),
            ("half_open", "open"),
            ("open", "half_open"),
            ("half_open", "closed"),
        ]);
        assert_eq!(check_transitions("a", &ok).unwrap(), "closed");
        assert!(check_transitions("a", &t(&[("closed", "open"), ("open", "closed")])).is_err());
        assert!(check_transitions("a", &t(&[("open", "half_open")])).is_err());
        assert!(check_transitions("a", &t(&[("closed", "open"), ("half_open", "closed")])).is_err());
        assert_eq!(check_transitions("a", &[]).unwrap(), "closed");
    }
}
