//! The bounded closure: `closure a -> b [per k, …] max N as (reached, depth) [shortest]
//! [truncate]`. The rows so far are edges `a -> b`; the result is one row per walk of 1 to
//! N edges that agree on the `per` keys — `k…, a` (where the walk starts), `reached` (where
//! it ends), `depth` (its edges) — or, with `shortest`, one row per node reached with the
//! least depth. An edge with a null end or key is not walked.
//!
//! It is one operator, not N self-joins: a logical [`ClosureNode`] that travels in the one
//! Substrait plan as an `ExtensionSingleRel` (its settings as JSON, [`super::extensions`]), and
//! a [`ClosureExec`] that reads the edges once and walks them in memory. A walk that could
//! go on past N fails the run ([`ChainTooLong`], E0414) unless the step says `truncate`.

use datafusion::arrow::array::{ArrayRef, Int32Array, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchema, DFSchemaRef, DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, Extension, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, Partitioning, PlanProperties,
};
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};
use futures::TryStreamExt;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

pub use crate::ir::ClosureSpec;

/// Where each column a closure reads stands in its input: the `per` keys, then the edge's
/// start and end. By position, not by name: a plan read back from Substrait names a
/// projection's columns by their expressions.
fn positions(spec: &ClosureSpec) -> (std::ops::Range<usize>, usize, usize) {
    let n = spec.per.len();
    (0..n, n, n + 1)
}

/// The result's columns of `spec` over an input with `input`'s fields.
fn closure_schema(spec: &ClosureSpec, input: &DFSchema) -> Result<DFSchemaRef> {
    let (keys, from, to) = positions(spec);
    if input.fields().len() != to + 1 {
        return Err(DataFusionError::Internal(format!(
            "a closure reads {} columns, its input has {}",
            to + 1,
            input.fields().len()
        )));
    }
    let typed = |i: usize, name: &str| Field::new(name, input.field(i).data_type().clone(), true);
    let mut fields: Vec<Field> = keys.zip(&spec.per).map(|(i, k)| typed(i, k)).collect();
    fields.push(typed(from, &spec.from).with_nullable(false));
    fields.push(typed(to, &spec.reached).with_nullable(false));
    fields.push(Field::new(&spec.depth, DataType::Int32, false));
    Ok(Arc::new(DFSchema::try_from(Schema::new(fields))?))
}

/// The closure as a logical plan node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClosureNode {
    pub spec: ClosureSpec,
    pub input: LogicalPlan,
    schema: DFSchemaRef,
}

impl PartialOrd for ClosureNode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.spec.partial_cmp(&other.spec)
    }
}

impl ClosureNode {
    pub fn new(spec: ClosureSpec, input: LogicalPlan) -> Result<ClosureNode> {
        let schema = closure_schema(&spec, input.schema())?;
        Ok(ClosureNode { spec, input, schema })
    }

    /// The node over an input of nothing with the columns it reads (their types are its real
    /// input's, once given).
    pub fn placeholder(spec: ClosureSpec) -> Result<ClosureNode> {
        let names = spec.per.iter().chain([&spec.from, &spec.to]);
        let fields: Vec<Field> = names.map(|n| Field::new(n, DataType::Null, true)).collect();
        let placeholder = LogicalPlan::EmptyRelation(datafusion::logical_expr::EmptyRelation {
            produce_one_row: false,
            schema: Arc::new(DFSchema::try_from(Schema::new(fields))?),
        });
        ClosureNode::new(spec, placeholder)
    }

    /// The node as a plan.
    pub fn into_plan(self) -> LogicalPlan {
        LogicalPlan::Extension(Extension { node: Arc::new(self) })
    }
}

impl UserDefinedLogicalNodeCore for ClosureNode {
    fn name(&self) -> &str {
        ClosureSpec::NAME
    }
    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }
    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }
    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }
    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Closure: {}", self.spec)
    }
    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, mut inputs: Vec<LogicalPlan>) -> Result<Self> {
        let input = inputs
            .pop()
            .ok_or_else(|| DataFusionError::Internal("a closure has one input".into()))?;
        ClosureNode::new(self.spec.clone(), input)
    }
}

/// Plans [`ClosureNode`]s as [`ClosureExec`]s.
#[derive(Debug, Default)]
pub struct ClosurePlanner;

#[async_trait::async_trait]
impl ExtensionPlanner for ClosurePlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn datafusion::catalog::Session,
        _planning: &datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(c) = node.as_any().downcast_ref::<ClosureNode>() else {
            return Ok(None);
        };
        let input = physical_inputs
            .first()
            .cloned()
            .ok_or_else(|| DataFusionError::Internal("a closure has one input".into()))?;
        Ok(Some(Arc::new(ClosureExec::new(
            c.spec.clone(),
            input,
            Arc::new(c.schema.as_arrow().clone()),
        ))))
    }
}

/// A walk that could go on past the closure's `max`.
#[derive(Debug)]
pub struct ChainTooLong(pub String);

impl fmt::Display for ChainTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ChainTooLong {}

/// The closure over its input's rows, read once, walked in memory.
#[derive(Debug)]
pub struct ClosureExec {
    spec: ClosureSpec,
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl ClosureExec {
    pub fn new(spec: ClosureSpec, input: Arc<dyn ExecutionPlan>, schema: SchemaRef) -> ClosureExec {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        ClosureExec {
            spec,
            input,
            schema,
            properties,
        }
    }
}

impl DisplayAs for ClosureExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ClosureExec: {}", self.spec)
    }
}

