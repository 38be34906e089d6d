//! The language for real pipelines (issue 23), through the CLI: built-in stable ids equal
//! Python's `hashlib`, functions of the workspace are inlined and checked.

use crate::fixtures::{semc, table_rows, url_of, workspace, write_batch};
use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use std::path::Path;
use std::sync::Arc;

/// Runs the workspace with the CLI; the rows of output `name`.
async fn run_rows(dir: &Path, name: &str) -> Vec<Vec<String>> {
    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    table_rows(url_of(&dir.join("out").join(name)).as_ref()).await.1
}

/// `stable_id`, `stable_id_parts`, `stable_hash64` and `blake2b` of 68 texts (empty, long,
/// separators, CJK, emoji, control characters; null parts) equal the values Python's
/// `hashlib.blake2b` gives (`tests/cases/ids/hashlib.jsonl`, written by `generate.py`).
#[tokio::test]
async fn stable_ids_equal_pythons_hashlib() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/ids/hashlib.jsonl")).unwrap();
    let want: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let dir = workspace(
        "stable_ids",
        &[],
        &[(
            "main.sem",
            r#"
source texts from delta("texts") {
  n: string
  value: string
  other: string
}
model ids from texts {
  select {
    n
    a = stable_id("def", value)
    b = stable_id_parts("ref", value, other)
    c = stable_hash64(value)
    d = blake2b(value, 1)
    e = blake2b(value, 20)
    f = blake2b(value, 64)
  }
}
output ids to delta("out/ids") mode overwrite
"#,
        )],
    );
    let column = |f: &dyn Fn(usize, &serde_json::Value) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from(
            want.iter().enumerate().map(|(i, w)| f(i, w)).collect::<Vec<_>>(),
        ))
    };
    let schema = Schema::new(
        ["n", "value", "other"]
            .map(|n| Field::new(n, datafusion::arrow::datatypes::DataType::Utf8, true))
            .to_vec(),
    );
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![
            column(&|i, _| Some(format!("{i:03}"))),
            column(&|_, w| w["value"].as_str().map(str::to_string)),
            column(&|_, w| w["other"].as_str().map(str::to_string)),
        ],
    )
    .unwrap();
    write_batch(&dir.join("texts"), batch, None).await;
    let mut got = run_rows(&dir, "ids").await;
    got.sort();
    assert_eq!(got.len(), want.len());
    for (row, w) in got.iter().zip(&want) {
        let expected = [
            w["stable_id"].as_str().unwrap().to_string(),
            w["stable_id_parts"].as_str().unwrap().to_string(),
            w["stable_hash64"].as_i64().unwrap().to_string(),
            w["blake2b_1"].as_str().unwrap().to_string(),
            w["blake2b_20"].as_str().unwrap().to_string(),
            w["blake2b_64"].as_str().unwrap().to_string(),
        ];
        assert_eq!(&row[1..], &expected, "value {:?}", w["value"]);
    }
}

/// Functions of the workspace compute what their bodies say at every call, nested and with
/// arguments widened to their parameters; their mistakes are reported once, where they are
/// declared, and a call's own mistakes where it stands.
#[tokio::test]
async fn workspace_functions_are_inlined_and_checked() {
    let program = r#"
## 1 when true, else 0.
fn flag(b: bool) -> int64 = case when b then 1 else 0 end
fn span_id(ns: string, path: string, s: int64, e: int64) -> string = stable_id_parts(ns, path, cast(s as string), cast(e as string))
fn twice(x: int64) -> int64 = x * 2
source texts from delta("texts") {
  n: string
  value: string
  other: string
}
model spans from texts {
  select {
    n
    id = span_id("def", value, twice(length(n)), twice(twice(3)))
    by_hand = stable_id_parts("def", value, cast(length(n) * 2 as string), "12")
    f = flag(other is null)
  }
}
output spans to delta("out/spans") mode overwrite
"#;
    let dir = workspace("workspace_functions", &[], &[("main.sem", program)]);
    let strings = |v: &[Option<&str>]| -> ArrayRef { Arc::new(StringArray::from(v.to_vec())) };
    let schema = Schema::new(
        ["n", "value", "other"]
            .map(|n| Field::new(n, datafusion::arrow::datatypes::DataType::Utf8, true))
            .to_vec(),
    );
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![
            strings(&[Some("a"), Some("bb"), Some("ccc")]),
            strings(&[Some("x.py"), Some("y.py"), None]),
            strings(&[None, Some("o"), Some("p")]),
        ],
    )
    .unwrap();
    write_batch(&dir.join("texts"), batch, None).await;
    let mut rows = run_rows(&dir, "spans").await;
    rows.sort();
    for r in &rows {
        assert_eq!(
            r[1], r[2],
            "the function computes what the expression written out does: {r:?}"
        );
    }
    let flags: Vec<&str> = rows.iter().map(|r| r[3].as_str()).collect();
    assert_eq!(flags, ["1", "0", "0"]);

    // mistakes: in a body (once, at the declaration), in calls, recursion
    let broken = r#"
fn bad(x: int64) -> string = x + y
fn loop(x: int64) -> int64 = loop(x) + 1
fn ping(x: int64) -> int64 = pong(x)
fn pong(x: int64) -> int64 = ping(x)
fn upper(x: string) -> string = x
fn twice(x: int64) -> int64 = x * 2
fn sum_in_body(x: int64) -> int64 = sum(x)
source texts from delta("texts") { n: string }
model m from texts {
  derive { a = bad(1), b = bad(2), c = twice("x"), d = twice(1, 2) }
}
"#;
    std::fs::write(dir.join("main.sem"), broken).unwrap();
    let (code, out, _) = semc(&["check", dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1);
    let found: Vec<(String, u64)> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default().to_string(),
                d["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let at = |code: &str| {
        let mut lines = found.iter().filter(|f| f.0 == code).map(|f| f.1).collect::<Vec<_>>();
        lines.sort();
        lines
    };
    assert_eq!(at("E0102"), [2], "the body's unknown name, once: {found:?}");
    assert_eq!(at("E0112"), [3, 4, 5], "{found:?}");
    assert_eq!(at("E0101"), [6], "{found:?}");
    assert_eq!(at("E0207"), [8], "{found:?}");
    assert_eq!(at("E0203"), [11, 11], "{found:?}");
}
