//! The `semc` binary: exit codes and output formats.

use crate::fixtures::{self, append_own_rows, first_int64s, fresh_dir, read_table, semc, semc_with};
use std::process::Command;

#[test]
fn check_reports_json_and_exit_code_1() {
    let dir = fixtures::root().join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.sem");
    std::fs::write(&f, "model m from nowhere {\n  where x > 1\n}\n").unwrap();
    let (code, out, _) = semc(&["check", f.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["code"], "E0103");
    assert_eq!(first["line"], 1);
    assert_eq!(first["column"], 14);
    assert_eq!(first["severity"], "error");
    assert!(first["help"].is_string());
    assert_eq!(first["labels"][0]["length"], 7);
}

#[test]
fn check_plan_and_codes_succeed_on_a_good_workspace() {
    let dir = fixtures::root().join("cli_ok");
    std::fs::create_dir_all(&dir).unwrap();
    let tpch = dir.join("tpch");
    if !tpch.exists() {
        std::os::unix::fs::symlink(fixtures::root().join("tpch"), &tpch).unwrap();
    }
    std::fs::write(dir.join("w.sem"), "source region from delta(\"tpch/region\") { r_regionkey: int64 key }\nmodel m from region { }\noutput m to delta(\"out/m\") mode overwrite\n").unwrap();
    let (code, _, err) = semc(&["check", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = semc(&["plan", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["relations"].as_array().unwrap().len(), 1);
    let (code, out, _) = semc(&["codes", "E0206"]);
    assert_eq!(code, 0);
    assert!(out.contains("fan-out"));
    let (code, _, err) = semc(&["run", dir.to_str().unwrap(), "--output", "nope"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0403"));
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let (code, _, err) = semc(&["run", "x.sem", "--memory-limit", "lots"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a size"));
    let (code, out, _) = semc(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("check"));
    let (code, _, _) = semc(&["frobnicate"]);
    assert_eq!(code, 1);
}

/// `semc run` records each source's version in sem.lock; `--locked` reads exactly those
/// versions while the table moves on.
#[test]
fn locked_runs_read_the_recorded_versions() {
    let dir = fresh_dir("cli_lock", &[("versioned/orders", "data/orders")]);
    std::fs::write(
        dir.join("w.sem"),
        "source orders from delta(\"data/orders\") { o_orderkey: int64 key }\nmodel n from orders { aggregate { n = count() } }\noutput n to delta(\"out/n\") mode append\n",
    )
    .unwrap();
    let w = dir.join("w.sem");
    let (code, _, err) = semc(&["run", w.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sem.lock")).unwrap()).unwrap();
    assert_eq!(lock["sources"][0]["version"], 3);
    assert!(!lock["sources"][0]["table_id"].as_str().unwrap().is_empty());
    // the table moves on: a version 4 appends rows
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(append_own_rows(&dir.join("data/orders"), Some(7)));
    // (what it computes was committed already: forced, to append it again)
    let (code, _, err) = semc(&["run", w.to_str().unwrap(), "--locked", "--force"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = semc(&["run", w.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sem.lock")).unwrap()).unwrap();
    assert_eq!(lock["sources"][0]["version"], 4);
    // the output: three appended counts, the locked one equal to the first
    let (code, out, err) = semc(&["plan", w.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("@v4"));
    let counts = first_int64s(&read_table(&dir.join("out/n"), None).1);
    let mut sorted = counts.clone();
    sorted.sort();
    assert_eq!(sorted.len(), 3);
    assert_eq!(sorted[0], sorted[1], "the locked run read version 3 again");
    assert!(sorted[2] > sorted[1], "the unlocked run read version 4");
    // a missing lock is a clear error
    std::fs::remove_file(dir.join("sem.lock")).unwrap();
    let (code, _, err) = semc(&["run", w.to_str().unwrap(), "--locked"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0309"), "{err}");
}

/// Two sources read one table at two versions: `--locked` reads each at its own — the
/// lock is keyed by source, and a source pinned `at version` keeps its pin (before, both
/// read the version locked for the table).
#[test]
fn locked_runs_keep_each_sources_version() {
    let dir = fresh_dir("cli_lock_two_sources", &[("versioned/orders", "data/orders")]);
    let w = dir.join("w.sem");
    std::fs::write(
        &w,
        "source orders from delta(\"data/orders\") { o_orderkey: int64 key }\nsource orders_v0 from delta(\"data/orders\") at version 0 { o_orderkey: int64 key }\nmodel n from orders { aggregate { n = count() } }\nmodel n0 from orders_v0 { aggregate { n = count() } }\noutput n to delta(\"out/n\") mode overwrite\noutput n0 to delta(\"out/n0\") mode overwrite\n",
    )
    .unwrap();
    let (code, _, err) = semc(&["run", w.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let latest = first_int64s(&read_table(&dir.join("out/n"), None).1)[0];
    let first = first_int64s(&read_table(&dir.join("out/n0"), None).1)[0];
    assert!(latest > first, "version 3 holds more rows than version 0");
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(append_own_rows(&dir.join("data/orders"), Some(7)));
    let (code, _, err) = semc(&["run", w.to_str().unwrap(), "--locked"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        first_int64s(&read_table(&dir.join("out/n"), None).1)[0],
        latest,
        "orders read at its locked version 3"
    );
    assert_eq!(
        first_int64s(&read_table(&dir.join("out/n0"), None).1)[0],
        first,
        "orders_v0 read at version 0"
    );
}

/// `explain` reports each snapshot read once, with the files of that snapshot: two
/// sources reading one table at two versions each get their own count (before, each was
/// given every scan of the table: "5 of 4 files read").
#[test]
fn explain_counts_files_per_snapshot() {
    let dir = fresh_dir("cli_explain_snapshots", &[("versioned/orders", "data/orders")]);
    let w = dir.join("w.sem");
    std::fs::write(
        &w,
        "source orders from delta(\"data/orders\") { o_orderkey: int64 key }\nsource orders_v0 from delta(\"data/orders\") at version 0 { o_orderkey: int64 key }\nmodel v0 from orders_v0 { select { o_orderkey } }\nmodel u from orders { select { o_orderkey } union v0 }\noutput u to delta(\"out/u\") mode overwrite\n",
    )
    .unwrap();
    let (code, out, err) = semc(&["explain", w.to_str().unwrap(), "--output", "u"]);
    assert_eq!(code, 0, "{err}");
    let scans = &out[out.find("== Delta scans ==").unwrap()..];
    assert!(scans.contains("@ version 3): 4 of 4 files read, 0 pruned"), "{scans}");
    assert!(scans.contains("@ version 0): 1 of 1 files read, 0 pruned"), "{scans}");
}

/// `semc functions` lists every function of the standard library with its signature and
/// one line of documentation; a name lists its signatures; an unknown name suggests one.
#[test]
fn functions_are_listed_with_their_documentation() {
    let (code, out, err) = semc(&["functions"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 2 * 45, "{out}");
    for pair in lines.chunks(2) {
        assert!(pair[0].contains('(') && pair[0].contains(" -> "), "{pair:?}");
        assert!(
            pair[1].starts_with("    ") && pair[1].trim().len() > 5,
            "undocumented: {pair:?}"
        );
    }
    assert!(
        out.contains("day_of_week(temporal) -> int32\n    the day of the week: 0 is Sunday"),
        "{out}"
    );
    let (code, out, _) = semc(&["functions", "round"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().filter(|l| l.starts_with("round(")).count(), 4, "{out}");
    let (code, _, err) = semc(&["functions", "sha265"]);
    assert_eq!(code, 1);
    assert!(err.contains("did you mean `sha256`"), "{err}");
}

/// A workspace whose tables cannot be opened still reports every error the declarations
/// show (E0205 beside each table's E0301); `check --offline` opens no table and reports only
/// what the declarations show, and passes a workspace whose only problem is its tables.
#[test]
fn checks_need_no_data() {
    let dir = fresh_dir("cli_offline", &[]);
    let w = dir.join("w.sem");
    std::fs::write(&w, "source a from delta(\"nope/a\") { id: int64 key\n  b_id: int64\n  join b many_to_one on b_id = b.id }\nsource b from delta(\"nope/b\") { id: int64 }\nmodel m from a { select { id, x = b.id } }\noutput m to delta(\"out/m\") mode overwrite\n").unwrap();
    let (code, _, err) = semc(&["check", w.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.matches("E0301").count(), 2, "each missing table once: {err}");
    assert!(err.contains("E0205"), "{err}");
    let (code, _, err) = semc(&["check", w.to_str().unwrap(), "--offline"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0205") && !err.contains("E0301"), "{err}");
    std::fs::write(&w, "source a from delta(\"nope/a\") { id: int64 key\n  b_id: int64\n  join b many_to_one on b_id = b.id }\nsource b from delta(\"nope/b\") { id: int64 key }\nmodel m from a { select { id, x = b.id } }\noutput m to delta(\"out/m\") mode overwrite\n").unwrap();
    let (code, _, err) = semc(&["check", w.to_str().unwrap(), "--offline"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("ok: 2 source(s), 1 model(s), 1 output(s)"), "{err}");
}

/// Concurrent `semc run` processes appending to one output: every run lands exactly once,
/// in consecutive versions, no rows lost. (8 × 4 runs; `SEMC_STRESS=1` for 8 × 25.)
#[test]
fn concurrent_appends_all_land() {
    let per_process: usize = if std::env::var("SEMC_STRESS").is_ok() { 25 } else { 4 };
    let dir = fixtures::root().join("cli_concurrent");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(fixtures::root().join("tpch"), dir.join("tpch")).unwrap();
    let w = dir.join("w.sem");
    std::fs::write(&w, "source region from delta(\"tpch/region\") { r_regionkey: int64 key }\nmodel r from region { }\noutput r to delta(\"out/r\") mode append\n").unwrap();
    let (code, _, err) = semc(&["run", w.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let w = w.clone();
            std::thread::spawn(move || {
                for _ in 0..per_process {
                    // forced: each run appends, though each computes what the first did
                    let (code, _, err) = semc(&["run", w.to_str().unwrap(), "--force"]);
                    assert_eq!(code, 0, "{err}");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a run failed");
    }
    let runs = 1 + 8 * per_process;
    let (version, batches) = read_table(&dir.join("out/r"), None);
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(version as usize, runs - 1, "one commit per run, no gaps");
    assert_eq!(rows, runs * 5, "no rows lost or doubled");
    let commits = std::fs::read_dir(dir.join("out/r/_delta_log"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
        .count();
    assert_eq!(commits, runs);
}

/// `semc run` killed with SIGKILL at many moments (while planning, writing files,
/// committing): the output always opens at a committed version with that version's exact
/// row count, and the next run succeeds. (12 kills; `SEMC_STRESS=1` for 60.)
#[test]
fn killed_runs_leave_outputs_at_a_committed_version() {
    let kills: u64 = if std::env::var("SEMC_STRESS").is_ok() { 60 } else { 12 };
    let dir = fixtures::root().join("cli_kill");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(fixtures::root().join("tpch"), dir.join("tpch")).unwrap();
    let w = dir.join("w.sem");
    std::fs::write(
        &w,
        "source lineitem from delta(\"tpch/lineitem\") { l_orderkey: int64  l_linenumber: int32  l_comment: string }\n\
         model lines from lineitem { }\n\
         output lines to delta(\"out/lines\") mode append\n",
    )
    .unwrap();
    let rows_per_run = 60175;
    let started = std::time::Instant::now();
    let (code, _, err) = semc(&["run", w.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let full = started.elapsed().as_millis() as u64;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = || {
        rt.block_on(async {
            let url = url::Url::from_directory_path(std::fs::canonicalize(dir.join("out/lines")).unwrap()).unwrap();
            let t = semc::delta::open(&url, &semc::delta::PinSpec::Latest).await.unwrap();
            let ctx = semc::engine::session_with_partitions(2);
            let p = semc::engine::provider(&t, &ctx.state()).await.unwrap();
            let n: usize = ctx.read_table(p).unwrap().count().await.unwrap();
            (t.version().unwrap(), n)
        })
    };
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut survived = 0;
    for _ in 0..kills {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = (seed >> 33) % (full + 50);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_semc"))
            .args(["run", w.to_str().unwrap(), "--force"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        let (version, rows) = state();
        assert_eq!(
            rows,
            (version as usize + 1) * rows_per_run,
            "version {version} has exactly its rows"
        );
        survived += 1;
    }
    let (before, _) = state();
    let (code, _, err) = semc(&["run", w.to_str().unwrap(), "--force"]);
    assert_eq!(code, 0, "the next run succeeds: {err}");
    let (after, rows) = state();
    assert_eq!(after, before + 1);
    assert_eq!(rows, (after as usize + 1) * rows_per_run);
    assert_eq!(survived, kills);
}

/// `semc plan --bundle` then `semc exec`: the bundle runs without the `.sem` files, at the
/// snapshots it pins, even after the source moved on.
#[test]
fn a_bundle_runs_alone_at_its_pins() {
    let dir = fresh_dir("cli_bundle", &[("tpch/region", "data/region")]);
    let w = dir.join("w.sem");
    std::fs::write(&w, "source region from delta(\"data/region\") { r_regionkey: int64 key  r_name: string }\nmodel n from region { aggregate { n = count() }\n  contract { n: int64 not null unique } }\noutput n to delta(\"out/n\") mode overwrite\n").unwrap();
    let bundle = dir.join("bundle");
    let (code, _, err) = semc(&["plan", w.to_str().unwrap(), "--bundle", bundle.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("spec.json")).unwrap()).unwrap();
    assert_eq!(spec["outputs"][0]["mode"], "overwrite");
    assert_eq!(spec["outputs"][0]["unique"][0], "n");
    assert_eq!(spec["sources"][0]["version"], 0);
    std::fs::remove_file(&w).unwrap();
    // the source moves on
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(append_own_rows(&dir.join("data/region"), None));
    let (code, out, err) = semc(&["exec", bundle.to_str().unwrap(), "--run-id", "b1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 rows"), "{out}");
    let n = first_int64s(&read_table(&dir.join("out/n"), None).1)[0];
    assert_eq!(
        n, 5,
        "the bundle read version 0 (5 regions), not the 10 rows of version 1"
    );
    let (code, out, _) = semc(&["exec", bundle.to_str().unwrap(), "--run-id", "b1"]);
    assert_eq!(code, 0);
    assert!(out.contains("nothing written"), "{out}");
    let (code, _, err) = semc(&["exec", dir.join("nope").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("E0404"));
}

/// A spec.json with a value of the wrong type is refused with the field's path, in both
/// formats (as JSON it was a panic: the diagnostic has no `.sem` file to point into); one
/// that names what its plan or its tables lack, or a table made again in the place of the
/// one it pins, is refused before anything runs.
#[test]
fn a_spec_of_the_wrong_shape_names_the_field() {
    let dir = fresh_dir("cli_bad_spec", &[("tpch/region", "data/region")]);
    let w = dir.join("w.sem");
    std::fs::write(&w, "source region from delta(\"data/region\") { r_regionkey: int64 key }\nmodel n from region { aggregate { n = count() } }\noutput n to delta(\"out/n\") mode overwrite\n").unwrap();
    let bundle = dir.join("bundle");
    let (code, _, err) = semc(&["plan", w.to_str().unwrap(), "--bundle", bundle.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let spec = std::fs::read_to_string(bundle.join("spec.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&spec).unwrap();
    v["sources"][0]["version"] = serde_json::json!("0");
    std::fs::write(bundle.join("spec.json"), v.to_string()).unwrap();
    let (code, _, err) = semc(&["exec", bundle.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0404") && err.contains("sources[0].version"), "{err}");
    let (code, out, err) = semc(&["exec", bundle.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1, "{err}");
    let d: serde_json::Value = serde_json::from_str(out.lines().next().unwrap_or_default()).unwrap();
    assert_eq!(d["code"], "E0404");
    assert!(d["message"].as_str().unwrap().contains("sources[0].version"), "{d}");
    assert!(!dir.join("out/n").exists());

    // a spec of the right shape that does not fit its plan or its tables: refused before
    // anything runs, with what does not fit (they were internal errors)
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit, &str); 5] = [
        (
            "a key of an unknown source",
            |v| v["outputs"][0]["keys"][0]["source"] = "nope".into(),
            "outputs[0].keys[0].source",
        ),
        (
            "no sources",
            |v| v["sources"] = serde_json::json!([]),
            "no source named `region`",
        ),
        (
            "a key column the table lacks",
            |v| v["outputs"][0]["keys"][0]["columns"] = serde_json::json!(["nope"]),
            "key column `nope`",
        ),
        (
            "a unique column the rows lack",
            |v| v["outputs"][0]["unique"] = serde_json::json!(["nope"]),
            "column `nope`",
        ),
        (
            "a table that is not there",
            |v| v["sources"][0]["uri"] = "file:///nonexistent/region/".into(),
            "/nonexistent/region/",
        ),
    ];
    for (what, edit, says) in edits {
        let mut v: serde_json::Value = serde_json::from_str(&spec).unwrap();
        v["outputs"][0]["keys"] = serde_json::json!([{"source": "region", "columns": ["r_regionkey"], "at": {"file": "w.sem", "line": 1, "column": 1}}]);
        edit(&mut v);
        std::fs::write(bundle.join("spec.json"), v.to_string()).unwrap();
        let (code, _, err) = semc(&["exec", bundle.to_str().unwrap()]);
        assert_eq!(code, 1, "{what}: {err}");
        assert!(err.contains("E0404") && err.contains(says), "{what}: {err}");
        assert!(!dir.join("out/n").exists(), "{what}");
    }

    // the source deleted and made again in its place is another table (another id), even at
    // the version the spec pins: refused, never read as if it were the one planned
    std::fs::write(bundle.join("spec.json"), &spec).unwrap();
    std::fs::remove_dir_all(dir.join("data/region")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(crate::fixtures::int_table(
        &dir.join("data/region"),
        &[("r_regionkey", vec![Some(1)])],
    ));
    let (code, _, err) = semc(&["exec", bundle.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0404") && err.contains("another Delta table"), "{err}");
    assert!(!dir.join("out/n").exists());
}

/// `semc exec` verifies what `semc run` verifies: a bundle whose pinned data breaks a
/// contract `check` commits nothing (E0402), and one whose data breaks a key a
/// `many_to_one` join relies on commits nothing (E0405) — before, exec wrote both.
#[test]
fn a_bundle_verifies_checks_and_join_keys_before_committing() {
    let dir = fresh_dir(
        "cli_bundle_verify",
        &[("tpch/region", "data/region"), ("tpch/nation", "data/nation")],
    );
    let bundle = dir.join("bundle");
    // a contract check that two regions break
    let w = dir.join("w.sem");
    std::fs::write(&w, "source region from delta(\"data/region\") { r_regionkey: int64 key  r_name: string }\nmodel m from region { select { r_regionkey }\n  contract { r_regionkey: int64 check (r_regionkey < 3) } }\noutput m to delta(\"out/m\") mode overwrite\n").unwrap();
    let (code, _, err) = semc(&["plan", w.to_str().unwrap(), "--bundle", bundle.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let spec = std::fs::read_to_string(bundle.join("spec.json")).unwrap();
    assert!(spec.contains("\"checks\""), "{spec}");
    let (code, _, err) = semc(&["exec", bundle.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("E0402") && err.contains("2 row(s) break `check` on `r_regionkey`"),
        "{err}"
    );
    assert!(
        err.contains("w.sem:3:"),
        "the bundle names where the contract is: {err}"
    );
    assert!(!dir.join("out/m/_delta_log").exists(), "nothing committed");
    // the region table now holds every key twice: the join's key is not unique
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(append_own_rows(&dir.join("data/region"), None));
    std::fs::write(&w, "source region from delta(\"data/region\") { r_regionkey: int64 key  r_name: string }\nsource nation from delta(\"data/nation\") { n_nationkey: int64 key  n_regionkey: int64 not null\n  join region many_to_one on n_regionkey = region.r_regionkey }\nmodel m from nation { select { n_nationkey, r = region.r_name } }\noutput m to delta(\"out/m\") mode overwrite\n").unwrap();
    let (code, _, err) = semc(&["plan", w.to_str().unwrap(), "--bundle", bundle.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = semc(&["exec", bundle.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("E0405") && err.contains("5 value(s) of `r_regionkey`"),
        "{err}"
    );
    assert!(!dir.join("out/m/_delta_log").exists(), "nothing committed");
    // `semc run` refuses the same, with the same code
    let (code, _, err) = semc(&["run", w.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0405"), "{err}");
    // a source bound to another table is named as such, even where that table lacks the
    // pinned version (region is pinned at version 1; nation has only version 0)
    let (code, _, err) = semc(&[
        "exec",
        bundle.to_str().unwrap(),
        "--bind",
        &format!("region={}", dir.join("data/nation").display()),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0404") && err.contains("another Delta table"), "{err}");
    // a spec with an unknown field is refused, the field named
    let edited = std::fs::read_to_string(bundle.join("spec.json")).unwrap().replacen(
        "\"format\"",
        "\"colour\": 1, \"format\"",
        1,
    );
    std::fs::write(bundle.join("spec.json"), edited).unwrap();
    let (code, _, err) = semc(&["exec", bundle.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0404") && err.contains("colour"), "{err}");
}

/// An output never replaces an input: a location a source reads is refused at check time
/// (E0223), and a Delta table semc did not write, with other columns, is refused before
/// any commit (E0401) and left as it was.
#[test]
fn an_output_never_overwrites_a_table_it_did_not_write() {
    let dir = fresh_dir(
        "cli_output_over_input",
        &[("tpch/region", "data/region"), ("tpch/nation", "out/m")],
    );
    let w = dir.join("w.sem");
    std::fs::write(&w, "source region from delta(\"data/region\") { r_regionkey: int64 key  r_name: string }\nmodel m from region { select { r_regionkey } }\noutput m to delta(\"data/region\") mode overwrite\n").unwrap();
    let (code, _, err) = semc(&["check", w.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0223"), "{err}");
    std::fs::write(&w, "source region from delta(\"data/region\") { r_regionkey: int64 key  r_name: string }\nmodel m from region { select { r_regionkey } }\noutput m to delta(\"out/m\") mode overwrite\n").unwrap();
    let before = read_table(&dir.join("out/m"), None);
    let (code, _, err) = semc(&["run", w.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0401") && err.contains("semc did not write"), "{err}");
    let after = read_table(&dir.join("out/m"), None);
    assert_eq!(before.0, after.0, "the nation table was not written");
    // a table semc wrote is replaced as usual
    std::fs::write(&w, "source region from delta(\"data/region\") { r_regionkey: int64 key  r_name: string }\nmodel m from region { select { r_regionkey } }\noutput m to delta(\"out/m2\") mode overwrite\n").unwrap();
    for _ in 0..2 {
        let (code, _, err) = semc(&["run", w.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
    }
}

/// A bundle moves to another machine: the workspace (tables and bundle) is copied elsewhere
/// and the original deleted; `semc exec --root` reads and writes the tables under the new
/// root, at the bundle's pins. `--bind` rebinds one table, and refuses another Delta table.
#[test]
fn a_bundle_runs_elsewhere_with_root_and_bind() {
    let here = fresh_dir(
        "cli_bundle_here",
        &[("tpch/region", "data/region"), ("tpch/nation", "data/nation")],
    );
    let w = here.join("w.sem");
    std::fs::write(&w, "source region from delta(\"data/region\") { r_regionkey: int64 key  r_name: string }\nmodel n from region { aggregate { n = count() } }\noutput n to delta(\"out/n\") mode overwrite\n").unwrap();
    let (code, _, err) = semc(&[
        "plan",
        w.to_str().unwrap(),
        "--bundle",
        here.join("bundle").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(here.join("bundle/spec.json")).unwrap()).unwrap();
    assert_eq!(
        spec["relative"].as_object().unwrap().values().collect::<Vec<_>>(),
        ["data/region/", "out/n/"]
    );
    // "another machine": the same layout under another folder; the original is gone
    let there = fixtures::root().join("cli_bundle_there");
    let _ = std::fs::remove_dir_all(&there);
    assert!(
        Command::new("cp")
            .args(["-r", here.to_str().unwrap(), there.to_str().unwrap()])
            .status()
            .unwrap()
            .success()
    );
    std::fs::remove_dir_all(&here).unwrap();
    let bundle = there.join("bundle");
    let (code, _, err) = semc(&["exec", bundle.to_str().unwrap()]);
    assert_eq!(code, 1, "without --root the absolute paths are gone");
    assert!(err.contains("region"), "{err}");
    let (code, out, err) = semc(&["exec", bundle.to_str().unwrap(), "--root", there.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("1 rows") && out.contains("cli_bundle_there/out/n"),
        "{out}"
    );
    assert!(there.join("out/n/_delta_log").is_dir());
    // --bind an output elsewhere; --bind a source to another table is refused
    let (code, out, err) = semc(&[
        "exec",
        bundle.to_str().unwrap(),
        "--root",
        there.to_str().unwrap(),
        "--bind",
        &format!("n={}", there.join("out/n2").display()),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("out/n2"), "{out}");
    let (code, _, err) = semc(&[
        "exec",
        bundle.to_str().unwrap(),
        "--bind",
        &format!("region={}", there.join("data/nation").display()),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("E0404") && err.contains("another Delta table"), "{err}");
    let (code, _, err) = semc(&["exec", bundle.to_str().unwrap(), "--bind", "nope=/x"]);
    assert_eq!(code, 1);
    assert!(err.contains("no source or output `nope`"), "{err}");
}

/// Concurrent overwrites of one output: each of 4 processes writes its own number of rows;
/// a loser gets E0407 (nothing of it committed) — never a version that holds the rows of
/// two writers. Every committed version holds exactly one writer's rows.
#[test]
fn concurrent_overwrites_never_mix() {
    let rounds: usize = if std::env::var("SEMC_STRESS").is_ok() { 10 } else { 2 };
    let dir = fixtures::root().join("cli_overwrites");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(fixtures::root().join("tpch"), dir.join("tpch")).unwrap();
    // writer k writes the first k + 1 nations (1..=4 rows)
    for k in 0..4 {
        std::fs::write(
            dir.join(format!("w{k}.sem")),
            format!("source nation from delta(\"tpch/nation\") {{ n_nationkey: int64 key }}\nmodel r from nation {{ where n_nationkey <= {k} }}\noutput r to delta(\"out/r\") mode overwrite\n"),
        )
        .unwrap();
    }
    let (mut won, mut lost) = (0, 0);
    for _ in 0..rounds {
        let handles: Vec<_> = (0..4)
            .map(|k| {
                let w = dir.join(format!("w{k}.sem"));
                std::thread::spawn(move || semc(&["run", w.to_str().unwrap(), "--force"]))
            })
            .collect();
        for h in handles {
            let (code, _, err) = h.join().unwrap();
            match code {
                0 => won += 1,
                1 => {
                    assert!(err.contains("E0407"), "a loser is told of the conflict: {err}");
                    lost += 1;
                }
                _ => panic!("{err}"),
            }
        }
    }
    let (latest, _) = read_table(&dir.join("out/r"), None);
    let versions: Vec<Vec<i64>> = (0..=latest)
        .map(|v| {
            let mut keys = first_int64s(&read_table(&dir.join("out/r"), Some(v)).1);
            keys.sort();
            keys
        })
        .collect();
    assert_eq!(versions.len(), won, "one version per winning run");
    for keys in &versions {
        let n = keys.len() as i64;
        assert!(
            (1..=4).contains(&n) && *keys == (0..n).collect::<Vec<_>>(),
            "a version mixes writers: {keys:?}"
        );
    }
    assert_eq!(won + lost, 4 * rounds);
    eprintln!(
        "concurrent overwrites: {won} committed, {lost} refused with E0407, {} versions",
        versions.len()
    );
}

/// semc checkpoints the log of an output every 10 versions (delta-rs alone: every 100), so
/// that opening it — every run does, to verify and commit — replays at most 9 commits. The
/// checkpoint is a true one: the table read through it holds the last run's rows only.
#[test]
fn outputs_are_checkpointed_every_ten_versions() {
    let dir = fresh_dir("cli_checkpoints", &[]);
    std::os::unix::fs::symlink(fixtures::root().join("tpch"), dir.join("tpch")).unwrap();
    let w = dir.join("w.sem");
    // run k (0, 1, …) overwrites the output with the nations whose key is at most k % 10
    for k in 0..12 {
        std::fs::write(
            &w,
            format!("source nation from delta(\"tpch/nation\") {{ n_nationkey: int64 key }}\nmodel r from nation {{ where n_nationkey <= {} }}\noutput r to delta(\"out/r\") mode overwrite\n", k % 10),
        )
        .unwrap();
        let (code, _, err) = semc(&["run", w.to_str().unwrap()]);
        assert_eq!(code, 0, "run {k}: {err}");
    }
    let log = dir.join("out/r/_delta_log");
    let mut checkpoints: Vec<String> = std::fs::read_dir(&log)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".checkpoint."))
        .collect();
    checkpoints.sort();
    assert_eq!(checkpoints, ["00000000000000000009.checkpoint.parquet"], "{log:?}");
    let (version, batches) = read_table(&dir.join("out/r"), None);
    assert_eq!(version, 11);
    let mut keys = first_int64s(&batches);
    keys.sort();
    assert_eq!(keys, [0, 1], "version 11 holds run 11's rows only");
    let (_, batches) = read_table(&dir.join("out/r"), Some(9));
    assert_eq!(
        first_int64s(&batches).len(),
        10,
        "version 9, as its checkpoint holds it"
    );
}

/// Concurrent incremental runs: after each append to the source, 4 processes run the
/// incremental model at once. One appends the new rows; each other one finds the output
/// up to date or gets E0407 — the changes are never appended twice.
#[test]
fn concurrent_incremental_runs_append_changes_once() {
    let rounds = if std::env::var("SEMC_STRESS").is_ok() { 8 } else { 2 };
    let dir = fresh_dir("cli_incremental", &[("cdf/nation", "data/nation")]);
    let w = dir.join("w.sem");
    std::fs::write(&w, "source nation from delta(\"data/nation\") { n_nationkey: int64\n n_name: string }\nmodel m from nation incremental { select { n_nationkey, n_name } }\noutput m to delta(\"out/m\") mode append\n").unwrap();
    let (code, _, err) = semc(&["run", w.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (mut appended, mut refused) = (0, 0);
    for _ in 0..rounds {
        rt.block_on(append_own_rows(&dir.join("data/nation"), Some(25)));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let w = w.clone();
                std::thread::spawn(move || semc(&["run", w.to_str().unwrap()]))
            })
            .collect();
        for h in handles {
            let (code, out, err) = h.join().unwrap();
            match code {
                0 if out.contains("appended") => appended += 1,
                0 => assert!(out.contains("up to date"), "{out}"),
                1 => {
                    assert!(err.contains("E0407"), "{err}");
                    refused += 1;
                }
                _ => panic!("{err}"),
            }
        }
    }
    let rows: usize = read_table(&dir.join("out/m"), None)
        .1
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(appended, rounds, "each round's changes are appended by exactly one run");
    assert_eq!(rows, 25 * (rounds + 1), "no change appended twice");
    eprintln!("concurrent incremental runs: {appended} appended, {refused} refused with E0407, {rows} rows");
}

/// Two `--locked` runs while another process keeps appending to the input write the same
/// rows in the same order (version by version of the output, read in stored order).
#[test]
fn locked_runs_are_identical_while_the_input_moves() {
    let dir = fresh_dir("cli_lock_identical", &[("versioned/orders", "data/orders")]);
    let w = dir.join("w.sem");
    std::fs::write(
        &w,
        "source orders from delta(\"data/orders\") { o_orderkey: int64 key\n o_custkey: int64\n o_totalprice: decimal(15, 2)\n o_orderstatus: string }\nmodel big from orders {\n  where o_totalprice > 1000\n  derive { doubled = o_totalprice * 2 }\n  select { o_orderkey, o_custkey, doubled, o_orderstatus }\n}\noutput big to delta(\"out/big\") mode overwrite\n",
    )
    .unwrap();
    let (code, _, err) = semc(&["run", w.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    // another process keeps appending to the input
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, table) = (stop.clone(), dir.join("data/orders"));
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                rt.block_on(append_own_rows(&table, Some(50)));
                n += 1;
            }
            n
        })
    };
    for _ in 0..2 {
        let (code, _, err) = semc(&["run", w.to_str().unwrap(), "--locked", "--force"]);
        assert_eq!(code, 0, "{err}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let appends = writer.join().unwrap();
    assert!(appends > 0, "the input moved during the runs");
    let versions: Vec<String> = (0..3)
        .map(|v| {
            let b = read_table(&dir.join("out/big"), Some(v)).1;
            datafusion::arrow::util::pretty::pretty_format_batches(&b)
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(versions[0].lines().count() > 100);
    for (v, what) in [(1, "the first locked run"), (2, "the second locked run")] {
        assert!(
            versions[v] == versions[0],
            "{what} (version {v}) wrote what the recorded run wrote, in order: {}",
            first_difference(&versions[0], &versions[v])
        );
    }
}

/// Where two printed tables first differ, and their lengths.
fn first_difference(a: &str, b: &str) -> String {
    let at = a.lines().zip(b.lines()).position(|(x, y)| x != y);
    let line = |t: &str, i: usize| t.lines().nth(i).unwrap_or("").to_string();
    format!(
        "{} and {} lines; first difference at line {at:?}: {:?} vs {:?}",
        a.lines().count(),
        b.lines().count(),
        at.map(|i| line(a, i)),
        at.map(|i| line(b, i))
    )
}

/// A value that makes an expression fail (an integer division by zero) is the data's
/// fault, not semc's: E0409 and exit 1 from `run` and `explain --analyze`, nothing committed.
#[test]
fn a_division_by_zero_in_the_data_is_a_diagnostic() {
    let dir = fresh_dir("cli_div_zero", &[("tpch/region", "data/region")]);
    let w = dir.join("w.sem");
    std::fs::write(&w, "source region from delta(\"data/region\") { r_regionkey: int64 key }\nmodel m from region { derive { q = 10 / (r_regionkey - 2) } }\noutput m to delta(\"out/m\") mode overwrite\n").unwrap();
    let (code, _, err) = semc(&["run", w.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0409") && err.contains("Divide by zero"), "{err}");
    assert!(!dir.join("out/m/_delta_log").exists(), "nothing committed");
    let (code, _, err) = semc(&["explain", w.to_str().unwrap(), "--output", "m", "--analyze"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0409"), "{err}");
}

/// A memory limit too small for the model even with spilling is the user's setting: E0410,
/// exit 1, nothing committed.
#[test]
fn a_memory_limit_too_small_is_a_diagnostic() {
    let dir = fresh_dir("cli_oom", &[("tpch/lineitem", "data/lineitem")]);
    let w = dir.join("w.sem");
    std::fs::write(&w, "source lineitem from delta(\"data/lineitem\") { l_orderkey: int64\n l_comment: string }\nmodel m from lineitem { group by l_comment aggregate { n = count() } }\noutput m to delta(\"out/m\") mode overwrite\n").unwrap();
    let (code, _, err) = semc(&["run", w.to_str().unwrap(), "--memory-limit", "1K"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0410"), "{err}");
    assert!(!dir.join("out/m/_delta_log").exists(), "nothing committed");
}

/// A fact verified on a snapshot (a key unique, no orphans, a source constraint) is not
/// probed again on the same snapshot; a new version of the table is proven anew, so a key
/// that became duplicated is caught as ever.
#[test]
fn proofs_are_reused_on_the_same_snapshots_only() {
    let dir = fresh_dir(
        "cli_proofs",
        &[("tpch/region", "data/region"), ("tpch/nation", "data/nation")],
    );
    let w = dir.join("w.sem");
    std::fs::write(&w, "policy { strict = true }\nsource region from delta(\"data/region\") { r_regionkey: int64 key  r_name: string not null }\nsource nation from delta(\"data/nation\") { n_nationkey: int64 key  n_regionkey: int64 not null\n  join region many_to_one on n_regionkey = region.r_regionkey }\nmodel m from nation { select { n_nationkey, r = region.r_name } }\noutput m to delta(\"out/m\") mode overwrite\n").unwrap();
    let cache = dir.join("cache");
    let env = [("SEMC_CACHE_DIR", cache.to_str().unwrap())];
    let w = w.to_str().unwrap();
    let proofs = |err: &str| -> (usize, usize) {
        let line = err
            .lines()
            .find(|l| l.contains(": proofs reused="))
            .unwrap_or_else(|| panic!("{err}"));
        let field = |name: &str| {
            line.split(&format!("{name}="))
                .nth(1)
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{line}"))
        };
        (field("reused"), field("proven"))
    };
    let (code, _, err) = semc_with(&["-v", "run", w], &env);
    assert_eq!(code, 0, "{err}");
    let (reused, proven) = proofs(&err);
    // the region key, no orphan nation, and the not-null constraints under strict
    assert!(reused == 0 && proven >= 3, "{err}");
    // forced: up to date, the run would verify nothing
    let (code, _, err) = semc_with(&["-v", "run", w, "--force"], &env);
    assert_eq!(code, 0, "{err}");
    assert_eq!(proofs(&err), (proven, 0), "{err}");
    // the region table now holds every key twice (a new version): proven anew, and broken
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(append_own_rows(&dir.join("data/region"), None));
    let (code, _, err) = semc_with(&["-v", "run", w], &env);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0405"), "{err}");
    // with the cache off, nothing is reused
    let (code, _, err) = semc_with(&["-v", "run", w], &[("SEMC_CACHE_DIR", "off")]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(proofs(&err).0, 0, "{err}");
}

/// A reader that goes away (`semc show … | head -1`) ends the output quietly, as it ends
/// any Unix tool: no error, no panic.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::io::BufRead;
    let dir = fixtures::workspace(
        "closed_pipe",
        &[("tpch", "tpch")],
        &[(
            "keys.sem",
            "source lineitem from delta(\"tpch/lineitem\") { l_orderkey: int64 }\nmodel all_keys from lineitem { select { l_orderkey } }\n",
        )],
    );
    for format in ["csv", "json", "table"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_semc"))
            .args([
                "show",
                dir.to_str().unwrap(),
                "--model",
                "all_keys",
                "--limit",
                "60000",
                "--format",
                format,
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 141)),
            "{format}: {:?} {err}",
            out.status
        );
        assert!(!err.contains("panicked") && !err.contains("error"), "{format}: {err}");
    }
}

/// `--cluster` on a semc built without the `cluster` feature says how to get it.
#[cfg(not(feature = "cluster"))]
#[test]
fn a_cluster_needs_the_cluster_feature() {
    let dir = fixtures::workspace(
        "no_cluster",
        &[("tpch", "tpch")],
        &[(
            "nations.sem",
            "source nation from delta(\"tpch/nation\") { n_nationkey: int64 }\nmodel nations from nation { select { n_nationkey } }\noutput nations to delta(\"out/nations\") mode overwrite\n",
        )],
    );
    let (code, _, err) = semc(&["run", dir.to_str().unwrap(), "--cluster", "local"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0411") && err.contains("--features cluster"), "{err}");
    let (code, _, err) = semc(&["cluster", "start"]);
    assert_eq!(code, 1);
    assert!(err.contains("--features cluster"), "{err}");
}

/// Commands that fail outside any program say so with a code and help, in `--format json`
/// too: `fmt` of a file that cannot be read (E0004), `init` over existing files (E0011) or
/// or a bundle where nothing can be written (E0010), `demo` with a bad `--to` (E0306) or
/// `--sf` (E0012).
#[test]
fn command_failures_are_coded_diagnostics() {
    let dir = fixtures::root().join("command_failures");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = |p: &str| dir.join(p).to_str().unwrap().to_string();
    let started = d("started");
    let (code, _, err) = semc(&["init", &started]);
    assert_eq!(code, 0, "{err}");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["fmt".into(), d("missing.sem")], "E0004"),
        (vec!["init".into(), started.clone()], "E0011"),
        (vec!["init".into(), "/proc/semc-init-here".into()], "E0010"),
        (
            vec!["demo".into(), d("demo"), "--to".into(), "http://[::1".into()],
            "E0306",
        ),
        (vec!["demo".into(), d("demo"), "--sf".into(), "0".into()], "E0012"),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, err) = semc(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.contains(&format!("error[{want}]")) && err.contains("help:"),
            "{args:?}: {err}"
        );
        let mut json = args.clone();
        json.extend(["--format", "json"]);
        let (code, out, err) = semc(&json);
        assert_eq!(code, 1, "{json:?}: {err}");
        let d: serde_json::Value = serde_json::from_str(out.lines().next().unwrap_or_default()).unwrap();
        assert_eq!(d["code"], want, "{json:?}: {out}");
        assert!(d["help"].as_str().is_some_and(|h| !h.is_empty()), "{out}");
        assert!(!err.contains("error:"), "no bare error line in JSON mode: {err}");
    }
    // a bundle where nothing can be written (its `--format` is the plan's)
    let (code, _, err) = semc(&["plan", &started, "--bundle", "/proc/semc-bundle-here"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("error[E0010]") && err.contains("help:"), "{err}");
}
