//! Stage 4: execution. Substrait plan → DataFusion (through datafusion-substrait) over Delta
//! providers pinned by the plan's table names → streamed Delta writes.
//!
//! Invariant: tables are resolved only from the plan's pinned names
//! ([`crate::delta::parse_pinned_name`]); results stream into the Delta writer and are
//! committed by one atomic Delta commit per output.

use crate::delta::{self};
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::prelude::{SessionConfig, SessionContext};
use deltalake::DeltaTable;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

mod all_of;
pub mod arguments;
mod buckets;
mod changes;
pub mod checked;
pub mod closure;
mod conditions;
mod date_trunc;
mod decimal;
mod equals_any;
mod estimates;
pub mod extensions;
pub mod files;
pub mod functions;
mod hand_off;
pub mod ids;
mod in_turn;
mod like;
mod mapped;
mod pinned;
mod planned;
mod ranges;
pub mod rewrites;
mod runs;
pub mod unnest;

pub use changes::changed_keys;
use changes::inserted_since;
pub use pinned::{PinnedDeltaSchema, TableRows, pinned_schema};
pub use planned::{PlannedTable, SealedExec};

/// The session every stage uses: tuned for the machine, deterministic.
pub fn session() -> SessionContext {
    session_with_partitions(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
}

/// A session with `partitions` parallel partitions (1 reads a table back in file order).
pub fn session_with_partitions(partitions: usize) -> SessionContext {
    session_with(partitions, None)
}

/// A session with `partitions` parallel partitions and, if given, a memory pool of
/// `memory_limit` bytes: operators that can spill (sort, aggregate, sort-merge join) spill
/// to disk instead of failing.
///
/// The pool is greedy (first come, first served), wrapped to name its largest consumers
/// when it runs out. DataFusion's fair pool divides the spillable memory by the number of
/// spillable consumers; with the many a TPC-H plan registers (each partition of each
/// aggregate, sort and repartition) every one is left a sliver, and TPC-H Q18 at SF 1 under
/// 256M waited forever, every thread parked, instead of spilling or failing (apache/datafusion
/// #23447). Under the greedy pool the same run completes; a run that truly cannot fit fails
/// with E0410.
pub fn session_with(partitions: usize, memory_limit: Option<usize>) -> SessionContext {
    let rows = Arc::new(TableRows::default());
    // delta-rs's write nodes and semc's closure become execution plans
    let state = state_builder(config(partitions), memory_limit, &rows)
        // after `EveryRowComparisons`; not on a cluster, whose nodes would not decode it
        .with_physical_optimizer_rule(Arc::new(in_turn::ConditionsInTurn))
        // not on a cluster either
        .with_physical_optimizer_rule(Arc::new(runs::RunsOfEqualKeys))
        .with_physical_optimizer_rule(Arc::new(buckets::ManyGroupsInBuckets))
        .with_query_planner(Arc::new(SemcPlanner))
        .build();
    with_pinned_schema(state, rows)
}

/// A session with the same settings and functions but DataFusion's optimizer alone, without
/// [`rewrites`]: the engine's own SQL, which benches and tests compare semc against.
pub fn session_without_rewrites(partitions: usize) -> SessionContext {
    let state =
        datafusion::execution::SessionStateBuilder::new_from_existing(session_with_partitions(partitions).state())
            .with_optimizer_rules(datafusion::optimizer::Optimizer::new().rules)
            .build();
    SessionContext::new_with_state(state)
}

/// A session whose queries run on the Ballista cluster whose scheduler is at `scheduler`
/// (`http://host:port`): planned here with Ballista's restrictions (no round-robin
/// repartition, sort-merge joins, no in-process scalar subqueries), its tables read as
/// their snapshot's files ([`files::PinnedFiles`]), executed there.
#[cfg(feature = "cluster")]
pub fn cluster_session(partitions: usize, memory_limit: Option<usize>, scheduler: &str) -> SessionContext {
    use ballista_core::extension::SessionConfigExt;
    let config = config(partitions)
        .upgrade_for_ballista()
        // hash joins, as in a local run (Ballista defaults to sort-merge joins, which spill:
        // on the 22 TPC-H outputs at SF 1 they took about twice the time), but never the
        // collect-left (broadcast) mode: in a physical plan handed to Ballista's scheduler it
        // computed wrong rows (TPC-H Q15 came back empty, `tests/integration/cluster.rs`), so
        // every hash join is partitioned on its keys
        .set_bool("datafusion.optimizer.prefer_hash_join", true)
        .set_u64("datafusion.optimizer.hash_join_single_partition_threshold", 0)
        .set_u64("datafusion.optimizer.hash_join_single_partition_threshold_rows", 0)
        .with_extension(Arc::new(crate::cluster::OnCluster {
            scheduler: scheduler.to_string(),
        }));
    let rows = Arc::new(TableRows::default());
    let plain = state_builder(config, memory_limit, &rows).build();
    let rules = ballista_core::optimizer::with_ballista_optimizer_rules(plain.optimizers());
    let state = datafusion::execution::SessionStateBuilder::new_from_existing(plain)
        .with_optimizer_rules(rules)
        .with_query_planner(Arc::new(crate::cluster::ClusterPlanner {
            scheduler: scheduler.to_string(),
        }))
        .build();
    with_pinned_schema(state, rows)
}

/// semc's query planner: DataFusion's, with delta-rs's write nodes and semc's closure.
#[derive(Debug, Default)]
pub struct SemcPlanner;

#[async_trait::async_trait]
impl datafusion::execution::context::QueryPlanner for SemcPlanner {
    async fn create_physical_plan(
        &self,
        logical: &datafusion::logical_expr::LogicalPlan,
        session: &dyn datafusion::catalog::Session,
    ) -> Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
        let planner = DefaultPhysicalPlanner::with_extension_planners(vec![
            deltalake::delta_datafusion::planner::DeltaExtensionPlanner::new(),
            Arc::new(closure::ClosurePlanner),
        ]);
        planner.create_physical_plan(logical, session).await
    }
}

