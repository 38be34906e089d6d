//! A partial aggregate that first merges runs of equal keys, before it hashes anything.
//!
//! Tables are often written in the order of a key: TPC-H's `lineitem` comes in its orders'
//! order, an order's lines side by side. Grouped by that key, DataFusion's partial aggregate
//! finds about 4 rows a group in its first 100,000 rows — too few to keep its hash table
//! (semc skips it below 10, `skip_partial_aggregation_probe_ratio_threshold`) — and passes
//! every row on: the final aggregate then hashes all of them, 60 M lineitems into 15 M
//! orders at SF 10 (TPC-H Q18), each probe a miss in a table of 15 M groups.
//!
//! [`RunsOfEqualKeys`] (a physical rule) puts a [`RunsFirstExec`] in place of each partial
//! grouped aggregate. Each partition's first [`PROBE_ROWS`] rows (or all it has) are merged run by
//! run — the rows of a run, adjacent and with equal keys, one group — and tell whether the
//! input comes in runs: when the runs are at most half the rows and at most twice the
//! distinct keys (a hash table would not merge many more), every later batch is merged the
//! same way, each run one row of partial state, its keys taken from the run's first row.
//! Otherwise the rest of the partition goes to the partial aggregate as planned. Either way
//! the output is partial state that the final aggregate merges, however the groups were cut:
//! a run split between two batches, or a key whose rows are not all side by side, is only
//! two rows of state for one group.
//!
//! Local sessions only: a cluster's nodes decode no such plan node.

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{partition, take};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::{GroupsAccumulatorAdapter, PhysicalExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet, RecordOutput,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, InputOrderMode, PlanProperties};
use futures::{StreamExt, TryStreamExt};
use std::collections::HashSet;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;

use super::hand_off::{HandOffExec, with_planned_metrics};

/// The rows of each partition that tell whether it comes in runs (DataFusion's own probe of
/// a partial aggregate reads as many).
const PROBE_ROWS: usize = 100_000;

/// Puts a [`RunsFirstExec`] in place of each partial aggregate with keys.
#[derive(Debug, Default)]
pub struct RunsOfEqualKeys;

