//! Another process holding a lock on a hub's database: a database shell (`sqlite3` or
//! `psql`) inside a transaction that took the lock, until it is let go.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The shell, holding the lock; dropping it lets go.
pub(crate) struct HeldLock {
    child: Child,
    stdin: Option<ChildStdin>,
    /// When the lock was taken.
    pub(crate) since: Instant,
}

impl HeldLock {
    /// `sqlite3 <file>` inside `BEGIN EXCLUSIVE`: no other process can write the file
    /// (waits for the hub's own writers at most 10 s).
    pub(crate) fn sqlite(file: &Path) -> Result<Self> {
        let mut cmd = Command::new(crate::services::SQLITE3);
        cmd.arg(file);
        Self::take(cmd, ".timeout 10000\nBEGIN EXCLUSIVE;\n", &file.display().to_string())
    }

    /// `psql` inside a transaction holding `ACCESS EXCLUSIVE` on `tables` of `schema`
    /// (of the test database): every statement on them waits until it is let go.
    pub(crate) fn postgres(schema: &str, tables: &[&str]) -> Result<Self> {
        let mut cmd = Command::new("psql");
        cmd.args([crate::services::POSTGRES_URL, "-q", "-A", "-t"]);
        let list: Vec<String> = tables.iter().map(|t| format!("{schema}.{t}")).collect();
        let sql = format!(
            "\\set ON_ERROR_STOP on\nBEGIN;\nLOCK TABLE {} IN ACCESS EXCLUSIVE MODE;\n",
            list.join(", ")
        );
        Self::take(cmd, &sql, &list.join(", "))
    }

    /// Starts the shell, sends `begin` and returns once the shell has answered past it.
    fn take(mut cmd: Command, begin: &str, what: &str) -> Result<Self> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {:?} to lock {what}", cmd.get_program()))?;
        let mut stdin = child.stdin.take().context("the shell's stdin")?;
        let stdout = child.stdout.take().context("the shell's stdout")?;
        stdin.write_all(format!("{begin}SELECT 'locked';\n").as_bytes())?;
        stdin.flush()?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        if line.trim() != "locked" {
            let _ = child.kill();
            let _ = child.wait();
            bail!("could not lock {what}: {line:?}");
        }
        Ok(Self {
            child,
            stdin: Some(stdin),
            since: Instant::now(),
        })
    }

    /// Commits (nothing was written) and waits for the shell to end; how long the lock was held.
    pub(crate) fn release(mut self) -> Result<Duration> {
        let held = self.since.elapsed();
        self.end()?;
        Ok(held)
    }

    fn end(&mut self) -> Result<()> {
        if let Some(mut stdin) = self.stdin.take() {
            stdin.write_all(b"COMMIT;\n")?;
        }
        let status = self.child.wait()?;
        if !status.success() {
            bail!("the shell holding the lock ended with {status}");
        }
        Ok(())
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        if self.stdin.is_some() && self.end().is_err() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_sqlite_writer_fails_until_the_lock_is_let_go() {
        let dir = std::env::temp_dir().join(format!("xtask-held-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("db.sqlite3");
        // `cargo xtask test` installs it first (`services::sqlite3`).
        let sql = |s: &str| {
            Command::new(crate::services::SQLITE3)
                .arg(&file)
                .arg(s)
                .output()
                .unwrap()
        };
        assert!(sql("PRAGMA journal_mode=WAL; CREATE TABLE t (x)").status.success());

        let lock = HeldLock::sqlite(&file).unwrap();
        let blocked = sql("INSERT INTO t VALUES (1)");
        assert!(!blocked.status.success(), "a second writer got through the lock");
        assert!(String::from_utf8_lossy(&blocked.stderr).contains("locked"));
        lock.release().unwrap();
        assert!(sql("INSERT INTO t VALUES (2)").status.success());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