/// The state Delta writes plan with: `state`'s, planned and executed here (a cluster
/// session's result reaches the writer already computed), on one partition. delta-rs
/// drains every partition of its write plan into one file writer concurrently, so a
/// round-robin repartition above the (sealed, ordered) result would let a loaded machine
/// store its rows in another order; with one target partition the optimizer adds none.
pub fn writer_state(state: &SessionState) -> SessionState {
    let config = state.config().clone().with_target_partitions(1);
    datafusion::execution::SessionStateBuilder::new_from_existing(state.clone())
        .with_config(config)
        .with_query_planner(Arc::new(SemcPlanner))
        .build()
}

/// Whether `state` runs its queries on a cluster.
pub fn on_cluster(state: &SessionState) -> bool {
    state.config().get_extension::<crate::cluster::OnCluster>().is_some()
}

fn config(partitions: usize) -> SessionConfig {
    let (build_bytes, build_rows) = single_build_limits(partitions);
    SessionConfig::new()
        .with_target_partitions(partitions.max(1))
        .with_information_schema(false)
        .set_bool("datafusion.execution.parquet.pushdown_filters", false)
        .set_bool("datafusion.execution.parquet.enable_page_index", true)
        .set_bool("datafusion.optimizer.use_statistics_registry", true)
        // a hash join on one integer key whose build side spans fewer than 4 Mi key values
        // looks the probe's keys up in an array indexed by key (4 bytes a value: at most 16
        // MiB) instead of hashing them: TPC-H Q9 at SF 10 probed 60 M lineitems against the
        // 109 K green parts' keys (a 2 M range) in 1.23 s of CPU, 0.72 s by the array.
        // DataFusion's default takes the array only below 1,024 values or above 15 % density
        .set_u64(
            "datafusion.execution.perfect_hash_join_small_build_threshold",
            4 * 1024 * 1024,
        )
        // a partial aggregate that merges fewer than 10 rows per group (its first 100,000
        // rows tell) passes its rows on instead: its hash table cost more than the rows it
        // saved the final aggregate (TPC-H Q18 at SF 10 groups 60 M lineitems into 15 M
        // orders: 4.8 s of its 12 s of CPU went to that table; DataFusion's default skips
        // only below 1.25 rows per group)
        .set_str(
            "datafusion.execution.skip_partial_aggregation_probe_ratio_threshold",
            "0.1",
        )
        .set_u64("datafusion.optimizer.hash_join_single_partition_threshold", build_bytes)
        .set_u64(
            "datafusion.optimizer.hash_join_single_partition_threshold_rows",
            build_rows,
        )
}

