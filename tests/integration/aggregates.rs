//! How a run aggregates: a partial aggregate (one per partition, before the rows are
//! exchanged) that merges few rows per group passes its rows on to the final aggregate
//! instead of building a hash table that saves it little (`engine::config`); one that
//! merges many keeps aggregating. The rows are the same either way. (Over keys that come in
//! runs, the partial aggregate merges the runs first: `rewrites::a_partial_aggregate_merges_runs_of_equal_keys_first`.)

use crate::fixtures::{int_table, metric, semc, table_rows, url_of, workspace};

/// The metrics `semc explain --analyze` shows for `output`'s partial aggregate (in a local
/// run, a `RunsFirstExec` with the hash aggregate's metrics).
fn partial_aggregate_metrics(dir: &std::path::Path, output: &str) -> String {
    let (code, out, err) = semc(&["explain", dir.to_str().unwrap(), "--output", output, "--analyze"]);
    assert_eq!(code, 0, "{err}");
    let plan: Vec<&str> = out.lines().skip_while(|l| !l.starts_with("== physical plan")).collect();
    let start = plan
        .iter()
        .position(|l| l.contains("AggregateExec: mode=Partial") || l.contains("RunsFirstExec:"))
        .unwrap_or_else(|| panic!("no partial aggregate in\n{out}"));
    // the operator's line and its continuation lines, up to the next operator
    let end = plan[start + 1..]
        .iter()
        .position(|l| l.contains("Exec:") || l.contains("Exec,"))
        .map_or(plan.len(), |n| start + 1 + n);
    plan[start..end].join(" ")
}

#[tokio::test]
async fn a_partial_aggregate_of_few_rows_per_group_passes_them_on() {
    let dir = workspace(
        "aggregates_partial_skip",
        &[],
        &[(
            "w.sem",
            r#"
source t from delta("t") { id: int64  k: int64  g: int64  v: int64 }
model by_k from t { group by k  aggregate { n = count(), total = sum(v) } }
model by_g from t { group by g  aggregate { n = count(), total = sum(v) } }
output by_k to delta("out/by_k") mode overwrite
output by_g to delta("out/by_g") mode overwrite
"#,
        )],
    );
    // 400,000 rows: 4 per `k` (100,000 groups; no two rows of one side by side), 40,000 per
    // `g` (10 groups)
    let rows = 400_000i64;
    let column = |f: &dyn Fn(i64) -> i64| (0..rows).map(|i| Some(f(i))).collect::<Vec<_>>();
    int_table(
        &dir.join("t"),
        &[
            ("id", column(&|i| i)),
            ("k", column(&|i| i * 7_919 % 100_000)),
            ("g", column(&|i| i % 10)),
            ("v", column(&|i| i % 1_000)),
        ],
    )
    .await;

    let few = partial_aggregate_metrics(&dir, "by_k");
    assert!(metric(&few, "skipped_aggregation_rows").unwrap_or(0.0) > 0.0, "{few}");
    let many = partial_aggregate_metrics(&dir, "by_g");
    assert_eq!(metric(&many, "skipped_aggregation_rows").unwrap_or(0.0), 0.0, "{many}");

    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let by_k = table_rows(url_of(&dir.join("out/by_k")).as_ref()).await.1;
    assert_eq!(by_k.len(), 100_000);
    let mut sums = std::collections::HashMap::new();
    for i in 0..rows {
        *sums.entry(i * 7_919 % 100_000).or_insert(0i64) += i % 1_000;
    }
    for row in &by_k {
        let k: i64 = row[0].parse().unwrap();
        let want = sums[&k];
        assert_eq!(row[1..], ["4".to_string(), want.to_string()], "k = {k}");
    }
    let mut by_g = table_rows(url_of(&dir.join("out/by_g")).as_ref()).await.1;
    by_g.sort_by_key(|r| r[0].parse::<i64>().unwrap());
    for (g, row) in by_g.iter().enumerate() {
        let want: i64 = (0..rows).filter(|i| i % 10 == g as i64).map(|i| i % 1_000).sum();
        assert_eq!(row[..], [g.to_string(), "40000".to_string(), want.to_string()]);
    }
}
