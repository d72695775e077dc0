//! Many requests at once: one thread and one connection per request, released together
//! (the cold-read and token-expiry figures).

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// What a burst got back.
#[derive(Debug, Clone)]
pub(crate) struct Burst {
    /// How many answers had each status (followed by the asked-for header's value, when
    /// there is one); `0` counts requests that got no answer.
    pub(crate) statuses: BTreeMap<String, u64>,
    /// From the gate's opening to the last answer.
    pub(crate) elapsed: Duration,
}

impl Burst {
    pub(crate) fn json(&self) -> Value {
        let statuses: serde_json::Map<String, Value> =
            self.statuses.iter().map(|(s, n)| (s.clone(), json!(n))).collect();
        json!({"statuses": statuses, "elapsed_ms": self.elapsed.as_secs_f64() * 1000.0})
    }

    /// `1000 × 200` or `998 × 200 integration-hub; hit, 2 × 0`.
    pub(crate) fn summary(&self) -> String {
        self.statuses
            .iter()
            .map(|(s, n)| format!("{n} × {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Sends `GET url_of(i)` for `i` in `0..n`, all at once, each on its own connection, and
/// counts the answers by status and the value of `header`.
pub(crate) fn get(
    n: usize,
    url_of: impl Fn(usize) -> String,
    token: Option<&str>,
    header: Option<&'static str>,
) -> Result<Burst> {
    // The gate: held for writing until every thread is ready; each waits on a read.
    let gate = Arc::new(RwLock::new(()));
    let closed = gate.write().unwrap_or_else(PoisonError::into_inner);
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut threads = Vec::with_capacity(n);
    for i in 0..n {
        let url = url_of(i);
        let auth = auth.clone();
        let gate = Arc::clone(&gate);
        let spawned = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || -> String {
                // One agent per thread: one connection per request, none shared.
                let agent = crate::harness::http::agent();
                let mut req = agent.get(&url);
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                drop(gate.read().unwrap_or_else(PoisonError::into_inner));
                req.call().map_or_else(
                    |_| "0".to_owned(),
                    |mut r| {
                        let _ = r.body_mut().read_to_vec();
                        let value = header
                            .and_then(|h| r.headers().get(h))
                            .and_then(|v| v.to_str().ok())
                            .map_or_else(String::new, |v| format!(" {v}"));
                        format!("{}{value}", r.status().as_u16())
                    },
                )
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                // Release the threads already started before giving up.
                drop(closed);
                for t in threads {
                    let _ = t.join();
                }
                return Err(e).context("starting a burst thread");
            }
        }
    }
    // Every thread has built its request; let a moment pass for the last to reach the gate.
    std::thread::sleep(Duration::from_millis(100));
    drop(closed);
    let started = Instant::now();
    let mut statuses = BTreeMap::new();
    for t in threads {
        let Ok(status) = t.join() else {
            bail!("a burst thread panicked");
        };
        *statuses.entry(status).or_insert(0) += 1;
    }
    Ok(Burst {
        statuses,
        elapsed: started.elapsed(),
    })
}