/// The largest build side (estimated bytes, rows) a hash join builds once for every
/// partition (collect-left) rather than repartitioning both sides on the keys.
///
/// A single build is one core's work; a partitioned join builds on every core but first
/// moves every row of both sides, the larger probe side included. With a build of B rows
/// and a probe of P (P ≥ B: the smaller side builds), on N cores the single build is the
/// cheaper while B·(N−1) is small against B + P: on 2 cores, nearly always. DataFusion's
/// defaults (1 MB, 128 K rows) are set for many cores and repartitioned both sides of
/// TPC-H Q3's join of 32 M lineitems with 1.5 M orders at SF 10; these were chosen on 2
/// cores (`benches/race.py` at SF 10) and shrink as cores are added.
fn single_build_limits(partitions: usize) -> (u64, u64) {
    let others = partitions.saturating_sub(1).max(1) as u64;
    let (bytes, rows) = (200_000_000 / others, 4_000_000 / others);
    // never below DataFusion's own
    (bytes.max(1024 * 1024), rows.max(128 * 1024))
}

fn state_builder(
    config: SessionConfig,
    memory_limit: Option<usize>,
    rows: &Arc<TableRows>,
) -> datafusion::execution::SessionStateBuilder {
    let mut runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new();
    if let Some(limit) = memory_limit {
        use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
        let top = std::num::NonZeroUsize::new(3).unwrap_or(std::num::NonZeroUsize::MIN);
        runtime = runtime.with_memory_pool(Arc::new(TrackConsumersPool::new(GreedyMemoryPool::new(limit), top)));
    }
    let runtime = runtime.build_arc().unwrap_or_default();
    // local files read through a memory mapping, not copied (delta-rs registers a table's
    // own store only where none is)
    if let Ok(local) = url::Url::parse("file://") {
        runtime.register_object_store(&local, Arc::new(mapped::MappedLocalFiles::default()));
    }
    let mut builder = datafusion::execution::SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime)
        // semc's own plan nodes (the closure, the unnest) travel in Substrait as extension
        // relations; an unnest becomes DataFusion's own before the optimizer runs
        .with_serializer_registry(Arc::new(extensions::SemcSerializer))
        // join sides chosen from estimates that know the sources' unique keys
        .with_statistics_registry(estimates::registry())
        .with_analyzer_rule(Arc::new(unnest::ExpandUnnest))
        // after DataFusion's own rules, which chose the joins from the filters' estimates
        // (a `semc_all_of` has none)
        .with_physical_optimizer_rule(Arc::new(all_of::EveryRowComparisons));
    for rule in rewrites::all(rows) {
        builder = builder.with_optimizer_rule(rule);
    }
    builder
}

/// A context over `state` whose default schema resolves pinned names (and records their
/// rows in `rows`, which `state`'s rewrites read).
fn with_pinned_schema(state: SessionState, rows: Arc<TableRows>) -> SessionContext {
    let ctx = SessionContext::new_with_state(state);
    for f in functions::all() {
        ctx.register_udf(f.as_ref().clone());
    }
    for f in functions::aggregates() {
        ctx.register_udaf(f.as_ref().clone());
    }
    for f in crate::host::registered() {
        ctx.register_udf(f.as_ref().clone());
    }
    let schema = Arc::new(PinnedDeltaSchema {
        state: Mutex::new(None),
        cache: Mutex::new(HashMap::new()),
        opened: Mutex::new(HashMap::new()),
        rows,
    });
    if let Some(catalog) = ctx.catalog("datafusion") {
        let _ = catalog.register_schema("public", schema.clone());
    }
    *schema.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(ctx.state());
    ctx
}

/// Builds the provider of an opened table for this session (file skipping from the Delta
/// log; `with_session` keeps the session's parquet settings).
pub async fn provider(table: &DeltaTable, state: &SessionState) -> Result<Arc<dyn TableProvider>> {
    provider_with(table, state, &delta::ScanOptions::default(), &[]).await
}

/// A provider with a source's scan options: a file-path column, parquet pushdown, a
/// narrowed file list; `unique`: the column sets joins rely on being unique in it, which
/// the planner's join estimates read (a snapshot read as its files carries them).
pub async fn provider_with(
    table: &DeltaTable,
    state: &SessionState,
    options: &delta::ScanOptions,
    unique: &[Vec<String>],
) -> Result<Arc<dyn TableProvider>> {
    table
        .update_datafusion_session(state)
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    if on_cluster(state) {
        return pinned_files(table, state, options, unique).await;
    }
    if let Some(since) = options.changes_since {
        return inserted_since(table, since);
    }
    if options.file_column.is_none()
        && let Some(files) = snapshot_files(table, state, options, unique).await?
    {
        return Ok(files);
    }
    let mut session = state.clone();
    if let Some(p) = options.pushdown {
        session.config_mut().options_mut().execution.parquet.pushdown_filters = p;
    }
    let mut builder = table.table_provider().with_session(Arc::new(session));
    if let Some(c) = &options.file_column {
        builder = builder.with_file_column(c);
    }
    if !options.files.is_empty() {
        builder = builder.with_file_paths(options.files.clone());
    }
    builder.await.map_err(|e| DataFusionError::External(Box::new(e)))
}

