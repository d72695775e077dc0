//! A run's stage: hub-sim and hubs on the demo's configuration, each hub with its own
//! directory, port, environment and log, started, waited for, killed and restarted.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::build::Binaries;
use super::config::{hub_config, template};
use super::http::Client;
use super::interrupt::{interrupted, pause};
use super::procs::{Procs, free_port};

/// What a hub is to be: its name, dialect, directory and environment.
#[derive(Debug, Clone)]
pub(crate) struct HubSpec<'a> {
    /// The process name (`hub-generic`, `hub-a` …).
    pub(crate) name: &'a str,
    /// `generic`, `zendesk` or `jira`.
    pub(crate) dialect: &'static str,
    /// Where its `hub.toml` and logs go (made when missing).
    pub(crate) dir: PathBuf,
    /// Its environment: the secrets the configuration references and `HUB__…`
    /// overrides (the listen address is added).
    pub(crate) env: Vec<(String, String)>,
    /// Text replaced in the configuration, `(from, to)`.
    pub(crate) edits: &'a [(&'a str, &'a str)],
}

/// One hub process: enough to start it again on the same port, configuration and store.
#[derive(Debug, Clone)]
pub(crate) struct HubProc {
    /// The process name.
    pub(crate) name: String,
    /// `generic`, `zendesk` or `jira`.
    pub(crate) dialect: &'static str,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    /// Its configuration file.
    pub(crate) config: PathBuf,
    /// Its log of the latest start.
    pub(crate) log: PathBuf,
    env: Vec<(String, String)>,
    dir: PathBuf,
    starts: u32,
}

/// hub-sim, the hubs and any other process of one run, in one run directory; dropping it
/// stops them all.
pub(crate) struct Harness {
    procs: Procs,
    /// A client for loopback calls.
    pub(crate) http: Client,
    /// The run directory: `sim.log` and whatever the run writes.
    pub(crate) dir: PathBuf,
    bins: Binaries,
    template: String,
    sim: Option<String>,
    ports: Vec<u16>,
}

