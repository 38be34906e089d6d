//! Do only what changed (issue 26): an output whose last commit was computed by the same
//! plan from the same snapshots is skipped; any change in what computes it recomputes it —
//! all through the CLI.

use crate::fixtures::{semc, url_of, workspace, write_batch};
use datafusion::arrow::array::{Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn items(ids: std::ops::Range<i64>) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("kind", DataType::Utf8, true),
    ]);
    let kinds: Vec<String> = ids.clone().map(|i| format!("k{}", i % 3)).collect();
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Int64Array::from_iter_values(ids)),
            Arc::new(StringArray::from(kinds)),
        ],
    )
    .unwrap()
}

const PROGRAM: &str = r#"
source items from delta("items") {
  id: int64
  kind: string
}
source other from delta("other") {
  id: int64
  kind: string
}
model big from items { where id >= 2 }
model per_kind from big {
  group by kind
  aggregate { n = count() }
}
model others from other { select { id } }
output per_kind to delta("out/per_kind") mode overwrite
output others to delta("out/others") mode overwrite
"#;

/// Each output's state after a run: skipped or written, and its version.
fn run(dir: &Path, extra: &[&str]) -> BTreeMap<String, (bool, i64)> {
    let mut args = vec!["run", dir.to_str().unwrap(), "--format", "json"];
    args.extend(extra);
    let (code, out, err) = semc(&args);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "output")
        .map(|v| {
            let up_to_date = v["skipped"] == true && v.get("up_to_date").is_some();
            (
                v["output"].as_str().unwrap().to_string(),
                (up_to_date, v["version"].as_i64().unwrap()),
            )
        })
        .collect()
}

fn state(pairs: &[(&str, bool, i64)]) -> BTreeMap<String, (bool, i64)> {
    pairs.iter().map(|(n, s, v)| (n.to_string(), (*s, *v))).collect()
}

#[tokio::test]
async fn only_what_changed_is_computed() {
    let dir = workspace("up_to_date", &[], &[("main.sem", PROGRAM)]);
    write_batch(&dir.join("items"), items(0..10), None).await;
    write_batch(&dir.join("other"), items(0..4), None).await;
    assert_eq!(run(&dir, &[]), state(&[("per_kind", false, 0), ("others", false, 0)]));
    // nothing changed: nothing computed, nothing written — all outputs or one of them
    assert_eq!(run(&dir, &[]), state(&[("per_kind", true, 0), ("others", true, 0)]));
    assert_eq!(run(&dir, &["--output", "others"]), state(&[("others", true, 0)]));
    // a layout change is not a change of what computes
    std::fs::write(dir.join("main.sem"), PROGRAM.replace("where id >= 2", "where   id>=2")).unwrap();
    assert_eq!(run(&dir, &[]), state(&[("per_kind", true, 0), ("others", true, 0)]));
    // a model the output reads changes: that output only
    std::fs::write(dir.join("main.sem"), PROGRAM.replace("where id >= 2", "where id >= 3")).unwrap();
    assert_eq!(run(&dir, &[]), state(&[("per_kind", false, 1), ("others", true, 0)]));
    // a source's new version: the outputs that read it
    write_batch(&dir.join("other"), items(4..6), None).await;
    assert_eq!(run(&dir, &[]), state(&[("per_kind", true, 1), ("others", false, 1)]));
    // --force computes everything
    assert_eq!(
        run(&dir, &["--force"]),
        state(&[("per_kind", false, 2), ("others", false, 2)])
    );
    // another writer committed to the output: computed again
    write_batch(
        &dir.join("out/others"),
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)])),
            vec![Arc::new(Int64Array::from(vec![99]))],
        )
        .unwrap(),
        None,
    )
    .await;
    assert_eq!(run(&dir, &[]), state(&[("per_kind", true, 2), ("others", false, 4)]));
    let rows = crate::fixtures::table_rows(url_of(&dir.join("out/others")).as_ref())
        .await
        .1;
    assert_eq!(rows.len(), 6, "{rows:?}");

    // a bundle planned now runs as `semc run` would: up to date; bound elsewhere, computed
    let bundle = dir.join("bundle");
    let (code, _, err) = semc(&["plan", dir.to_str().unwrap(), "--bundle", bundle.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = semc(&["exec", bundle.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("\"up_to_date\"").count(), 2, "{out}");
    let elsewhere = format!(
        "others=file://{}/",
        std::fs::canonicalize(&dir).unwrap().join("out/others_copy").display()
    );
    let (code, out, err) = semc(&[
        "exec",
        bundle.to_str().unwrap(),
        "--bind",
        &elsewhere,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("\"up_to_date\"").count(), 1, "{out}");
}

/// Whether an output is up to date is read from its log's newest commit, found from the
/// last checkpoint on: it holds when the log's older commits were cleaned up after a
/// checkpoint (as a log retention does), and the version reported is the newest.
#[tokio::test]
async fn an_output_whose_old_commits_were_cleaned_up_is_still_up_to_date() {
    let dir = workspace("up_to_date_cleaned", &[], &[("main.sem", PROGRAM)]);
    write_batch(&dir.join("items"), items(0..10), None).await;
    write_batch(&dir.join("other"), items(0..4), None).await;
    for _ in 0..12 {
        run(&dir, &["--force", "--output", "others"]);
    }
    let log = dir.join("out/others/_delta_log");
    assert!(log.join("00000000000000000009.checkpoint.parquet").exists(), "{log:?}");
    for version in 0..9 {
        std::fs::remove_file(log.join(format!("{version:020}.json"))).unwrap();
    }
    assert_eq!(run(&dir, &["--output", "others"]), state(&[("others", true, 11)]));
    // and a change still recomputes it, on top of the checkpoint
    std::fs::write(
        dir.join("main.sem"),
        PROGRAM.replace("select { id }", "select { id, kind }"),
    )
    .unwrap();
    assert_eq!(run(&dir, &["--output", "others"]), state(&[("others", false, 12)]));
}
