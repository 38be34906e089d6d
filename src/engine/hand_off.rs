//! A leaf that hands an operator, partition by partition, the input another node read first.
//!
//! [`super::runs::RunsFirstExec`] and [`super::buckets::BucketsFirstExec`] each read some of
//! a partition's input before they choose how to aggregate it; when they choose the
//! aggregate as planned, it reads that partition from a [`HandOffExec`] in place of its
//! input: what was read first, then the rest.

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricValue, MetricsSet};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

/// The leaf an operator as planned reads in place of its input: each partition's stream,
/// put there by the node that read it first.
pub struct HandOffExec {
    properties: Arc<PlanProperties>,
    streams: Mutex<HashMap<usize, SendableRecordBatchStream>>,
}

impl fmt::Debug for HandOffExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandOffExec")
    }
}

impl HandOffExec {
    /// A hand-off with the properties of `input`, whose place it takes.
    pub fn new(input: &Arc<dyn ExecutionPlan>) -> HandOffExec {
        HandOffExec {
            properties: Arc::clone(input.properties()),
            streams: Mutex::default(),
        }
    }

    /// `stream` is what the next `execute(partition)` returns.
    pub fn put(&self, partition: usize, stream: SendableRecordBatchStream) {
        self.streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(partition, stream);
    }
}

impl DisplayAs for HandOffExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("HandOffExec")
    }
}

impl ExecutionPlan for HandOffExec {
    fn name(&self) -> &str {
        "HandOffExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    #[allow(deprecated)]
    fn with_new_children(self: Arc<Self>, _children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        self.streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&partition)
            .ok_or_else(|| DataFusionError::Internal(format!("semc: partition {partition} was not handed over")))
    }
}

/// A node's `own` metrics and those of the operator as `planned` behind its hand-off, but
/// for the rows, bytes and batches that operator gave, which the node counts as its own.
pub fn with_planned_metrics(own: &ExecutionPlanMetricsSet, planned: &Arc<dyn ExecutionPlan>) -> MetricsSet {
    let mut all = own.clone_inner();
    for metric in planned.metrics().iter().flat_map(|m| m.iter()) {
        let output = matches!(
            metric.value(),
            MetricValue::OutputRows(_)
                | MetricValue::OutputBytes(_)
                | MetricValue::OutputBatches(_)
                | MetricValue::StartTimestamp(_)
                | MetricValue::EndTimestamp(_)
        );
        if !output {
            all.push(Arc::clone(metric));
        }
    }
    all
}
