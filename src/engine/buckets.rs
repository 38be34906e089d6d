//! A final aggregate of many groups, computed bucket by bucket.
//!
//! DataFusion's final aggregate inserts each row of partial state into one hash table of
//! all its partition's groups. With millions of groups the table and the groups' states
//! are far larger than a core's cache, and each row costs a few misses: TPC-H Q18 at SF 10
//! merges 15 M rows into 15 M orders (7.5 M a partition), 1.55 s of CPU, most of it waiting
//! on memory, and fresh pages for tables that double as they grow.
//!
//! [`ManyGroupsInBuckets`] (a physical rule) puts a [`BucketsFirstExec`] in place of each
//! final grouped aggregate. Each partition's first [`BUCKET_FROM_ROWS`] rows are probed:
//! if they are at most [`ROWS_PER_GROUP`] rows a group (by the distinct hashes of their
//! keys), the partition is split by that hash into [`BUCKETS`] buckets (a seed of its own,
//! so a bucket's keys still spread over the aggregate's table), and when the input ends
//! the aggregate as planned runs on one bucket after another, each a few thousand groups
//! whose table stays in cache. Every row of a group is in the same bucket, in the order it
//! came, so each bucket's groups are the groups the one table would have had. A partition
//! that ends before [`BUCKET_FROM_ROWS`] rows — a final aggregate of few groups gets at
//! most a row per group from each partial one — or holds more rows a group, goes to the
//! aggregate as planned with what was read, as does one whose buckets the memory pool
//! cannot hold (that aggregate spills).
//!
//! Local sessions only: a cluster's nodes decode no such plan node.

use datafusion::arrow::compute::interleave_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::hash_utils::{RandomState, create_hashes};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet, RecordOutput,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, InputOrderMode, PlanProperties};
use futures::{StreamExt, TryStreamExt};
use std::fmt;
use std::sync::Arc;

use super::hand_off::{HandOffExec, with_planned_metrics};

/// The rows of a partition's input past which it is split into buckets.
const BUCKET_FROM_ROWS: usize = 1 << 20;

/// How many buckets: the top bits of a row's hash name its bucket.
const BUCKET_BITS: u32 = 8;
const BUCKETS: usize = 1 << BUCKET_BITS;

/// The rows read before they are copied into their buckets, each bucket's in one batch.
const ROWS_PER_SPLIT: usize = 1 << 19;

/// The most rows a group, on average over the first [`BUCKET_FROM_ROWS`], at which a
/// partition is split: the buckets hold every row where the aggregate holds a group's
/// state (a row of partial state is about a group's size in the table).
const ROWS_PER_GROUP: usize = 4;

/// The hash of the buckets: not the repartition's (seed 0), whose partitions this splits,
/// nor the aggregate's, whose table would see one bucket's keys share their top bits.
const BUCKET_HASH: RandomState = RandomState::with_seed(0x2545_f491_4f6c_dd1d);

/// Puts a [`BucketsFirstExec`] in place of each final aggregate with keys.
#[derive(Debug, Default)]
pub struct ManyGroupsInBuckets;

