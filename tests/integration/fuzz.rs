//! Replays `tests/cases/fuzz/`: inputs `cargo fuzz` found (crashes kept as regressions and
//! a minimized corpus), through the front end as the fuzz targets drive it. CI runs this
//! instead of a fuzzing pass.

use std::path::Path;

#[test]
fn fuzz_corpus_replays_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/fuzz");
    let mut n = 0;
    let mut failures = vec![];
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
    {
        let bytes = std::fs::read(path).unwrap();
        n += 1;
        let result = std::panic::catch_unwind(|| semc::run::check_bytes("fuzz.sem", &bytes));
        match result {
            Ok(Ok((ws, diags))) => {
                if let Err(e) = semc::diag::well_formed(&ws.map, &diags) {
                    failures.push(format!("{}: {e}", path.display()));
                }
            }
            Ok(Err(_)) => failures.push(format!("{}: internal failure", path.display())),
            Err(_) => failures.push(format!("{}: panicked", path.display())),
        }
    }
    assert!(n >= 10, "the replay corpus has {n} inputs");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
