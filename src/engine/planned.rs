//! Results handed to the Delta writer exactly as planned: a planned table and a sealed plan.

use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result};
use std::sync::{Arc, Mutex};

/// A table whose scan is an already planned execution plan: hands a result to the Delta
/// writer as planned here, so a sorted result reaches the writer as one ordered stream.
#[derive(Debug)]
pub struct PlannedTable {
    plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    first_error: FirstError,
}

/// The first error a result stream carried, kept with its type: whoever consumes the stream
/// (the Delta writer) may pass it on only as text.
type FirstError = Arc<Mutex<Option<Arc<DataFusionError>>>>;

impl PlannedTable {
    pub fn new(plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>) -> Result<Self> {
        let first_error = FirstError::default();
        Ok(PlannedTable {
            plan: Arc::new(SealedExec::new(plan, first_error.clone())?),
            first_error,
        })
    }

    /// The first error the result's stream carried, if any.
    pub fn first_error(&self) -> Option<Arc<DataFusionError>> {
        self.first_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
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
    first_error: FirstError,
    /// The inner plan's schema without metadata, and the properties under it (None when
    /// the inner schema has no metadata to drop).
    plain: Option<(
        datafusion::arrow::datatypes::SchemaRef,
        Arc<datafusion::physical_plan::PlanProperties>,
    )>,
}

impl SealedExec {
    fn new(inner: Arc<dyn datafusion::physical_plan::ExecutionPlan>, first_error: FirstError) -> Result<Self> {
        use datafusion::arrow::datatypes::{Field, Schema};
        let schema = inner.schema();
        if schema.metadata().is_empty() && schema.fields().iter().all(|f| f.metadata().is_empty()) {
            return Ok(SealedExec {
                inner,
                first_error,
                plain: None,
            });
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
            first_error,
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
        let schema = match &self.plain {
            Some((schema, _)) => schema.clone(),
            None => stream.schema(),
        };
        let plain = self.plain.is_some();
        let first_error = self.first_error.clone();
        use futures::StreamExt;
        let s = schema.clone();
        let batches = stream.map(move |b| match b {
            Ok(b) if plain => Ok(datafusion::arrow::record_batch::RecordBatch::try_new(
                s.clone(),
                b.columns().to_vec(),
            )?),
            Ok(b) => Ok(b),
            Err(e) => {
                let e = Arc::new(e);
                first_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert_with(|| e.clone());
                Err(DataFusionError::Shared(e))
            }
        });
        Ok(Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema, batches),
        ))
    }
}
