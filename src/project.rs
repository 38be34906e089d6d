//! `semc.toml`: the project file at a workspace's root, found upward from the path given
//! (as cargo finds `Cargo.toml`), with named profiles: where relative Delta paths live, the
//! object-store options, the engine's defaults, and policy that may only tighten.
//!
//! ```toml
//! [profile.default]
//! root = "s3://bucket/lake"          # relative delta("…") paths resolve here
//! memory_limit = "2G"
//! partitions = 4
//! strict = true
//! [profile.default.storage]          # object-store options, as delta-rs names them
//! AWS_REGION = "eu-west-1"
//! ```
//!
//! One process runs under one profile: the command line activates it once ([`activate`]),
//! and the Delta layer reads it when it opens a table. Storage options are secrets: they are
//! never written to a plan, a bundle, `sem.lock`, a diagnostic or a log.

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

pub const FILE_NAME: &str = "semc.toml";

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ProjectFile {
    #[serde(default)]
    profile: BTreeMap<String, Profile>,
}

/// One named profile.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Relative Delta locations resolve under this folder or URI (itself relative to the
    /// folder of `semc.toml`); without it, under the workspace's folder as always.
    pub root: Option<String>,
    /// Object-store options, named as delta-rs names them (`AWS_REGION`, `AWS_ENDPOINT_URL`,
    /// `AZURE_STORAGE_ACCOUNT_NAME`, …).
    #[serde(default)]
    pub storage: HashMap<String, String>,
    /// The default `--memory-limit` (e.g. `2G`).
    pub memory_limit: Option<String>,
    /// Threads and partitions of the engine (default: the machine's cores).
    pub partitions: Option<usize>,
    /// Verify every source constraint before committing, whatever the workspace's policy.
    pub strict: Option<bool>,
}

/// The profile in force, with the file it came from.
#[derive(Debug, Clone, Default)]
pub struct Active {
    pub name: String,
    pub file: PathBuf,
    pub profile: Profile,
    /// `root`, resolved (a folder URL).
    pub root: Option<url::Url>,
}

static ACTIVE: RwLock<Option<Active>> = RwLock::new(None);

thread_local! {
    /// A profile in force on this thread only ([`with_profile`]), over the process's.
    static SCOPED: std::cell::RefCell<Option<Option<Active>>> = const { std::cell::RefCell::new(None) };
}

/// The profile in force on this thread ([`with_profile`]), else in this process, if any.
pub fn active() -> Option<Active> {
    if let Some(scoped) = SCOPED.with(|s| s.borrow().clone()) {
        return scoped;
    }
    ACTIVE.read().ok().and_then(|a| a.clone())
}

/// Runs `f` with `profile` in force on this thread only: the language server analyzes each
/// workspace folder, and reads its tables, with the folder's own profile, so two folders
/// with different profiles never see each other's.
pub fn with_profile<T>(profile: Option<Active>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Option<Active>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            SCOPED.with(|s| *s.borrow_mut() = previous);
        }
    }
    let _restore = Restore(SCOPED.with(|s| s.replace(Some(profile))));
    f()
}

/// Puts `profile` in force for this process.
pub fn activate(profile: Option<Active>) {
    if let Ok(mut a) = ACTIVE.write() {
        *a = profile;
    }
}

/// The `semc.toml` of the workspace at `path`: in its folder or the nearest above.
pub fn find(path: &Path) -> Option<PathBuf> {
    let start = std::path::absolute(path).ok()?;
    let mut dir = if start.is_dir() {
        Some(start.as_path())
    } else {
        start.parent()
    };
    while let Some(d) = dir {
        let f = d.join(FILE_NAME);
        if f.is_file() {
            return Some(f);
        }
        dir = d.parent();
    }
    None
}

