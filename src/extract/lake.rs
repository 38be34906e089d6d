//! The lake `semc extract` writes: whether it can be written (said before any file is read),
//! what an earlier extraction left there (each file's sha256, and the rows carried over for
//! the files that did not change), and each table's one overwriting commit.

use super::SourceFile;
use super::tables::{self, TABLES, TableDef};
use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::run::Failure;
use crate::span::Span;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use futures::StreamExt;
use serde_json::Value;
use std::collections::HashMap;
use url::Url;

/// Where the lake's table `name` is (a folder of the lake).
pub(super) fn table_url(lake: &Url, name: &str) -> Result<Url, Failure> {
    lake.join(&format!("{name}/"))
        .map_err(|e| Failure::Internal(format!("table url of {name}: {e}")))
}

/// What the lake holds from an earlier run: `repo_files`' sha256 per file id (and the other
/// tables' rows once read), if the versions it was extracted with are these.
pub(super) struct Earlier {
    pub(super) sha256: HashMap<String, String>,
    pub(super) tables: HashMap<&'static str, RecordBatch>,
}

impl Earlier {
    /// Whether the lake holds this file's rows as it is now.
    pub(super) fn holds(&self, f: &SourceFile) -> bool {
        self.sha256.get(&f.file_id) == Some(&f.sha256)
    }

    /// Reads the other tables' rows (to carry the unchanged files' over).
    pub(super) async fn read_tables(&mut self, lake: &Url) -> Option<()> {
        let unread: Vec<&TableDef> = TABLES.iter().filter(|t| !self.tables.contains_key(t.name)).collect();
        for t in unread {
            if let Some(table) = open_latest(&table_url(lake, t.name).ok()?).await {
                self.tables.insert(t.name, read_all(&table, t).await?);
            }
        }
        Some(())
    }
}

/// What the lake holds, if its `repo_files` was written with these extractors' `versions`.
pub(super) async fn earlier(lake: &Url, versions: &Value) -> Option<Earlier> {
    let files = open_latest(&table_url(lake, "repo_files").ok()?).await?;
    // the extractors' versions: carried rows must mean what new ones would
    let info = files.history(Some(1)).next().await?.ok()?;
    if info.info.get("semc.extract") != Some(versions) {
        return None;
    }
    let mut tables = HashMap::new();
    tables.insert("repo_files", read_all(&files, tables::table("repo_files")?).await?);
    let files_batch = tables.get("repo_files")?;
    let ids = files_batch.column_by_name("file_id")?.as_string_opt::<i32>()?;
    let shas = files_batch.column_by_name("sha256")?.as_string_opt::<i32>()?;
    let sha256 = (0..files_batch.num_rows())
        .map(|i| (ids.value(i).to_string(), shas.value(i).to_string()))
        .collect();
    Some(Earlier { sha256, tables })
}

async fn open_latest(url: &Url) -> Option<deltalake::DeltaTable> {
    if url.scheme() == "file" && !url.to_file_path().ok()?.join("_delta_log").is_dir() {
        return None;
    }
    crate::delta::open(url, &crate::delta::PinSpec::Latest).await.ok()
}

/// Every row of an earlier table, in its stored order, with the table's schema now.
async fn read_all(table: &deltalake::DeltaTable, def: &TableDef) -> Option<RecordBatch> {
    let ctx = crate::engine::session_with_partitions(1);
    let provider = crate::engine::provider(table, &ctx.state()).await.ok()?;
    let batches = ctx.read_table(provider).ok()?.collect().await.ok()?;
    let schema = def.schema();
    let cast: Vec<RecordBatch> = batches
        .iter()
        .map(|b| {
            let columns = schema
                .fields()
                .iter()
                .map(|f| {
                    let c = b.column_by_name(f.name())?;
                    datafusion::arrow::compute::cast(c, f.data_type()).ok()
                })
                .collect::<Option<Vec<_>>>()?;
            RecordBatch::try_new(schema.clone(), columns).ok()
        })
        .collect::<Option<Vec<_>>>()?;
    concat_batches(&schema, &cast).ok()
}

/// The rows of `batch` per file id, in stored order.
pub(super) fn rows_by_file(batch: &RecordBatch) -> HashMap<String, Vec<u32>> {
    let mut out: HashMap<String, Vec<u32>> = HashMap::new();
    if let Some(ids) = batch.column_by_name("file_id").and_then(|c| c.as_string_opt::<i32>()) {
        for i in 0..ids.len() {
            out.entry(ids.value(i).to_string()).or_default().push(i as u32);
        }
    }
    out
}

/// Whether `lake` names a store this build can write to (a folder, or object storage with
/// the `cloud` feature): said before any file is read, not after every file was extracted.
/// A folder is made now, as the writes would make it.
pub(super) async fn reachable(lake: &Url) -> Result<(), Failure> {
    let checked = match lake.to_file_path() {
        Ok(folder) if lake.scheme() == "file" => std::fs::create_dir_all(folder).map_err(|e| e.to_string()),
        _ => match crate::delta::for_writing(&table_url(lake, "repo_files")?).await {
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        },
    };
    match checked {
        Ok(()) => Ok(()),
        Err(e) => Err(Failure::User(vec![
            Diagnostic::error(Code::E0306, Span::default(), format!("the lake `{lake}`: {e}"))
                .label("cannot be written")
                .help("give a folder (`--to lake`), or an object-storage URI (`s3://`, `az://`, `gs://`: a build with the `cloud` feature) that the environment's credentials reach"),
        ])),
    }
}

/// Overwrites the table at `url` with `batches` (each file's rows, in order), in one commit
/// recording the versions.
pub(super) async fn write(
    url: &Url,
    def: &TableDef,
    mut batches: Vec<RecordBatch>,
    versions: &Value,
    metadata: &Value,
) -> Result<i64, Failure> {
    let failed = |e: &dyn std::fmt::Display| {
        Failure::User(vec![
            Diagnostic::error(Code::E0401, Span::default(), format!("writing `{url}` failed: {e}"))
                .help("check that the lake's location can be written"),
        ])
    };
    if url.scheme() == "file"
        && let Ok(p) = url.to_file_path()
    {
        std::fs::create_dir_all(&p).map_err(|e| failed(&e))?;
    }
    let table = crate::delta::for_writing(url).await.map_err(|e| failed(&e))?;
    let props = deltalake::kernel::transaction::CommitProperties::default().with_metadata([
        ("semc.extract".to_string(), versions.clone()),
        ("semc.extract.state".to_string(), metadata.clone()),
    ]);
    if batches.is_empty() {
        // an empty table still has its columns
        batches.push(RecordBatch::new_empty(def.schema()));
    }
    let table = table
        .write(batches)
        .with_save_mode(deltalake::protocol::SaveMode::Overwrite)
        .with_schema_mode(deltalake::operations::write::SchemaMode::Overwrite)
        .with_commit_properties(props)
        .with_writer_properties(def.writer_properties())
        .await
        .map_err(|e| failed(&e))?;
    Ok(table.version().map(|v| v as i64).unwrap_or(-1))
}
