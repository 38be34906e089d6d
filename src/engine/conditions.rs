//! `CheapConditionsFirst`: a filter's conditions in the order that costs least to evaluate.
//!
//! The engine evaluates `a AND b AND c` left to right, and once a condition keeps few rows
//! it evaluates the next ones on those rows only. DataFusion keeps the conditions in the
//! order the text gave them, so TPC-H Q12's `l_shipmode in ["MAIL", "SHIP"]`, written
//! first, compared the strings of all six million lineitems (a sixth of the query's CPU)
//! before its date range kept 15 % of them.
//!
//! The conditions that cannot fail — comparisons, `is null`, `in`, `between` and their
//! `and`/`or`/`not`, over columns and literals only — are ordered by what they cost per
//! row: a column against a literal before two columns, fixed-width values before strings,
//! one comparison before several. Every other condition (a function, arithmetic, a cast:
//! anything that may fail or cost more than its type says) comes after them, in the order
//! it was written, so a condition is only ever moved ahead of conditions that cannot fail:
//! what a guard like `qty != 0 and total / qty > 2` keeps from the division stays kept.
//! The rows are the same in any order; only the work differs.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, Filter, LogicalPlan, Operator};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

#[derive(Debug, Default)]
pub struct CheapConditionsFirst;

impl OptimizerRule for CheapConditionsFirst {
    fn name(&self) -> &str {
        "semc_cheap_conditions_first"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Filter(filter) = &plan else {
            return Ok(Transformed::no(plan));
        };
        let Some(predicate) = reordered(&filter.predicate, filter.input.schema()) else {
            return Ok(Transformed::no(plan));
        };
        let filter = Filter::try_new(predicate, filter.input.clone())?;
        Ok(Transformed::yes(LogicalPlan::Filter(filter)))
    }
}

/// The predicate with its conditions in the cheapest safe order, if that is another order.
fn reordered(predicate: &Expr, schema: &DFSchema) -> Option<Expr> {
    let conditions = split_conjunction(predicate);
    if conditions.len() < 2 {
        return None;
    }
    // a stable sort: conditions of equal cost, and all that may fail, keep their order
    let mut ranked: Vec<(u32, usize, &Expr)> = conditions
        .iter()
        .enumerate()
        .map(|(i, c)| (cost(c, schema).unwrap_or(u32::MAX), i, *c))
        .collect();
    ranked.sort_by_key(|(cost, i, _)| (*cost, *i));
    if ranked.iter().enumerate().all(|(at, (_, i, _))| at == *i) {
        return None;
    }
    conjunction(ranked.into_iter().map(|(_, _, c)| c.clone()))
}

/// What a condition costs per row, in units of one comparison of fixed-width values; `None`
/// for one that may fail or whose cost its types do not tell (it keeps its place after
/// every condition that has a cost).
fn cost(e: &Expr, schema: &DFSchema) -> Option<u32> {
    match e {
        Expr::Column(_) | Expr::Literal(..) => Some(0),
        Expr::Not(e) | Expr::IsNull(e) | Expr::IsNotNull(e) => Some(cost(e, schema)?.max(1)),
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And | Operator::Or => Some(cost(left, schema)? + cost(right, schema)?),
            Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom => comparison(left, right, schema),
            _ => None,
        },
        Expr::Between(b) => Some(comparison(&b.expr, &b.low, schema)? + comparison(&b.expr, &b.high, schema)?),
        Expr::InList(l) => {
            let each = l
                .list
                .iter()
                .map(|v| comparison(&l.expr, v, schema))
                .collect::<Option<Vec<_>>>()?;
            Some(each.iter().sum())
        }
        _ => None,
    }
}

/// One comparison of two plain operands: what their type costs to compare, and one more
/// when neither is a literal (two columns to read).
fn comparison(left: &Expr, right: &Expr, schema: &DFSchema) -> Option<u32> {
    let operand = |e: &Expr| matches!(e, Expr::Column(_) | Expr::Literal(..));
    if !operand(left) || !operand(right) {
        return None;
    }
    let two_columns = matches!((left, right), (Expr::Column(_), Expr::Column(_)));
    let by_type = type_cost(&left.get_type(schema).ok()?).max(type_cost(&right.get_type(schema).ok()?));
    Some(by_type + u32::from(two_columns))
}

/// What comparing two values of a type costs: fixed-width values 1, strings and bytes 4
/// (a length, a prefix, then bytes), anything nested 8.
fn type_cost(t: &DataType) -> u32 {
    match t {
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => 4,
        DataType::Dictionary(_, value) => type_cost(value),
        t if t.is_primitive() || matches!(t, DataType::Boolean | DataType::Null) => 1,
        _ => 8,
    }
}
