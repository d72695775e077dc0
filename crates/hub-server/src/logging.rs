//! Structured logs through `tracing`: JSON, or human-readable on a terminal, written to
//! stdout by a background thread so that a request never waits on the disk.
//!
//! Each event is formatted on the request's thread (as before) and its bytes are handed
//! to one writer thread over a bounded queue; the thread writes them through a buffer and
//! flushes whenever the queue runs empty, so under load many lines go out in one write
//! and at rest every line is written at once. A full queue makes the logging thread wait
//! (no line is dropped). [`LogGuard`] flushes on drop: `main` holds it until it returns.
//!
//! Why: profiling the cached read (`cargo xtask bench`, issue #10) showed the per-request
//! `answered` line's `write(2)` to the log file at about 7 % of the hub's CPU, and, worse,
//! a file write now and then blocking a Tokio worker for milliseconds (ext4 journal
//! commits), which was most of the hub's p99 at light load.

use std::io::{self, IsTerminal, Write};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogConfig, LogFormat};

/// Lines waiting for the writer thread at most; beyond that, logging waits.
const QUEUE_LINES: usize = 16_384;
/// How long [`LogGuard`]'s drop waits for the writer thread to flush.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// Installs the global subscriber; `RUST_LOG` wins over the configured level. Keep the
/// guard until the process ends: dropping it flushes what is queued.
#[must_use = "dropping the guard flushes the logs; hold it until the end of main"]
pub fn init(config: &LogConfig) -> LogGuard {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match config.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !io::stdout().is_terminal(),
    };
    let (writer, guard) = background(io::stdout);
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
    // A subscriber already installed (tests, embedding) is kept.
    drop(result);
    guard
}

enum Msg {
    Line(Vec<u8>),
    Flush(SyncSender<()>),
}

/// The [`MakeWriter`] that queues each formatted event for the writer thread (or writes
/// it directly when the thread could not be started).
#[derive(Clone)]
pub struct Background {
    queue: Option<SyncSender<Msg>>,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background")
            .field("threaded", &self.queue.is_some())
            .finish()
    }
}

/// Flushes the queued log lines when dropped.
#[derive(Debug)]
pub struct LogGuard {
    background: Background,
}

impl LogGuard {
    /// Waits (at most two seconds) until every line queued so far is written and flushed.
    pub fn flush(&self) {
        let Some(queue) = &self.background.queue else {
            let _ = io::stdout().flush();
            return;
        };
        let (ack, done) = mpsc::sync_channel(1);
        if queue.send(Msg::Flush(ack)).is_ok() {
            let _ = done.recv_timeout(FLUSH_WAIT);
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
/// use std::io::Write as _;
/// use tracing_subscriber::fmt::MakeWriter as _;
/// let (writer, guard) = hub_server::logging::background(std::io::sink);
/// writer.make_writer().write_all(b"{\"message\":\"hello\"}\n").unwrap();
/// guard.flush();
/// ```
pub fn background<W, F>(open: F) -> (Background, LogGuard)
where
    W: Write,
    F: FnOnce() -> W + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(QUEUE_LINES);
    let spawned = std::thread::Builder::new()
        .name("hub-log-writer".to_owned())
        .spawn(move || write_lines(&rx, open()));
    let background = Background {
        queue: spawned.ok().map(|_| tx),
    };
    (background.clone(), LogGuard { background })
}

/// The writer thread: writes lines through a buffer, flushing whenever nothing waits.
fn write_lines(rx: &Receiver<Msg>, out: impl Write) {
    let mut out = io::BufWriter::with_capacity(64 * 1024, out);
    let handle = |msg: Msg, out: &mut io::BufWriter<_>| match msg {
        Msg::Line(line) => {
            let _ = out.write_all(&line);
        }
        Msg::Flush(ack) => {
            let _ = out.flush();
            let _ = ack.try_send(());
        }
    };
    while let Ok(first) = rx.recv() {
        handle(first, &mut out);
        while let Ok(more) = rx.try_recv() {
            handle(more, &mut out);
        }
        let _ = out.flush();
    }
    let _ = out.flush();
}

/// One event's bytes on their way to the writer thread.
#[derive(Debug)]
pub struct QueuedLine<'a> {
    queue: Option<&'a SyncSender<Msg>>,
}

impl Write for QueuedLine<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(queue) = self.queue else {
            return io::stdout().write(buf);
        };
        // The formatter writes each event whole, in one call.
        match queue.try_send(Msg::Line(buf.to_vec())) {
            Ok(()) => Ok(buf.len()),
            Err(TrySendError::Full(msg)) => queue
                .send(msg)
                .map(|()| buf.len())
                .map_err(|_| io::Error::other("the log writer thread has stopped")),
            Err(TrySendError::Disconnected(_)) => Err(io::Error::other("the log writer thread has stopped")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Background {
    type Writer = QueuedLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        QueuedLine {
            queue: self.queue.as_ref(),
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
                        w.make_writer().write_all(format!("{t} {i}\n").as_bytes()).unwrap();
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
        writer.make_writer().write_all(b"last words\n").unwrap();
        drop(guard);
        assert_eq!(&out.0.lock().unwrap()[..], b"last words\n");
    }
}
