//! Stage 4: execution. Substrait plan → DataFusion (through datafusion-substrait) over Delta
//! providers pinned by the plan's table names → streamed Delta writes.
//!
//! Invariant: tables are resolved only from the plan's pinned names
//! ([`crate::delta::parse_pinned_name`]); results stream into the Delta writer and are
//! committed by one atomic Delta commit per output.

use crate::delta::{self, PinSpec, parse_pinned_name};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::prelude::{SessionConfig, SessionContext};
use deltalake::DeltaTable;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
pub fn session_with(partitions: usize, memory_limit: Option<usize>) -> SessionContext {
    let threads = partitions.max(1);
    let config = SessionConfig::new()
        .with_target_partitions(threads)
        .with_information_schema(false)
        .set_bool("datafusion.execution.parquet.pushdown_filters", false)
        .set_bool("datafusion.execution.parquet.enable_page_index", true);
    let mut runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new();
    if let Some(limit) = memory_limit {
        runtime = runtime.with_memory_pool(Arc::new(datafusion::execution::memory_pool::FairSpillPool::new(limit)));
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

/// The default schema of a semc session: a table name `<url>@v<N>` resolves to that Delta
/// table's snapshot N, opened on first use.
#[derive(Debug)]
pub struct PinnedDeltaSchema {
    state: Mutex<Option<SessionState>>,
    cache: Mutex<HashMap<String, Arc<dyn TableProvider>>>,
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

/// The Change Data Feed of the commits after version `since`, up to the table's version.
fn changes_since(table: &DeltaTable, since: i64) -> Result<deltalake::delta_datafusion::DeltaCdfTableProvider> {
    let version = table
        .version()
        .ok_or_else(|| DataFusionError::Plan("the table has no version".into()))? as i64;
    if since < 0 || since >= version {
        return Err(DataFusionError::Plan(format!(
            "changes after version {since} up to version {version}: an empty range"
        )));
    }
    let builder = table
        .clone()
        .scan_cdf()
        .with_starting_version((since + 1) as _)
        .with_ending_version(version as _);
    deltalake::delta_datafusion::DeltaCdfTableProvider::try_new(builder)
        .map_err(|e| DataFusionError::External(Box::new(e)))
}

/// The rows that the commits after version `since`, up to the table's version, inserted: the
/// table's Change Data Feed, kept to inserts (and update post-images), in the table's columns.
fn inserted_since(table: &DeltaTable, since: i64) -> Result<Arc<dyn TableProvider>> {
    let ext = |e: deltalake::DeltaTableError| DataFusionError::External(Box::new(e));
    let cdf = changes_since(table, since)?;
    let all = cdf.schema();
    let snapshot = table.snapshot().map_err(ext)?;
    let mut fields = vec![];
    let mut map = vec![];
    for f in snapshot.schema().fields() {
        let i = all.index_of(f.name())?;
        fields.push(all.field(i).clone());
        map.push(i);
    }
    Ok(Arc::new(InsertedRows {
        cdf: Arc::new(cdf),
        schema: Arc::new(datafusion::arrow::datatypes::Schema::new(fields)),
        map,
    }))
}

/// The distinct values of `column` in every row that the commits after version `since`, up
/// to the table's version, inserted, updated or deleted (from the Change Data Feed). None
/// when there are more than `limit` or one is null (a key list cannot name those rows).
pub async fn changed_keys(
    table: &DeltaTable,
    since: i64,
    column: &str,
    limit: usize,
) -> Result<Option<Vec<datafusion::common::ScalarValue>>> {
    use datafusion::logical_expr::col;
    let cdf = changes_since(table, since)?;
    let ctx = SessionContext::new();
    let keys = ctx
        .read_table(Arc::new(cdf))?
        .select(vec![col(datafusion::common::Column::from_name(column))])?
        .distinct()?
        .limit(0, Some(limit + 1))?
        .collect()
        .await?;
    let mut out = vec![];
    for b in &keys {
        for i in 0..b.num_rows() {
            let v = datafusion::common::ScalarValue::try_from_array(b.column(0), i)?;
            if v.is_null() {
                return Ok(None);
            }
            out.push(v);
        }
    }
    if out.len() > limit {
        return Ok(None);
    }
    out.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    Ok(Some(out))
}

/// A table's Change Data Feed seen as the rows it inserted, in the table's own columns.
#[derive(Debug)]
struct InsertedRows {
    cdf: Arc<deltalake::delta_datafusion::DeltaCdfTableProvider>,
    schema: datafusion::arrow::datatypes::SchemaRef,
    /// For each column here, its index in the feed's schema.
    map: Vec<usize>,
}

#[async_trait::async_trait]
impl TableProvider for InsertedRows {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        self.schema.clone()
    }
    fn table_type(&self) -> datafusion::logical_expr::TableType {
        datafusion::logical_expr::TableType::Base
    }
    async fn scan(
        &self,
        state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        _filters: &[datafusion::logical_expr::Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        use datafusion::logical_expr::{col, lit};
        let wanted: Vec<usize> = match projection {
            Some(p) => p.iter().map(|i| self.map[*i]).collect(),
            None => self.map.clone(),
        };
        let inserts = col("_change_type").in_list(vec![lit("insert"), lit("update_postimage")], false);
        self.cdf.scan(state, Some(&wanted), &[inserts], limit).await
    }
}

impl PinnedDeltaSchema {
    pub fn insert(&self, name: String, p: Arc<dyn TableProvider>) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(name, p);
    }
}

#[async_trait::async_trait]
impl SchemaProvider for PinnedDeltaSchema {
    fn table_names(&self) -> Vec<String> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }
    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(p) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(name) {
            return Ok(Some(p.clone()));
        }
        let Some((url, version, options)) = parse_pinned_name(name) else {
            return Ok(None);
        };
        let table = delta::open(&url, &PinSpec::Version(version))
            .await
            .map_err(|e| DataFusionError::Plan(format!("table {name}: {}", e.message())))?;
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(state) = state else { return Ok(None) };
        let p = provider_with(&table, &state, &options).await?;
        self.insert(name.to_string(), p.clone());
        Ok(Some(p))
    }
    fn register_table(&self, name: String, table: Arc<dyn TableProvider>) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(name, table))
    }
    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(self.cache.lock().unwrap_or_else(|e| e.into_inner()).remove(name))
    }
    fn table_exist(&self, name: &str) -> bool {
        parse_pinned_name(name).is_some() || self.cache.lock().unwrap_or_else(|e| e.into_inner()).contains_key(name)
    }
}