impl PhysicalOptimizerRule for RunsOfEqualKeys {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(aggregate) = node.downcast_ref::<AggregateExec>() else {
                return Ok(Transformed::no(node));
            };
            if !mergeable_by_runs(aggregate) {
                return Ok(Transformed::no(node));
            }
            // one that cannot be built stays the aggregate as planned
            match RunsFirstExec::try_new(Arc::clone(&node), Arc::clone(aggregate.input())) {
                Ok(runs_first) => Ok(Transformed::yes(Arc::new(runs_first) as Arc<dyn ExecutionPlan>)),
                Err(_) => Ok(Transformed::no(node)),
            }
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "semc_runs_of_equal_keys"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A partial aggregate over plain keys, of aggregates that need no order of their rows and
/// no input order the aggregate already streams by.
fn mergeable_by_runs(aggregate: &AggregateExec) -> bool {
    let group_by = aggregate.group_expr();
    *aggregate.mode() == AggregateMode::Partial
        && group_by.is_single()
        && !group_by.expr().is_empty()
        && *aggregate.input_order_mode() == InputOrderMode::Linear
        && aggregate.limit_options().is_none()
        && aggregate
            .aggr_expr()
            .iter()
            .all(|a| a.order_bys().is_empty() && !a.is_distinct())
}

/// A partial aggregate that merges runs of equal keys while its input comes in runs, and
/// otherwise hands its input to the partial aggregate as planned.
#[derive(Debug)]
pub struct RunsFirstExec {
    /// The partial aggregate as planned, reading its input from `hand_off`.
    hashed: Arc<dyn ExecutionPlan>,
    input: Arc<dyn ExecutionPlan>,
    hand_off: Arc<HandOffExec>,
    merge: Arc<RunMerge>,
    metrics: ExecutionPlanMetricsSet,
}

impl RunsFirstExec {
    /// `aggregate` is an [`AggregateExec`] for which [`mergeable_by_runs`] holds.
    fn try_new(aggregate: Arc<dyn ExecutionPlan>, input: Arc<dyn ExecutionPlan>) -> Result<RunsFirstExec> {
        let planned = aggregate
            .downcast_ref::<AggregateExec>()
            .ok_or_else(|| DataFusionError::Internal("semc runs: not an aggregate".into()))?;
        let merge = Arc::new(RunMerge {
            keys: planned.group_expr().expr().iter().map(|(e, _)| Arc::clone(e)).collect(),
            aggregates: planned.aggr_expr().to_vec(),
            arguments: planned.aggr_expr().iter().map(|a| a.expressions()).collect(),
            filters: planned.filter_expr().to_vec(),
            schema: planned.schema(),
        });
        let hand_off = Arc::new(HandOffExec::new(&input));
        let hashed = replace_children_if_necessary(aggregate, vec![Arc::clone(&hand_off) as Arc<dyn ExecutionPlan>])?;
        Ok(RunsFirstExec {
            hashed,
            input,
            hand_off,
            merge,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

impl DisplayAs for RunsFirstExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let keys: Vec<String> = self.merge.keys.iter().map(|k| k.to_string()).collect();
        let aggregates: Vec<&str> = self.merge.aggregates.iter().map(|a| a.name()).collect();
        write!(
            f,
            "RunsFirstExec: gby=[{}], aggr=[{}], else hashed",
            keys.join(", "),
            aggregates.join(", ")
        )
    }
}

impl ExecutionPlan for RunsFirstExec {
    fn name(&self) -> &str {
        "RunsFirstExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.hashed.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.hashed.apply_expressions(f)
    }

    #[allow(deprecated)]
    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        let input = children
            .pop()
            .ok_or_else(|| DataFusionError::Internal("semc runs: an aggregate has one input".into()))?;
        // the aggregate as planned, over a hand-off of the new input's properties
        Ok(Arc::new(RunsFirstExec::try_new(Arc::clone(&self.hashed), input)?))
    }

    /// Its own metrics and the hash aggregate's, but for the rows, bytes and batches that
    /// aggregate gave, which are counted here already.
    fn metrics(&self) -> Option<MetricsSet> {
        Some(with_planned_metrics(&self.metrics, &self.hashed))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, Arc::clone(&context))?;
        let merge = Arc::clone(&self.merge);
        let (hashed, hand_off) = (Arc::clone(&self.hashed), Arc::clone(&self.hand_off));
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let handed_over = MetricBuilder::new(&self.metrics).counter("hashed_partitions", partition);
        let merging = metrics.clone();
        let rest = futures::stream::once(async move {
            let (probed, seen, input) = merge.probe(input, &merging).await?;
            let probed = futures::stream::iter(probed.into_iter().map(Ok));
            if !seen.in_runs() {
                // the partial aggregate as planned takes the rest of this partition
                handed_over.add(1);
                hand_off.put(partition, input);
                let hashed = hashed.execute(partition, context)?;
                return Ok::<_, DataFusionError>(probed.chain(hashed).boxed());
            }
            let merged = input.map(move |batch| {
                let _timer = merging.elapsed_compute().timer();
                Ok(merge.merge(&batch?)?.0)
            });
            Ok(probed.chain(merged).boxed())
        })
        .try_flatten()
        .inspect_ok(move |batch| {
            batch.record_output(&metrics);
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.merge.schema.clone(), rest)))
    }
}

/// What a partition's probe saw: its rows, their runs and their distinct keys.
#[derive(Debug, Default)]
struct Probed {
    rows: usize,
    runs: usize,
    distinct: usize,
}

impl Probed {
    /// Whether the runs are at most half the rows and at most twice the distinct keys.
    fn in_runs(&self) -> bool {
        self.runs * 2 <= self.rows && self.runs <= self.distinct * 2
    }
}

/// How a batch is merged run by run: the partial aggregate's keys, aggregates (with their
/// arguments and filters) and output.
#[derive(Debug)]
struct RunMerge {
    keys: Vec<Arc<dyn PhysicalExpr>>,
    aggregates: Vec<Arc<AggregateFunctionExpr>>,
    arguments: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    filters: Vec<Option<Arc<dyn PhysicalExpr>>>,
    schema: SchemaRef,
}

