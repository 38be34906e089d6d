//! Incremental models over a source's Change Data Feed: each run appends the rows of the
//! source's new changes, and the output always equals a full rebuild.

use crate::fixtures::{Rows, run_ok, table_rows, workspace};
use datafusion::arrow::array::{Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use deltalake::DeltaTable;
use semc::run;
use std::path::Path;
use std::sync::Arc;

fn url_of(p: &Path) -> url::Url {
    url::Url::from_directory_path(std::fs::canonicalize(p).unwrap()).unwrap()
}

fn events(ids: std::ops::Range<i64>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("kind", DataType::Utf8, true),
        Field::new("amount", DataType::Int64, true),
    ]));
    let kinds = ["a", "b", "c", "zz"];
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(ids.clone())),
            Arc::new(StringArray::from_iter_values(
                ids.clone().map(|i| kinds[(i % 4) as usize]),
            )),
            Arc::new(Int64Array::from_iter_values(ids.map(|i| (i * 37) % 100))),
        ],
    )
    .unwrap()
}

fn kinds(rows: &[(&str, &str)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("kind", DataType::Utf8, false),
        Field::new("label", DataType::Utf8, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
        ],
    )
    .unwrap()
}

/// Appends `batch` to the table at `dir` (creating it, with the Change Data Feed on if `cdf`).
async fn append(dir: &Path, batch: RecordBatch, cdf: bool) {
    std::fs::create_dir_all(dir).unwrap();
    let t = DeltaTable::try_from_url(url_of(dir)).await.unwrap();
    let mut w = t
        .write(vec![batch])
        .with_save_mode(deltalake::protocol::SaveMode::Append);
    if cdf {
        w = w.with_configuration([("delta.enableChangeDataFeed", Some("true"))]);
    }
    w.await.unwrap();
}

fn sorted(mut r: Rows) -> Vec<Vec<String>> {
    r.1.sort();
    r.1
}

const PROGRAM: &str = r#"
source events from delta("events") {
  id: int64 key
  kind: string
  amount: int64
  join kinds many_to_one on kind = kinds.kind
}
source kinds from delta("kinds") {
  kind: string key
  label: string
}
model big from events incremental {
  where amount > 30
  derive { label = kinds.label, twice = amount * 2 }
  select { id, kind, label, twice }
}
model big_full from events {
  where amount > 30
  derive { label = kinds.label, twice = amount * 2 }
  select { id, kind, label, twice }
}
output big to delta("out/big") mode append
output big_full to delta("out/big_full") mode overwrite
"#;

fn report<'a>(reports: &'a [run::OutputReport], name: &str) -> &'a run::OutputReport {
    reports.iter().find(|r| r.output == name).unwrap()
}

