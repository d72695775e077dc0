//! Ctrl-C and SIGTERM: noticed once per process, so every wait can stop early.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// Set when Ctrl-C (SIGINT) or SIGTERM arrived.
pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Sets [`INTERRUPTED`] on Ctrl-C; installed once per process, so commands that run
/// others (`ci` runs the demo, then chaos) may each ask for it.
pub(crate) fn watch_interrupts() -> Result<()> {
    static INSTALLED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    INSTALLED
        .get_or_init(|| ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst)).map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| anyhow::anyhow!("installing the Ctrl-C handler: {e}"))
}

/// Fails when Ctrl-C (SIGINT) or SIGTERM arrived.
pub(crate) fn interrupted() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    Ok(())
}

/// Sleeps, waking early to fail when interrupted.
pub(crate) fn pause(d: Duration) -> Result<()> {
    let until = Instant::now() + d;
    while Instant::now() < until {
        interrupted()?;
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
    }
    interrupted()
}