impl PhysicalOptimizerRule for ManyGroupsInBuckets {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(aggregate) = node.downcast_ref::<AggregateExec>() else {
                return Ok(Transformed::no(node));
            };
            if !computable_by_buckets(aggregate) {
                return Ok(Transformed::no(node));
            }
            // one that cannot be built stays the aggregate as planned
            match BucketsFirstExec::try_new(Arc::clone(&node), Arc::clone(aggregate.input())) {
                Ok(buckets_first) => Ok(Transformed::yes(Arc::new(buckets_first) as Arc<dyn ExecutionPlan>)),
                Err(_) => Ok(Transformed::no(node)),
            }
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "semc_many_groups_in_buckets"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A final aggregate over plain keys, of aggregates that need no order of their rows and no
/// input order the aggregate already streams by.
fn computable_by_buckets(aggregate: &AggregateExec) -> bool {
    let group_by = aggregate.group_expr();
    matches!(aggregate.mode(), AggregateMode::Final | AggregateMode::FinalPartitioned)
        && group_by.is_single()
        && !group_by.expr().is_empty()
        && *aggregate.input_order_mode() == InputOrderMode::Linear
        && aggregate.limit_options().is_none()
        && aggregate
            .aggr_expr()
            .iter()
            .all(|a| a.order_bys().is_empty() && !a.is_distinct())
}

/// A final aggregate that, past [`BUCKET_FROM_ROWS`] rows of a partition, computes its
/// groups one bucket of them at a time, and otherwise is the aggregate as planned.
#[derive(Debug)]
pub struct BucketsFirstExec {
    /// The final aggregate as planned, reading its input from `hand_off`.
    hashed: Arc<dyn ExecutionPlan>,
    input: Arc<dyn ExecutionPlan>,
    hand_off: Arc<HandOffExec>,
    /// The aggregate's keys, as columns of its input.
    keys: Vec<Arc<dyn PhysicalExpr>>,
    metrics: ExecutionPlanMetricsSet,
}

impl BucketsFirstExec {
    /// `aggregate` is an [`AggregateExec`] for which [`computable_by_buckets`] holds.
    fn try_new(aggregate: Arc<dyn ExecutionPlan>, input: Arc<dyn ExecutionPlan>) -> Result<BucketsFirstExec> {
        let planned = aggregate
            .downcast_ref::<AggregateExec>()
            .ok_or_else(|| DataFusionError::Internal("semc buckets: not an aggregate".into()))?;
        let keys = planned.group_expr().expr().iter().map(|(e, _)| Arc::clone(e)).collect();
        let hand_off = Arc::new(HandOffExec::new(&input));
        let hashed = replace_children_if_necessary(aggregate, vec![Arc::clone(&hand_off) as Arc<dyn ExecutionPlan>])?;
        Ok(BucketsFirstExec {
            hashed,
            input,
            hand_off,
            keys,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

impl DisplayAs for BucketsFirstExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("BucketsFirstExec: ")?;
        self.hashed.fmt_as(t, f)
    }
}

impl ExecutionPlan for BucketsFirstExec {
    fn name(&self) -> &str {
        "BucketsFirstExec"
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
            .ok_or_else(|| DataFusionError::Internal("semc buckets: an aggregate has one input".into()))?;
        // the aggregate as planned, over a hand-off of the new input's properties
        Ok(Arc::new(BucketsFirstExec::try_new(Arc::clone(&self.hashed), input)?))
    }

    /// Its own metrics and the hash aggregate's, but for the rows, bytes and batches that
    /// aggregate gave, which are counted here already.
    fn metrics(&self) -> Option<MetricsSet> {
        Some(with_planned_metrics(&self.metrics, &self.hashed))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let mut input = self.input.execute(partition, Arc::clone(&context))?;
        let (input_schema, output_schema) = (self.input.schema(), self.schema());
        let keys = self.keys.clone();
        let (hashed, hand_off) = (Arc::clone(&self.hashed), Arc::clone(&self.hand_off));
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let bucketed = MetricBuilder::new(&self.metrics).counter("bucketed_partitions", partition);
        let splitting = metrics.clone();
        let reservation = MemoryConsumer::new(format!("BucketsFirstExec[{partition}]")).register(context.memory_pool());
        let out = futures::stream::once(async move {
            let schema = input_schema.clone();
            let as_planned = move |read: Vec<RecordBatch>, rest: SendableRecordBatchStream| {
                hand_off.put(partition, read_then(input_schema.clone(), read, rest));
                hashed.execute(partition, Arc::clone(&context))
            };
            let mut buckets = Buckets::new(keys, reservation);
            while let Some(batch) = input.next().await.transpose()? {
                let _timer = splitting.elapsed_compute().timer();
                if let Some(refused) = buckets.add(batch)? {
                    // the pool holds no more: the aggregate as planned takes what was read
                    // (which it can spill) and the rest
                    let mut read = buckets.into_read();
                    read.push(refused);
                    return as_planned(read, input);
                }
                if buckets.probing() && buckets.rows >= BUCKET_FROM_ROWS && !buckets.probed_many_groups() {
                    return as_planned(buckets.into_read(), input);
                }
            }
            if buckets.probing() {
                // few rows: the aggregate as planned takes them
                return as_planned(buckets.into_read(), input);
            }
            bucketed.add(1);
            let (filled, reservation) = {
                let _timer = splitting.elapsed_compute().timer();
                buckets.into_buckets()?
            };
            let reservation = Arc::new(reservation);
            let one_by_one = futures::stream::iter(filled).map(move |bucket| {
                let held = Held(Arc::clone(&reservation), bucket.bytes);
                let aggregated = as_planned(bucket.batches, empty(schema.clone()))?;
                // the bucket is counted until its aggregate is done
                Ok::<_, DataFusionError>(aggregated.inspect(move |_| {
                    let _ = &held;
                }))
            });
            Ok(
                Box::pin(RecordBatchStreamAdapter::new(output_schema, one_by_one.try_flatten()))
                    as SendableRecordBatchStream,
            )
        })
        .try_flatten()
        .inspect_ok(move |batch| {
            batch.record_output(&metrics);
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema(), out)))
    }
}

/// `read`, then the rest of the partition.
fn read_then(schema: SchemaRef, read: Vec<RecordBatch>, rest: SendableRecordBatchStream) -> SendableRecordBatchStream {
    let read = futures::stream::iter(read.into_iter().map(Ok));
    Box::pin(RecordBatchStreamAdapter::new(schema, read.chain(rest)))
}

fn empty(schema: SchemaRef) -> SendableRecordBatchStream {
    Box::pin(RecordBatchStreamAdapter::new(schema, futures::stream::empty()))
}

/// Bytes of a reservation that are given back when this is dropped.
struct Held(Arc<MemoryReservation>, usize);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.shrink(self.1.min(self.0.size()));
    }
}