#[tokio::test]
async fn incremental_runs_append_new_changes_and_equal_a_rebuild() {
    let dir = workspace("incremental", &[], &[("main.sem", PROGRAM)]);
    append(&dir.join("events"), events(0..200), true).await;
    append(&dir.join("kinds"), kinds(&[("a", "A"), ("b", "B"), ("c", "C")]), false).await;
    let out = |n: &str| url_of(&dir.join("out").join(n)).to_string();
    let same = || async {
        assert_eq!(
            sorted(table_rows(&out("big")).await),
            sorted(table_rows(&out("big_full")).await)
        )
    };

    // first run: built in full
    let r = run_ok(&dir).await;
    let big = report(&r, "big");
    assert!(big.incremental.as_deref().unwrap().contains("built in full"), "{big:?}");
    assert_eq!(big.rows, report(&r, "big_full").rows);
    same().await;

    // an append to the source: only its rows are read and appended
    append(&dir.join("events"), events(200..260), true).await;
    let r = run_ok(&dir).await;
    let big = report(&r, "big");
    let new_rows = (200..260).filter(|i| (i * 37) % 100 > 30).count() as u64;
    assert!(big.incremental.as_deref().unwrap().starts_with("appended"), "{big:?}");
    assert_eq!(big.rows, new_rows, "only the new rows are written");
    assert_eq!(big.version, 1, "an append is the output's next version");
    same().await;

    // two appends between runs: both are read
    append(&dir.join("events"), events(260..300), true).await;
    append(&dir.join("events"), events(300..330), true).await;
    let r = run_ok(&dir).await;
    assert_eq!(
        report(&r, "big").rows,
        (260..330).filter(|i| (i * 37) % 100 > 30).count() as u64
    );
    same().await;

    // nothing new: nothing written
    let r = run_ok(&dir).await;
    let big = report(&r, "big");
    assert!(
        big.skipped && big.incremental.as_deref().unwrap().starts_with("up to date"),
        "{big:?}"
    );
    same().await;

    // a delete in the source: the model passes the source's key `id` through, so the
    // output rows of the deleted ids are replaced (by nothing), in one commit
    let t = deltalake::open_table(url_of(&dir.join("events"))).await.unwrap();
    t.delete().with_predicate("id < 50").await.unwrap();
    let r = run_ok(&dir).await;
    let big = report(&r, "big");
    assert!(
        big.incremental
            .as_deref()
            .unwrap()
            .starts_with("replaced the rows of 50 `id` value(s)"),
        "{big:?}"
    );
    assert_eq!(big.rows, 0, "deleted ids have no rows");
    same().await;

    // an update moves rows in and out of `where amount > 30`, and an append comes after:
    // the rows of the 40 updated and 5 new ids are replaced
    let t = deltalake::open_table(url_of(&dir.join("events"))).await.unwrap();
    t.update()
        .with_predicate("id >= 100 and id < 140")
        .with_update("amount", "(amount + 31) % 100")
        .await
        .unwrap();
    append(&dir.join("events"), events(330..335), true).await;
    let r = run_ok(&dir).await;
    let big = report(&r, "big");
    assert!(
        big.incremental
            .as_deref()
            .unwrap()
            .starts_with("replaced the rows of 45 `id` value(s)"),
        "{big:?}"
    );
    same().await;

    // a change to a table the model joins rebuilds too (written rows would be stale)
    append(&dir.join("kinds"), kinds(&[("zz", "Z")]), false).await;
    append(&dir.join("events"), events(335..340), true).await;
    let r = run_ok(&dir).await;
    let big = report(&r, "big");
    assert!(big.incremental.as_deref().unwrap().contains("`kinds` moved"), "{big:?}");
    same().await;
    assert!(table_rows(&out("big")).await.1.iter().any(|row| row[2] == "Z"));
}

#[tokio::test]
async fn the_same_incremental_run_id_commits_once() {
    let dir = workspace(
        "incremental_run_id",
        &[],
        &[(
            "main.sem",
            "source e from delta(\"e\") { id: int64\n kind: string\n amount: int64 }\nmodel m from e incremental { where amount > 10 }\noutput m to delta(\"out\") mode append\n",
        )],
    );
    append(&dir.join("e"), events(0..50), true).await;
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("compile"));
    let opts = run::RunOptions {
        run_id: Some("nightly-1".into()),
        ..Default::default()
    };
    let first = run::run_with(&c, &[], &opts).await.unwrap_or_else(|_| panic!("run"));
    assert!(!first[0].skipped);
    append(&dir.join("e"), events(50..80), true).await;
    // the same run id, recompiled against the new source version: recorded, nothing written
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("compile"));
    let again = run::run_with(&c, &[], &opts).await.unwrap_or_else(|_| panic!("run"));
    assert!(again[0].skipped, "{again:?}");
    // a new run appends the 30 new rows' matches once
    let r = run_ok(&dir).await;
    assert_eq!(r[0].rows, (50..80).filter(|i| (i * 37) % 100 > 10).count() as u64);
    let all = table_rows(url_of(&dir.join("out")).as_ref()).await;
    assert_eq!(all.1.len(), (0..80).filter(|i| (i * 37) % 100 > 10).count());
}

