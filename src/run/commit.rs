//! Commits: one atomic Delta commit per output, recording the run (and, for an
//! incremental output, the versions it read) in the same commit.

use super::admission::{Admission, MeasuredPool, Peaks};
use super::execute::Target;
use super::failure::data_error;
use super::{Failure, Increment, OutputReport, Session};
use crate::codes::Code;
use crate::delta::{self, PinSpec};
use crate::diag::Diagnostic;
use crate::engine;
use crate::syntax::ast::WriteMode;
use datafusion::common::Column;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{LogicalPlan, col, lit};
use deltalake::protocol::SaveMode;
use std::sync::Arc;
use std::time::Instant;

/// A write that failed for a reason of its own (E0401): nothing was committed to it.
pub fn write_failed(t: &Target<'_>, e: &str) -> Failure {
    Failure::User(vec![
        t.diagnostic(
            Diagnostic::error(Code::E0401, t.spec.at.span, format!("output `{}`: {e}", t.spec.name))
                .label("writing this output failed")
                .help("nothing was committed to this output; fix the cause and run again"),
        ),
    ])
}

/// Writes each output (one atomic Delta commit each) and reports what was done, in the
/// targets' order. Outputs are independent: a few are computed and written at once (a
/// query's serial phases — planning, a final merge, the Delta commit — leave cores idle that
/// the others fill); under a memory limit, only those whose last peaks fit together in the
/// heaviest one's ([`Admission`]). The first failure stops the run: outputs not yet
/// committed stay as they were.
pub async fn commit_all(session: &Session, targets: &[Target<'_>], run_id: &str) -> Result<Vec<OutputReport>, Failure> {
    use futures::{StreamExt, TryStreamExt};
    // a cluster's memory is not this process's: nothing measured, each output alone
    let local = !engine::on_cluster(&session.ctx.state());
    let peaks = Peaks::load();
    let admission = memory_limited(session)
        .then(|| Admission::new(&peaks, targets.iter().filter(|_| local).map(|t| t.url.as_str())));
    // the writes made first, then streamed: a stream holding the closure would not be
    // `Send` for every lifetime, and the Python package runs a run on a spawned task
    let writes: Vec<_> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let admission = admission.as_ref();
            async move { commit_one(session, t, run_id, admission).await.map(|done| (i, done)) }
        })
        .collect();
    let mut done: Vec<_> = futures::stream::iter(writes)
        .buffer_unordered(OUTPUTS_IN_FLIGHT)
        .try_collect()
        .await?;
    done.sort_by_key(|(i, _)| *i);
    if local {
        peaks.save(
            targets
                .iter()
                .zip(&done)
                .filter_map(|(t, (_, (_, peak)))| Some((t.url.to_string(), (*peak)?))),
        );
    }
    Ok(done.into_iter().map(|(_, (report, _))| report).collect())
}

/// How many outputs a run computes and writes at once, at most: on the 22 TPC-H outputs at
/// SF 1 on 2 cores, 3 was the fastest of 1–6 (more only raised peak RSS).
/// `benches/race.py` measures a run end to end against its peers.
const OUTPUTS_IN_FLIGHT: usize = 3;

fn memory_limited(session: &Session) -> bool {
    matches!(
        session.ctx.runtime_env().memory_pool.memory_limit(),
        datafusion::execution::memory_pool::MemoryLimit::Finite(_)
    )
}

/// How many outputs this session checks at once: [`OUTPUTS_IN_FLIGHT`], or one under a
/// memory limit.
pub(super) fn outputs_in_flight(session: &Session) -> usize {
    if memory_limited(session) { 1 } else { OUTPUTS_IN_FLIGHT }
}

