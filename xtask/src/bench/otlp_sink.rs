//! A stand-in OTLP/HTTP collector for the tracing figures: accepts every export on
//! loopback, reads it whole and answers 200, keeping only the count.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;

/// A running sink: its base URL and how many exports it took.
pub(crate) struct Sink {
    pub(crate) url: String,
    exports: Arc<AtomicU64>,
}

impl Sink {
    /// Exports received so far.
    pub(crate) fn exports(&self) -> u64 {
        self.exports.load(Ordering::Relaxed)
    }
}

/// Starts a sink on a free loopback port; its threads end with the process.
pub(crate) fn start() -> Result<Sink> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    let exports = Arc::new(AtomicU64::new(0));
    let counted = exports.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counted = counted.clone();
            std::thread::spawn(move || serve(stream, &counted));
        }
    });
    Ok(Sink { url, exports })
}

/// Answers the requests of one keep-alive connection until it closes.
fn serve(stream: TcpStream, exports: &AtomicU64) {
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        exports.fetch_add(1, Ordering::Relaxed);
        let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if out.write_all(ok).is_err() {
            return;
        }
    }
}
