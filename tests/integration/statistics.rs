//! What a Delta log's file statistics are trusted for: a file its bounds exclude from a
//! filter is not read, a bound its writer rounded never loses a row, and a file without
//! bounds keeps no other file from being pruned.

use crate::fixtures::{run_ok, table_rows, url_of, workspace, write_batch};
use datafusion::arrow::array::{ArrayRef, Decimal128Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use semc::run;
use std::path::Path;
use std::sync::Arc;

/// One file of `id` and `value` columns.
async fn write_file(table: &Path, ids: Vec<i64>, value: ArrayRef) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("value", value.data_type().clone(), true),
    ]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(ids)), value]).unwrap();
    write_batch(table, batch, None).await;
}

/// The ids `output` committed, sorted.
async fn ids_of(dir: &Path, output: &str) -> Vec<String> {
    let mut ids: Vec<String> = table_rows(url_of(&dir.join(output)).as_ref())
        .await
        .1
        .into_iter()
        .map(|row| row[0].clone())
        .collect();
    ids.sort();
    ids
}

/// delta-rs logs a decimal's bounds through `f64`: `0.30000000000000001` is logged as `0.3`,
/// below the file's real maximum. A filter above that logged maximum still finds the row.
#[tokio::test]
async fn a_decimal_bound_its_writer_rounded_loses_no_row() {
    let program = r#"
source t from delta("t") { id: int64  value: decimal(38, 17) }
model above from t {
  where value >= 0.30000000000000001
  select { id }
}
output above to delta("out/above") mode overwrite
"#;
    let dir = workspace("statistics_rounded_decimal", &[], &[("main.sem", program)]);
    let decimals = |units: Vec<i128>| -> ArrayRef {
        Arc::new(Decimal128Array::from(units).with_precision_and_scale(38, 17).unwrap())
    };
    // 0.30000000000000001 and 0.1, one file each
    write_file(&dir.join("t"), vec![1], decimals(vec![30_000_000_000_000_001])).await;
    write_file(&dir.join("t"), vec![2], decimals(vec![10_000_000_000_000_000])).await;
    let log = std::fs::read_to_string(dir.join("t/_delta_log/00000000000000000000.json")).unwrap();
    assert!(log.contains(r#"\"value\":0.3"#), "the writer rounds the bound: {log}");
    run_ok(&dir).await;
    assert_eq!(ids_of(&dir, "out/above").await, ["1"]);
}

/// A file with no bounds for a column (here: all nulls) is pruned by its null count, and
/// the other files by their bounds: one file of three is read.
#[tokio::test]
async fn a_file_without_bounds_keeps_no_other_file_from_pruning() {
    let program = r#"
source t from delta("t") { id: int64  value: int64 }
model large from t {
  where value > 50
  select { id }
}
output large to delta("out/large") mode overwrite
"#;
    let dir = workspace("statistics_missing_bounds", &[], &[("main.sem", program)]);
    let ints = |v: Vec<Option<i64>>| -> ArrayRef { Arc::new(Int64Array::from(v)) };
    write_file(&dir.join("t"), vec![1, 2], ints(vec![None, None])).await;
    write_file(&dir.join("t"), vec![3, 4], ints(vec![Some(5), Some(10)])).await;
    write_file(&dir.join("t"), vec![5, 6], ints(vec![Some(100), Some(20)])).await;
    let text = run::explain(&dir, "large", false)
        .await
        .unwrap_or_else(|_| panic!("explain"));
    assert!(text.contains("1 of 3 files read, 2 pruned"), "{text}");
    run_ok(&dir).await;
    assert_eq!(ids_of(&dir, "out/large").await, ["5"]);
}
