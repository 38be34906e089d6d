//! Tables with Delta protocol features, their logs written by hand where delta-rs cannot
//! produce them: semc reads each faithfully or refuses it with a diagnostic — never a silent
//! wrong answer.

use crate::fixtures::{run_ok, table_rows, url_of, workspace, write_batch};
use datafusion::arrow::array::{Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use deltalake::DeltaTable;
use semc::run;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

/// A batch of `id` (int64) and `name` (string) columns, both nullable, named as given.
fn id_name(id_col: &str, name_col: &str, ids: Vec<i64>, names: Vec<Option<String>>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new(id_col, DataType::Int64, true),
        Field::new(name_col, DataType::Utf8, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from(ids)), Arc::new(StringArray::from(names))],
    )
    .unwrap()
}

/// `id` 0..n and `name` "n<id>".
fn numbered(id_col: &str, name_col: &str, n: i64) -> RecordBatch {
    id_name(
        id_col,
        name_col,
        (0..n).collect(),
        (0..n).map(|i| Some(format!("n{i}"))).collect(),
    )
}

/// A one-file table at `dir`: `id` 0..n and `name` "n<id>", columns named as given.
async fn base_table(dir: &Path, id_col: &str, name_col: &str, n: i64) {
    write_batch(dir, numbered(id_col, name_col, n), None).await;
}

/// The actions of commit `v` of the table at `dir`.
fn actions(dir: &Path, v: u64) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join(format!("_delta_log/{v:020}.json"))).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn action<'a>(actions: &'a [Value], kind: &str) -> &'a Value {
    actions.iter().find_map(|a| a.get(kind)).unwrap()
}

fn commit(dir: &Path, v: u64, actions: &[Value]) {
    let mut text = String::new();
    for a in actions {
        text.push_str(&serde_json::to_string(a).unwrap());
        text.push('\n');
    }
    text.push_str(
        &serde_json::to_string(&json!({"commitInfo": {"timestamp": 1_700_000_000_000u64 + v, "operation": "MANUAL"}}))
            .unwrap(),
    );
    text.push('\n');
    std::fs::write(dir.join(format!("_delta_log/{v:020}.json")), text).unwrap();
}

const IDS_PROGRAM: &str = "source t from delta(\"t\") {\n  id: int64\n  name: string\n}\nmodel m from t { select { id, name } }\noutput m to delta(\"out\") mode overwrite\n";

#[tokio::test]
async fn deletion_vectors_hide_deleted_rows() {
    use delta_kernel::actions::deletion_vector_writer::{KernelDeletionVector, StreamingDeletionVectorWriter};
    let dir = workspace("feature_dv", &[], &[("main.sem", IDS_PROGRAM)]);
    let t = dir.join("t");
    base_table(&t, "id", "name", 100).await;
    // version 1: the deletionVectors feature; version 2: rows 3, 10 and 99 of the file deleted
    let v0 = actions(&t, 0);
    let mut meta = action(&v0, "metaData").clone();
    meta["configuration"]["delta.enableDeletionVectors"] = json!("true");
    commit(
        &t,
        1,
        &[
            json!({"protocol": {"minReaderVersion": 3, "minWriterVersion": 7, "readerFeatures": ["deletionVectors"], "writerFeatures": ["deletionVectors"]}}),
            json!({ "metaData": meta }),
        ],
    );
    let mut dv = KernelDeletionVector::new();
    dv.add_deleted_row_indexes([3u64, 10, 99]);
    let mut bytes = vec![];
    let mut w = StreamingDeletionVectorWriter::new(&mut bytes);
    let written = w.write_deletion_vector(dv).unwrap();
    w.finalize().unwrap();
    let dv_path = t.join("deletion_vector_hand.bin");
    std::fs::write(&dv_path, &bytes).unwrap();
    let add = action(&v0, "add").clone();
    let mut with_dv = add.clone();
    with_dv["dataChange"] = json!(true);
    with_dv["deletionVector"] = json!({
        "storageType": "p",
        "pathOrInlineDv": url::Url::from_file_path(std::fs::canonicalize(&dv_path).unwrap()).unwrap().to_string(),
        "offset": written.offset,
        "sizeInBytes": written.size_in_bytes,
        "cardinality": written.cardinality,
    });
    commit(
        &t,
        2,
        &[
            json!({"remove": {"path": add["path"], "deletionTimestamp": 1_700_000_000_002u64, "dataChange": true, "size": add["size"]}}),
            json!({ "add": with_dv }),
        ],
    );
    let r = run_ok(&dir).await;
    assert_eq!(r[0].rows, 97);
    let rows = table_rows(url_of(&dir.join("out")).as_ref()).await;
    let ids: Vec<&str> = rows.1.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids.len(), 97);
    for gone in ["3", "10", "99"] {
        assert!(!ids.contains(&gone), "deleted row {gone} was read");
    }
    #[cfg(feature = "cluster")]
    crate::cluster::refused_on_a_cluster(&dir, "deletion vector");
}