/// Reads the project file of the workspace at `path` and selects a profile: `wanted` (the
/// `--profile` flag or `SEMC_PROFILE`), else `default` when the file has it. No file and no
/// profile asked for: none. The error names the file and what is wrong.
pub fn load(path: &Path, wanted: Option<&str>) -> Result<Option<Active>, String> {
    let Some(file) = find(path) else {
        return match wanted {
            Some(w) => Err(format!(
                "profile `{w}` was asked for, but there is no {FILE_NAME} in `{}` or above",
                path.display()
            )),
            None => Ok(None),
        };
    };
    let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let parsed: ProjectFile = toml::from_str(&text).map_err(|e| format!("{}: {}", file.display(), e.message()))?;
    let name = match wanted {
        Some(w) => w.to_string(),
        None if parsed.profile.contains_key("default") => "default".into(),
        None => return Ok(None),
    };
    let Some(profile) = parsed.profile.get(&name).cloned() else {
        let names: Vec<&str> = parsed.profile.keys().map(String::as_str).collect();
        return Err(format!(
            "{}: no profile `{name}` (profiles: {})",
            file.display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ));
    };
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let root = match &profile.root {
        None => None,
        Some(r) => Some(
            crate::delta::resolve_location(&dir, r)
                .map(|u| crate::delta::as_folder(&u))
                .map_err(|e| format!("{}: profile `{name}`: root: {}", file.display(), e.message()))?,
        ),
    };
    if let Some(m) = &profile.memory_limit
        && parse_size(m).is_none()
    {
        return Err(format!(
            "{}: profile `{name}`: memory_limit `{m}` is not a size (write e.g. 256M or 2G)",
            file.display()
        ));
    }
    Ok(Some(Active {
        name,
        file,
        profile,
        root,
    }))
}

/// The object-store options the active profile sets, as written (delta-rs reads names such
/// as `AWS_ENDPOINT_URL`, `AWS_REGION`, `AZURE_STORAGE_ACCOUNT_NAME`, `GOOGLE_SERVICE_ACCOUNT`).
pub fn storage_options() -> HashMap<String, String> {
    active().map(|a| a.profile.storage).unwrap_or_default()
}

/// Parses a size: `256MiB`, `1.5G`, `512K` (K, M, G are decimal; Ki, Mi, Gi binary) or a
/// plain byte count.
pub fn parse_size(s: &str) -> Option<usize> {
    let size: bytesize::ByteSize = s.trim().parse().ok()?;
    usize::try_from(size.as_u64()).ok().filter(|n| *n > 0)
}

/// `semc init`: a starter workspace, every file commented.
pub const STARTER: &[(&str, &str)] = &[
    (
        FILE_NAME,
        r#"# semc.toml: this workspace's profiles. semc finds this file in the folder of the path
# it is given, or above. Pick a profile with `--profile NAME` or SEMC_PROFILE=NAME;
# without either, `default` is used when it exists.

[profile.default]
# Relative delta("…") paths resolve under `root` (default: this folder). A URI works too:
# root = "s3://my-bucket/lake"
# memory_limit = "2G"        # the default --memory-limit
# partitions = 4             # engine threads (default: the machine's cores)

# [profile.default.storage]  # object-store options; keep secrets in environment variables
# AWS_REGION = "eu-west-1"

# [profile.prod]
# root = "s3://prod-bucket/lake"
# strict = true              # verify every declared source constraint before committing
"#,
    ),
    (
        "sources.sem",
        r#"# Sources: Delta tables with their columns, keys and joins. `semc init` wrote two small
# tables under data/ (TPC-H's nations and regions) so this workspace runs as it is.

## The world's regions.
source region from delta("data/region") {
  r_regionkey: int64 key
  r_name:      string not null
  r_comment:   string
}

## Nations, each in one region.
source nation from delta("data/nation") {
  n_nationkey: int64 key
  n_name:      string not null
  n_regionkey: int64 not null
  n_comment:   string

  # each nation has one region: `region.r_name` reads it
  join region many_to_one on n_regionkey = region.r_regionkey
  measure nations = count()
}
"#,
    ),
    (
        "models.sem",
        r#"# Models derive rows from sources; outputs write them to Delta tables.
# `semc check .` checks, `semc show . --model nations_per_region` previews,
# `semc run .` writes the outputs.
import "sources.sem"

## How many nations each region has.
model nations_per_region from nation {
  group by region = region.r_name
  aggregate { nations }
  sort region
}

output nations_per_region to delta("out/nations_per_region") mode overwrite
"#,
    ),
];

/// Where a location written in a `.sem` file is: under the active profile's root when it
/// is relative and the profile has one, else as [`crate::delta::resolve_location`] says.
pub fn resolve(workspace_root: &Path, location: &str) -> Result<url::Url, crate::delta::TableError> {
    let relative = !location.contains("://") && !Path::new(location).is_absolute() && !location.is_empty();
    match active().and_then(|a| a.root) {
        Some(root) if relative => root
            .join(location)
            .map_err(|e| crate::delta::TableError::BadLocation(format!("`{location}` under `{root}`: {e}"))),
        _ => crate::delta::resolve_location(workspace_root, location),
    }
}
