//! Queries planned here, executed on a Ballista cluster.
//!
//! A cluster session plans every query where it is asked, exactly as a local run does (the
//! same optimizer, the snapshot's files as [`crate::engine::files::PinnedFiles`]), then hands the
//! physical plan to the scheduler, which splits it into stages at its exchanges and runs
//! them on the executors. The rows come back as one stream: the client writes and commits
//! them as a local run does, so a run's all-or-nothing, its verification and its commits
//! are the same code on one machine and on a cluster.

use super::ClusterFault;
use super::job::Unvouched;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, ReplaceChildrenOptions, displayable,
};
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use futures::{StreamExt, TryStreamExt};
use std::sync::Arc;

/// The query planner of a cluster session: plans locally, executes on the cluster.
#[derive(Debug)]
pub struct ClusterPlanner {
    /// The scheduler's gRPC address, `http://host:port`.
    pub scheduler: String,
}

#[async_trait::async_trait]
impl QueryPlanner for ClusterPlanner {
    async fn create_physical_plan(&self, logical: &LogicalPlan, state: &dyn Session) -> Result<Arc<dyn ExecutionPlan>> {
        // semc's closure runs only in this process: its operator has no cluster codec
        let mut closure = false;
        datafusion::common::tree_node::TreeNode::apply(logical, |p| {
            closure |=
                matches!(p, LogicalPlan::Extension(e) if e.node.name() == crate::engine::closure::ClosureSpec::NAME);
            Ok(if closure {
                TreeNodeRecursion::Stop
            } else {
                TreeNodeRecursion::Continue
            })
        })?;
        if closure {
            return Err(DataFusionError::External(Box::new(crate::engine::files::Unsupported(
                "a `closure` step runs only locally".into(),
            ))));
        }
        let local = DefaultPhysicalPlanner::default()
            .create_physical_plan(logical, state)
            .await?;
        Ok(Arc::new(ClusterExec::new(
            self.scheduler.clone(),
            local,
            state.session_id().to_string(),
        )))
    }
}

/// A physical plan executed by the cluster: its one partition is the plan's rows, fetched
/// from the executors that computed the final stage.
#[derive(Debug)]
pub struct ClusterExec {
    scheduler: String,
    plan: Arc<dyn ExecutionPlan>,
    session_id: String,
    properties: Arc<PlanProperties>,
}

impl ClusterExec {
    pub fn new(scheduler: String, plan: Arc<dyn ExecutionPlan>, session_id: String) -> ClusterExec {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(plan.schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        ClusterExec {
            scheduler,
            plan,
            session_id,
            properties,
        }
    }
}

impl ClusterExec {
    /// The same query with its rows written to a table by the executors (each partition its
    /// files): its rows are the files' `Add` actions.
    pub fn writing(&self, files: super::write::FilesSpec) -> ClusterExec {
        let plan = Arc::new(super::write::WriteFilesExec::new(self.plan.clone(), files));
        ClusterExec::new(self.scheduler.clone(), plan, self.session_id.clone())
    }
}

impl DisplayAs for ClusterExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                writeln!(f, "ClusterExec: scheduler={}", self.scheduler)?;
                write!(f, "{}", displayable(self.plan.as_ref()).indent(false))
            }
            DisplayFormatType::TreeRender => write!(f, "scheduler={}", self.scheduler),
        }
    }
}

impl ExecutionPlan for ClusterExec {
    fn name(&self) -> &str {
        "ClusterExec"
    }

    fn schema(&self) -> SchemaRef {
        self.plan.schema()
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    // the plan inside is the cluster's: nothing here optimizes or rewrites it again
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    #[allow(deprecated)]
    fn with_new_children(self: Arc<Self>, _: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "ClusterExec has one partition, not {partition}"
            )));
        }
        let scheduler = self.scheduler.clone();
        let plan = self.plan.clone();
        let session_id = self.session_id.clone();
        let config = context.session_config().clone();
        // an error the job already said as the cluster's (or as unvouched) passes as it is
        let fault = {
            let scheduler = scheduler.clone();
            move |e: DataFusionError| match e {
                DataFusionError::External(ref inner) if inner.is::<ClusterFault>() || inner.is::<Unvouched>() => e,
                e => ClusterFault::error(&scheduler, e),
            }
        };
        let submitted = super::job::execute(scheduler, plan, session_id, config);
        // every error of the query is the cluster's, said as the cluster said it
        let rows = futures::stream::once(submitted).try_flatten().map_err(fault);
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema(), rows.boxed())))
    }
}
