//! Running h2load (HTTP/2 over cleartext, prior knowledge) with the bench's fixed
//! settings and reading its figures. h2load prints no latency percentiles, only the
//! minimum, maximum and mean time per request.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// h2load's fixed settings, the same for every contestant: as many connections and
/// threads as wrk, each connection with this many concurrent streams.
pub(crate) const STREAMS: u32 = 10;

/// One h2load measurement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct H2Figures {
    pub(crate) rps: f64,
    pub(crate) mean_ms: f64,
    pub(crate) max_ms: f64,
    /// Requests answered with a status other than 2xx.
    pub(crate) non_2xx: u64,
    /// Requests that failed (a stream or connection error, a timeout).
    pub(crate) failed: u64,
}

impl H2Figures {
    pub(crate) fn json(&self) -> Value {
        json!({"requests_per_s": self.rps, "mean_ms": self.mean_ms, "max_ms": self.max_ms,
               "non_2xx": self.non_2xx, "failed": self.failed})
    }

    /// The line the bench prints for one contestant.
    pub(crate) fn line(&self, name: &str) -> String {
        format!(
            "  {name:<22} {:>10.0} req/s  mean {:>7.3} ms  max {:>7.3} ms{}",
            self.rps,
            self.mean_ms,
            self.max_ms,
            if self.non_2xx + self.failed > 0 {
                format!("  ({} non-2xx, {} failed)", self.non_2xx, self.failed)
            } else {
                String::new()
            }
        )
    }
}

/// One h2load run of `secs` seconds against `url` (`http://`: h2c with prior knowledge).
pub(crate) fn run(
    url: &str,
    header: Option<&str>,
    secs: u64,
    dir: &Path,
    threads: u32,
    connections: u32,
) -> Result<H2Figures> {
    let mut cmd = Command::new("h2load");
    cmd.args([
        "-t",
        &threads.to_string(),
        "-c",
        &connections.to_string(),
        "-m",
        &STREAMS.to_string(),
        "-D",
        &secs.to_string(),
    ]);
    if let Some(h) = header {
        cmd.args(["-H", h]);
    }
    let out = cmd.arg(url).current_dir(dir).output().context("running h2load")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "h2load failed ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse(&text).with_context(|| format!("reading h2load's output:\n{text}"))
}

/// The figures in h2load's summary.
pub(crate) fn parse(text: &str) -> Result<H2Figures> {
    let (mut rps, mut latency, mut outcomes, mut statuses) = (None, None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("finished in ") {
            // `finished in 2.02s, 2000.00 req/s, 150.52KB/s`
            rps = rest
                .split(", ")
                .find_map(|part| part.strip_suffix(" req/s"))
                .map(str::parse::<f64>)
                .transpose()?;
        } else if let Some(rest) = line.strip_prefix("requests: ") {
            // `4022 total, 4036 started, 4022 done, 4000 succeeded, 22 failed, 22 errored, 0 timeout`
            outcomes = Some((count(rest, "failed")?, count(rest, "timeout")?));
        } else if let Some(rest) = line.strip_prefix("status codes: ") {
            // `4000 2xx, 0 3xx, 0 4xx, 0 5xx`
            statuses = Some(count(rest, "3xx")? + count(rest, "4xx")? + count(rest, "5xx")?);
        } else if let Some(rest) = line.strip_prefix("time for request:") {
            // `min max mean sd +/-sd`
            let words: Vec<&str> = rest.split_whitespace().collect();
            if let [_min, max, mean, ..] = words.as_slice() {
                latency = Some((millis(mean)?, millis(max)?));
            }
        }
    }
    let (Some(rps), Some((mean_ms, max_ms)), Some((failed, timeouts)), Some(non_2xx)) =
        (rps, latency, outcomes, statuses)
    else {
        bail!("no `finished in … req/s`, `requests:`, `status codes:` or `time for request:` line");
    };
    Ok(H2Figures {
        rps,
        mean_ms,
        max_ms,
        non_2xx,
        failed: failed + timeouts,
    })
}

/// The number before `label` in h2load's `N label, M other` lists.
fn count(list: &str, label: &str) -> Result<u64> {
    list.split(", ")
        .find_map(|part| part.strip_suffix(label).map(str::trim))
        .with_context(|| format!("no `{label}` in {list:?}"))?
        .parse()
        .with_context(|| format!("`{label}` in {list:?}"))
}

/// h2load's `48us`, `1.72ms`, `1.02s` in milliseconds.
fn millis(v: &str) -> Result<f64> {
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        bail!("a latency without a unit: {v}")
    };
    Ok(num.parse::<f64>()? * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// h2load 1.52.0 against nginx 1.22.1 (`listen … http2`, prior knowledge), as printed.
    const SAMPLE: &str = "starting benchmark...
spawning thread #0: 2 total client(s). Timing-based test with 0s of warm-up time and 2s of main duration for measurements.
spawning thread #1: 2 total client(s). Timing-based test with 0s of warm-up time and 2s of main duration for measurements.
Warm-up started for thread #1.
Warm-up phase is over for thread #1.
Main benchmark duration is started for thread #1.
Warm-up started for thread #0.
progress: 50% of clients started
progress: 100% of clients started
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
Application protocol: h2c
Process Request Failure:2
Process Request Failure:12
Main benchmark duration is over for thread #1. Stopping all clients.
Stopped all clients for thread #1
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.02s, 2000.00 req/s, 150.52KB/s
requests: 4022 total, 4036 started, 4022 done, 4000 succeeded, 22 failed, 22 errored, 0 timeout
status codes: 4000 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 301.04KB (308264) total, 203.13KB (208000) headers (space savings 50.00%), 27.34KB (28000) data
                     min         max         mean         sd        +/- sd
time for request:       48us     19.53ms      1.72ms      3.16ms    88.40%
time for connect:       26us        94us        55us        30us    75.00%
time to 1st byte:    19.41ms     19.66ms     19.53ms       124us    75.00%
req/s           :    5424.32     6071.81     5747.94      373.06   100.00%
";

    #[test]
    fn reads_h2load_output() {
        let f = parse(SAMPLE).unwrap();
        assert_eq!(
            f,
            H2Figures {
                rps: 2000.0,
                mean_ms: 1.72,
                max_ms: 19.53,
                non_2xx: 0,
                failed: 22,
            }
        );
    }

    #[test]
    fn counts_answers_other_than_2xx_and_timeouts() {
        let text = SAMPLE
            .replace("4000 2xx, 0 3xx, 0 4xx, 0 5xx", "3990 2xx, 1 3xx, 4 4xx, 5 5xx")
            .replace("22 errored, 0 timeout", "22 errored, 3 timeout");
        let f = parse(&text).unwrap();
        assert_eq!((f.non_2xx, f.failed), (10, 25));
        assert!((millis("1.5s").unwrap() - 1500.0).abs() < 1e-9);
        assert!((millis("48us").unwrap() - 0.048).abs() < 1e-9);
    }

    #[test]
    fn output_without_a_summary_is_an_error() {
        assert!(parse("starting benchmark...\n").is_err());
        let no_latency: String = SAMPLE
            .lines()
            .filter(|l| !l.starts_with("time for request"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(parse(&no_latency).is_err());
    }
}
