//! A filter's conditions, each evaluated on the rows the ones before it kept, copying only
//! the columns it reads.
//!
//! DataFusion evaluates a filter's `a AND b` by evaluating `b` on the rows `a` kept once
//! they are at most a fifth of the batch: it copies those rows of every column of the
//! batch, evaluates `b` on the copy and places its answers back with a builder, a row at a
//! time. Under a wide scan that copies columns `b` never reads: TPC-H Q19's lineitem filter
//! copied six columns (three decimals, two strings) of the rows its quantity range and ship
//! instruction kept, to compare one ship mode.
//!
//! `ConditionsInTurn` (a physical rule, after `EveryRowComparisons` has grouped the leading
//! comparisons) makes a filter's predicate of two or more conditions one [`InTurn`]: each
//! condition is evaluated on the whole batch while the rows kept so far are more than a
//! fifth of it, as DataFusion decides, and otherwise on those rows of only the columns it
//! reads; its answers are placed by walking the kept rows' bits. A filter keeps a row where
//! its predicate is true, so a condition's null answer counts as false from then on: the
//! rows kept are the same. Local sessions only: a cluster's nodes decode no such expression.

use datafusion::arrow::array::{Array, BooleanArray, RecordBatch, RecordBatchOptions};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::compute::FilterBuilder;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::utils::split_conjunction;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The share of a batch at or below which a condition is evaluated on the kept rows only
/// (DataFusion's own threshold for `AND`).
const KEPT_FEW: f64 = 0.2;

/// Makes each filter's predicate of two or more conditions an [`InTurn`].
#[derive(Debug, Default)]
pub struct ConditionsInTurn;

impl PhysicalOptimizerRule for ConditionsInTurn {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(filter) = node.downcast_ref::<FilterExec>() else {
                return Ok(Transformed::no(node));
            };
            let conditions: Vec<_> = split_conjunction(filter.predicate()).into_iter().cloned().collect();
            if conditions.len() < 2 {
                return Ok(Transformed::no(node));
            }
            // a condition that reads a column its input does not have is left to fail as it was
            let Ok(in_turn) = InTurn::new(conditions, filter.input().schema()) else {
                return Ok(Transformed::no(node));
            };
            let predicate = Arc::new(in_turn);
            let rebuilt = FilterExecBuilder::from(filter).with_predicate(predicate).build()?;
            Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "semc_conditions_in_turn"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// One condition of an [`InTurn`]: as written over the whole batch, and over a batch of
/// only the columns it reads.
#[derive(Debug)]
struct Condition {
    whole: Arc<dyn PhysicalExpr>,
    /// The batch columns it reads, in the order of `narrow_schema`.
    reads: Vec<usize>,
    narrow_schema: SchemaRef,
    narrow: Arc<dyn PhysicalExpr>,
}

impl Condition {
    fn new(whole: Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<Condition> {
        let mut reads: Vec<usize> = vec![];
        whole.apply(|e| {
            if let Some(c) = e.downcast_ref::<Column>()
                && !reads.contains(&c.index())
            {
                reads.push(c.index());
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })?;
        let narrow = Arc::clone(&whole)
            .transform(|e| {
                let Some(c) = e.downcast_ref::<Column>() else {
                    return Ok(Transformed::no(e));
                };
                let at = reads.iter().position(|i| *i == c.index()).unwrap_or_default();
                Ok(Transformed::yes(
                    Arc::new(Column::new(c.name(), at)) as Arc<dyn PhysicalExpr>
                ))
            })?
            .data;
        let fields = reads
            .iter()
            .map(|i| schema.fields().get(*i).cloned())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                DataFusionError::Internal("semc_in_turn: a condition reads a column its input does not have".into())
            })?;
        Ok(Condition {
            whole,
            reads,
            narrow_schema: Arc::new(Schema::new(fields)),
            narrow,
        })
    }

