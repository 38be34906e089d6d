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

mod changes;
pub mod functions;
mod pinned;
mod planned;

pub use changes::changed_keys;
use changes::inserted_since;
pub use pinned::{PinnedDeltaSchema, pinned_schema};
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
    let threads = partitions.max(1);
    let config = SessionConfig::new()
        .with_target_partitions(threads)
        .with_information_schema(false)
        .set_bool("datafusion.execution.parquet.pushdown_filters", false)
        .set_bool("datafusion.execution.parquet.enable_page_index", true);
    let mut runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new();
    if let Some(limit) = memory_limit {
        use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
        let top = std::num::NonZeroUsize::new(3).unwrap_or(std::num::NonZeroUsize::MIN);
        runtime = runtime.with_memory_pool(Arc::new(TrackConsumersPool::new(GreedyMemoryPool::new(limit), top)));
    }
    let runtime = runtime.build_arc().unwrap_or_default();
    // delta-rs's planner turns its write nodes into execution plans
    let state = datafusion::execution::SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_query_planner(deltalake::delta_datafusion::planner::DeltaPlanner::new())
        .build();
    let ctx = SessionContext::new_with_state(state);
    ctx.register_udf(datafusion::logical_expr::ScalarUDF::from(functions::DateDiff::default()));
    let schema = Arc::new(PinnedDeltaSchema {
        state: Mutex::new(None),
        cache: Mutex::new(HashMap::new()),
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
    provider_with(table, state, &delta::ScanOptions::default()).await
}

/// A provider with a source's scan options: a file-path column, parquet pushdown, a
/// narrowed file list.
pub async fn provider_with(
    table: &DeltaTable,
    state: &SessionState,
    options: &delta::ScanOptions,
) -> Result<Arc<dyn TableProvider>> {
    table
        .update_datafusion_session(state)
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    if let Some(since) = options.changes_since {
        return inserted_since(table, since);
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
