//! Running wrk with the bench's fixed settings and reading its figures.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// wrk's fixed settings, the same for every contestant.
pub(crate) const CONNECTIONS: u32 = 32;
pub(crate) const THREADS: u32 = 2;

/// One wrk measurement.
#[derive(Debug, Clone)]
pub(crate) struct Figures {
    pub(crate) rps: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) non_2xx: u64,
    pub(crate) errors: u64,
}

impl Figures {
    pub(crate) fn json(&self) -> Value {
        json!({"requests_per_s": self.rps, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms,
               "non_2xx": self.non_2xx, "socket_errors": self.errors})
    }

    /// The line the bench prints for one contestant.
    pub(crate) fn line(&self, name: &str) -> String {
        format!(
            "  {name:<22} {:>10.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms{}",
            self.rps,
            self.p50_ms,
            self.p99_ms,
            if self.non_2xx + self.errors > 0 {
                format!("  ({} non-2xx, {} socket errors)", self.non_2xx, self.errors)
            } else {
                String::new()
            }
        )
    }
}

/// One wrk run of `secs` seconds against `url` with the fixed settings.
pub(crate) fn run(url: &str, header: Option<&str>, secs: u64, dir: &Path) -> Result<Figures> {
    run_with(url, header, secs, dir, THREADS, CONNECTIONS)
}

/// One wrk run with other thread and connection counts.
pub(crate) fn run_with(
    url: &str,
    header: Option<&str>,
    secs: u64,
    dir: &Path,
    threads: u32,
    connections: u32,
) -> Result<Figures> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t",
        &threads.to_string(),
        "-c",
        &connections.to_string(),
        "-d",
        &format!("{secs}s"),
        "--timeout",
        "5s",
        "--latency",
    ]);
    if let Some(h) = header {
        cmd.args(["-H", h]);
    }
    let out = cmd.arg(url).current_dir(dir).output().context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "wrk failed ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse(&text).with_context(|| format!("reading wrk's output:\n{text}"))
}

pub(crate) fn parse(text: &str) -> Result<Figures> {
    let mut f = Figures {
        rps: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        non_2xx: 0,
        errors: 0,
    };
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => f.rps = v.parse()?,
            ["50%", v] => f.p50_ms = millis(v)?,
            ["99%", v] => f.p99_ms = millis(v)?,
            ["Non-2xx", "or", "3xx", "responses:", n] => f.non_2xx = n.parse()?,
            ["Socket", "errors:", rest @ ..] => {
                f.errors = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    if f.rps.is_nan() || f.p50_ms.is_nan() || f.p99_ms.is_nan() {
        bail!("no Requests/sec or latency distribution");
    }
    Ok(f)
}

/// wrk's `1.23ms`, `456.78us`, `1.02s`, `2.00m` in milliseconds.
fn millis(v: &str) -> Result<f64> {
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        bail!("a latency without a unit: {v}")
    };
    Ok(num.parse::<f64>()? * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let text = "Running 3s test @ http://127.0.0.1:1/x
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   410.12us  120.00us   5.01ms   90.00%
  Latency Distribution
     50%  380.00us
     75%  450.00us
     90%  520.00us
     99%    1.20ms
  150000 requests in 3.00s, 40.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  50000.50
Transfer/sec:     13.33MB
";
        let f = parse(text).unwrap();
        assert!((f.rps - 50000.5).abs() < 1e-9);
        assert!((f.p50_ms - 0.38).abs() < 1e-9);
        assert!((f.p99_ms - 1.2).abs() < 1e-9);
        assert_eq!((f.non_2xx, f.errors), (7, 3));
        assert!((millis("1.50s").unwrap() - 1500.0).abs() < 1e-9);
        assert!(parse("nothing").is_err());
    }
}