#[tokio::test]
async fn column_mapping_reads_logical_names() {
    let program = "source t from delta(\"t\") {\n  `Order Id`: int64\n  label: string\n}\nmodel m from t { where `Order Id` >= 5 select { k = `Order Id`, label } }\noutput m to delta(\"out\") mode overwrite\n";
    let dir = workspace("feature_column_mapping", &[], &[("main.sem", program)]);
    let t = dir.join("t");
    // the parquet files hold physical names; the log maps logical names onto them
    base_table(&t, "col-7f3a", "col-91bc", 20).await;
    let v0 = actions(&t, 0);
    let mut meta = action(&v0, "metaData").clone();
    let field = |name: &str, ty: &str, id: i64, phys: &str| {
        json!({"name": name, "type": ty, "nullable": true, "metadata": {
            "delta.columnMapping.id": id, "delta.columnMapping.physicalName": phys}})
    };
    meta["schemaString"] = json!(
        serde_json::to_string(&json!({"type": "struct", "fields": [
            field("Order Id", "long", 1, "col-7f3a"),
            field("label", "string", 2, "col-91bc"),
        ]}))
        .unwrap()
    );
    meta["configuration"]["delta.columnMapping.mode"] = json!("name");
    meta["configuration"]["delta.columnMapping.maxColumnId"] = json!("2");
    commit(
        &t,
        1,
        &[
            json!({"protocol": {"minReaderVersion": 2, "minWriterVersion": 5}}),
            json!({ "metaData": meta }),
        ],
    );
    let r = run_ok(&dir).await;
    assert_eq!(r[0].rows, 15);
    let rows = table_rows(url_of(&dir.join("out")).as_ref()).await;
    assert_eq!(rows.0, ["k", "label"]);
    let mut got: Vec<(i64, String)> = rows.1.iter().map(|r| (r[0].parse().unwrap(), r[1].clone())).collect();
    got.sort();
    let want: Vec<(i64, String)> = (5..20).map(|i| (i, format!("n{i}"))).collect();
    assert_eq!(got, want);
    #[cfg(feature = "cluster")]
    crate::cluster::refused_on_a_cluster(&dir, "column mapping");
}

