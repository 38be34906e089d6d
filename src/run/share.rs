//! Each model computed once per run. A model that several outputs read — or one output
//! through several joins or union branches — is lowered inline wherever it is read, so the
//! one Substrait plan stays self-contained; before anything runs, the runner finds every
//! subplan that stands more than once among the outputs' optimized plans (identical plans:
//! the same model over the same snapshots, read for the same columns and rows), computes each once into a run-local cache of Arrow IPC
//! files (written as the rows stream, so it takes disk, not memory), and reads the cache
//! wherever the subplan stood. The cache is removed when the run ends.

use super::{Failure, Session};
use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::span::Span;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::catalog::Session as EngineSession;
use datafusion::common::Statistics;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::arrow::ArrowFormat;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::physical_plan::{FileScanConfig, FileSource};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::object_store::{ObjectMeta, ObjectStore};
use datafusion::physical_plan::ExecutionPlan;
use futures::StreamExt;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The run-local cache of shared subplans: removed when dropped.
pub struct SharedCache {
    dir: Option<PathBuf>,
    /// How many subplans were computed once and read from the cache.
    pub shared: usize,
}

impl Drop for SharedCache {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Whether a subplan is worth computing once: it ends in a join, an aggregate, windows, a
/// closure, distinct rows or a union (a scan, filter or projection is cheaper to repeat
/// than to write and read back; one over a costly subplan shares that subplan instead).
fn worth_sharing(plan: &LogicalPlan) -> bool {
    matches!(
        plan,
        LogicalPlan::Join(_)
            | LogicalPlan::Aggregate(_)
            | LogicalPlan::Window(_)
            | LogicalPlan::Extension(_)
            | LogicalPlan::Distinct(_)
            | LogicalPlan::Union(_)
    )
}

/// Every subplan of `roots` with how many times it stands in them.
fn occurrences(roots: &[LogicalPlan]) -> HashMap<&LogicalPlan, usize> {
    let mut seen: HashMap<&LogicalPlan, usize> = HashMap::new();
    for root in roots {
        let _ = root.apply(|p| {
            *seen.entry(p).or_default() += 1;
            Ok(TreeNodeRecursion::Continue)
        });
    }
    seen
}

/// The subplans `roots` share, outermost first (one inside another is computed with it).
/// A root itself is not shared: the cache keeps rows, not their order, and an output is
/// written in its order.
pub(crate) fn shared_subplans(roots: &[LogicalPlan]) -> Vec<LogicalPlan> {
    let seen = occurrences(roots);
    let mut out: Vec<LogicalPlan> = vec![];
    for root in roots {
        let _ = root.apply(|p| {
            if !std::ptr::eq(p, root) && worth_sharing(p) && seen.get(p).copied().unwrap_or(0) > 1 {
                if !out.contains(p) {
                    out.push(p.clone());
                }
                return Ok(TreeNodeRecursion::Jump);
            }
            Ok(TreeNodeRecursion::Continue)
        });
    }
    out
}

/// `roots` with every shared subplan computed once into the cache and read from it. A
/// cluster session shares nothing (its executors cannot read this machine's files).
pub async fn compute_shared_once(
    session: &Session,
    roots: Vec<LogicalPlan>,
) -> Result<(Vec<LogicalPlan>, SharedCache), Failure> {
    let mut cache = SharedCache { dir: None, shared: 0 };
    // `SEMC_SHARED_MODELS=off` recomputes each model wherever it is read (benches compare)
    let off = std::env::var("SEMC_SHARED_MODELS").is_ok_and(|v| v == "off");
    if off || crate::engine::on_cluster(&session.ctx.state()) {
        return Ok((roots, cache));
    }
    // found among the optimized plans: a subplan is shared as the outputs need it (only
    // their columns, their filters pushed into its scans), never wider — a model's whole
    // join stored for outputs that each read two of its columns filled a disk at TPC-H SF 1
    let optimized = optimize_all(session, &roots)?;
    let shared = shared_subplans(&optimized);
    if shared.is_empty() {
        return Ok((roots, cache));
    }
    let roots = optimized;
    let dir = std::env::temp_dir().join(format!("semc-shared-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).map_err(|e| unwritable(&dir, &e))?;
    cache.dir = Some(dir.clone());
    let mut replacements: HashMap<LogicalPlan, LogicalPlan> = HashMap::new();
    for (i, plan) in shared.into_iter().enumerate() {
        let scan = materialize(session, &plan, &dir.join(format!("subplan-{i}"))).await?;
        replacements.insert(plan, scan);
    }
    cache.shared = replacements.len();
    tracing::info!(
        shared = cache.shared,
        "computed once: {} subplan(s) the outputs share",
        cache.shared
    );
    let roots = roots
        .into_iter()
        .map(|root| {
            root.transform_down(|p| match replacements.get(&p) {
                Some(scan) => Ok(Transformed::new(scan.clone(), true, TreeNodeRecursion::Jump)),
                None => Ok(Transformed::no(p)),
            })
            .map(|t| t.data)
        })
        .collect::<datafusion::common::Result<Vec<_>>>()?;
    Ok((roots, cache))
}

/// The run's cache at `folder` cannot be written (no room, no permission): E0417.
fn unwritable(folder: &std::path::Path, e: &dyn std::fmt::Display) -> Failure {
    Failure::User(vec![
        Diagnostic::error(
            Code::E0417,
            Span::default(),
            format!("the run's cache of shared models at {} cannot be written: {e}", folder.display()),
        )
        .label("a model several outputs read, computed once")
        .help("free disk space or set TMPDIR to a folder with room (or SEMC_SHARED_MODELS=off to compute each model where it is read); nothing was committed"),
    ])
}

/// `roots` as the session's optimizer leaves them: where sharing is decided.
fn optimize_all(session: &Session, roots: &[LogicalPlan]) -> Result<Vec<LogicalPlan>, Failure> {
    let state = session.ctx.state();
    Ok(roots
        .iter()
        .map(|root| optimized(&state, root))
        .collect::<datafusion::common::Result<Vec<_>>>()?)
}

/// `root` as the optimizer leaves it, in the form sharing compares (what `explain` shows).
pub(crate) fn optimized(
    state: &datafusion::execution::SessionState,
    root: &LogicalPlan,
) -> datafusion::common::Result<LogicalPlan> {
    state.optimize(root).and_then(without_true_scan_filters)
}

/// `plan` without the scans' filters that are the literal `true`. A scalar model's join has
/// the condition `true` (DataFusion has no outer join without one), which the optimizer
/// pushes into the scans of one side only: a model read on both sides of that join (TPC-H
/// Q15's revenue, its maximum beside each row) would be two different plans, computed twice.
/// The filter keeps every row; without it the two are one plan, computed once.
fn without_true_scan_filters(plan: LogicalPlan) -> datafusion::common::Result<LogicalPlan> {
    let is_true = |e: &Expr| {
        matches!(
            e,
            Expr::Literal(datafusion::common::ScalarValue::Boolean(Some(true)), _)
        )
    };
    plan.transform_up(|p| match p {
        LogicalPlan::TableScan(mut scan) if scan.filters.iter().any(is_true) => {
            scan.filters.retain(|f| !is_true(f));
            Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
        }
        p => Ok(Transformed::no(p)),
    })
    .map(|t| t.data)
}

/// Computes `plan` into Arrow IPC files in `folder` (one per partition, as its rows
/// stream) and gives a plan that reads them with `plan`'s very schema (names, qualifiers).
async fn materialize(session: &Session, plan: &LogicalPlan, folder: &std::path::Path) -> Result<LogicalPlan, Failure> {
    let bad = |e: &dyn std::fmt::Display| unwritable(folder, e);
    std::fs::create_dir_all(folder).map_err(|e| bad(&e))?;
    let state = session.ctx.state();
    let physical = state.create_physical_plan(plan).await?;
    // stored as `c0`, `c1`, …: a join's columns may share a name under two qualifiers
    let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(
        physical
            .schema()
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| f.as_ref().clone().with_name(format!("c{i}")))
            .collect::<Vec<_>>(),
    ));
    let streams = datafusion::physical_plan::execute_stream_partitioned(physical, session.ctx.task_ctx())?;
    let writes = streams.into_iter().enumerate().map(|(p, mut stream)| {
        let name = format!("part-{p}.arrow");
        let path = folder.join(&name);
        let schema = schema.clone();
        async move {
            let file = std::fs::File::create(&path).map_err(|e| bad(&e))?;
            let mut w = FileWriter::try_new(std::io::BufWriter::new(file), &schema).map_err(|e| bad(&e))?;
            let mut rows = 0;
            // the engine's errors are the run's (E0409, E0410, …); the file's are the cache's
            while let Some(batch) = stream.next().await {
                let batch =
                    datafusion::arrow::record_batch::RecordBatch::try_new(schema.clone(), batch?.columns().to_vec())
                        .map_err(datafusion::error::DataFusionError::from)?;
                rows += batch.num_rows();
                w.write(&batch).map_err(|e| bad(&e))?;
            }
            w.finish().map_err(|e| bad(&e))?;
            Ok::<(String, usize), Failure>((name, rows))
        }
    });
    let rows = futures::future::try_join_all(writes).await?.into_iter().collect();
    let url = url::Url::from_directory_path(folder)
        .map_err(|_| Failure::Internal(format!("the run's cache at {}", folder.display())))?;
    let table_url = ListingTableUrl::parse(url.as_str())?;
    let options = ListingOptions::new(Arc::new(CountedArrowFormat { rows })).with_file_extension(".arrow");
    let config = ListingTableConfig::new(table_url)
        .with_listing_options(options)
        .with_schema(schema.clone());
    let table = Arc::new(ListingTable::try_new(config)?);
    let scan = LogicalPlanBuilder::scan("shared", datafusion::datasource::provider_as_source(table), None)?.build()?;
    // the very names the plan had (`t3.o_custkey`): what reads it refers to them
    let exprs: Vec<Expr> = plan
        .schema()
        .iter()
        .zip(scan.schema().columns())
        .map(|((qualifier, field), column)| Expr::Column(column).alias_qualified(qualifier.cloned(), field.name()))
        .collect();
    Ok(LogicalPlanBuilder::from(scan).project(exprs)?.build()?)
}

/// The cache's files as Arrow IPC, with the rows each holds (counted as they were written):
/// the plans that read a shared subplan size their joins by its rows, as they did the
/// subplan's own (DataFusion knows nothing of an IPC file's rows, so a cached join of 4,000
/// suppliers read as of unknown size had TPC-H Q11 build its hash table on 8 M `partsupp`
/// rows instead).
#[derive(Debug)]
struct CountedArrowFormat {
    /// Rows by file name.
    rows: HashMap<String, usize>,
}

#[async_trait::async_trait]
impl FileFormat for CountedArrowFormat {
    fn get_ext(&self) -> String {
        ArrowFormat.get_ext()
    }