    /// The rows of `batch` this condition holds for (true; null and false are not), among
    /// `kept` (all rows when `None`); not evaluated when `kept` has no row.
    fn holds(&self, batch: &RecordBatch, kept: Option<&BooleanBuffer>) -> Result<BooleanBuffer> {
        let rows = batch.num_rows();
        let Some(kept) = kept else {
            return truth(self.whole.evaluate(batch)?, rows);
        };
        let count = kept.count_set_bits();
        if count == 0 {
            return Ok(kept.clone());
        }
        if count as f64 > rows as f64 * KEPT_FEW {
            return Ok(kept & &truth(self.whole.evaluate(batch)?, rows)?);
        }
        let selection = FilterBuilder::new(&BooleanArray::new(kept.clone(), None))
            .optimize()
            .build();
        let columns = self
            .reads
            .iter()
            .map(|i| selection.filter(batch.column(*i)))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let narrow = RecordBatch::try_new_with_options(
            Arc::clone(&self.narrow_schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(count)),
        )?;
        let answers = truth(self.narrow.evaluate(&narrow)?, count)?;
        Ok(scattered(kept, &answers))
    }
}

/// `a AND b AND …` of a filter, each condition evaluated on the rows the ones before kept
/// (module comment). True where every condition is true, false elsewhere (never null).
#[derive(Debug)]
pub struct InTurn {
    conditions: Vec<Condition>,
    schema: SchemaRef,
}

impl InTurn {
    fn new(conditions: Vec<Arc<dyn PhysicalExpr>>, schema: SchemaRef) -> Result<InTurn> {
        Ok(InTurn {
            conditions: conditions
                .into_iter()
                .map(|c| Condition::new(c, &schema))
                .collect::<Result<_>>()?,
            schema,
        })
    }
}

impl PartialEq for InTurn {
    fn eq(&self, other: &Self) -> bool {
        self.conditions.len() == other.conditions.len()
            && self
                .conditions
                .iter()
                .zip(&other.conditions)
                .all(|(a, b)| a.whole.eq(&b.whole))
    }
}

impl Eq for InTurn {}

impl Hash for InTurn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for c in &self.conditions {
            c.whole.hash(state);
        }
    }
}

impl fmt::Display for InTurn {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let shown: Vec<String> = self.conditions.iter().map(|c| c.whole.to_string()).collect();
        write!(f, "semc_in_turn({})", shown.join(", "))
    }
}

impl PhysicalExpr for InTurn {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, _input_schema: &Schema) -> Result<bool> {
        Ok(false)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let mut kept: Option<BooleanBuffer> = None;
        for condition in &self.conditions {
            kept = Some(condition.holds(batch, kept.as_ref())?);
        }
        let kept = kept.unwrap_or_else(|| BooleanBuffer::new_set(batch.num_rows()));
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::new(kept, None))))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        self.conditions.iter().map(|c| &c.whole).collect()
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn PhysicalExpr>>) -> Result<Arc<dyn PhysicalExpr>> {
        Ok(Arc::new(InTurn::new(children, Arc::clone(&self.schema))?))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for c in &self.conditions {
            if !first {
                write!(f, " AND ")?;
            }
            first = false;
            c.whole.fmt_sql(f)?;
        }
        Ok(())
    }
}

/// The rows where `value` (a condition's answer over `rows` rows) is true.
fn truth(value: ColumnarValue, rows: usize) -> Result<BooleanBuffer> {
    match value {
        ColumnarValue::Array(array) => {
            let Some(answers) = array.as_any().downcast_ref::<BooleanArray>() else {
                return Err(DataFusionError::Internal(format!(
                    "semc_in_turn: a condition is {}, not boolean",
                    array.data_type()
                )));
            };
            Ok(match answers.nulls() {
                Some(valid) => answers.values() & valid.inner(),
                None => answers.values().clone(),
            })
        }
        ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))) => Ok(BooleanBuffer::new_set(rows)),
        ColumnarValue::Scalar(ScalarValue::Boolean(_)) => Ok(BooleanBuffer::new_unset(rows)),
        ColumnarValue::Scalar(other) => Err(DataFusionError::Internal(format!(
            "semc_in_turn: a condition is {}, not boolean",
            other.data_type()
        ))),
    }
}

/// The rows of `kept` whose answer (in `answers`, one per kept row, in order) is true.
fn scattered(kept: &BooleanBuffer, answers: &BooleanBuffer) -> BooleanBuffer {
    let mut out = datafusion::arrow::array::BooleanBufferBuilder::new(kept.len());
    out.append_n(kept.len(), false);
    for (answer, row) in kept.set_indices().enumerate() {
        if answers.value(answer) {
            out.set_bit(row, true);
        }
    }
    out.finish()
}
