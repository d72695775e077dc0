//! The processes a run starts (hub-sim, the hubs and any other): started with their
//! output in log files, and always stopped — SIGTERM, then SIGKILL after a grace period.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::interrupt::interrupted;

/// One running process.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

/// Every process the run started; dropping it stops them, newest first.
#[derive(Default)]
pub(crate) struct Procs {
    list: Vec<Proc>,
}

/// A free loopback port not in `taken` (bound, read, released; the hub binds it right after).
pub(crate) fn free_port(taken: &[u16]) -> Result<u16> {
    for _ in 0..20 {
        let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
        let port = listener.local_addr()?.port();
        if !taken.contains(&port) {
            return Ok(port);
        }
    }
    bail!("no free loopback port found")
}

fn log_file(path: &Path) -> Result<(Stdio, Stdio)> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let copy = file.try_clone()?;
    Ok((Stdio::from(file), Stdio::from(copy)))
}

/// `VmRSS` of a process, in bytes.
pub(crate) fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    rss_in(&status).with_context(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// CPU time (user and system) the process `pid` has used so far, in seconds.
pub(crate) fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    cpu_in(&stat).with_context(|| format!("no CPU times in /proc/{pid}/stat"))
}

/// Fields 14 and 15 (`utime`, `stime`) of a `/proc/PID/stat` line, in seconds: clock
/// ticks of 1/100 s (`USER_HZ`, 100 on every Linux architecture the hub is built for).
fn cpu_in(stat: &str) -> Option<f64> {
    // The command (field 2) may hold spaces and parentheses: count from its last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

fn rss_in(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl Procs {
    /// Starts hub-sim on a free port with `extra` arguments (`--credentials FILE`,
    /// `--seed N`) and returns its URL (the first line it prints).
    pub(crate) fn start_sim(&mut self, bin: &Path, log: &Path, extra: &[&std::ffi::OsStr]) -> Result<String> {
        let stderr = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = Command::new(bin)
            .args(["--listen", "127.0.0.1:0", "-v"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("hub-sim's stdout")?;
        self.list.push(Proc {
            name: "hub-sim".to_owned(),
            child,
            log: log.to_owned(),
        });
        // Read the first line in a thread (a read has no timeout); keep draining afterwards.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            for _ in lines {}
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            interrupted()?;
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(Some(Ok(line))) => {
                    return line
                        .strip_prefix("listening on ")
                        .map(|u| u.trim().trim_end_matches('/').to_owned())
                        .with_context(|| format!("hub-sim's first line is {line:?}, not \"listening on URL\""));
                }
                Ok(_) => bail!(
                    "hub-sim exited before saying where it listens; its log: {}",
                    log.display()
                ),
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(_) => bail!("hub-sim said nothing within 30 s; its log: {}", log.display()),
            }
        }
    }

    /// Starts `hub-server --config FILE` with `env`, its output into `log`.
    pub(crate) fn start_hub(
        &mut self,
        name: &str,
        bin: &Path,
        config: &Path,
        env: &[(String, String)],
        log: &Path,
    ) -> Result<()> {
        let (out, err) = log_file(log)?;
        let mut cmd = Command::new(bin);
        cmd.arg("--config").arg(config);
        if let Some(dir) = config.parent() {
            cmd.current_dir(dir);
        }
        // The run's environment is the configuration's: no inherited HUB__ overrides.
        for (k, _) in std::env::vars_os() {
            if k.to_str().is_some_and(|k| k.starts_with("HUB__") || k == "HUB_CONFIG") {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        self.list.push(Proc {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        });
        Ok(())
    }

    /// Starts any command, its output into `log`, to be stopped with the others.
    pub(crate) fn start_other(&mut self, name: &str, mut cmd: Command, log: &Path) -> Result<()> {
        let (out, err) = log_file(log)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        self.list.push(Proc {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        });
        Ok(())
    }

    /// Kills the process started as `name` with SIGKILL — no chance to finish anything —
    /// waits for it and forgets it (its log stays).
    pub(crate) fn kill9(&mut self, name: &str) -> Result<()> {
        let i = self
            .list
            .iter()
            .position(|p| p.name == name)
            .with_context(|| format!("no process {name}"))?;
        let mut p = self.list.remove(i);
        p.child.kill().with_context(|| format!("killing {name}"))?;
        p.child.wait().with_context(|| format!("waiting for {name}"))?;
        Ok(())
    }

    /// The process id of the process started as `name`.
    pub(crate) fn pid(&self, name: &str) -> Result<u32> {
        self.list
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.child.id())
            .with_context(|| format!("no process {name}"))
    }

    /// Fails, naming the process and its log, when one has exited.
    pub(crate) fn check_alive(&mut self) -> Result<()> {
        for p in &mut self.list {
            if let Some(status) = p.child.try_wait()? {
                let log = std::fs::read_to_string(&p.log).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                let tail = lines[lines.len().saturating_sub(5)..].join("\n    ");
                bail!(
                    "{} exited ({status}); the end of its log {}:\n    {tail}",
                    p.name,
                    p.log.display()
                );
            }
        }
        Ok(())
    }

    /// `(name, log file)` of each process.
    pub(crate) fn logs(&self) -> Vec<(String, PathBuf)> {
        self.list.iter().map(|p| (p.name.clone(), p.log.clone())).collect()
    }

    /// Stops every process: SIGTERM to all, then up to 5 s for each, then SIGKILL.
    pub(crate) fn stop_all(&mut self) {
        for p in self.list.iter_mut().rev() {
            if matches!(p.child.try_wait(), Ok(None)) {
                let _ = Command::new("kill")
                    .args(["-TERM", &p.child.id().to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for mut p in self.list.drain(..).rev() {
            while matches!(p.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(25));
            }
            if matches!(p.child.try_wait(), Ok(None)) {
                eprintln!("xtask: {} did not stop within 5 s of SIGTERM; killing it", p.name);
                let _ = p.child.kill();
            }
            let _ = p.child.wait();
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        self.stop_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_resident_set() {
        assert_eq!(
            rss_in("Name:\thub\nVmRSS:\t   2048 kB\nVmSwap: 0 kB\n"),
            Some(2 * 1024 * 1024)
        );
        assert_eq!(rss_in("Name:\thub\n"), None);
        assert!(rss_bytes(std::process::id()).unwrap() > 0);
    }

    #[test]
    fn reads_the_cpu_time() {
        // A real line's shape, the command holding a space and a parenthesis.
        let line = "4242 (hub (server) S 1 4242 4242 0 -1 4194560 1811 0 0 0 1234 56 0 0 20 0 8 0 99 0 0\n";
        assert_eq!(cpu_in(line), Some(12.90));
        assert_eq!(cpu_in("4242 (hub) S 1 2"), None);
        assert_eq!(cpu_in("no command at all"), None);
        assert!(cpu_seconds(std::process::id()).is_ok());
        assert!(cpu_seconds(u32::MAX).is_err());
    }
}
