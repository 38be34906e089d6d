//! Proofs kept across runs. A fact verified on Delta snapshots — a key unique, no orphan
//! foreign key, a source constraint held — holds for as long as those snapshots exist: a
//! Delta version never changes. A run re-verifies only what its snapshots have not already
//! proven; a new version of a table, another table at the same place (another table id) or
//! other data files (another file list) is another snapshot, proven anew. Only facts that
//! held are kept: a violation is always found by a probe, and reported with its rows.
//!
//! The proofs live in semc's cache ([`super::cache`]), in `proofs.json`.

use super::execute::Locations;
use super::spec::SourceSpec;
use super::{Failure, Session};
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Mutex;

pub struct Proofs {
    file: Option<PathBuf>,
    known: BTreeSet<String>,
    proven: Mutex<BTreeSet<String>>,
    reused: Mutex<usize>,
    /// Each source's snapshot identity, by source name, once computed.
    snapshots: Mutex<HashMap<String, String>>,
}

impl Proofs {
    /// The proofs recorded so far (none when the cache is off or unreadable).
    pub fn load() -> Proofs {
        let file = super::cache::file("proofs.json");
        let known = file.as_deref().map(super::cache::read).unwrap_or_default();
        Proofs {
            file,
            known,
            proven: Mutex::new(BTreeSet::new()),
            reused: Mutex::new(0),
            snapshots: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `fact` was proven by an earlier run (counted as reused if so).
    pub fn holds(&self, fact: &str) -> bool {
        let held = self.known.contains(fact);
        if held {
            *self.reused.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        }
        held
    }

    /// `fact` was proven by this run.
    pub fn record(&self, fact: String) {
        self.proven.lock().unwrap_or_else(|e| e.into_inner()).insert(fact);
    }

    /// Keeps this run's proofs with the earlier ones; logs how many were reused.
    pub fn save(&self) {
        let proven = std::mem::take(&mut *self.proven.lock().unwrap_or_else(|e| e.into_inner()));
        let reused = *self.reused.lock().unwrap_or_else(|e| e.into_inner());
        // `-v` shows it: facts reused (proven before on the same snapshots), facts proven now
        tracing::info!(reused, proven = proven.len(), "proofs");
        let Some(file) = &self.file else { return };
        if proven.is_empty() {
            return;
        }
        // merged with what the file holds now (another run may have added some)
        let mut all: BTreeSet<String> = super::cache::read(file);
        all.extend(proven);
        super::cache::write(file, &all);
    }

    /// The identity of a source's snapshot: its location, version, table id and data files.
    /// Empty when there is none to go by (the cache is off, or the table cannot be read
    /// here): such a snapshot's facts are neither reused nor kept.
    pub async fn snapshot(&self, session: &Session, locations: &Locations, s: &SourceSpec) -> Result<String, Failure> {
        if self.file.is_none() {
            return Ok(String::new());
        }
        if let Some(id) = self.snapshots.lock().unwrap_or_else(|e| e.into_inner()).get(&s.name) {
            return Ok(id.clone());
        }
        let url = locations.url(&s.uri)?;
        let id = match session.snapshot(&url, s.version).await {
            Ok(table) => {
                let mut files: Vec<String> = table.get_file_uris().map(|f| f.collect()).unwrap_or_default();
                files.sort();
                let mut h = std::collections::hash_map::DefaultHasher::new();
                files.hash(&mut h);
                let table_id = table
                    .snapshot()
                    .map(|sn| sn.metadata().id().to_string())
                    .unwrap_or_default();
                // proofs of another semc (its functions, its probes) are not taken on trust
                format!(
                    "semc {} {url}@v{}#{table_id}#{}:{:016x}",
                    env!("CARGO_PKG_VERSION"),
                    s.version,
                    files.len(),
                    h.finish()
                )
            }
            // unreadable here: no identity, so nothing is reused or kept for it
            Err(_) => String::new(),
        };
        self.snapshots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(s.name.clone(), id.clone());
        Ok(id)
    }

    /// Runs `probe` unless `fact` about `snapshots` was proven before; keeps it if it holds
    /// now. `probe` returns what it found wrong (nothing: the fact holds).
    pub async fn check<T>(
        &self,
        snapshots: &[&str],
        fact: String,
        probe: impl std::future::Future<Output = Result<Option<T>, Failure>>,
    ) -> Result<Option<T>, Failure> {
        let known = !snapshots.iter().any(|s| s.is_empty());
        let fact = format!("{} {fact}", snapshots.join(" & "));
        if known && self.holds(&fact) {
            return Ok(None);
        }
        let found = probe.await?;
        if found.is_none() && known {
            self.record(fact);
        }
        Ok(found)
    }
}