impl RunMerge {
    /// `batch` merged run by run, and its keys (for the probe).
    fn merge(&self, batch: &RecordBatch) -> Result<(RecordBatch, Vec<ArrayRef>)> {
        let keys = self
            .keys
            .iter()
            .map(|k| k.evaluate(batch)?.into_array(batch.num_rows()))
            .collect::<Result<Vec<_>>>()?;
        if batch.num_rows() == 0 {
            return Ok((RecordBatch::new_empty(self.schema.clone()), keys));
        }
        let runs = partition(&keys)?.ranges();
        let mut run_of_row = Vec::with_capacity(batch.num_rows());
        for (run, rows) in runs.iter().enumerate() {
            run_of_row.extend(std::iter::repeat_n(run, rows.len()));
        }
        let firsts = UInt32Array::from_iter_values(runs.iter().map(|r| r.start as u32));
        let mut columns = keys
            .iter()
            .map(|k| take(k.as_ref(), &firsts, None))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for ((aggregate, arguments), filter) in self.aggregates.iter().zip(&self.arguments).zip(&self.filters) {
            let values = arguments
                .iter()
                .map(|a| a.evaluate(batch)?.into_array(batch.num_rows()))
                .collect::<Result<Vec<_>>>()?;
            let filter = filter
                .as_ref()
                .map(|f| f.evaluate(batch)?.into_array(batch.num_rows()))
                .transpose()?;
            let filter = match &filter {
                Some(f) => Some(f.as_any().downcast_ref::<BooleanArray>().ok_or_else(|| {
                    DataFusionError::Internal("semc runs: an aggregate's filter is not boolean".into())
                })?),
                None => None,
            };
            let mut accumulator = groups_accumulator(aggregate)?;
            accumulator.update_batch(&values, &run_of_row, filter, runs.len())?;
            columns.extend(accumulator.state(EmitTo::All)?);
        }
        Ok((RecordBatch::try_new(self.schema.clone(), columns)?, keys))
    }

    /// The partition's first batches, up to [`PROBE_ROWS`] rows or its end, merged run by
    /// run, with what they tell; and the rest of the partition.
    async fn probe(
        &self,
        mut input: SendableRecordBatchStream,
        metrics: &BaselineMetrics,
    ) -> Result<(Vec<RecordBatch>, Probed, SendableRecordBatchStream)> {
        let mut probed = Probed::default();
        let mut merged = vec![];
        let converter = RowConverter::new(self.keys_fields(&input.schema())?)?;
        let hasher = std::hash::RandomState::new();
        let mut distinct = HashSet::new();
        while probed.rows < PROBE_ROWS {
            let Some(batch) = input.next().await.transpose()? else {
                break;
            };
            let _timer = metrics.elapsed_compute().timer();
            let (batch_merged, keys) = self.merge(&batch)?;
            let rows = converter.convert_columns(&keys)?;
            distinct.extend(rows.iter().map(|row| hasher.hash_one(row.as_ref())));
            probed.rows += batch.num_rows();
            probed.runs += batch_merged.num_rows();
            merged.push(batch_merged);
        }
        probed.distinct = distinct.len();
        Ok((merged, probed, input))
    }

    fn keys_fields(&self, schema: &SchemaRef) -> Result<Vec<SortField>> {
        self.keys
            .iter()
            .map(|k| Ok(SortField::new(k.data_type(schema)?)))
            .collect()
    }
}

/// The accumulator DataFusion's partial aggregate would use for `aggregate`.
fn groups_accumulator(aggregate: &Arc<AggregateFunctionExpr>) -> Result<Box<dyn GroupsAccumulator>> {
    if aggregate.groups_accumulator_supported() {
        return aggregate.create_groups_accumulator();
    }
    let aggregate = Arc::clone(aggregate);
    Ok(Box::new(GroupsAccumulatorAdapter::new(move || {
        aggregate.create_accumulator()
    })))
}
