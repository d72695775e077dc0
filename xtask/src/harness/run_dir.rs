//! Fresh per-run directories under the target directory, keeping only the newest few.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::workspace_root;

/// The target directory: `CARGO_TARGET_DIR` (relative to the workspace when relative),
/// else `target/` in the workspace.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| workspace_root().join("target"), |t| workspace_root().join(t))
}

/// A new `<target>/<area>/<prefix><unix seconds>-<pid>`, after removing all but the
/// `keep` newest earlier ones with that prefix (so logs of recent runs stay to read).
pub(crate) fn fresh(area: &str, prefix: &str, keep: usize) -> Result<PathBuf> {
    let base = target_dir().join(area);
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let mut old: Vec<PathBuf> = std::fs::read_dir(&base)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    old.sort();
    for p in old.iter().take(old.len().saturating_sub(keep)) {
        let _ = std::fs::remove_dir_all(p);
    }
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let dir = base.join(format!("{prefix}{secs}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
