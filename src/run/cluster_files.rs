//! An output written where it was computed: the cluster's executors write its parquet files
//! ([`crate::cluster::write`]) and this commits their `Add` actions, with the run's
//! transactions, in one atomic Delta commit — the same commit a local run makes, made of
//! files the client never read. Files of a write that is not committed are deleted.
//!
//! Taken for a full overwrite of a table semc can write without delta-rs's own writer: a new
//! table, or one without column mapping, generated columns, invariants, a change data feed or
//! `appendOnly`, partitioned as the output is. Anything else (an append, an incremental
//! replace, such a table, `SEMC_CLUSTER_WRITES=client`) is written through the client.

use super::execute::Target;
use super::{Failure, Session};
use crate::cluster::ClusterExec;
use crate::cluster::write::{FilesSpec, adds, clean_up};
use datafusion::physical_plan::ExecutionPlan;
use deltalake::DeltaTable;
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, Add, StructType};
use deltalake::protocol::{DeltaOperation, SaveMode};
use std::collections::HashSet;
use std::sync::Arc;

/// Whether the executors write `t` to `table` (see the module's note).
pub fn executors_write(t: &Target<'_>, table: &DeltaTable) -> bool {
    if std::env::var("SEMC_CLUSTER_WRITES").is_ok_and(|v| v == "client") {
        return false;
    }
    if table.version().is_none() {
        return true;
    }
    let Ok(snapshot) = table.snapshot() else {
        return false;
    };
    use deltalake::table::config::TablePropertiesExt;
    let config = snapshot.table_config();
    let metadata = snapshot.metadata();
    let plain_columns = snapshot.schema().fields().all(|f| {
        !f.metadata().keys().any(|k| {
            k.starts_with("delta.generationExpression")
                || k.starts_with("delta.invariants")
                || k.starts_with("delta.columnMapping")
        })
    });
    plain_columns
        && !config.append_only()
        && !config.enable_change_data_feed()
        && *metadata.partition_columns() == t.spec.partition_by
}

/// What a commit of the executors' files did.
pub struct Committed {
    pub rows: u64,
    pub files: u64,
    pub version: i64,
    /// The table at that version, when it could be read back (to checkpoint).
    pub table: Option<DeltaTable>,
}

/// Runs `t`'s plan on the cluster with its rows written by the executors, and commits the
/// files.
pub async fn write(
    session: &Session,
    t: &Target<'_>,
    table: DeltaTable,
    cluster: &ClusterExec,
    run_id: &str,
) -> Result<Committed, Failure> {
    let spec = FilesSpec {
        table: t.url.to_string(),
        partition_columns: t.spec.partition_by.clone(),
        write_id: format!("{}-{}", run_id, uuid::Uuid::now_v7().simple()),
        target_file_size: target_file_size(&table),
    };
    let schema = cluster.schema();
    let plan: Arc<dyn ExecutionPlan> = Arc::new(cluster.writing(spec.clone()));
    let written = datafusion::physical_plan::collect(plan, session.ctx.task_ctx()).await;
    let committed = match written.and_then(|batches| adds(&batches)) {
        Ok(adds) => commit(t, table, &schema, adds, run_id).await,
        Err(e) => Err(super::commit::output_failure(t, &e)),
    };
    match committed {
        Ok((committed, paths)) => {
            clean_up(&t.url, &spec, &paths).await;
            Ok(committed)
        }
        Err(f) => {
            clean_up(&t.url, &spec, &HashSet::new()).await;
            Err(f)
        }
    }
}

/// The table's target file size (delta-rs's default: 100 MiB).
fn target_file_size(table: &DeltaTable) -> u64 {
    use deltalake::table::config::TablePropertiesExt;
    match table.snapshot() {
        Ok(s) => s.table_config().target_file_size().get(),
        Err(_) => deltalake::table::config::DEFAULT_TARGET_FILE_SIZE.get(),
    }
}

