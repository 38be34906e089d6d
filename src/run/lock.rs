//! `sem.lock`: the snapshot each source was read at.

use super::*;
use crate::delta::{self};
use std::path::Path;

/// `sem.lock`: the snapshot each source was read at by the last `semc run`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Lock {
    pub format: u32,
    pub sources: Vec<LockedSource>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct LockedSource {
    pub name: String,
    pub uri: String,
    pub table_id: String,
    pub version: i64,
}

/// Where the lock of the workspace at `path` lives: beside the entry file, or in the folder.
pub fn lock_path(path: &Path) -> std::path::PathBuf {
    if path.is_dir() {
        path.join("sem.lock")
    } else {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join("sem.lock")
    }
}

impl Lock {
    pub fn read(path: &Path) -> Result<Lock, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("`{}` is not a semc lock file: {e}", path.display()))
    }

    /// The lock of a checked compilation: every source, the version it was read at.
    pub fn of(c: &Compilation) -> Lock {
        let sources = match &c.program {
            Some(p) => p
                .sources
                .iter()
                .map(|s| LockedSource {
                    name: s.name.clone(),
                    uri: s.url.to_string(),
                    table_id: c
                        .tables
                        .iter()
                        .find(|(n, _)| *n == delta::pinned_name(&s.url, s.version))
                        .and_then(|(_, t)| t.snapshot().ok().map(|sn| sn.metadata().id().to_string()))
                        .unwrap_or_default(),
                    version: s.version,
                })
                .collect(),
            None => vec![],
        };
        Lock { format: 1, sources }
    }

    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())? + "\n";
        let tmp = path.with_extension(format!("lock.{}.tmp", std::process::id()));
        std::fs::write(&tmp, text).map_err(|e| format!("cannot write `{}`: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("cannot write `{}`: {e}", path.display()))
    }
}