impl Harness {
    /// A harness for `bins` in `dir` (made when missing); nothing started yet.
    pub(crate) fn new(bins: &Binaries, dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self {
            procs: Procs::default(),
            http: Client::new(),
            dir: dir.to_owned(),
            bins: bins.clone(),
            template: template()?,
            sim: None,
            ports: Vec::new(),
        })
    }

    /// Starts hub-sim on a free port with `extra` arguments, its output in `sim.log`;
    /// its URL.
    pub(crate) fn start_sim(&mut self, extra: &[&OsStr]) -> Result<String> {
        let url = self.procs.start_sim(&self.bins.sim, &self.dir.join("sim.log"), extra)?;
        if let Some(port) = url.rsplit(':').next().and_then(|p| p.parse().ok()) {
            self.ports.push(port);
        }
        self.sim = Some(url.clone());
        Ok(url)
    }

    /// A free loopback port no process of this run was given.
    pub(crate) fn free_port(&mut self) -> Result<u16> {
        let port = free_port(&self.ports)?;
        self.ports.push(port);
        Ok(port)
    }

    /// Writes the hub's configuration (the template pointed at the sim, in its dialect)
    /// into its directory and starts it on a free port; it is not ready yet.
    pub(crate) fn start_hub(&mut self, spec: HubSpec<'_>) -> Result<HubProc> {
        let sim = self.sim.as_deref().context("hub-sim is not started")?;
        std::fs::create_dir_all(&spec.dir).with_context(|| format!("creating {}", spec.dir.display()))?;
        let mut text = hub_config(&self.template, spec.dialect, sim)?;
        for (from, to) in spec.edits {
            text = text.replace(from, to);
        }
        let config = spec.dir.join("hub.toml");
        std::fs::write(&config, text).with_context(|| format!("writing {}", config.display()))?;
        let port = self.free_port()?;
        let mut env = spec.env;
        env.push(("HUB__SERVER__LISTEN".to_owned(), format!("127.0.0.1:{port}")));
        let mut hub = HubProc {
            name: spec.name.to_owned(),
            dialect: spec.dialect,
            url: format!("http://127.0.0.1:{port}"),
            config,
            log: PathBuf::new(),
            env,
            dir: spec.dir,
            starts: 0,
        };
        self.restart(&mut hub)?;
        Ok(hub)
    }

    /// Starts a hub (again, once killed): the same port, configuration and store; the
    /// log of its `n`th start is `hub.<n>.log` (the first `hub.log`).
    pub(crate) fn restart(&mut self, hub: &mut HubProc) -> Result<()> {
        hub.starts += 1;
        hub.log = if hub.starts == 1 {
            hub.dir.join("hub.log")
        } else {
            hub.dir.join(format!("hub.{}.log", hub.starts))
        };
        self.procs
            .start_hub(&hub.name, &self.bins.hub, &hub.config, &hub.env, &hub.log)
    }

    /// kill -9: the hub gets no chance to finish anything.
    pub(crate) fn kill9(&mut self, hub: &HubProc) -> Result<()> {
        self.procs.kill9(&hub.name)
    }

    /// The hub's process id.
    pub(crate) fn pid(&self, hub: &HubProc) -> Result<u32> {
        self.procs.pid(&hub.name)
    }

    /// Starts any command, its output into `log`, to be stopped with the others.
    pub(crate) fn start_other(&mut self, name: &str, cmd: Command, log: &Path) -> Result<()> {
        self.procs.start_other(name, cmd, log)
    }

    /// Fails, naming the process and its log, when one has exited.
    pub(crate) fn check_alive(&mut self) -> Result<()> {
        self.procs.check_alive()
    }

    /// `(name, log file)` of each process.
    pub(crate) fn logs(&self) -> Vec<(String, PathBuf)> {
        self.procs.logs()
    }

    /// Stops every process: SIGTERM to all, then up to 5 s for each, then SIGKILL.
    pub(crate) fn stop_all(&mut self) {
        self.procs.stop_all();
    }

    /// Polls every hub's `/readyz` until it answers 200, printing progress; 60 s at most.
    pub(crate) fn wait_ready(&mut self, hubs: &[&HubProc]) -> Result<()> {
        println!("waiting for every hub's /readyz …");
        let started = Instant::now();
        let deadline = started + Duration::from_secs(60);
        let mut last_note = started;
        let mut pending: Vec<&HubProc> = hubs.to_vec();
        let names = |hubs: &[&HubProc]| hubs.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", ");
        while !pending.is_empty() {
            interrupted()?;
            self.procs.check_alive()?;
            let mut still = Vec::new();
            for hub in pending {
                match self.http.get(&format!("{}/readyz", hub.url), None) {
                    Ok(r) if r.status == 200 => {
                        let json = r.json();
                        println!(
                            "  ✓ {:<12} ready after {:.1} s  stores {}  adapters {}",
                            hub.name,
                            started.elapsed().as_secs_f64(),
                            json["stores"],
                            json["adapters"]
                        );
                    }
                    _ => still.push(hub),
                }
            }
            pending = still;
            if pending.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                bail!("not ready within 60 s: {}", names(&pending));
            }
            if last_note.elapsed() >= Duration::from_secs(2) {
                last_note = Instant::now();
                println!(
                    "  … still waiting ({:.0} s): {}",
                    started.elapsed().as_secs_f64(),
                    names(&pending)
                );
            }
            pause(Duration::from_millis(100))?;
        }
        Ok(())
    }

    /// Polls `url` until it answers 200, while every process stays up; 20 s at most.
    pub(crate) fn wait_200(&mut self, url: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            interrupted()?;
            self.procs.check_alive()?;
            if let Ok(r) = self.http.get(url, None)
                && r.status == 200
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{url} did not answer 200 within 20 s");
            }
            pause(Duration::from_millis(100))?;
        }
    }
}