/// A snapshot read as its data files by DataFusion's parquet source ([`PinnedFiles`]), when
/// its rows are exactly its files' rows (no deletion vectors, no column mapping); `None`
/// otherwise, and the snapshot is read through delta-rs's scan. The same files, schema and
/// pruning statistics as delta-rs's, without its per-batch work (a file-id column added to
/// every row and split off again): DataFusion SQL on TPC-H SF 1 took 18–26 % longer
/// through delta-rs's scan than over the same parquet files (`benches/tpch`, two runs).
async fn snapshot_files(
    table: &DeltaTable,
    state: &SessionState,
    options: &delta::ScanOptions,
    unique: &[Vec<String>],
) -> Result<Option<Arc<dyn TableProvider>>> {
    Ok(files_of(table, state, options, unique)
        .await?
        .ok()
        .map(|files| Arc::new(files) as Arc<dyn TableProvider>))
}

/// A table as a cluster reads it: its snapshot's files (a snapshot that is not only its
/// files is refused, E0412).
async fn pinned_files(
    table: &DeltaTable,
    state: &SessionState,
    options: &delta::ScanOptions,
    unique: &[Vec<String>],
) -> Result<Arc<dyn TableProvider>> {
    use files::Unsupported;
    let refuse = |what: &str| {
        DataFusionError::External(Box::new(Unsupported(format!(
            "{} (version {}): {what}",
            table.table_url(),
            table.version().map(|v| v as i64).unwrap_or(-1)
        ))))
    };
    if options.changes_since.is_some() {
        return Err(refuse(
            "an incremental model reads the table's Change Data Feed, which semc reads only locally",
        ));
    }
    if options.file_column.is_some() {
        return Err(refuse("`scan { file_column }` is read only locally"));
    }
    match files_of(table, state, options, unique).await? {
        Ok(files) => Ok(Arc::new(files)),
        Err(unsupported) => Err(DataFusionError::External(Box::new(unsupported))),
    }
}

/// The snapshot `table` is opened at as its data files, with the schema its delta-rs
/// provider gives it (so a plan reads the same types either way).
async fn files_of(
    table: &DeltaTable,
    state: &SessionState,
    options: &delta::ScanOptions,
    unique: &[Vec<String>],
) -> Result<std::result::Result<files::PinnedFiles, files::Unsupported>> {
    let schema = delta_rs_provider(table, state).await?.schema();
    Ok(files::PinnedFiles::try_new(
        table,
        schema,
        &options.files,
        options.pushdown,
        unique,
    ))
}

/// The table as delta-rs's own scan reads it: what semc reads a snapshot through when it is
/// not only its files, and the stock provider benches and tests compare semc against.
pub async fn delta_rs_provider(table: &DeltaTable, state: &SessionState) -> Result<Arc<dyn TableProvider>> {
    table
        .update_datafusion_session(state)
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    table
        .table_provider()
        .with_session(Arc::new(state.clone()))
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write receives the sealed result as one ordered stream: the writer's plan adds
    /// no repartition above it (delta-rs would interleave the partitions in one file).
    #[tokio::test]
    async fn a_write_plan_keeps_the_result_in_one_stream() {
        let ctx = session_with_partitions(2);
        let sorted = ctx
            .sql("select column1 as a from (values (3), (1), (2)) order by a")
            .await
            .unwrap();
        let state = ctx.state();
        let result = state.create_physical_plan(sorted.logical_plan()).await.unwrap();
        let result = Arc::new(PlannedTable::new(result).unwrap());
        let write = datafusion::logical_expr::LogicalPlanBuilder::scan(
            "result",
            datafusion::datasource::provider_as_source(result),
            None,
        )
        .unwrap()
        // delta-rs casts the result to the table's types
        .project(vec![datafusion::prelude::cast(
            datafusion::prelude::col("a"),
            datafusion::arrow::datatypes::DataType::Int32,
        )])
        .unwrap()
        .build()
        .unwrap();
        let planned = writer_state(&state).create_physical_plan(&write).await.unwrap();
        let text = datafusion::physical_plan::displayable(planned.as_ref())
            .indent(true)
            .to_string();
        assert_eq!(planned.properties().partitioning.partition_count(), 1, "{text}");
        assert!(!text.contains("RepartitionExec"), "{text}");
    }
}