/// The pinned schema of a session made by [`session`].
pub fn pinned_schema(ctx: &SessionContext) -> Option<Arc<PinnedDeltaSchema>> {
    let s = ctx.catalog("datafusion")?.schema("public")?;
    let any: Arc<dyn std::any::Any + Send + Sync> = s;
    any.downcast::<PinnedDeltaSchema>().ok()
}

/// A table whose scan is an already planned execution plan: hands a result to the Delta
/// writer as planned here, so a sorted result reaches the writer as one ordered stream.
#[derive(Debug)]
pub struct PlannedTable {
    plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>,
}

impl PlannedTable {
    pub fn new(plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>) -> Result<Self> {
        Ok(PlannedTable {
            plan: Arc::new(SealedExec::new(plan)?),
        })
    }
}

#[async_trait::async_trait]
impl TableProvider for PlannedTable {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        self.plan.schema()
    }
    fn table_type(&self) -> datafusion::datasource::TableType {
        datafusion::datasource::TableType::Temporary
    }
    async fn scan(
        &self,
        _state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        _filters: &[datafusion::logical_expr::Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        let schema = self.plan.schema();
        match projection {
            Some(p) if *p != (0..schema.fields().len()).collect::<Vec<_>>() => {
                let exprs: Vec<(Arc<dyn datafusion::physical_expr::PhysicalExpr>, String)> = p
                    .iter()
                    .map(|&i| {
                        let name = schema.field(i).name().clone();
                        (
                            Arc::new(datafusion::physical_expr::expressions::Column::new(&name, i)) as _,
                            name,
                        )
                    })
                    .collect();
                Ok(Arc::new(
                    datafusion::physical_plan::projection::ProjectionExec::try_new(exprs, self.plan.clone())?,
                ))
            }
            _ => Ok(self.plan.clone()),
        }
    }
}