#[tokio::test]
async fn a_source_without_change_data_feed_cannot_be_incremental() {
    let dir = workspace(
        "incremental_no_cdf",
        &[],
        &[(
            "main.sem",
            "source e from delta(\"e\") { id: int64\n kind: string\n amount: int64 }\nmodel m from e incremental { where amount > 10 }\noutput m to delta(\"out\") mode append\n",
        )],
    );
    append(&dir.join("e"), events(0..10), false).await;
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("compile"));
    let codes: Vec<&str> = c.diags.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E0222"], "{}", semc::diag::render(&c.ws.map, &c.diags, false));
}

/// A `unique` contract column of an incremental model is unique across the rows already
/// written and the rows a run appends: an appended duplicate commits nothing.
#[tokio::test]
async fn an_incremental_append_keeps_unique_contracts_across_runs() {
    let dir = workspace(
        "incremental_unique",
        &[],
        &[(
            "main.sem",
            "source e from delta(\"e\") { id: int64\n kind: string\n amount: int64 }\nmodel m from e incremental {\n  select { id, amount }\n  contract { id: int64 not null unique\n amount: int64 }\n}\noutput m to delta(\"out\") mode append\n",
        )],
    );
    append(&dir.join("e"), events(0..20), true).await;
    assert_eq!(run_ok(&dir).await[0].rows, 20);
    append(&dir.join("e"), events(20..25), true).await;
    assert_eq!(run_ok(&dir).await[0].rows, 5);
    // rows 10..12 again: new among the changes, duplicates of rows written before
    append(&dir.join("e"), events(10..12), true).await;
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("compile"));
    match run::run_compiled(&c, &[]).await {
        Err(run::Failure::User(d)) => {
            assert_eq!(d.len(), 1);
            assert_eq!(d[0].code.as_str(), "E0402");
            assert!(
                d[0].message.contains("2 value(s) of `id` occur more than once"),
                "{}",
                d[0].message
            );
        }
        other => panic!("expected E0402, got {:?}", other.map(|r| r.len())),
    }
    assert_eq!(
        table_rows(url_of(&dir.join("out")).as_ref()).await.1.len(),
        25,
        "nothing appended"
    );
}

/// Without a key of the source in its output, an incremental model cannot tell which
/// written rows a delete takes away: the output is rebuilt, and still equals the model.
#[tokio::test]
async fn a_delete_without_a_passed_through_key_rebuilds() {
    let dir = workspace(
        "incremental_no_key",
        &[],
        &[(
            "main.sem",
            "source e from delta(\"e\") { id: int64 key\n kind: string\n amount: int64 }\nmodel m from e incremental { where amount > 10 select { kind, amount } }\noutput m to delta(\"out\") mode append\n",
        )],
    );
    append(&dir.join("e"), events(0..40), true).await;
    run_ok(&dir).await;
    let t = deltalake::open_table(url_of(&dir.join("e"))).await.unwrap();
    t.delete().with_predicate("id < 10").await.unwrap();
    let r = run_ok(&dir).await;
    assert!(
        r[0].incremental
            .as_deref()
            .unwrap()
            .contains("passes none of its keys through: rebuilt in full"),
        "{r:?}"
    );
    assert_eq!(
        table_rows(url_of(&dir.join("out")).as_ref()).await.1.len(),
        (10..40).filter(|i| (i * 37) % 100 > 10).count()
    );
}