    fn get_ext_with_compression(&self, compression: &FileCompressionType) -> datafusion::common::Result<String> {
        ArrowFormat.get_ext_with_compression(compression)
    }

    fn compression_type(&self) -> Option<FileCompressionType> {
        ArrowFormat.compression_type()
    }

    async fn infer_schema(
        &self,
        state: &dyn EngineSession,
        store: &Arc<dyn ObjectStore>,
        objects: &[ObjectMeta],
    ) -> datafusion::common::Result<SchemaRef> {
        ArrowFormat.infer_schema(state, store, objects).await
    }

    async fn infer_stats(
        &self,
        _state: &dyn EngineSession,
        _store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> datafusion::common::Result<Statistics> {
        let mut statistics = Statistics::new_unknown(&table_schema);
        if let Some(rows) = object.location.filename().and_then(|name| self.rows.get(name)) {
            statistics.num_rows = Precision::Exact(*rows);
        }
        Ok(statistics)
    }

    async fn create_physical_plan(
        &self,
        state: &dyn EngineSession,
        conf: FileScanConfig,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        ArrowFormat.create_physical_plan(state, conf).await
    }

    fn file_source(&self, table_schema: TableSchema) -> Arc<dyn FileSource> {
        ArrowFormat.file_source(table_schema)
    }
}