/// Writes one output once `admission` lets it run; reports it, with the most of the
/// session's memory pool it held if it was computed.
async fn commit_one(
    session: &Session,
    t: &Target<'_>,
    run_id: &str,
    admission: Option<&Admission>,
) -> Result<(OutputReport, Option<u64>), Failure> {
    let mut admitted = match admission {
        Some(a) => Some(a.enter(&t.spec.name, t.url.as_str()).await),
        None => None,
    };
    let start = Instant::now();
    let pool = Arc::new(MeasuredPool::new(session.ctx.runtime_env().memory_pool.clone()));
    let state = measured_state(session, pool.clone())?;
    let written = match (write_output(session, t, run_id, state.clone()).await, admission) {
        // a hash join that ran out of memory: plan again with sort-merge joins, which
        // spill, with the whole pool (every other output done)
        (Err(f), Some(admission)) if f.is_out_of_memory() => {
            drop(admitted.take());
            admitted = Some(admission.alone(&t.spec.name).await);
            let mut state = state;
            state.config_mut().options_mut().optimizer.prefer_hash_join = false;
            write_output(session, t, run_id, state).await?
        }
        (r, _) => r?,
    };
    drop(admitted);
    let (rows, files, version, computed) = match written {
        Some((rows, files, version)) => (rows, files, version, true),
        None => (0, 0, current_version(&t.url).await, false),
    };
    let report = OutputReport {
        output: t.spec.name.clone(),
        location: t.url.to_string(),
        rows,
        files,
        version,
        millis: start.elapsed().as_millis(),
        skipped: !computed,
        warnings: vec![],
        incremental: t.increment.as_ref().map(|i| i.why().to_string()),
        up_to_date: None,
    };
    Ok((report, computed.then(|| pool.peak() as u64)))
}

/// The session's state with `pool` in place of its memory pool.
fn measured_state(session: &Session, pool: Arc<MeasuredPool>) -> Result<SessionState, Failure> {
    let state = session.ctx.state();
    let env = datafusion::execution::runtime_env::RuntimeEnvBuilder::from_runtime_env(state.runtime_env())
        .with_memory_pool(pool)
        .build_arc()?;
    Ok(datafusion::execution::SessionStateBuilder::new_from_existing(state)
        .with_runtime_env(env)
        .build())
}

pub async fn current_version(url: &url::Url) -> i64 {
    match delta::open(url, &PinSpec::Latest).await {
        Ok(t) => t.version().map(|v| v as i64).unwrap_or(-1),
        Err(_) => -1,
    }
}

/// The Delta application id under which semc records that run `run_id` wrote `output`.
pub fn app_id(output: &str, run_id: &str) -> String {
    format!("semc:{output}:{run_id}")
}

/// A new run id: a UUID v7 (time-ordered, and unique without coordination).
pub fn new_run_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// How often semc checkpoints the log of an output it commits to: every 10 versions, as
/// Delta's reference implementation does by default (delta-rs: every 100, unless the table
/// says otherwise). Every run opens each output it writes, and opening replays the commits
/// since the last checkpoint: ten small files instead of up to a hundred.
const CHECKPOINT_EVERY: u64 = 10;

/// Writes a checkpoint of `table` at its version when one is due and delta-rs's own commit
/// hook (the table's `delta.checkpointInterval`) did not just write it. A checkpoint that
/// cannot be written leaves the commit as it is: the next due one covers it.
async fn checkpoint(table: &deltalake::DeltaTable) {
    use deltalake::table::config::TablePropertiesExt;
    let (Some(version), Ok(snapshot)) = (table.version(), table.snapshot()) else {
        return;
    };
    let committed = version + 1;
    let table_interval = snapshot.table_config().checkpoint_interval().get();
    if !committed.is_multiple_of(CHECKPOINT_EVERY) || committed.is_multiple_of(table_interval) {
        return;
    }
    if let Err(e) = deltalake::checkpoints::create_checkpoint(table, None).await {
        tracing::debug!("no checkpoint at version {version}: {e}");
    }
}