/// A bucket's rows, and their bytes.
#[derive(Clone, Default)]
struct Bucket {
    batches: Vec<RecordBatch>,
    bytes: usize,
}

/// A partition's rows split into buckets by a hash of their keys, with the memory they hold.
/// Until [`BUCKET_FROM_ROWS`] rows were read it is probing: nothing is split, and the keys'
/// hashes tell how many groups the rows are.
struct Buckets {
    keys: Vec<Arc<dyn PhysicalExpr>>,
    reservation: MemoryReservation,
    rows: usize,
    /// While probing, the distinct hashes seen.
    seen: Option<DistinctHashes>,
    /// Rows read and not yet split, and each row's bucket.
    unsplit: Vec<RecordBatch>,
    unsplit_buckets: Vec<Vec<u8>>,
    unsplit_rows: usize,
    filled: Vec<Bucket>,
    hashes: Vec<u64>,
}

impl Buckets {
    fn new(keys: Vec<Arc<dyn PhysicalExpr>>, reservation: MemoryReservation) -> Buckets {
        Buckets {
            keys,
            reservation,
            rows: 0,
            seen: Some(DistinctHashes::default()),
            unsplit: vec![],
            unsplit_buckets: vec![],
            unsplit_rows: 0,
            filled: vec![Bucket::default(); BUCKETS],
            hashes: vec![],
        }
    }

    fn probing(&self) -> bool {
        self.seen.is_some()
    }

    /// Whether the rows probed hold at most [`ROWS_PER_GROUP`] rows a group (the buckets
    /// hold rows where the aggregate holds groups); probing ends.
    fn probed_many_groups(&mut self) -> bool {
        let groups = self.seen.take().map_or(0.0, |seen| seen.estimate());
        groups * ROWS_PER_GROUP as f64 >= self.rows as f64
    }

