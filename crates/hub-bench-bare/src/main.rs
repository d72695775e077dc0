//! `hub-bench-bare`: the ceiling of `cargo xtask bench`, a minimal hyper server that answers
//! every request with one fixed JSON body (the hub's answer for the benchmarked read).
//!
//! ```text
//! hub-bench-bare --listen 127.0.0.1:0 --body-file target/bench/bare-body.json
//! ```
//!
//! It prints `listening on http://<addr>` on stdout once bound, then serves HTTP/1.1 with
//! keep-alive and HTTP/2 (cleartext, prior knowledge) on the same port, as the hub does, on
//! tokio's multi-threaded runtime (the hub's runtime and HTTP stack, without the hub)
//! until killed.

#![allow(clippy::print_stdout, clippy::print_stderr)] // A command line talks to its terminal.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

const USAGE: &str = "usage: hub-bench-bare --listen <addr:port> --body-file <path>";

/// The command line.
struct Args {
    listen: SocketAddr,
    body: Bytes,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let (mut listen, mut body_file) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = it.next().ok_or_else(|| format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "--listen" => listen = Some(value?.parse().map_err(|e| format!("--listen: {e}"))?),
            "--body-file" => body_file = Some(value?.clone()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let listen = listen.ok_or_else(|| format!("--listen is required\n{USAGE}"))?;
    let path = body_file.ok_or_else(|| format!("--body-file is required\n{USAGE}"))?;
    let body = std::fs::read(&path).map_err(|e| format!("reading {path}: {e}"))?;
    Ok(Args {
        listen,
        body: Bytes::from(body),
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("hub-bench-bare: {e}");
            return ExitCode::from(64);
        }
    };
    let listener = match TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("hub-bench-bare: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening on http://{addr}"),
        Err(e) => {
            eprintln!("hub-bench-bare: {e}");
            return ExitCode::from(2);
        }
    }
    let json = HeaderValue::from_static("application/json");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        // As the hub: small answers go out at once.
        let _ = stream.set_nodelay(true);
        let body = args.body.clone();
        let json = json.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                let mut res = Response::new(Full::new(body.clone()));
                res.headers_mut().insert(CONTENT_TYPE, json.clone());
                async move { Ok::<_, Infallible>(res) }
            });
            // A client that goes away mid-request is not an error worth reporting here.
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn reads_the_address_and_the_body() {
        let dir = std::env::temp_dir().join(format!("hub-bench-bare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("body.json");
        std::fs::write(&file, br#"{"id":"TXN-1"}"#).unwrap();
        let a = parse_args(&args(&[
            "--listen",
            "127.0.0.1:0",
            "--body-file",
            file.to_str().unwrap(),
        ]))
        .unwrap();
        assert_eq!(a.listen.port(), 0);
        assert_eq!(&a.body[..], br#"{"id":"TXN-1"}"#);
        for bad in [
            &["--listen", "127.0.0.1:0"][..],
            &["--body-file", file.to_str().unwrap()][..],
            &["--listen"][..],
            &["--listen", "nowhere", "--body-file", file.to_str().unwrap()][..],
            &["--port", "1"][..],
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