/// What a commit of output `t` by run `run_id` records — the run (and an incremental run's
/// source versions) as Delta transactions, the run id, the output's fingerprint, and `extra`
/// — and how often it is retried.
pub(super) fn commit_properties(
    t: &Target<'_>,
    run_id: &str,
    mode: SaveMode,
    extra: impl IntoIterator<Item = (String, serde_json::Value)>,
) -> deltalake::kernel::transaction::CommitProperties {
    let inc = t.increment.as_ref();
    let mut txns = vec![deltalake::kernel::Transaction::new(app_id(&t.spec.name, run_id), 1)];
    if let Some(inc) = inc {
        txns.extend(
            inc.txns()
                .iter()
                .map(|(app, v)| deltalake::kernel::Transaction::new(app, *v)),
        );
    }
    deltalake::kernel::transaction::CommitProperties::default()
        .with_application_transactions(txns)
        // concurrent blind appenders: each lost race re-reads the log and tries the next
        // version. An overwrite or an incremental append must land right after the state it
        // was computed from: retried on a newer version, an overwrite planned before the
        // table existed would remove nothing (two writers' rows in one version), and two
        // incremental runs would append the same changes twice
        .with_max_retries(
            if mode == SaveMode::Overwrite || inc.and_then(Increment::base).is_some() {
                0
            } else {
                1000
            },
        )
        // (delta-rs keeps only the last metadata given: all of it at once)
        .with_metadata(
            [("semc.run_id".to_string(), serde_json::json!(run_id))]
                .into_iter()
                .chain(
                    t.fingerprint
                        .as_ref()
                        .map(|f| (super::fingerprint::KEY.to_string(), serde_json::json!(f))),
                )
                .chain(extra),
        )
}

/// An engine or write error of output `t`: the data's fault (its code), else E0401.
pub(super) fn output_failure(t: &Target<'_>, e: &(dyn std::error::Error + 'static)) -> Failure {
    match data_error(e) {
        Some(d) => Failure::User(vec![t.diagnostic(d.at(t.spec.at.span))]),
        None => write_failed(t, &delta::without_backtrace(&e.to_string())),
    }
}

/// Another writer committed to output `t` during the run (E0407).
pub(super) fn conflict(t: &Target<'_>, what: String) -> Failure {
    Failure::User(vec![
        t.diagnostic(
            Diagnostic::error(Code::E0407, t.spec.at.span, format!("output `{}`: {what}", t.spec.name))
                .label("another writer committed to this output during the run")
                .help("nothing of this run was committed to this output; run again to compute on its new state"),
        ),
    ])
}

/// A commit to output `t` that failed: lost to another writer (E0407), or E0401.
pub(super) fn commit_error(t: &Target<'_>, e: deltalake::DeltaTableError) -> Failure {
    use deltalake::kernel::transaction::TransactionError as T;
    match &e {
        deltalake::DeltaTableError::Transaction {
            source: T::CommitConflict(_) | T::MaxCommitAttempts(_),
        }
        | deltalake::DeltaTableError::VersionAlreadyExists(_) => conflict(t, e.to_string()),
        _ => output_failure(t, &e),
    }
}

