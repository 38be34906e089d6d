//! A filter's leading comparisons of fixed-width values, evaluated on every row at once.
//!
//! The engine evaluates `a AND b AND c` one condition at a time, and once the conditions so
//! far keep fewer than a fifth of the rows, it copies those rows out of the batch, evaluates
//! the next condition on them and scatters its answers back into a batch-sized mask. For a
//! comparison of a date or a number with a literal, that copy and scatter cost far more
//! than comparing every row: TPC-H Q6's five comparisons (a date range, a discount range, a
//! quantity) spent 1.5 s of CPU in its filter at SF 10, most of it in the scatter.
//!
//! `EveryRowComparisons` (a physical rule, run after the planner's estimates have chosen
//! joins) first rewrites a filter's comparisons of strings with literals (`equals_any.rs`)
//! and its `or`s of ranges that are one range (`ranges.rs`, which puts them first), then
//! replaces a filter's leading run of fixed-width comparisons (`CheapConditionsFirst` put
//! them first too) by `semc_all_of(a, b, c)`, which evaluates each on the whole batch and
//! combines them with a Kleene `and`; any later condition is still evaluated on the rows
//! they keep. A comparison of two plain fixed-width operands cannot fail, so evaluating it
//! on rows an earlier condition dropped changes nothing but the work. The rows kept are the
//! same.

use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::compute::and_kleene;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, Operator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
use datafusion::physical_expr::utils::{conjunction, split_conjunction};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use std::sync::Arc;

/// `semc_all_of(c1, c2, …)`: every condition true (Kleene `and`: false if any is false,
/// else null if any is null).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AllOf {
    signature: Signature,
}

impl Default for AllOf {
    fn default() -> Self {
        AllOf {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for AllOf {
    fn name(&self) -> &str {
        "semc_all_of"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut all: Option<BooleanArray> = None;
        for condition in &args.args {
            let array = condition.to_array(args.number_rows)?;
            let Some(each) = array.as_any().downcast_ref::<BooleanArray>() else {
                return Err(DataFusionError::Internal(format!(
                    "semc_all_of: a condition is {}, not boolean",
                    array.data_type()
                )));
            };
            all = Some(match all {
                None => each.clone(),
                Some(so_far) => and_kleene(&so_far, each)?,
            });
        }
        let all = all.unwrap_or_else(|| BooleanArray::from(vec![true; args.number_rows]));
        Ok(ColumnarValue::Array(Arc::new(all)))
    }
}

/// Puts a filter's leading comparisons of fixed-width values (two or more) into one
/// `semc_all_of`.
#[derive(Debug, Default)]
pub struct EveryRowComparisons;

impl PhysicalOptimizerRule for EveryRowComparisons {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        let config = Arc::new(config.clone());
        plan.transform_up(|node| {
            let Some(filter) = node.downcast_ref::<FilterExec>() else {
                return Ok(Transformed::no(node));
            };
            let Some(predicate) = combined(filter.predicate(), &filter.input().schema(), &config)? else {
                return Ok(Transformed::no(node));
            };
            let rebuilt = FilterExecBuilder::from(filter).with_predicate(predicate).build()?;
            Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "semc_every_row_comparisons"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The predicate with its comparisons of string views with literals as `semc_equals_any`
/// (`equals_any.rs`), its `or`s of ranges that are one range as that range, first
/// (`ranges.rs`), and its leading fixed-width comparisons in one `semc_all_of`, if that
/// changes it.
fn combined(
    predicate: &Arc<dyn PhysicalExpr>,
    schema: &Schema,
    config: &Arc<ConfigOptions>,
) -> Result<Option<Arc<dyn PhysicalExpr>>> {
    let as_views = super::equals_any::equal_strings_as_views(predicate, schema, config)?;
    let predicate = as_views.as_ref().unwrap_or(predicate);
    let merged = super::ranges::ranges_first(predicate);
    let changed = as_views.is_some() || merged.is_some();
    let conditions = merged.unwrap_or_else(|| split_conjunction(predicate).into_iter().cloned().collect());
    let leading = conditions
        .iter()
        .take_while(|c| fixed_width_comparison(c.as_ref(), schema))
        .count();
    if leading < 2 {
        return Ok(changed.then(|| conjunction(conditions)));
    }
    let args = conditions[..leading].iter().map(Arc::clone).collect();
    let all_of: Arc<dyn PhysicalExpr> = Arc::new(ScalarFunctionExpr::try_new(
        Arc::new(ScalarUDF::from(AllOf::default())),
        args,
        schema,
        Arc::clone(config),
    )?);
    let rest = conditions[leading..].iter().map(Arc::clone);
    Ok(Some(conjunction(std::iter::once(all_of).chain(rest))))
}

/// A comparison (`=`, `!=`, `<`, `<=`, `>`, `>=`) of a column with a literal or another
/// column, of numbers, dates or times: it cannot fail, and costs about the same on every row.
fn fixed_width_comparison(e: &dyn PhysicalExpr, schema: &Schema) -> bool {
    let Some(b) = e.downcast_ref::<BinaryExpr>() else {
        return false;
    };
    let comparison = matches!(
        b.op(),
        Operator::Eq | Operator::NotEq | Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq
    );
    let plain = |e: &Arc<dyn PhysicalExpr>| {
        (e.downcast_ref::<Column>().is_some() || e.downcast_ref::<Literal>().is_some())
            && e.data_type(schema).is_ok_and(|t| t.is_primitive())
    };
    let a_column = b.left().downcast_ref::<Column>().is_some() || b.right().downcast_ref::<Column>().is_some();
    comparison && a_column && plain(b.left()) && plain(b.right())
}