/// Replacing by a string key: deleted and updated codes are replaced, and the output
/// equals the model over the source.
#[tokio::test]
async fn a_string_key_replaces_changed_rows() {
    let dir = workspace(
        "incremental_string_key",
        &[],
        &[(
            "main.sem",
            "source e from delta(\"e\") { code: string key\n amount: int64 }\nmodel m from e incremental { where amount > 20 select { code, amount } }\noutput m to delta(\"out\") mode append\n",
        )],
    );
    let batch = |ids: std::ops::Range<i64>| {
        let schema = Arc::new(Schema::new(vec![
            Field::new("code", DataType::Utf8, false),
            Field::new("amount", DataType::Int64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(ids.clone().map(|i| format!("k{i}")))),
                Arc::new(Int64Array::from_iter_values(ids.map(|i| (i * 37) % 100))),
            ],
        )
        .unwrap()
    };
    append(&dir.join("e"), batch(0..30), true).await;
    run_ok(&dir).await;
    let t = deltalake::open_table(url_of(&dir.join("e"))).await.unwrap();
    let t = t.delete().with_predicate("code = 'k3' OR code = 'k4'").await.unwrap().0;
    t.update()
        .with_predicate("code = 'k7'")
        .with_update("amount", "5")
        .await
        .unwrap();
    let r = run_ok(&dir).await;
    assert!(
        r[0].incremental
            .as_deref()
            .unwrap()
            .starts_with("replaced the rows of 3 `code` value(s)"),
        "{r:?}"
    );
    let mut got: Vec<String> = table_rows(url_of(&dir.join("out")).as_ref())
        .await
        .1
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    got.sort();
    let mut want: Vec<String> = (0..30)
        .filter(|i| ![3, 4, 7].contains(i) && (i * 37) % 100 > 20)
        .map(|i| format!("k{i}"))
        .collect();
    want.sort();
    assert_eq!(got, want);
}

/// Every writer of an incremental output records what it read: `semc exec` of a bundle
/// builds the output in full and records the versions read in the same commit, so the next
/// `semc run` finds it up to date, then appends only what came after — before, exec
/// recorded nothing and the next run appended the same rows a second time.
#[tokio::test]
async fn an_exec_of_an_incremental_bundle_records_what_it_read() {
    let dir = workspace("incremental_exec", &[], &[("main.sem", PROGRAM)]);
    append(&dir.join("events"), events(0..200), true).await;
    append(&dir.join("kinds"), kinds(&[("a", "A"), ("b", "B"), ("c", "C")]), false).await;
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("compile"));
    let bundle = dir.join("bundle");
    run::write_bundle(&c, &bundle, &["big".into()])
        .await
        .unwrap_or_else(|_| panic!("bundle"));
    let r = run::exec_bundle(&bundle, &run::RunOptions::default(), &run::Bindings::default())
        .await
        .unwrap_or_else(|_| panic!("exec"));
    assert!(
        report(&r, "big")
            .incremental
            .as_deref()
            .unwrap()
            .contains("built in full"),
        "{r:?}"
    );
    let out = |n: &str| url_of(&dir.join("out").join(n)).to_string();
    let written = table_rows(&out("big")).await.1.len();
    let r = run_ok(&dir).await;
    let big = report(&r, "big");
    assert!(
        big.skipped && big.incremental.as_deref().unwrap().starts_with("up to date"),
        "{big:?}"
    );
    assert_eq!(table_rows(&out("big")).await.1.len(), written, "nothing appended twice");
    append(&dir.join("events"), events(200..260), true).await;
    let r = run_ok(&dir).await;
    assert!(
        report(&r, "big")
            .incremental
            .as_deref()
            .unwrap()
            .starts_with("appended"),
        "{r:?}"
    );
    assert_eq!(
        sorted(table_rows(&out("big")).await),
        sorted(table_rows(&out("big_full")).await)
    );
}

/// The version of `table` an incremental output's latest commit records.
async fn recorded(output: &Path, name: &str, table: &Path) -> i64 {
    let t = deltalake::open_table(url_of(output)).await.unwrap();
    let app = run::incremental_app_id(name, &url_of(table));
    t.snapshot()
        .unwrap()
        .transaction_version(t.log_store().as_ref(), app)
        .await
        .unwrap()
        .expect("a recorded version")
}

