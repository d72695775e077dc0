//! The writer thread: log lines are appended to one shared buffer and written to the
//! output in batches, so that a request never waits on the disk.
//!
//! A writer thread takes the whole buffer and writes it at once: it is woken when the
//! buffer goes from empty to not empty, then lets a few milliseconds' lines gather before
//! it writes, so under load one `write(2)` carries hundreds of lines and a logging thread
//! makes no system call at all; at rest a line reaches the file within [`GATHER`]. Past
//! [`MAX_PENDING`] bytes, logging threads wait for the writer (no line is dropped).
//! [`LogGuard`] flushes on drop: `main` holds it until it returns.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::LineSink;

/// How long the writer lets lines gather after it is woken.
pub const GATHER: Duration = Duration::from_millis(5);
/// Bytes waiting for the writer at most; beyond that, logging threads wait.
pub const MAX_PENDING: usize = 8 * 1024 * 1024;
/// How long [`LogGuard::flush`] waits for the writer at most.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// What the logging threads and the writer share.
#[derive(Default)]
struct Shared {
    state: Mutex<Pending>,
    /// Signalled when the buffer stops being empty or a flush is asked for.
    work: Condvar,
    /// Signalled after every batch written.
    written: Condvar,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Flushes asked for, and flushes done (a count each).
    asked: u64,
    done: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The [`LineSink`] that appends each line to the writer thread's buffer (or writes it
/// directly when the thread could not be started).
#[derive(Clone)]
pub struct Background {
    shared: Option<Arc<Shared>>,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background")
            .field("threaded", &self.shared.is_some())
            .finish()
    }
}

/// Flushes the queued log lines when dropped.
#[derive(Debug)]
pub struct LogGuard {
    background: Background,
}

impl LogGuard {
    /// Waits (at most two seconds) until every line appended so far is written and flushed.
    pub fn flush(&self) {
        let Some(shared) = &self.background.shared else {
            let _ = io::stdout().flush();
            return;
        };
        let deadline = Instant::now() + FLUSH_WAIT;
        let mut state = shared.lock();
        state.asked += 1;
        let target = state.asked;
        shared.work.notify_one();
        while state.done < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            state = shared
                .written
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A writer thread over the output `open` returns (called once, on that thread).
///
/// ```
/// use hub_telemetry::logging::LineSink as _;
/// let (writer, guard) = hub_telemetry::logging::background(std::io::sink);
/// writer.append(b"{\"message\":\"hello\"}\n");
/// guard.flush();
/// ```
pub fn background<W, F>(open: F) -> (Background, LogGuard)
where
    W: Write,
    F: FnOnce() -> W + Send + 'static,
{
    let shared = Arc::new(Shared::default());
    let theirs = Arc::clone(&shared);
    let spawned = std::thread::Builder::new()
        .name("hub-log-writer".to_owned())
        .spawn(move || write_batches(&theirs, open()));
    let background = Background {
        shared: spawned.ok().map(|_| shared),
    };
    (background.clone(), LogGuard { background })
}

/// The writer thread: sleeps until there is something to write, lets more gather, then
/// writes the whole buffer with one call and flushes.
fn write_batches(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let mut state = shared.lock();
        while state.bytes.is_empty() && state.asked == state.done {
            state = shared.work.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        if state.asked == state.done {
            // Lines arrived: let the ones right behind them join the same write.
            drop(state);
            std::thread::sleep(GATHER);
            state = shared.lock();
        }
        std::mem::swap(&mut batch, &mut state.bytes);
        let asked = state.asked;
        drop(state);
        let _ = out.write_all(&batch);
        let _ = out.flush();
        batch.clear();
        let mut state = shared.lock();
        state.done = asked;
        drop(state);
        shared.written.notify_all();
    }
}

impl LineSink for Background {
    fn append(&self, line: &[u8]) {
        let Some(shared) = &self.shared else {
            let _ = io::stdout().write_all(line);
            return;
        };
        let mut state = shared.lock();
        while state.bytes.len() >= MAX_PENDING {
            // The writer is behind (a slow disk): wait for it rather than drop lines.
            state = shared.written.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        let was_empty = state.bytes.is_empty();
        state.bytes.extend_from_slice(line);
        drop(state);
        if was_empty {
            // Only the first line of a batch wakes the writer (a system call).
            shared.work.notify_one();
        }
    }
}
#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex, PoisonError};

    use super::*;

    /// An output the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_in_order_and_a_flush_waits_for_them() {
        let out = Shared::default();
        let copy = out.clone();
        let (writer, guard) = background(move || copy);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let w = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        w.append(format!("{t} {i}\n").as_bytes());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        guard.flush();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 20_000);
        for t in 0..4 {
            let mine: Vec<usize> = lines
                .iter()
                .filter_map(|l| l.strip_prefix(&format!("{t} ")))
                .map(|i| i.parse().unwrap())
                .collect();
            assert_eq!(mine, (0..5_000).collect::<Vec<_>>(), "thread {t}'s lines in order");
        }
    }

    #[test]
    fn dropping_the_guard_flushes() {
        let out = Shared::default();
        let copy = out.clone();
        let (writer, guard) = background(move || copy);
        writer.append(b"last words\n");
        drop(guard);
        assert_eq!(&out.0.lock().unwrap()[..], b"last words\n");
    }
}
