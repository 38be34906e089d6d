//! The extractors' threads: work over a list of files, a fixed number of threads at once,
//! each with its own state (a parser), the results in the files' order.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A worker's stack: a syntax tree is walked recursively (to a bounded depth, deeper in a
/// debug build's frames than the default 2 MiB hold). Reserved, not committed, memory.
const STACK: usize = 64 << 20;

/// `work(state, i)` for each `i` in `0..n`, `jobs` threads at once, each thread's `state`
/// made by `init` (an error of it stops the whole); the results in the order of `i`.
pub fn map<S, T: Send>(
    n: usize,
    jobs: usize,
    init: &(dyn Fn() -> Result<S, String> + Sync),
    work: &(dyn Fn(&mut S, usize) -> T + Sync),
) -> Result<Vec<T>, String> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    let failure: Mutex<Option<String>> = Mutex::new(None);
    let fail = |e: String| *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, n.max(1)) {
            let spawned = std::thread::Builder::new().stack_size(STACK).spawn_scoped(s, || {
                let mut state = match init() {
                    Ok(state) => state,
                    Err(e) => return fail(e),
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let made = work(&mut state, i);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(made);
                }
            });
            if let Err(e) = spawned {
                fail(format!("a thread cannot be started: {e}"));
            }
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.ok_or_else(|| "a file was not extracted".to_string()))
        .collect()
}
