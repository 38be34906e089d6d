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

/// Writes the table `texts` (`n`, `value`, `other`: strings) beside the workspace.
async fn write_texts(dir: &Path, [n, value, other]: [Vec<Option<String>>; 3]) {
    let schema = Schema::new(
        ["n", "value", "other"]
            .map(|n| Field::new(n, datafusion::arrow::datatypes::DataType::Utf8, true))
            .to_vec(),
    );
    let column = |v: Vec<Option<String>>| -> ArrayRef { Arc::new(StringArray::from(v)) };
    let batch = RecordBatch::try_new(Arc::new(schema), vec![column(n), column(value), column(other)]).unwrap();
    write_batch(&dir.join("texts"), batch, None).await;
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
    let column = |f: &dyn Fn(usize, &serde_json::Value) -> Option<String>| -> Vec<Option<String>> {
        want.iter().enumerate().map(|(i, w)| f(i, w)).collect()
    };
    write_texts(
        &dir,
        [
            column(&|i, _| Some(format!("{i:03}"))),
            column(&|_, w| w["value"].as_str().map(str::to_string)),
            column(&|_, w| w["other"].as_str().map(str::to_string)),
        ],
    )
    .await;
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
    let strings = |v: &[Option<&str>]| v.iter().map(|s| s.map(str::to_string)).collect::<Vec<_>>();
    write_texts(
        &dir,
        [
            strings(&[Some("a"), Some("bb"), Some("ccc")]),
            strings(&[Some("x.py"), Some("y.py"), None]),
            strings(&[None, Some("o"), Some("p")]),
        ],
    )
    .await;
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

const ORDERS_AND_LINES: &str = r#"
source orders from delta("tpch/orders") {
  o_orderkey: int64 key
  o_custkey: int64
  o_totalprice: decimal(15, 2)
}
source lineitem from delta("tpch/lineitem") {
  l_orderkey: int64
  l_linenumber: int32
  l_extendedprice: decimal(15, 2)
}
## The best row per key above a floor.
template top_per(rel, key: column, score: column, n: int64 = 1, floor: expr = 0) from rel {
  where score > floor
  keep 1 per key by score desc
  derive { rank_n = n }
}
"#;

/// A template's instances are the models its body gives with the arguments in place of the
/// parameters (a relation, columns, a typed value with a default, an expression), equal to
/// the same models written out; an instance whose arguments do not fit, or that names no
/// template, is refused with the instance and the template shown; a mistake in the body
/// made by an instance points at the template line and at the instance.
#[tokio::test]
async fn templates_expand_to_the_models_written_out() {
    let program = format!(
        r#"{ORDERS_AND_LINES}
model top_order = top_per(orders, o_custkey, o_totalprice)
model top_line = top_per(lineitem, l_orderkey, l_extendedprice, n = 3, floor = 100)
model top_line_by_hand from lineitem {{
  where l_extendedprice > 100
  keep 1 per l_orderkey by l_extendedprice desc
  derive {{ rank_n = cast(3 as int64) }}
}}
model top_order_by_hand from orders {{
  where o_totalprice > 0
  keep 1 per o_custkey by o_totalprice desc
  derive {{ rank_n = cast(1 as int64) }}
}}
output top_order to delta("out/top_order") mode overwrite
output top_line to delta("out/top_line") mode overwrite
output top_line_by_hand to delta("out/top_line_by_hand") mode overwrite
output top_order_by_hand to delta("out/top_order_by_hand") mode overwrite
"#
    );
    let dir = workspace("templates", &[("tpch", "tpch")], &[("main.sem", &program)]);
    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let rows = |name: &str| {
        let location = url_of(&dir.join("out").join(name)).to_string();
        async move {
            let mut r = table_rows(&location).await.1;
            r.sort();
            r
        }
    };
    let (a, b) = (rows("top_line").await, rows("top_line_by_hand").await);
    assert!(!a.is_empty());
    assert_eq!(a, b);
    assert_eq!(rows("top_order").await, rows("top_order_by_hand").await);
    let (code, out, err) = semc(&["show", dir.to_str().unwrap(), "--model", "top_line", "--schema"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("The best row per key above a floor."),
        "the template's doc: {out}"
    );

    let broken = format!(
        r#"{ORDERS_AND_LINES}
model missing = top_per(orders)
model misspelt = top_pr(orders, o_custkey, o_totalprice)
model unknown_param = top_per(orders, o_custkey, o_totalprice, weight = 2)
model not_a_name = top_per(orders, o_custkey + 1, o_totalprice)
model bad_column = top_per(orders, o_custkey, o_totalprise)
"#
    );
    std::fs::write(dir.join("main.sem"), broken).unwrap();
    let (code, out, _) = semc(&["check", dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1);
    let found: Vec<serde_json::Value> = out.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let summary: Vec<(String, u64)> = found
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default().to_string(),
                d["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    // E0203 twice for `missing` (key, score), E0103 for `misspelt`, E0203 for the unknown
    // parameter and for an expression given for a column, E0102 twice for `bad_column`
    // (its `where` and its `keep`, in the template's lines 14 and 15)
    assert_eq!(
        summary,
        [
            ("E0203".to_string(), 19),
            ("E0203".to_string(), 19),
            ("E0103".to_string(), 20),
            ("E0203".to_string(), 21),
            ("E0203".to_string(), 22),
            ("E0102".to_string(), 14),
            ("E0102".to_string(), 15),
        ],
        "{out}"
    );
    let last = found.last().unwrap();
    let label_lines: Vec<u64> = last["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    assert!(label_lines.contains(&23), "the instance is shown too: {last}");
    assert!(
        found[2]["help"].as_str().unwrap().contains("did you mean `top_per`?"),
        "{}",
        found[2]
    );
}

/// Edges `(path, child, parent)`: a random forest per path `a` and `b` (each node's parent
/// a smaller node, so chains run up to the root) and a DAG for path `c` (two parents each).
fn edges() -> RecordBatch {
    let mut seed = 20261202u64;
    let mut next = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n.max(1)
    };
    let mut rows: Vec<(&str, i64, i64)> = vec![];
    for path in ["a", "b"] {
        for i in 1..300 {
            rows.push((path, i, next(i as u64) as i64));
        }
    }
    for i in 2..40i64 {
        let (p, q) = (next(i as u64) as i64, next(i as u64) as i64);
        rows.push(("c", i, p));
        if q != p {
            rows.push(("c", i, q));
        }
    }
    let schema = Schema::new(vec![
        Field::new("path", datafusion::arrow::datatypes::DataType::Utf8, true),
        Field::new("child", datafusion::arrow::datatypes::DataType::Int64, true),
        Field::new("parent", datafusion::arrow::datatypes::DataType::Int64, true),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(datafusion::arrow::array::Int64Array::from_iter_values(
                rows.iter().map(|r| r.1),
            )),
            Arc::new(datafusion::arrow::array::Int64Array::from_iter_values(
                rows.iter().map(|r| r.2),
            )),
        ],
    )
    .unwrap()
}

/// The rows of a recursive query over the edges, as DataFusion's SQL computes it (an
/// unbounded `WITH RECURSIVE`, the reference the closure must equal).
async fn recursive_sql(table: &Path, select: &str) -> Vec<Vec<String>> {
    let url = url_of(table);
    let t = semc::delta::open(&url, &semc::delta::PinSpec::Latest).await.unwrap();
    let ctx = datafusion::prelude::SessionContext::new();
    let p = semc::engine::delta_rs_provider(&t, &ctx.state()).await.unwrap();
    ctx.register_table("edges", p).unwrap();
    let sql = format!(
        "with recursive w(path, child, ancestor, depth) as (
           select path, child, parent, 1 from edges
           union all
           select w.path, w.child, e.parent, w.depth + 1 from w join edges e on e.path = w.path and e.child = w.ancestor
         ) {select}"
    );
    let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
    let mut rows = crate::fixtures::to_rows(&batches).1;
    rows.sort();
    rows
}

/// `closure` equals an unbounded recursive query over trees and a DAG — every walk, and
/// the shortest per node reached — in one operator (the plan reads the edges once);
/// `truncate` cuts walks at `max`; a walk past `max` fails the run with E0414 and commits
/// nothing; a cycle ends under `shortest`.
#[tokio::test]
async fn closure_equals_a_recursive_query() {
    let program = r#"
source edges from delta("edges") {
  path: string
  child: int64
  parent: int64
}
model ancestors from edges { closure child -> parent per path max 300 as (ancestor, depth) }
model nearest from edges { closure child -> parent per path max 300 as (ancestor, depth) shortest }
model near from edges { closure child -> parent per path max 2 as (ancestor, depth) truncate }
# edges under other names: the plan read back from Substrait names its columns otherwise
model renamed from edges {
  select { p = path, c = child, up = cast(parent as int64) }
  closure c -> up per p max 300 as (anc, d)
}
output ancestors to delta("out/ancestors") mode overwrite
output renamed to delta("out/renamed") mode overwrite
output nearest to delta("out/nearest") mode overwrite
output near to delta("out/near") mode overwrite
"#;
    let dir = workspace("closure", &[], &[("main.sem", program)]);
    write_batch(&dir.join("edges"), edges(), None).await;
    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let sorted = |name: &str| {
        let location = url_of(&dir.join("out").join(name)).to_string();
        async move {
            let mut rows = table_rows(&location).await.1;
            rows.sort();
            rows
        }
    };
    let walks = recursive_sql(&dir.join("edges"), "select * from w").await;
    assert!(walks.len() > 1000, "{}", walks.len());
    assert_eq!(sorted("ancestors").await, walks);
    assert_eq!(sorted("renamed").await, walks);
    let shortest = recursive_sql(
        &dir.join("edges"),
        "select path, child, ancestor, min(depth) from w group by 1, 2, 3",
    )
    .await;
    assert_eq!(sorted("nearest").await, shortest);
    let near = recursive_sql(&dir.join("edges"), "select * from w where depth <= 2").await;
    assert_eq!(sorted("near").await, near);
    // one operator over one read of the edges, not a join per level
    let (code, out, err) = semc(&["explain", dir.to_str().unwrap(), "--output", "ancestors"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("ClosureExec").count(), 1, "{out}");
    assert_eq!(out.matches("DataSourceExec").count(), 1, "{out}");
    assert!(!out.contains("HashJoinExec"), "{out}");

    // too deep for `max`, and a cycle: E0414, nothing committed; `shortest` ends a cycle
    let too_deep = program.replace("max 300 as (ancestor, depth) }", "max 3 as (ancestor, depth) }");
    std::fs::write(dir.join("main.sem"), too_deep).unwrap();
    let (code, _, err) = semc(&["run", dir.to_str().unwrap(), "--output", "ancestors"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0414") && err.contains("max 3"), "{err}");
    let cycle = r#"
source edges from delta("cycle") { path: string
 child: int64
 parent: int64 }
model walks from edges { closure child -> parent per path max 50 as (ancestor, depth) }
model nodes from edges { closure child -> parent per path max 50 as (ancestor, depth) shortest }
output walks to delta("out/walks") mode overwrite
output nodes to delta("out/nodes") mode overwrite
"#;
    std::fs::write(dir.join("main.sem"), cycle).unwrap();
    let ring = RecordBatch::try_new(
        edges().schema(),
        vec![
            Arc::new(StringArray::from_iter_values(["r", "r", "r"])),
            Arc::new(datafusion::arrow::array::Int64Array::from_iter_values([1, 2, 3])),
            Arc::new(datafusion::arrow::array::Int64Array::from_iter_values([2, 3, 1])),
        ],
    )
    .unwrap();
    write_batch(&dir.join("cycle"), ring, None).await;
    let (code, _, err) = semc(&["run", dir.to_str().unwrap(), "--output", "walks"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0414"), "{err}");
    assert!(!dir.join("out/walks/_delta_log").exists(), "nothing committed");
    let (code, _, err) = semc(&["run", dir.to_str().unwrap(), "--output", "nodes"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(sorted("nodes").await.len(), 9, "each of 3 nodes reaches all 3");
}

/// A model read beside its own scalar aggregate (TPC-H Q15's shape: each supplier's revenue
/// against the maximum) is one plan on both sides of the scalar's join, computed once — the
/// join's `true` condition, pushed into one side's scan, does not make it two — with the
/// rows of the run that computes it twice.
#[tokio::test]
async fn a_model_beside_its_own_scalar_aggregate_is_computed_once() {
    let program = r#"
source lineitem from delta("tpch/lineitem") {
  l_orderkey: int64
  l_suppkey: int64
  l_extendedprice: decimal(15, 2)
  l_shipdate: date
}
model revenue from lineitem {
  where l_shipdate >= date "1996-01-01"
  group by supplier = l_suppkey
  aggregate { total = sum(l_extendedprice) }
}
model top_revenue from revenue {
  aggregate { best = max(total) }
}
model top from revenue {
  where total == top_revenue.best
  select { supplier, total }
}
output top to delta("out/top") mode overwrite
"#;
    let dir = workspace("scalar_beside_its_model", &[("tpch", "tpch")], &[("main.sem", program)]);
    let ws = dir.to_str().unwrap();
    let top = || async { table_rows(url_of(&dir.join("out/top")).as_ref()).await.1 };
    let (code, _, err) = crate::fixtures::semc_with(&["run", ws, "-v"], &[("SEMC_SHARED_MODELS", "off")]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("computed once"), "{err}");
    let twice = top().await;
    assert_eq!(twice.len(), 1, "{twice:?}");
    let (code, _, err) = semc(&["run", ws, "-v", "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("computed once: 1 subplan(s)"), "{err}");
    assert_eq!(top().await, twice);
    // explain shows what a run shares
    let (code, out, err) = semc(&["explain", ws, "--output", "top"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("== computed once ==\n1 subplan(s)"), "{out}");
}

/// A model that several outputs read — and one output twice, through a union — is computed
/// once per run into a run-local cache (removed when the run ends): the rows are those of
/// each output run alone, `-v` says what was shared, `explain` shows it.
#[tokio::test]
async fn a_model_read_by_several_outputs_is_computed_once() {
    let program = r#"
source orders from delta("tpch/orders") {
  o_orderkey: int64 key
  o_custkey: int64
}
source lineitem from delta("tpch/lineitem") {
  l_orderkey: int64
  l_extendedprice: decimal(15, 2)
  join orders many_to_one on l_orderkey = orders.o_orderkey
}
model per_customer from lineitem {
  group by c = orders.o_custkey
  aggregate { revenue = sum(l_extendedprice), lines = count() }
}
model big from per_customer { where lines > 20 }
model small from per_customer { where lines <= 20 }
model both from big { union small }
output big to delta("out/big") mode overwrite
output small to delta("out/small") mode overwrite
output both to delta("out/both") mode overwrite
"#;
    let dir = workspace("computed_once", &[("tpch", "tpch")], &[("main.sem", program)]);
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let ws = dir.to_str().unwrap();
    let read_all = || async {
        let mut all = vec![];
        for o in ["big", "small", "both"] {
            let mut rows = table_rows(url_of(&dir.join("out").join(o)).as_ref()).await.1;
            rows.sort();
            all.push(rows);
        }
        all
    };
    // each output alone: nothing shared across outputs
    for o in ["big", "small", "both"] {
        let (code, _, err) =
            crate::fixtures::semc_with(&["run", ws, "--output", o, "-v"], &[("TMPDIR", tmp.to_str().unwrap())]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(err.contains("computed once"), o == "both", "{o}: {err}");
    }
    let alone = read_all().await;
    // (forced: each output alone committed what this run computes)
    let (code, _, err) =
        crate::fixtures::semc_with(&["run", ws, "-v", "--force"], &[("TMPDIR", tmp.to_str().unwrap())]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("computed once: 1 subplan(s)"), "{err}");
    assert_eq!(read_all().await, alone);
    assert_eq!(alone[2].len(), alone[0].len() + alone[1].len());
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "the run's cache is removed"
    );
    let (code, out, err) = semc(&["explain", ws, "--output", "both"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("== computed once ==\n1 subplan(s)") && out.contains("Aggregate"),
        "{out}"
    );
    // a cache that cannot be written (here TMPDIR is a file; a full disk alike) is the
    // run's environment, not a bug: E0417, nothing committed
    let before = std::fs::read_dir(dir.join("out/both/_delta_log")).unwrap().count();
    let not_a_folder = dir.join("main.sem");
    // (several times: the run stops while other outputs' tables may still be read, and
    // ending the process then must not panic — it did about once in four runs under load)
    for _ in 0..12 {
        let (code, _, err) =
            crate::fixtures::semc_with(&["run", ws, "--force"], &[("TMPDIR", not_a_folder.to_str().unwrap())]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("E0417") && !err.contains("internal error"), "{err}");
    }
    assert_eq!(
        std::fs::read_dir(dir.join("out/both/_delta_log")).unwrap().count(),
        before
    );
}

/// Host functions from Rust: an `extern fn` is checked from its declaration alone, computed
/// by the function the host registered (`semc::host::register`); the `semc` command, which
/// registers none, stops before running with E0415 at the declaration.
#[tokio::test]
async fn an_extern_function_is_the_hosts() {
    use datafusion::logical_expr::{
        ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
    };
    #[derive(Debug, PartialEq, Eq, Hash)]
    struct Doubled(Signature);
    impl ScalarUDFImpl for Doubled {
        fn name(&self) -> &str {
            "doubled_by_host"
        }
        fn signature(&self) -> &Signature {
            &self.0
        }
        fn return_type(
            &self,
            _: &[datafusion::arrow::datatypes::DataType],
        ) -> datafusion::error::Result<datafusion::arrow::datatypes::DataType> {
            Ok(datafusion::arrow::datatypes::DataType::Int64)
        }
        fn invoke_with_args(&self, args: ScalarFunctionArgs) -> datafusion::error::Result<ColumnarValue> {
            let a = args.args[0].to_array(args.number_rows)?;
            let a = datafusion::arrow::compute::cast(&a, &datafusion::arrow::datatypes::DataType::Int64)?;
            let two = datafusion::arrow::array::Int64Array::new_scalar(2);
            Ok(ColumnarValue::Array(datafusion::arrow::compute::kernels::numeric::mul(
                &a, &two,
            )?))
        }
    }
    let program = r#"
source region from delta("tpch/region") { r_regionkey: int64 key }
## Twice the key, by the host.
extern fn doubled_by_host(k: int64) -> int64
model twice from region { select { r_regionkey, d = doubled_by_host(r_regionkey) } }
output twice to delta("out/twice") mode overwrite
"#;
    let dir = workspace("extern_fn", &[("tpch", "tpch")], &[("main.sem", program)]);
    let (code, _, err) = semc(&["check", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "checked from the declaration alone: {err}");
    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("E0415") && err.contains("doubled_by_host") && err.contains("main.sem:4"),
        "{err}"
    );
    semc::host::register(ScalarUDF::from(Doubled(Signature::any(1, Volatility::Immutable))));
    let reports = crate::fixtures::run_ok(&dir).await;
    assert_eq!(reports[0].rows, 5);
    for row in table_rows(&reports[0].location).await.1 {
        assert_eq!(row[1].parse::<i64>().unwrap(), 2 * row[0].parse::<i64>().unwrap());
    }
}
