//! A source's data files as the run finds them on disk: one cut short, emptied, replaced
//! or removed after it was committed fails the run with E0418 (never a crash, never an
//! internal error), and the output keeps its last commit. Local files are read through a memory mapping (`engine/mapped.rs`): a
//! range the file no longer holds is the local store's error, not a read past the mapping.

use crate::fixtures::{int_table, semc, url_of, workspace};
use std::path::Path;

const PROGRAM: &str = r#"
source t from delta("t") { id: int64  value: int64 }
model all_rows from t { select { id, value } }
output all_rows to delta("out/all_rows") mode overwrite
"#;

/// The table's one data file.
fn data_file(table: &Path) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(table)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

async fn output_version(dir: &Path) -> u64 {
    let mut table = deltalake::DeltaTable::try_from_url(url_of(&dir.join("out/all_rows")))
        .await
        .unwrap();
    table.load().await.unwrap();
    table.version().unwrap()
}

#[tokio::test]
async fn a_data_file_damaged_or_removed_fails_the_run_and_keeps_the_output() {
    let dir = workspace("data_files_cut_short", &[], &[("main.sem", PROGRAM)]);
    let values: Vec<Option<i64>> = (0..50_000).map(Some).collect();
    int_table(&dir.join("t"), &[("id", values.clone()), ("value", values)]).await;
    let ws = dir.to_str().unwrap();
    let (code, out, err) = semc(&["run", ws]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(output_version(&dir).await, 0);

    let file = data_file(&dir.join("t"));
    let whole = std::fs::read(&file).unwrap();
    let damages: [(&str, Option<&[u8]>); 4] = [
        ("cut short", Some(&whole[..whole.len() / 2])),
        ("emptied", Some(b"")),
        ("not parquet", Some(b"id,value\n1,1\n")),
        ("removed", None),
    ];
    for (how, bytes) in damages {
        match bytes {
            Some(bytes) => std::fs::write(&file, bytes).unwrap(),
            None => std::fs::remove_file(&file).unwrap(),
        }
        let (code, out, err) = semc(&["run", ws, "--force"]);
        assert_eq!(code, 1, "{how}: {out}{err}");
        assert!(err.contains("E0418") && !err.contains("internal error"), "{how}: {err}");
        assert_eq!(output_version(&dir).await, 0, "{how}: the output keeps its last commit");
        let (code, _, err) = semc(&["show", ws, "--model", "all_rows"]);
        assert_eq!(code, 1, "{how}: {err}");
        assert!(
            err.contains("E0418") && err.contains("main.sem:"),
            "{how}: at the model: {err}"
        );
    }
}