/// The rows a full rebuild of `model` gives at version `v` of `events` (the same model,
/// not incremental, pinned, run by the CLI to a folder of its own).
async fn rebuilt_at(dir: &Path, model: &str, v: i64) -> Vec<Vec<String>> {
    let at = dir.join(format!("rebuild_v{v}"));
    let _ = std::fs::remove_dir_all(&at);
    std::fs::create_dir_all(&at).unwrap();
    std::os::unix::fs::symlink(dir.join("events"), at.join("events")).unwrap();
    std::fs::write(
        at.join("main.sem"),
        format!(
            "source events from delta(\"events\") at version {v} {{\n  id: int64 key\n  kind: string\n  amount: int64\n}}\n{model}\noutput clean to delta(\"out\") mode overwrite\n"
        )
        .replace(" incremental {", " {"),
    )
    .unwrap();
    let (code, _, err) = crate::fixtures::semc(&["run", at.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    table_rows(url_of(&at.join("out")).as_ref()).await.1
}

const CLEAN: &str = "model clean from events incremental {\n  where amount > 10\n  derive { twice = amount * 2 }\n}\n";

/// Issue 27: `semc exec` of an incremental bundle (planned after the source moved, or
/// before) writes exactly a rebuild at the versions it records, through appends, a delete
/// and an update in between; a later `semc run` goes on from what the exec recorded.
#[tokio::test]
async fn an_exec_of_an_incremental_bundle_writes_what_it_records() {
    let program = format!(
        "source events from delta(\"events\") {{\n  id: int64 key\n  kind: string\n  amount: int64\n}}\n{CLEAN}output clean to delta(\"out\") mode append\n"
    );
    let dir = workspace("incremental_exec_cli", &[], &[("models.sem", &program)]);
    let (source, out) = (dir.join("events"), dir.join("out"));
    let ws = dir.to_str().unwrap();
    let bundle = dir.join("bundle");
    let b = bundle.to_str().unwrap();
    let cli = |args: &[&str]| {
        let (code, out, err) = crate::fixtures::semc(args);
        assert_eq!(code, 0, "semc {args:?}: {err}");
        out + &err
    };
    let check = |step: &str| {
        let (dir, out, source) = (dir.clone(), out.clone(), source.clone());
        let step = step.to_string();
        async move {
            let v = recorded(&out, "clean", &source).await;
            let mut have = table_rows(url_of(&out).as_ref()).await.1;
            have.sort();
            let mut want = rebuilt_at(&dir, CLEAN, v).await;
            want.sort();
            assert_eq!(have.len(), want.len(), "{step}: the output at recorded version {v}");
            assert_eq!(have, want, "{step}: the output at recorded version {v}");
            v
        }
    };

    append(&source, events(0..1500), true).await;
    append(&source, events(1500..1800), true).await;
    cli(&["run", ws]);
    assert_eq!(check("run at v1").await, 1);
    append(&source, events(1800..1850), true).await;
    cli(&["run", ws, "--output", "clean"]);
    assert_eq!(check("run at v2").await, 2);
    // the issue's sequence: the bundle planned after the append, then exec'd
    append(&source, events(1850..1950), true).await;
    cli(&["plan", ws, "--output", "clean", "--bundle", b]);
    cli(&["exec", b]);
    assert_eq!(check("exec of a bundle planned at v3").await, 3);
    let err = cli(&["run", ws, "--output", "clean"]);
    assert!(err.contains("up to date"), "{err}");
    assert_eq!(check("run after the exec").await, 3);

    // a bundle planned before the last append: it rebuilds at its pin and records it
    cli(&["plan", ws, "--output", "clean", "--bundle", b]);
    append(&source, events(1950..2000), true).await;
    cli(&["exec", b]);
    assert_eq!(check("exec of a bundle planned at v3, events at v4").await, 3);
    cli(&["run", ws, "--output", "clean"]);
    assert_eq!(check("run after it").await, 4);

    // a delete and an update between plan and exec, and between runs
    cli(&["plan", ws, "--output", "clean", "--bundle", b]);
    let t = deltalake::open_table(url_of(&source)).await.unwrap();
    t.delete().with_predicate("id < 100").await.unwrap();
    let t = deltalake::open_table(url_of(&source)).await.unwrap();
    t.update()
        .with_predicate("id >= 200 and id < 300")
        .with_update("amount", "(amount + 50) % 100")
        .await
        .unwrap();
    cli(&["exec", b]);
    assert_eq!(check("exec of a bundle planned before a delete and an update").await, 4);
    cli(&["run", ws, "--output", "clean"]);
    assert_eq!(check("run after the delete and the update").await, 6);
    cli(&["plan", ws, "--output", "clean", "--bundle", b]);
    cli(&["exec", b]);
    assert_eq!(check("exec at v6").await, 6);
}