/// Commits `adds` as the table's whole content: a new table's first commit, or an overwrite
/// (every file it had removed, its schema replaced when the output's differs). Returns rows,
/// what was committed and the committed files' paths.
async fn commit(
    t: &Target<'_>,
    table: DeltaTable,
    schema: &datafusion::arrow::datatypes::SchemaRef,
    adds: Vec<Add>,
    run_id: &str,
) -> Result<(Committed, HashSet<String>), Failure> {
    use delta_kernel::engine::arrow_conversion::TryIntoKernel as _;
    let failed =
        |e: &dyn std::fmt::Display| super::commit::write_failed(t, &crate::delta::without_backtrace(&e.to_string()));
    let rows: u64 = adds.iter().map(added_rows).sum();
    let files = adds.len() as u64;
    let paths: HashSet<String> = adds.iter().map(|a| a.path.clone()).collect();
    let arrow = deltalake::kernel::schema::cast::normalize_for_delta(schema);
    let columns: StructType = arrow.as_ref().try_into_kernel().map_err(|e| failed(&e))?;
    let partition_by = t.spec.partition_by.clone();
    let metrics = serde_json::json!({ "num_added_rows": rows, "num_added_files": files });
    let props = super::commit::commit_properties(
        t,
        run_id,
        SaveMode::Overwrite,
        [("operationMetrics".to_string(), metrics)],
    );
    let (version, table) = match table.snapshot() {
        Err(_) => {
            // a new table: its protocol, metadata and files in its first commit
            let created = deltalake::operations::create::CreateBuilder::new()
                .with_log_store(table.log_store())
                .with_columns(columns.fields().cloned())
                .with_partition_columns(partition_by)
                .with_actions(adds.into_iter().map(Action::Add))
                .with_commit_properties(props)
                .await;
            match created {
                Ok(table) => (table.version().map(|v| v as i64).unwrap_or(-1), Some(table)),
                // created by another writer since this run looked
                Err(_) if crate::delta::open(&t.url, &crate::delta::PinSpec::Latest).await.is_ok() => {
                    return Err(super::commit::conflict(t, "another writer created the table".into()));
                }
                Err(e) => return Err(super::commit::commit_error(t, e)),
            }
        }
        Ok(snapshot) => {
            use futures::TryStreamExt;
            let log_store = table.log_store();
            let mut actions: Vec<Action> = vec![];
            if snapshot.schema().as_ref() != &columns {
                use deltalake::kernel::MetadataExt;
                let metadata = snapshot
                    .metadata()
                    .clone()
                    .with_schema(&columns)
                    .map_err(|e| failed(&e))?;
                actions.push(Action::Metadata(metadata));
            }
            let removes: Vec<Action> = snapshot
                .snapshot()
                .file_views(log_store.as_ref(), None)
                .map_ok(|f| Action::Remove(f.remove_action(true)))
                .try_collect()
                .await
                .map_err(|e| failed(&e))?;
            actions.extend(removes);
            actions.extend(adds.into_iter().map(Action::Add));
            let operation = DeltaOperation::Write {
                mode: SaveMode::Overwrite,
                partition_by: (!partition_by.is_empty()).then_some(partition_by),
                predicate: None,
            };
            let version = CommitBuilder::from(props)
                .with_actions(actions)
                .build(Some(snapshot), log_store, operation)
                .await
                .map_err(|e| super::commit::commit_error(t, e))?
                .version();
            // committed: a failure to read it back is not the write's
            let mut committed = table.clone();
            let read_back = committed.load_version(version).await.is_ok();
            (version as i64, read_back.then_some(committed))
        }
    };
    Ok((
        Committed {
            rows,
            files,
            version,
            table,
        },
        paths,
    ))
}

/// The rows a file holds, from its statistics.
fn added_rows(add: &Add) -> u64 {
    add.get_stats()
        .ok()
        .flatten()
        .map(|s| s.num_records.max(0) as u64)
        .unwrap_or(0)
}