/// Writes one output in one Delta commit that also records the run as a Delta transaction
/// ([`app_id`]). If the table already records this run, nothing is written and the result
/// is `None`.
#[tracing::instrument(name = "output", skip_all, fields(output = %t.spec.name, location = %t.url))]
async fn write_output(
    // (a cluster's executors write what they computed)
    #[cfg_attr(not(feature = "cluster"), allow(unused_variables))] session: &Session,
    t: &Target<'_>,
    run_id: &str,
    state: SessionState,
) -> Result<Option<(u64, u64, i64)>, Failure> {
    let o = t.spec;
    let inc = t.increment.as_ref();
    let failed = |e: &(dyn std::error::Error + 'static)| output_failure(t, e);
    if t.url.scheme() == "file"
        && let Ok(p) = t.url.to_file_path()
    {
        std::fs::create_dir_all(&p).map_err(|e| write_failed(t, &format!("cannot create `{}`: {e}", p.display())))?;
    }
    let table = match &t.written {
        Some(table) => table.clone(),
        None => delta::for_writing(&t.url).await.map_err(|e| failed(&e))?,
    };
    if let Ok(state) = table.snapshot()
        && let Ok(Some(_)) = state
            .transaction_version(table.log_store().as_ref(), app_id(&o.name, run_id))
            .await
    {
        return Ok(None);
    }
    if let Some(base) = inc.and_then(Increment::base) {
        let now = table.version().map(|v| v as i64).unwrap_or(-1);
        if now != base {
            return Err(conflict(
                t,
                format!("the output moved from version {base} to {now} while this run read its source's changes"),
            ));
        }
    }
    let mode = match (inc, o.mode) {
        (Some(Increment::Rebuild { .. } | Increment::Replace { .. }), _) => SaveMode::Overwrite,
        (Some(Increment::Append { .. }), _) => SaveMode::Append,
        (_, WriteMode::Append) => SaveMode::Append,
        (_, WriteMode::Overwrite) => SaveMode::Overwrite,
    };
    let replace = match inc {
        Some(Increment::Replace { key, keys, .. }) => {
            Some(col(Column::from_name(&key.1)).in_list(keys.iter().cloned().map(lit).collect(), false))
        }
        _ => None,
    };
    let props = commit_properties(t, run_id, mode, []);
    // plan here, so the result reaches the writer exactly as planned (in order when sorted)
    let physical = state.create_physical_plan(&t.root).await?;
    // on a cluster, a whole table's rows are written by the executors that computed them
    #[cfg(feature = "cluster")]
    if let Some(cluster) = physical.downcast_ref::<crate::cluster::ClusterExec>()
        && mode == SaveMode::Overwrite
        && inc.is_none()
        && super::cluster_files::executors_write(t, &table)
    {
        let done = super::cluster_files::write(session, t, table, cluster, run_id).await?;
        if let Some(table) = &done.table {
            checkpoint(table).await;
        }
        return Ok(Some((done.rows, done.files, done.version)));
    }
    let result = Arc::new(engine::PlannedTable::new(physical)?);
    let planned: LogicalPlan = datafusion::logical_expr::LogicalPlanBuilder::scan(
        "semc_result",
        datafusion::datasource::provider_as_source(result.clone()),
        None,
    )?
    .build()?;
    let mut wb = table
        .write(vec![])
        .with_input_plan(planned)
        .with_session_state(Arc::new(engine::writer_state(&state)))
        .with_save_mode(mode);
    if !o.partition_by.is_empty() {
        wb = wb.with_partition_columns(o.partition_by.clone());
    }
    if let Some(predicate) = replace {
        // one commit: the rows of the changed keys out, their new rows in
        wb = wb.with_replace_where(predicate);
    } else if mode == SaveMode::Overwrite {
        wb = wb.with_schema_mode(deltalake::operations::write::SchemaMode::Overwrite);
    }
    wb = wb.with_commit_properties(props);
    let table = wb.await.map_err(|e| {
        // the writer turns most engine errors into text: the result stream kept the first
        // one as it passed, with its type
        match result.first_error() {
            Some(engine_error) => failed(engine_error.as_ref()),
            None => commit_error(t, e),
        }
    })?;
    let version = table.version().map(|v| v as i64).unwrap_or(-1);
    checkpoint(&table).await;
    let (mut rows, mut files) = (0, 0);
    use futures::StreamExt;
    if let Some(Ok(ci)) = table.history(Some(1)).next().await
        && let Some(m) = ci.info.get("operationMetrics")
    {
        rows = m.get("num_added_rows").and_then(|v| v.as_u64()).unwrap_or(0);
        files = m.get("num_added_files").and_then(|v| v.as_u64()).unwrap_or(0);
    }
    Ok(Some((rows, files, version)))
}
