//! A `hub-server` process with tracing on (`OTEL_EXPORTER_OTLP_ENDPOINT`): the spans of a
//! request reach the collector by the time the process has exited after SIGTERM, because
//! shutdown sends what is queued.

use std::process::Command;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::fresh_metrics::DemoHub;

/// Every `(path, body)` posted to a bare HTTP/1.1 collector on a free port.
pub(crate) async fn collector() -> (u16, Arc<Mutex<Vec<(String, Vec<u8>)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let posts = Arc::new(Mutex::new(Vec::new()));
    let kept = posts.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let mut request_line = String::new();
                    if stream.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let path = request_line.split(' ').nth(1).unwrap_or_default().to_owned();
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
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
                    if stream.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    kept.lock().unwrap().push((path, body));
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if stream.get_mut().write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, posts)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_s_spans_are_sent_by_the_time_the_hub_has_stopped() {
    let (collector_port, posts) = collector().await;
    let endpoint = format!("http://127.0.0.1:{collector_port}");
    let mut hub = DemoHub::spawn("traces", &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)]);
    hub.wait_for("/healthz", "x-request-id: bin-trace-1\r\n").await;
    let child = &mut hub.child;
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = tokio::task::block_in_place(|| child.wait()).unwrap();
    drop(hub);
    assert!(status.success(), "{status:?}");
    let posts = posts.lock().unwrap();
    assert!(
        posts.iter().any(|(path, body)| path == "/v1/traces"
            && body.windows(b"bin-trace-1".len()).any(|w| w == b"bin-trace-1")),
        "no span of the request reached the collector: {} posts",
        posts.len()
    );
}
