//! semc's own logical rewrites, installed in every session after DataFusion's rules.
//!
//! `SemiJoinsFirst`: a semi or anti join whose left keys (and the left columns of its
//! filter) are columns of a left join's left input is moved below that left join. A left
//! join keeps every row of its left input and a semi or anti join decides each row by its
//! own columns alone, so the rows are the same; what changes is how many rows the left join
//! builds rows for. semc lowers every dotted path (`orders.customer.c_name`) to a left join
//! on a key proven unique, right after the base scan, and a model's `join … semi` comes
//! after them: TPC-H Q18 joined all six million lineitems to orders and customers before
//! its semi join kept 399 of them. DataFusion 55 moves filters below joins, never joins.

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, Result};
use datafusion::logical_expr::{Expr, Join, JoinType, LogicalPlan};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};
use std::sync::Arc;

/// Every rewrite semc adds to DataFusion's optimizer, in order.
pub fn all() -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    vec![Arc::new(SemiJoinsFirst)]
}

#[derive(Debug, Default)]
pub struct SemiJoinsFirst;

impl OptimizerRule for SemiJoinsFirst {
    fn name(&self) -> &str {
        "semc_semi_joins_first"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Join(semi) = &plan else {
            return Ok(Transformed::no(plan));
        };
        if !matches!(semi.join_type, JoinType::LeftSemi | JoinType::LeftAnti) {
            return Ok(Transformed::no(plan));
        }
        let reads = LeftReads {
            keys: semi.on.iter().map(|(left, _)| left.clone()).collect(),
            filter: semi.filter.clone(),
        };
        match below_left_joins(&semi.left, reads, semi, false)? {
            Some(moved) => Ok(Transformed::yes(moved)),
            None => Ok(Transformed::no(plan)),
        }
    }
}

/// What a semi join reads of its left input, in the terms of the node it stands over.
#[derive(Clone)]
struct LeftReads {
    keys: Vec<Expr>,
    filter: Option<Expr>,
}

impl LeftReads {
    /// The same reads over `node`'s input, or `None` when one cannot be expressed there.
    /// `right` is the semi join's right side: its columns stay as they are.
    fn through(&self, node: &LogicalPlan, right: &DFSchema) -> Result<Option<LeftReads>> {
        let input_expr = |i: usize| -> Option<Expr> {
            match node {
                LogicalPlan::SubqueryAlias(a) => {
                    let (q, f) = a.input.schema().qualified_field(i);
                    Some(Expr::Column(Column::new(q.cloned(), f.name())))
                }
                LogicalPlan::Projection(p) => Some(p.expr.get(i)?.clone().unalias()),
                _ => None,
            }
        };
        let schema = node.schema();
        let mut ok = true;
        let mut map = |e: &Expr| -> Result<Expr> {
            Ok(e.clone()
                .transform(|e| {
                    if let Expr::Column(c) = &e {
                        let here = schema.maybe_index_of_column(c);
                        if right.has_column(c) {
                            // a name both sides have: which one it means is not ours to guess
                            ok &= here.is_none();
                            return Ok(Transformed::no(e));
                        }
                        match here.and_then(input_expr) {
                            Some(mapped) => return Ok(Transformed::yes(mapped)),
                            None => ok = false,
                        }
                    }
                    Ok(Transformed::no(e))
                })?
                .data)
        };
        let keys = self.keys.iter().map(&mut map).collect::<Result<Vec<_>>>()?;
        let filter = self.filter.as_ref().map(&mut map).transpose()?;
        Ok(ok.then_some(LeftReads { keys, filter }))
    }

    /// Whether every left column read is a column of `schema`.
    fn within(&self, schema: &DFSchema, right: &DFSchema) -> bool {
        self.keys.iter().chain(&self.filter).all(|e| {
            e.column_refs()
                .into_iter()
                .all(|c| right.has_column(c) != schema.has_column(c))
        })
    }
}

/// `node` with the semi join `semi` placed as deep as it can go below left joins (reads
/// expressed in `node`'s terms), or `None` when no left join lies between them. `passed` says
/// whether a left join was passed on the way down.
fn below_left_joins(node: &LogicalPlan, reads: LeftReads, semi: &Join, passed: bool) -> Result<Option<LogicalPlan>> {
    let right = semi.right.schema();
    match node {
        LogicalPlan::SubqueryAlias(_) | LogicalPlan::Projection(_) => {
            let Some(inner) = reads.through(node, right)? else {
                return place(node, reads, semi, passed);
            };
            let input = node.inputs()[0];
            match below_left_joins(input, inner, semi, passed)? {
                Some(new_input) => Ok(Some(node.with_new_exprs(node.expressions(), vec![new_input])?)),
                None => Ok(None),
            }
        }
        LogicalPlan::Join(j) if j.join_type == JoinType::Left && reads.within(j.left.schema(), right) => {
            let left = match below_left_joins(&j.left, reads.clone(), semi, true)? {
                Some(l) => l,
                None => semi_over(&j.left, reads, semi)?,
            };
            Ok(Some(LogicalPlan::Join(Join::try_new(
                Arc::new(left),
                j.right.clone(),
                j.on.clone(),
                j.filter.clone(),
                j.join_type,
                j.join_constraint,
                j.null_equality,
                j.null_aware,
            )?)))
        }
        _ => place(node, reads, semi, passed),
    }
}

/// The semi join over `node` when a left join was passed (the caller places it), else `None`.
fn place(node: &LogicalPlan, reads: LeftReads, semi: &Join, passed: bool) -> Result<Option<LogicalPlan>> {
    if passed {
        Ok(Some(semi_over(node, reads, semi)?))
    } else {
        Ok(None)
    }
}

fn semi_over(left: &LogicalPlan, reads: LeftReads, semi: &Join) -> Result<LogicalPlan> {
    let on = reads
        .keys
        .into_iter()
        .zip(semi.on.iter().map(|(_, r)| r.clone()))
        .collect();
    Ok(LogicalPlan::Join(Join::try_new(
        Arc::new(left.clone()),
        semi.right.clone(),
        on,
        reads.filter,
        semi.join_type,
        semi.join_constraint,
        semi.null_equality,
        semi.null_aware,
    )?))
}