#[tokio::test]
async fn an_output_check_constraint_is_enforced_and_commits_nothing() {
    let program = "source t from delta(\"t\") {\n  id: int64\n  name: string\n}\nmodel m from t { select { id, name } }\nmodel n from t { select { id } }\noutput n to delta(\"other\") mode overwrite\noutput m to delta(\"out\") mode append\n";
    let dir = workspace("feature_check_constraint", &[], &[("main.sem", program)]);
    base_table(&dir.join("t"), "id", "name", 10).await;
    // the output exists, with a Delta CHECK constraint the model's rows break (id 0)
    let out = dir.join("out");
    base_table(&out, "id", "name", 0).await;
    let table = deltalake::open_table(url_of(&out)).await.unwrap();
    let table = table
        .add_constraint()
        .with_constraint("id_positive", "id > 0")
        .await
        .unwrap();
    let before = table.version();
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("compile"));
    match run::run_compiled(&c, &[]).await {
        Err(run::Failure::User(d)) => {
            assert_eq!(d[0].code.as_str(), "E0402");
            assert!(
                d[0].message
                    .contains("1 row(s) break the table's constraint `id_positive`"),
                "{}",
                d[0].message
            );
        }
        other => panic!("expected a diagnostic, got {:?}", other.map(|r| r.len())),
    }
    let after = deltalake::open_table(url_of(&out)).await.unwrap();
    assert_eq!(after.version(), before, "nothing committed");
    assert!(
        !dir.join("other/_delta_log").exists(),
        "no other output committed either"
    );
    // the table's constraint is a table's constraint: rows that hold it land
    let program = program.replace("select { id, name }", "where id > 0 select { id, name }");
    std::fs::write(dir.join("main.sem"), program).unwrap();
    let r = run_ok(&dir).await;
    assert_eq!(r.iter().find(|r| r.output == "m").unwrap().rows, 9);
}

#[tokio::test]
async fn unknown_features_are_refused_under_strict() {
    let program = "policy { strict = true }\nsource t from delta(\"t\") {\n  id: int64\n  name: string\n}\nmodel m from t { select { id } }\n";
    let dir = workspace("feature_unknown", &[], &[("main.sem", program)]);
    let t = dir.join("t");
    base_table(&t, "id", "name", 3).await;
    commit(
        &t,
        1,
        &[
            json!({"protocol": {"minReaderVersion": 3, "minWriterVersion": 7, "readerFeatures": ["variantType-preview"], "writerFeatures": ["variantType-preview"]}}),
        ],
    );
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("compile"));
    let rendered = semc::diag::render(&c.ws.map, &c.diags, false);
    assert!(c.diags.iter().any(|d| d.code.as_str() == "E0308"), "{rendered}");
    assert!(rendered.contains("variantType-preview"), "{rendered}");
}

/// `semc explain --analyze` runs the plan and shows, per scan, the parquet row groups that
/// statistics pruned: one file of 10 row groups sorted by `id`, a filter on `id` reads 2.
#[tokio::test]
async fn explain_analyze_shows_row_groups_pruned() {
    let program = "source t from delta(\"t\") {\n  id: int64\n  name: string\n}\nmodel m from t { where id >= 3000 and id < 4500 aggregate { n = count() } }\noutput m to delta(\"out\") mode overwrite\n";
    let dir = workspace("feature_row_groups", &[], &[("main.sem", program)]);
    let props = deltalake::parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(1000))
        .build();
    write_batch(&dir.join("t"), numbered("id", "name", 10_000), Some(props)).await;
    let text = run::explain(&dir.join("main.sem"), "m", true)
        .await
        .unwrap_or_else(|_| panic!("explain"));
    assert!(text.contains("1 of 1 files read"), "{text}");
    assert!(text.contains("row groups: 8 of 10 pruned by statistics"), "{text}");
    assert!(text.contains("1 rows (not written)"), "{text}");
    // nothing was written
    assert!(!dir.join("out").exists());
    // without --analyze nothing runs and no row-group line is shown
    let plain = run::explain(&dir.join("main.sem"), "m", false)
        .await
        .unwrap_or_else(|_| panic!("explain"));
    assert!(!plain.contains("row groups:"), "{plain}");
}

