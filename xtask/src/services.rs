//! Makes sure PostgreSQL and Redis answer on loopback, starting them when they do not,
//! and that the tests have their tools: Chromium and chromedriver, promtool and sqlite3.
//!
//! A service that already answers is used as it is and never stopped or reset. One
//! that does not is installed from Debian's packages when missing and started; what
//! was done is said on the way.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::run;

const PG_ADDR: &str = "127.0.0.1:5432";
/// The test database as the client `psql` reaches it (`ensure` starts it).
pub(crate) const POSTGRES_URL: &str = "postgres://postgres:postgres@127.0.0.1:5432/test";
/// The same database for a hub: its configuration never holds a password, which goes in
/// `PGPASSWORD` (the test database's fixed one, so never a canary).
pub(crate) const HUB_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const REDIS_ADDR: &str = "127.0.0.1:6379";

/// The environment the tests read to find the services.
pub(crate) type TestEnv = Vec<(&'static str, String)>;

/// Ensures both services answer and returns the variables that point the tests at them.
pub(crate) fn ensure() -> Result<TestEnv> {
    let database_url = std::env::var("HUB_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/test".to_owned());
    let redis_url = std::env::var("HUB_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());

    if answers(PG_ADDR) {
        eprintln!("xtask: PostgreSQL answers on {PG_ADDR}; using it as it is");
    } else {
        start_postgres()?;
    }
    if answers(REDIS_ADDR) {
        eprintln!("xtask: Redis answers on {REDIS_ADDR}; using it as it is");
    } else {
        start_redis()?;
    }
    Ok(vec![
        ("HUB_TEST_DATABASE_URL", database_url),
        ("HUB_TEST_REDIS_URL", redis_url),
    ])
}

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Ensures headless Chromium and chromedriver are installed (Debian's `chromium` and
/// `chromium-driver`) for the supervisor's page's browser test; returns the variables
/// that point the test at them.
pub(crate) fn browser() -> Result<TestEnv> {
    if Path::new(CHROMIUM).is_file() && Path::new(CHROMEDRIVER).is_file() {
        eprintln!("xtask: {CHROMIUM} and {CHROMEDRIVER} are installed; using them");
    } else {
        apt_install(&["chromium", "chromium-driver"])?;
        for tool in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(tool).is_file() {
                bail!("{tool} is still missing after installing chromium and chromium-driver");
            }
        }
    }
    Ok(vec![
        ("HUB_CHROMIUM", CHROMIUM.to_owned()),
        ("HUB_CHROMEDRIVER", CHROMEDRIVER.to_owned()),
    ])
}

const PROMTOOL: &str = "/usr/bin/promtool";

/// Ensures `promtool` is installed (Debian's `prometheus`) for the tests that run
/// `promtool check metrics` over the hub's exposition; returns the variable that points
/// them at it.
pub(crate) fn promtool() -> Result<TestEnv> {
    installed(PROMTOOL, "prometheus")?;
    Ok(vec![("HUB_PROMTOOL", PROMTOOL.to_owned())])
}

/// The `sqlite3` shell, which the store-fault scenario locks a hub's database with.
pub(crate) const SQLITE3: &str = "/usr/bin/sqlite3";

/// Ensures the `sqlite3` shell is installed (Debian's `sqlite3`) at [`SQLITE3`].
pub(crate) fn sqlite3() -> Result<()> {
    installed(SQLITE3, "sqlite3")
}

/// Ensures `tool` is there, installing Debian's `package` when it is not.
fn installed(tool: &str, package: &str) -> Result<()> {
    if Path::new(tool).is_file() {
        eprintln!("xtask: {tool} is installed; using it");
    } else {
        apt_install(&[package])?;
        if !Path::new(tool).is_file() {
            bail!("{tool} is still missing after installing {package}");
        }
    }
    Ok(())
}

fn answers(addr: &str) -> bool {
    addr.parse::<SocketAddr>()
        .is_ok_and(|a| TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok())
}

fn wait_for(addr: &str, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if answers(addr) {
            eprintln!("xtask: {what} now answers on {addr}");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!("{what} did not start answering on {addr} within 60 s")
}

pub(crate) fn apt_install(packages: &[&str]) -> Result<()> {
    eprintln!("xtask: installing Debian packages {packages:?}");
    run("apt-get", &["update", "-q"], &[])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend_from_slice(packages);
    run("apt-get", &args, &[("DEBIAN_FRONTEND", "noninteractive")])
}

fn start_postgres() -> Result<()> {
    eprintln!("xtask: PostgreSQL does not answer on {PG_ADDR}; starting it");
    let installed_now = !Path::new("/etc/postgresql").exists();
    if installed_now {
        apt_install(&["postgresql"])?;
    }
    let version = std::fs::read_dir("/etc/postgresql")
        .context("reading /etc/postgresql")?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .max()
        .context("no PostgreSQL cluster under /etc/postgresql")?;
    run(
        "pg_ctlcluster",
        &["--skip-systemctl-redirect", &version, "main", "start"],
        &[],
    )?;
    wait_for(PG_ADDR, "PostgreSQL")?;
    if installed_now {
        // A cluster we just created: give it the database and password the tests use.
        eprintln!("xtask: creating database `test` and setting the postgres user's password for the tests");
        run(
            "su",
            &[
                "postgres",
                "-c",
                "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"",
            ],
            &[],
        )?;
        run("su", &["postgres", "-c", "createdb test"], &[])?;
    }
    Ok(())
}

fn start_redis() -> Result<()> {
    eprintln!("xtask: Redis does not answer on {REDIS_ADDR}; starting it");
    if which("redis-server").is_none() {
        apt_install(&["redis-server"])?;
    }
    run(
        "redis-server",
        &[
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        &[],
    )?;
    wait_for(REDIS_ADDR, "Redis")
}

pub(crate) fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_string_lossy()
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

/// Runs one SQL statement against the test database with `psql`.
pub(crate) fn psql(sql: &str) -> Result<()> {
    let out = std::process::Command::new("psql")
        .args([POSTGRES_URL, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .context("running psql (PostgreSQL's client; `cargo xtask services` installs it)")?;
    if !out.status.success() {
        bail!("psql -c {sql:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}