    /// Adds `batch`, or gives it back if the memory pool cannot hold it.
    fn add(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        if self.reservation.try_grow(batch.get_array_memory_size()).is_err() {
            return Ok(Some(batch));
        }
        let rows = batch.num_rows();
        let keys = self
            .keys
            .iter()
            .map(|k| k.evaluate(&batch)?.into_array(rows))
            .collect::<Result<Vec<_>>>()?;
        self.hashes.clear();
        self.hashes.resize(rows, 0);
        create_hashes(&keys, &BUCKET_HASH, &mut self.hashes)?;
        if let Some(seen) = &mut self.seen {
            seen.extend(&self.hashes);
        }
        let shift = u64::BITS - BUCKET_BITS;
        self.unsplit_buckets
            .push(self.hashes.iter().map(|h| (h >> shift) as u8).collect());
        self.unsplit.push(batch);
        self.rows += rows;
        self.unsplit_rows += rows;
        if !self.probing() && self.unsplit_rows >= ROWS_PER_SPLIT {
            self.split()?;
        }
        Ok(None)
    }
    /// Copies the unsplit rows into their buckets, one batch a bucket.
    fn split(&mut self) -> Result<()> {
        if self.unsplit.is_empty() {
            return Ok(());
        }
        let mut ends = [0usize; BUCKETS];
        for buckets in &self.unsplit_buckets {
            for &b in buckets {
                ends[b as usize] += 1;
            }
        }
        let mut starts = [0usize; BUCKETS];
        let mut total = 0;
        for (start, end) in starts.iter_mut().zip(ends.iter_mut()) {
            *start = total;
            total += *end;
            *end = *start;
        }
        // each row's (batch, row), in bucket order and, within a bucket, in the order read
        let mut order = vec![(0, 0); total];
        for (batch, buckets) in self.unsplit_buckets.iter().enumerate() {
            for (row, &b) in buckets.iter().enumerate() {
                order[ends[b as usize]] = (batch, row);
                ends[b as usize] += 1;
            }
        }
        let unsplit: Vec<&RecordBatch> = self.unsplit.iter().collect();
        let mut copied = 0;
        for (bucket, (&start, &end)) in self.filled.iter_mut().zip(starts.iter().zip(&ends)) {
            if start == end {
                continue;
            }
            let batch = interleave_record_batch(&unsplit, &order[start..end])?;
            let size = batch.get_array_memory_size();
            bucket.bytes += size;
            copied += size;
            bucket.batches.push(batch);
        }
        let read: usize = self.unsplit.iter().map(RecordBatch::get_array_memory_size).sum();
        // the copies are held for a moment beside what they copy
        self.reservation.grow(copied);
        self.reservation.shrink(read.min(self.reservation.size()));
        self.unsplit.clear();
        self.unsplit_buckets.clear();
        self.unsplit_rows = 0;
        Ok(())
    }

    /// Every row read (split or not), for the aggregate as planned; the memory is its.
    fn into_read(self) -> Vec<RecordBatch> {
        self.reservation.free();
        let split = self.filled.into_iter().flat_map(|b| b.batches);
        split.chain(self.unsplit).collect()
    }

    /// Each bucket that holds rows (its batches and their bytes), and the reservation that
    /// counts exactly those bytes.
    fn into_buckets(mut self) -> Result<(Vec<Bucket>, MemoryReservation)> {
        self.split()?;
        let filled: Vec<_> = self.filled.into_iter().filter(|b| !b.batches.is_empty()).collect();
        self.reservation.resize(filled.iter().map(|b| b.bytes).sum());
        Ok((filled, self.reservation))
    }
}

/// How many distinct hashes a stream of them holds, estimated by linear counting: a bit
/// of [`DistinctHashes::BITS`] set per hash, and the share left unset.
struct DistinctHashes {
    bits: Vec<u64>,
}

impl Default for DistinctHashes {
    fn default() -> Self {
        DistinctHashes {
            bits: vec![0; Self::BITS / 64],
        }
    }
}

impl DistinctHashes {
    /// Four bits per row probed: the estimate stays within a few percent up to there.
    const BITS: usize = 4 * BUCKET_FROM_ROWS;

    fn extend(&mut self, hashes: &[u64]) {
        for h in hashes {
            // the low bits: the bucket is the top ones
            let bit = (*h as usize) % Self::BITS;
            self.bits[bit / 64] |= 1 << (bit % 64);
        }
    }

    fn estimate(&self) -> f64 {
        let set: u32 = self.bits.iter().map(|w| w.count_ones()).sum();
        let unset = (Self::BITS - set as usize).max(1) as f64;
        -(Self::BITS as f64) * (unset / Self::BITS as f64).ln()
    }
}