/// What a source declares and its table does not guarantee (a key, `not null` on a
/// nullable column, a check) is trusted by default — with a warning for `not null` — and
/// verified on the snapshot under `strict = true`: a violation commits nothing.
#[tokio::test]
async fn strict_runs_verify_source_constraints() {
    let decl = "source t from delta(\"t\") {\n  id: int64 key\n  name: string not null check (name like \"n%\")\n}\nmodel m from t { select { id, name } }\noutput m to delta(\"out\") mode overwrite\n";
    let dir = workspace("feature_source_constraints", &[], &[("main.sem", decl)]);
    // id 3 twice, one null name, one name that is not "n…"
    let names = ["n1", "", "n3", "n3", "x4", "n5"].map(|n| (!n.is_empty()).then(|| n.to_string()));
    write_batch(
        &dir.join("t"),
        id_name("id", "name", vec![1, 2, 3, 3, 4, 5], names.to_vec()),
        None,
    )
    .await;
    // trusted: runs, with ONE warning for the workspace naming the two columns the table
    // does not guarantee `not null` on
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("compile"));
    let warned: Vec<&str> = c.diags.iter().map(|d| d.code.as_str()).collect();
    let shown = semc::diag::render(&c.ws.map, &c.diags, false);
    assert_eq!(warned, ["E0307"], "{shown}");
    assert!(c.diags[0].message.contains("`t.id`, `t.name`"), "{shown}");
    assert!(!c.has_errors());
    // `trust_declared = true` silences it; `strict = true` verifies instead of warning
    for policy in ["trust_declared = true", "strict = true"] {
        std::fs::write(dir.join("main.sem"), format!("policy {{ {policy} }}\n{decl}")).unwrap();
        let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("compile"));
        assert!(
            c.diags.is_empty(),
            "{policy}: {}",
            semc::diag::render(&c.ws.map, &c.diags, false)
        );
    }
    std::fs::write(dir.join("main.sem"), decl).unwrap();
    let r = run_ok(&dir).await;
    assert_eq!(r[0].rows, 6);
    // strict: verified, nothing committed
    std::fs::write(dir.join("main.sem"), format!("policy {{ strict = true }}\n{decl}")).unwrap();
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("compile"));
    match run::run_compiled(&c, &[]).await {
        Err(run::Failure::User(d)) => {
            let mut got: Vec<String> = d.iter().map(|d| format!("{} {}", d.code.as_str(), d.message)).collect();
            got.sort();
            // `id` not null holds (no diagnostic); the three others each find one
            let parts = [
                "declares `id` unique: 1 value(s) occur more than once",
                "declares `name` not null: 1 row(s) break it",
                "declares check: 1 row(s) break it",
            ];
            assert_eq!(got.len(), parts.len(), "{got:#?}");
            for (m, part) in got.iter().zip(parts) {
                assert!(m.starts_with("E0408 source `t` ") && m.contains(part), "{m} / {part}");
            }
        }
        other => panic!("expected E0408, got {:?}", other.map(|r| r.len())),
    }
    let out = deltalake::open_table(url_of(&dir.join("out"))).await.unwrap();
    assert_eq!(out.version(), Some(0), "nothing committed");
}

fn ints(cols: &[(&str, Vec<i64>)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(n, _)| Field::new(*n, DataType::Int64, true))
            .collect::<Vec<_>>(),
    ));
    RecordBatch::try_new(
        schema,
        cols.iter()
            .map(|(_, v)| Arc::new(Int64Array::from(v.clone())) as datafusion::arrow::array::ArrayRef)
            .collect(),
    )
    .unwrap()
}