/// An execution plan shown to the optimizer as a leaf: what it wraps was optimized already
/// and must run as planned (the writer's plan would otherwise drop an ordering it does
/// not itself require).
///
/// Its columns carry no Arrow field metadata: what a source's Delta schema attached to its
/// fields (column-mapping ids and physical names, comments) describes that table, not the
/// output, and would make the writer take the output for a column-mapped table.
#[derive(Debug)]
pub struct SealedExec {
    inner: Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    /// The inner plan's schema without metadata, and the properties under it (None when
    /// the inner schema has no metadata to drop).
    plain: Option<(
        datafusion::arrow::datatypes::SchemaRef,
        Arc<datafusion::physical_plan::PlanProperties>,
    )>,
}

impl SealedExec {
    fn new(inner: Arc<dyn datafusion::physical_plan::ExecutionPlan>) -> Result<Self> {
        use datafusion::arrow::datatypes::{Field, Schema};
        let schema = inner.schema();
        if schema.metadata().is_empty() && schema.fields().iter().all(|f| f.metadata().is_empty()) {
            return Ok(SealedExec { inner, plain: None });
        }
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_metadata(Default::default()))
            .collect();
        let plain = Arc::new(Schema::new(fields));
        let props = inner.properties();
        let eq = props.eq_properties.clone().with_new_schema(plain.clone())?;
        let props = datafusion::physical_plan::PlanProperties::new(
            eq,
            props.partitioning.clone(),
            props.emission_type,
            props.boundedness,
        );
        Ok(SealedExec {
            inner,
            plain: Some((plain, Arc::new(props))),
        })
    }
}

impl datafusion::physical_plan::DisplayAs for SealedExec {
    fn fmt_as(
        &self,
        _t: datafusion::physical_plan::DisplayFormatType,
        f: &mut std::fmt::Formatter,
    ) -> std::fmt::Result {
        write!(f, "SealedExec: {}", self.inner.name())
    }
}

impl datafusion::physical_plan::ExecutionPlan for SealedExec {
    fn name(&self) -> &'static str {
        "SealedExec"
    }
    fn properties(&self) -> &Arc<datafusion::physical_plan::PlanProperties> {
        match &self.plain {
            Some((_, p)) => p,
            None => self.inner.properties(),
        }
    }
    fn children(&self) -> Vec<&Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        vec![]
    }
    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(
            &Arc<dyn datafusion::physical_expr::PhysicalExpr>,
        ) -> Result<datafusion::common::tree_node::TreeNodeRecursion>,
    ) -> Result<datafusion::common::tree_node::TreeNodeRecursion> {
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    }
    fn replace_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn datafusion::physical_plan::ExecutionPlan>>,
        _: datafusion::physical_plan::ReplaceChildrenOptions,
    ) -> Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        Ok(self)
    }
    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn datafusion::physical_plan::ExecutionPlan>>,
    ) -> Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        Ok(self)
    }
    fn execute(
        &self,
        partition: usize,
        context: Arc<datafusion::execution::TaskContext>,
    ) -> Result<datafusion::execution::SendableRecordBatchStream> {
        let stream = self.inner.execute(partition, context)?;
        let Some((schema, _)) = &self.plain else {
            return Ok(stream);
        };
        use futures::StreamExt;
        let s = schema.clone();
        let batches = stream.map(move |b| {
            let b = b?;
            Ok(datafusion::arrow::record_batch::RecordBatch::try_new(
                s.clone(),
                b.columns().to_vec(),
            )?)
        });
        Ok(Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema.clone(), batches),
        ))
    }
}
