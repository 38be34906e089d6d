//! semc's cache: what one run keeps for the next — the facts it proved (`proofs.json`), each
//! output's memory peak (`memory.json`). It lives in `$SEMC_CACHE_DIR` (else
//! `$XDG_CACHE_HOME/semc`, else `~/.cache/semc`); `SEMC_CACHE_DIR=off` keeps nothing. A
//! cache that cannot be read or written is only a slower run.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// The file `name` of the cache, if there is a cache.
pub fn file(name: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os("SEMC_CACHE_DIR") {
        Some(d) if d == "off" => None,
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => std::env::var_os("XDG_CACHE_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|d| d.join("semc")),
    };
    dir.map(|d| d.join(name))
}

/// What `file` holds; empty if it cannot be read as a `T`.
pub fn read<T: DeserializeOwned + Default>(file: &Path) -> T {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Writes `value` to `file` whole, through a temporary file renamed over it, so a reader
/// never sees half of it. A failure is logged (`-vv`), not returned.
pub fn write<T: Serialize>(file: &Path, value: &T) {
    let written = file.parent().map(std::fs::create_dir_all).transpose().and_then(|_| {
        let tmp = file.with_extension(format!("{}.tmp", std::process::id()));
        std::fs::write(&tmp, serde_json::to_string(value).unwrap_or_default())?;
        std::fs::rename(&tmp, file)
    });
    if let Err(e) = written {
        tracing::debug!("not kept in {}: {e}", file.display());
    }
}