/// Join cardinality verified on a 1,000,000-row target: three duplicated keys among a
/// million are found and counted exactly (E0405, nothing committed); once deduplicated,
/// orphan foreign keys are counted exactly (E0406 warning) and the run commits.
#[tokio::test]
async fn join_cardinality_is_verified_on_a_million_rows() {
    let program = "source dim from delta(\"dim\") { k: int64 key\n v: int64 }\nsource fact from delta(\"fact\") {\n  id: int64\n  fk: int64\n  join dim many_to_one on fk = dim.k\n}\nmodel m from fact { select { id, v = dim.v } }\noutput m to delta(\"out\") mode overwrite\n";
    let dir = workspace("feature_million", &[], &[("main.sem", program)]);
    let n = 1_000_000i64;
    let mut keys: Vec<i64> = (0..n).collect();
    keys.extend([17, 500_000, 999_999]);
    let vals: Vec<i64> = keys.iter().map(|k| k * 2).collect();
    let write = |dir: std::path::PathBuf, batch: RecordBatch, mode: deltalake::protocol::SaveMode| async move {
        std::fs::create_dir_all(&dir).unwrap();
        DeltaTable::try_from_url(url_of(&dir))
            .await
            .unwrap()
            .write(vec![batch])
            .with_save_mode(mode)
            .await
            .unwrap();
    };
    use deltalake::protocol::SaveMode;
    write(dir.join("dim"), ints(&[("k", keys), ("v", vals)]), SaveMode::Append).await;
    // 1,000 facts; 5 point past the keys
    let fks: Vec<i64> = (0..1000).map(|i| if i < 5 { n + i } else { (i * 997) % n }).collect();
    write(
        dir.join("fact"),
        ints(&[("id", (0..1000).collect()), ("fk", fks)]),
        SaveMode::Append,
    )
    .await;
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("compile"));
    match run::run_compiled(&c, &[]).await {
        Err(run::Failure::User(d)) => {
            let e: Vec<&semc::diag::Diagnostic> = d.iter().filter(|d| d.is_error()).collect();
            assert_eq!(e.len(), 1, "{d:?}");
            assert_eq!(e[0].code.as_str(), "E0405");
            assert!(
                e[0].message.starts_with("3 value(s) of `k` (dim) occur more than once"),
                "{}",
                e[0].message
            );
        }
        other => panic!("expected E0405, got {:?}", other.map(|r| r.len())),
    }
    assert!(!dir.join("out").exists(), "nothing committed");
    // deduplicated: the run commits, with the 5 orphans counted
    write(
        dir.join("dim"),
        ints(&[("k", (0..n).collect()), ("v", (0..n).map(|k| k * 2).collect())]),
        SaveMode::Overwrite,
    )
    .await;
    let r = run_ok(&dir).await;
    assert_eq!(r[0].rows, 1000);
    let w: Vec<String> = r[0]
        .warnings
        .iter()
        .map(|d| format!("{} {}", d.code.as_str(), d.message))
        .collect();
    assert_eq!(w, ["E0406 5 row(s) of `fact` have a `fk` that matches no `k` in `dim`"]);
}

