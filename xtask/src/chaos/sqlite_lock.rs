//! Another process holding the write lock of a hub's SQLite file: the `sqlite3` shell
//! inside `BEGIN EXCLUSIVE`, until it is let go.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The shell, holding the lock; dropping it lets go.
pub(crate) struct SqliteLock {
    child: Child,
    stdin: Option<ChildStdin>,
    /// When the lock was taken.
    pub(crate) since: Instant,
}

impl SqliteLock {
    /// Starts `sqlite3 <file>` and takes the exclusive write lock (waiting for the hub's
    /// own writers at most 10 s); returns once it is held.
    pub(crate) fn take(file: &Path) -> Result<Self> {
        let mut child = Command::new("sqlite3")
            .arg(file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting sqlite3 (Debian's `sqlite3` package) to lock the hub's database")?;
        let mut stdin = child.stdin.take().context("sqlite3's stdin")?;
        let stdout = child.stdout.take().context("sqlite3's stdout")?;
        stdin.write_all(b".timeout 10000\nBEGIN EXCLUSIVE;\nSELECT 'locked';\n")?;
        stdin.flush()?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        if line.trim() != "locked" {
            let _ = child.kill();
            let _ = child.wait();
            bail!("sqlite3 could not lock {}: {line:?}", file.display());
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
            stdin.write_all(b"COMMIT;\n.quit\n")?;
        }
        let status = self.child.wait()?;
        if !status.success() {
            bail!("sqlite3 ended with {status}");
        }
        Ok(())
    }
}

impl Drop for SqliteLock {
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
    fn another_writer_waits_until_the_lock_is_let_go() {
        let dir = std::env::temp_dir().join(format!("xtask-sqlite-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("db.sqlite3");
        let sql = |s: &str| Command::new("sqlite3").arg(&file).arg(s).output().unwrap();
        assert!(sql("PRAGMA journal_mode=WAL; CREATE TABLE t (x)").status.success());

        let lock = SqliteLock::take(&file).unwrap();
        let blocked = sql("INSERT INTO t VALUES (1)");
        assert!(!blocked.status.success(), "a second writer got through the lock");
        assert!(String::from_utf8_lossy(&blocked.stderr).contains("locked"));
        lock.release().unwrap();
        assert!(sql("INSERT INTO t VALUES (2)").status.success());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