impl ExecutionPlan for ClosureExec {
    fn name(&self) -> &str {
        "ClosureExec"
    }
    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }
    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition]
    }
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }
    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn datafusion::physical_expr::PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }
    #[allow(deprecated)]
    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        let input = children
            .pop()
            .ok_or_else(|| DataFusionError::Internal("a closure has one input".into()))?;
        Ok(Arc::new(ClosureExec::new(
            self.spec.clone(),
            input,
            self.schema.clone(),
        )))
    }
    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let (spec, schema) = (self.spec.clone(), self.schema.clone());
        let in_schema = self.input.schema();
        let out = futures::stream::once(async move {
            let batches: Vec<RecordBatch> = input.try_collect().await?;
            let edges = concat_batches(&in_schema, &batches)?;
            walk(&spec, &edges, schema)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), out)))
    }
}

/// One walk found: the edge it starts with, the edge it ends with, its length.
struct Walk {
    first: u32,
    last: u32,
    depth: i32,
}

/// Every walk (or, with `shortest`, every node first reached) over `edges`.
fn walk(spec: &ClosureSpec, edges: &RecordBatch, schema: SchemaRef) -> Result<RecordBatch> {
    let (key_columns, from, to) = positions(spec);
    let keys: Vec<ArrayRef> = key_columns.map(|i| edges.column(i).clone()).collect();
    let (from, to) = (edges.column(from).clone(), edges.column(to).clone());
    // keys and nodes as comparable bytes (any types); `to` in `from`'s type
    let to = datafusion::arrow::compute::cast(&to, from.data_type())?;
    let key_rows = RowConverter::new(keys.iter().map(|k| SortField::new(k.data_type().clone())).collect())?
        .convert_columns(&keys)?;
    let node_converter = RowConverter::new(vec![SortField::new(from.data_type().clone())])?;
    let (from_rows, to_rows) = (
        node_converter.convert_columns(std::slice::from_ref(&from))?,
        node_converter.convert_columns(std::slice::from_ref(&to))?,
    );
    let walkable = |i: usize| !from.is_null(i) && !to.is_null(i) && keys.iter().all(|k| !k.is_null(i));
    // the edges leaving each (key, node)
    let mut leaving: HashMap<(&[u8], &[u8]), Vec<u32>> = HashMap::new();
    for i in (0..edges.num_rows()).filter(|&i| walkable(i)) {
        leaving
            .entry((key_rows.row(i).data(), from_rows.row(i).data()))
            .or_default()
            .push(i as u32);
    }
    let next = |e: u32| leaving.get(&(key_rows.row(e as usize).data(), to_rows.row(e as usize).data()));
    let too_long = |w: &Walk| {
        let start =
            datafusion::arrow::util::display::array_value_to_string(&from, w.first as usize).unwrap_or_default();
        DataFusionError::External(Box::new(ChainTooLong(format!(
            "a walk from `{start}` is longer than `max {}`: its edges go on past depth {}",
            spec.max, spec.max
        ))))
    };
    let mut found: Vec<Walk> = vec![];
    if spec.shortest {
        // breadth first from each (key, start node): each node once, at its least depth
        let mut starts: Vec<u32> = vec![];
        let mut seen_start: HashSet<(&[u8], &[u8])> = HashSet::new();
        for i in (0..edges.num_rows()).filter(|&i| walkable(i)) {
            if seen_start.insert((key_rows.row(i).data(), from_rows.row(i).data())) {
                starts.push(i as u32);
            }
        }
        for first in starts {
            let mut reached: HashSet<&[u8]> = HashSet::new();
            let mut frontier: Vec<u32> = leaving
                .get(&(
                    key_rows.row(first as usize).data(),
                    from_rows.row(first as usize).data(),
                ))
                .cloned()
                .unwrap_or_default();
            for depth in 1..=spec.max as i32 + 1 {
                let mut next_frontier = vec![];
                for e in frontier {
                    if !reached.insert(to_rows.row(e as usize).data()) {
                        continue;
                    }
                    let w = Walk { first, last: e, depth };
                    if depth > spec.max as i32 {
                        if spec.truncate {
                            continue;
                        }
                        return Err(too_long(&w));
                    }
                    found.push(w);
                    if let Some(out) = next(e) {
                        next_frontier.extend(out.iter().copied());
                    }
                }
                frontier = next_frontier;
                if frontier.is_empty() {
                    break;
                }
            }
        }
    } else {
        // every walk, depth first from each edge
        for first in (0..edges.num_rows() as u32).filter(|&i| walkable(i as usize)) {
            let mut stack = vec![Walk {
                first,
                last: first,
                depth: 1,
            }];
            while let Some(w) = stack.pop() {
                if let Some(out) = next(w.last) {
                    if w.depth as u32 >= spec.max {
                        if !spec.truncate {
                            return Err(too_long(&w));
                        }
                    } else {
                        stack.extend(out.iter().map(|&e| Walk {
                            first: w.first,
                            last: e,
                            depth: w.depth + 1,
                        }));
                    }
                }
                found.push(w);
            }
        }
    }
    let firsts = UInt32Array::from_iter_values(found.iter().map(|w| w.first));
    let lasts = UInt32Array::from_iter_values(found.iter().map(|w| w.last));
    let mut columns: Vec<ArrayRef> = keys
        .iter()
        .map(|k| take(k, &firsts, None))
        .collect::<std::result::Result<_, _>>()?;
    columns.push(take(&from, &firsts, None)?);
    columns.push(take(&to, &lasts, None)?);
    columns.push(Arc::new(Int32Array::from_iter_values(found.iter().map(|w| w.depth))));
    // the declared types (a node column may have been cast to `from`'s)
    let columns = columns
        .into_iter()
        .zip(schema.fields())
        .map(|(c, f)| datafusion::arrow::compute::cast(&c, f.data_type()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema, columns)?)
}