/// Tables written by other tools hold types `.sem` does not name (byte, short, float, a
/// timestamp without time zone): a source declares the type they widen to without loss
/// and the scan casts; a narrowing declaration is still E0304.
#[tokio::test]
async fn narrow_delta_types_read_as_their_lossless_widening() {
    use datafusion::arrow::array::{Float32Array, Int8Array, Int16Array, TimestampMicrosecondArray};
    let program = "source t from delta(\"t\") {\n  a: int32\n  b: int64\n  f: float64\n  ts: timestamp\n  i: int64\n}\nmodel m from t {\n  where b > 5 and ts >= timestamp \"2024-01-01T00:00:05Z\"\n  derive { s = a + b, g = f * 2 }\n  select { a, b, s, g, ts, i }\n}\noutput m to delta(\"out\") mode overwrite\n";
    let dir = workspace("feature_narrow_types", &[], &[("main.sem", program)]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int8, true),
        Field::new("b", DataType::Int16, true),
        Field::new("f", DataType::Float32, true),
        Field::new(
            "ts",
            DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
            true,
        ),
        Field::new("i", DataType::Int32, true),
    ]));
    let n = 10;
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int8Array::from_iter_values(0..n as i8)),
            Arc::new(Int16Array::from_iter_values((0..n as i16).map(|x| x * 100))),
            Arc::new(Float32Array::from_iter_values((0..n).map(|x| x as f32 + 0.5))),
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                (0..n as i64).map(|x| 1_704_067_200_000_000 + x * 1_000_000),
            )),
            Arc::new(datafusion::arrow::array::Int32Array::from_iter_values(0..n)),
        ],
    )
    .unwrap();
    write_batch(&dir.join("t"), batch, None).await;
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("compile"));
    assert!(!c.has_errors(), "{}", semc::diag::render(&c.ws.map, &c.diags, false));
    let r = run_ok(&dir).await;
    assert_eq!(r[0].rows, 5, "b > 5 keeps rows 1.., the timestamp filter rows 5..");
    let rows = table_rows(url_of(&dir.join("out")).as_ref()).await;
    assert_eq!(rows.0, ["a", "b", "s", "g", "ts", "i"]);
    let first = &rows.1.iter().min_by_key(|r| r[0].parse::<i64>().unwrap()).unwrap();
    assert_eq!(first[..4], ["5", "500", "505", "11.0"]);
    assert!(first[4].starts_with("2024-01-01T00:00:05"), "{first:?}");
    let out = deltalake::open_table(url_of(&dir.join("out"))).await.unwrap();
    let types: Vec<String> = out
        .snapshot()
        .unwrap()
        .schema()
        .fields()
        .map(|f| serde_json::to_value(f.data_type()).unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        [
            "\"integer\"",
            "\"long\"",
            "\"long\"",
            "\"double\"",
            "\"timestamp\"",
            "\"long\""
        ]
    );
    // narrowing is not allowed
    std::fs::write(dir.join("main.sem"), program.replace("f: float64", "f: int64")).unwrap();
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("compile"));
    let codes: Vec<&str> = c.diags.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E0304"]);
}

/// A column a later version added (schema evolution) is null in the rows of the files
/// written before it, and a filter on it keeps only the new rows: semc reads a snapshot's
/// files itself, each with the table's schema, not the file's.
#[tokio::test]
async fn a_column_added_later_reads_null_in_older_files() {
    let program = "source t from delta(\"t\") {\n  id: int64\n  name: string\n  score: int64\n}\nmodel all_rows from t { select { id, name, score } }\nmodel scored from t {\n  where score > 0\n  select { id, score }\n}\noutput all_rows to delta(\"out/all\") mode overwrite\noutput scored to delta(\"out/scored\") mode overwrite\n";
    let dir = workspace("feature_added_column", &[], &[("main.sem", program)]);
    base_table(&dir.join("t"), "id", "name", 3).await;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("score", DataType::Int64, true),
    ]));
    let later = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![3, 4])),
            Arc::new(StringArray::from(vec!["n3", "n4"])),
            Arc::new(Int64Array::from(vec![Some(30), None])),
        ],
    )
    .unwrap();
    DeltaTable::try_from_url(url_of(&dir.join("t")))
        .await
        .unwrap()
        .write(vec![later])
        .with_schema_mode(deltalake::operations::write::SchemaMode::Merge)
        .await
        .unwrap();
    run_ok(&dir).await;
    let mut all = table_rows(url_of(&dir.join("out/all")).as_ref()).await.1;
    all.sort();
    let expected: Vec<Vec<String>> = [
        ["0", "n0", "NULL"],
        ["1", "n1", "NULL"],
        ["2", "n2", "NULL"],
        ["3", "n3", "30"],
        ["4", "n4", "NULL"],
    ]
    .iter()
    .map(|r| r.iter().map(|s| s.to_string()).collect())
    .collect();
    assert_eq!(all, expected);
    let scored = table_rows(url_of(&dir.join("out/scored")).as_ref()).await.1;
    assert_eq!(scored, [["3", "30"]]);
}

