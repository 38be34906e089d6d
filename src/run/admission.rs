//! Which outputs a run computes together. Each output runs on its own view of the session's
//! memory pool, which measures the most the output held of it; the peak is kept in the
//! cache (`memory.json`, beside the proofs), keyed by the output's location. Under a memory
//! limit the next run admits outputs together while the sum of their last peaks, each with
//! an allowance for what the pool does not count, stays within the heaviest one's: computing
//! outputs together never needs more memory than the run's heaviest output alone. An output
//! never measured (a first run, a new output, `SEMC_CACHE_DIR=off`) or computed on a cluster
//! (whose memory is not this process's) runs alone. A cache that cannot be read or written
//! is only a slower run.

use datafusion::common::Result;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Semaphore, SemaphorePermit};

/// A view of the session's pool for one output: every reservation goes to `inner` (its
/// limit, its spilling, its error naming the largest consumers), and the view keeps the
/// output's own peak.
#[derive(Debug)]
pub struct MeasuredPool {
    inner: Arc<dyn MemoryPool>,
    held: AtomicUsize,
    peak: AtomicUsize,
}

impl MeasuredPool {
    pub fn new(inner: Arc<dyn MemoryPool>) -> MeasuredPool {
        MeasuredPool {
            inner,
            held: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// The most this output's operators held of the pool at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    fn add(&self, bytes: usize) {
        let held = self.held.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(held, Ordering::Relaxed);
    }
}

impl std::fmt::Display for MeasuredPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.inner, f)
    }
}

impl MemoryPool for MeasuredPool {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.inner.register(consumer)
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.inner.unregister(consumer)
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.inner.grow(reservation, additional);
        self.add(additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink);
        // (saturating: never below nothing, whatever order two threads' updates land in)
        let _ = self
            .held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |h| Some(h.saturating_sub(shrink)));
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        self.inner.try_grow(reservation, additional)?;
        self.add(additional);
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.inner.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        self.inner.memory_limit()
    }
}

/// What an output holds besides what its operators reserve from the pool — the batches in
/// flight between them, the buffers of the files it decodes and writes, what the allocator
/// keeps — which its weight adds to its measured peak: half the peak again, and 32 MiB. On
/// the 22 TPC-H outputs at SF 10, each computed alone (`benches/race.py --memory-per-output`
/// prints both figures), peak RSS less the process's own (127
/// MiB, with nothing reserved) exceeded the pool's peak by at most 110 MiB where the pool
/// held under 300 MiB, and by up to 45 % of it where it held more (Q18: 874 MiB of pool,
/// 1,252 MiB of RSS; Q9: 651, 943; Q21: 448, 433).
fn weight(peak: u64) -> u64 {
    peak + peak / 2 + (32 << 20)
}

/// The peak each output reached on its last run, by location.
#[derive(Debug, Default)]
pub struct Peaks {
    file: Option<PathBuf>,
    last: BTreeMap<String, u64>,
}

impl Peaks {
    /// The peaks kept by earlier runs (none when the cache is off or unreadable).
    pub fn load() -> Peaks {
        let file = super::cache::file("memory.json");
        let last = file.as_deref().map(super::cache::read).unwrap_or_default();
        Peaks { file, last }
    }

    /// Keeps this run's peaks (by output location) with the earlier ones.
    pub fn save(&self, measured: impl IntoIterator<Item = (String, u64)>) {
        let Some(file) = &self.file else { return };
        let measured: Vec<_> = measured.into_iter().collect();
        if measured.is_empty() {
            return;
        }
        // merged with what the file holds now (another run may have added some)
        let mut all: BTreeMap<String, u64> = super::cache::read(file);
        all.extend(measured);
        super::cache::write(file, &all);
    }

    /// What admitting the output at `location` costs: its last peak and what the pool does
    /// not count; `None` if it was never measured.
    fn weight(&self, location: &str) -> Option<u64> {
        self.last.get(location).copied().map(weight)
    }
}

/// The outputs' admission to a run under a memory limit: a budget of the heaviest output's
/// weight, from which each output takes its own weight while it runs (an output never
/// measured takes all of it). The semaphore is fair: outputs start in the run's order.
pub struct Admission {
    budget: u32,
    /// What each output takes, by location, in MiB.
    takes: BTreeMap<String, u32>,
    /// The outputs measured heaviest, by location.
    heaviest: BTreeSet<String>,
    permits: Semaphore,
    /// The outputs running, by name.
    running: Mutex<BTreeSet<String>>,
}

/// An output's place in the run, held while it runs.
pub struct Admitted<'a> {
    output: String,
    running: &'a Mutex<BTreeSet<String>>,
    _permit: Option<SemaphorePermit<'a>>,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.output);
    }
}

impl Admission {
    /// The admission of the outputs at `locations`, by their last peaks.
    pub fn new<'a>(peaks: &Peaks, locations: impl IntoIterator<Item = &'a str>) -> Admission {
        let mib = |bytes: u64| u32::try_from(bytes.div_ceil(1 << 20)).unwrap_or(u32::MAX).max(1);
        let weights: Vec<(String, Option<u32>)> = locations
            .into_iter()
            .map(|l| (l.to_string(), peaks.weight(l).map(mib)))
            .collect();
        let budget = weights
            .iter()
            .filter_map(|(_, w)| *w)
            .max()
            .unwrap_or(1)
            .min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        let heaviest = weights
            .iter()
            .filter(|(_, w)| *w == Some(budget))
            .map(|(l, _)| l.clone())
            .collect();
        let takes = weights
            .into_iter()
            .map(|(l, w)| (l, w.unwrap_or(budget).min(budget)))
            .collect();
        Admission {
            budget,
            takes,
            heaviest,
            permits: Semaphore::new(budget as usize),
            running: Mutex::new(BTreeSet::new()),
        }
    }

    /// Waits until `output` (written at `location`) may run beside those running.
    pub async fn enter(&self, output: &str, location: &str) -> Admitted<'_> {
        let takes = self.takes.get(location).copied().unwrap_or(self.budget);
        let admitted = self.admit(output, takes).await;
        if self.heaviest.contains(location) {
            // its peak, the run's, does not come on top of what earlier outputs freed
            release_freed_memory();
        }
        admitted
    }

    /// Waits until `output` may run alone (every other output done).
    pub async fn alone(&self, output: &str) -> Admitted<'_> {
        self.admit(output, self.budget).await
    }

    async fn admit(&self, output: &str, takes: u32) -> Admitted<'_> {
        let permit = self.permits.acquire_many(takes).await.ok();
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        // `-v` shows which outputs run together
        tracing::info!(output, mib = takes, of = self.budget, beside = ?*running, "admitted");
        running.insert(output.to_string());
        Admitted {
            output: output.to_string(),
            running: &self.running,
            _permit: permit,
        }
    }
}

/// Gives the memory earlier outputs freed back to the system. glibc keeps what a thread
/// frees in that thread's arena, in pieces between blocks still in use: after TPC-H's first
/// 17 outputs at SF 10 the process held 500 MiB it no longer used, and Q18's own peak came
/// on top of it. Only before the heaviest output: each output's pages given back are faulted
/// in again by the next (after every output, 1.2–1.7 s more system time at SF 10).
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of glibc's heaps to the system
    unsafe {
        libc::malloc_trim(0);
    }
}