/// A table partitioned by string, date, timestamp and integer columns, with the values other
/// writers leave in its directory names: spaces, `/`, `=`, `%`, non-ASCII, empty and null.
/// semc reads every value back (an empty partition value is null, as Delta's protocol
/// says), and a filter on the partitions reads only the files it needs.
#[tokio::test]
async fn partition_values_of_every_kind_read_back() {
    use datafusion::arrow::array::{Date32Array, Int32Array, TimestampMicrosecondArray};
    use datafusion::arrow::datatypes::TimeUnit;
    let program = r#"
source t from delta("t") { id: int64  city: string  day: date  at: timestamp  n: int32 }
model all_rows from t { select { id, city, day, at, n } }
model some from t {
  where city == "a/b=c" or city == "ü%20x" or (n is null and day == date "2024-01-01")
  select { id }
}
output all_rows to delta("out/all") mode overwrite
output some to delta("out/some") mode overwrite
"#;
    let dir = workspace("feature_partition_values", &[], &[("main.sem", program)]);
    let at = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("city", DataType::Utf8, true),
        Field::new("day", DataType::Date32, true),
        Field::new("at", at.clone(), true),
        Field::new("n", DataType::Int32, true),
    ]));
    // days since 1970-01-01: 19723 is 2024-01-01; microseconds: 1704112215123456 is
    // 2024-01-01 12:30:15.123456 UTC
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5, 6])),
            Arc::new(StringArray::from(vec![
                Some("New York"),
                Some("a/b=c"),
                Some("ü%20x"),
                None,
                Some("São Paulo"),
                Some(""),
            ])),
            Arc::new(Date32Array::from(vec![
                Some(19723),
                Some(19724),
                None,
                Some(19723),
                Some(19783),
                Some(19724),
            ])),
            Arc::new(
                TimestampMicrosecondArray::from(vec![
                    Some(1_704_112_215_123_456),
                    Some(1_704_067_200_000_000),
                    None,
                    Some(1_704_112_215_123_456),
                    Some(1_672_531_200_000_000),
                    Some(1_704_067_200_000_000),
                ])
                .with_timezone("UTC"),
            ),
            Arc::new(Int32Array::from(vec![Some(1), Some(2), Some(3), None, Some(5), None])),
        ],
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("t")).unwrap();
    DeltaTable::try_from_url(url_of(&dir.join("t")))
        .await
        .unwrap()
        .write(vec![batch])
        .with_partition_columns(["city", "day", "at", "n"])
        .await
        .unwrap();
    assert!(
        dir.join("t/city=a%2Fb%3Dc").is_dir(),
        "the writer escapes the directory name"
    );

    let log = std::fs::read_to_string(dir.join("t/_delta_log/00000000000000000000.json")).unwrap();
    assert!(log.contains(r#""city":"""#), "the writer logs an empty value: {log}");

    run_ok(&dir).await;
    let mut all = table_rows(url_of(&dir.join("out/all")).as_ref()).await.1;
    all.sort();
    let expected = [
        ["1", "New York", "2024-01-01", "2024-01-01T12:30:15.123456Z", "1"],
        ["2", "a/b=c", "2024-01-02", "2024-01-01T00:00:00Z", "2"],
        ["3", "ü%20x", "NULL", "NULL", "3"],
        ["4", "NULL", "2024-01-01", "2024-01-01T12:30:15.123456Z", "NULL"],
        ["5", "São Paulo", "2024-03-01", "2023-01-01T00:00:00Z", "5"],
        // delta-rs's own scan reads `""` here; its Python reader and Spark read null
        ["6", "NULL", "2024-01-02", "2024-01-01T00:00:00Z", "NULL"],
    ];
    assert_eq!(all, expected);
    let mut some: Vec<String> = table_rows(url_of(&dir.join("out/some")).as_ref())
        .await
        .1
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    some.sort();
    assert_eq!(some, ["2", "3", "4"]);
    let text = run::explain(&dir, "some", false)
        .await
        .unwrap_or_else(|_| panic!("explain"));
    assert!(text.contains("3 of 6 files read, 3 pruned"), "{text}");
}
