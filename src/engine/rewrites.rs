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
//!
//! `KeysFromTheOtherSide` (sideways filtering): when this side of a join has its key
//! restricted by an inner join with a filtered table (`where part.p_brand == …` over
//! `lineitem`), the other side is semi-joined with that filtered table's keys first, so
//! that rows no row of this side can match are never joined. Two shapes of the other side:
//! - an aggregate grouped by the join key: its input is restricted before it is
//!   aggregated, and groups nobody reads are never computed. TPC-H Q17 averaged the
//!   quantity of all 200,000 parts to use 204 of them.
//! - a table (read, filtered, projected): restricted when, by the Delta log's row counts,
//!   the filtered table is smaller than it (probing those keys is cheaper than what it
//!   saves) and it is smaller than this side's largest table (the fact table a filter
//!   restricts is not worth one more pass over itself: TPC-H Q21's semi join of `lineitem`
//!   with `lineitem`). TPC-H Q9 hashed 3.3 M lineitems of green parts and probed all 8 M
//!   `partsupp` rows against them; now the 435 K of green parts.
//!
//! `FilteredHopsFirst`: a dotted path's hops join in path order (`orders.customer`: lineitem
//! to orders, then to customer). When a later hop's table is filtered (`where
//! orders.customer.c_mktsegment == "BUILDING"`) its join is inner, and so is the earlier
//! hop's in effect (a row without an order has no customer either), so the later hop
//! joins its own parent first — orders to the building customers — and the base table
//! joins that smaller result: TPC-H Q3 built its hash table from 727,000 orders, now from
//! the 147,000 of building customers; Q5 joins its lineitems to Asia's suppliers only.
//!
//! `SmallerHopsFirst` (join order from the Delta log's row counts): when two filtered hops
//! both join the base table's own columns (`where orders.o_orderstatus == "F" and
//! supplier.nation.n_name == "SAUDI ARABIA"`), inner joins both, the hop whose tables are
//! smaller joins first. Either hop would probe every base row; probing a small hash table
//! is cheap, and what it filters out never probes the large one. TPC-H Q21 probed 1.5
//! million orders with 3.8 million lineitems, then kept the 4 % of Saudi suppliers; now the
//! 10,000 suppliers are probed first. The sizes are the tables' row counts in the Delta log
//! ([`TableRows`]); filters are not measured, so the order changes only when the smaller
//! table has at most 1 % of the larger's rows, and a table without counts leaves it as is.

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, Result};
use datafusion::logical_expr::{Expr, Join, JoinType, LogicalPlan};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};
use std::sync::Arc;

use super::TableRows;

/// Every rewrite semc adds to DataFusion's optimizer, in order (the last two, the order of a
/// filter's conditions and LIKE without a regular expression, in `conditions.rs` and
/// `like.rs`); `rows` are the row counts of the session's tables.
pub fn all(rows: &Arc<TableRows>) -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    vec![
        Arc::new(SemiJoinsFirst),
        Arc::new(KeysFromTheOtherSide { rows: rows.clone() }),
        Arc::new(FilteredHopsFirst),
        Arc::new(SmallerHopsFirst { rows: rows.clone() }),
        Arc::new(super::conditions::CheapConditionsFirst),
        Arc::new(super::like::LikeWithoutRegex),
    ]
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
        Ok(unless_failed(semi_join_moved(&plan), plan))
    }
}

/// `plan` with its semi or anti join moved below left joins, if it is one that can move.
fn semi_join_moved(plan: &LogicalPlan) -> Result<Option<LogicalPlan>> {
    let LogicalPlan::Join(semi) = plan else {
        return Ok(None);
    };
    if !matches!(semi.join_type, JoinType::LeftSemi | JoinType::LeftAnti) {
        return Ok(None);
    }
    let reads = LeftReads {
        keys: semi.on.iter().map(|(left, _)| left.clone()).collect(),
        filter: semi.filter.clone(),
    };
    below_left_joins(&semi.left, reads, semi, false)
}

/// The rewritten plan, or `plan` as DataFusion made it when the rewrite does not apply or
/// cannot be built: a rewrite never fails a query.
fn unless_failed(rewritten: Result<Option<LogicalPlan>>, plan: LogicalPlan) -> Transformed<LogicalPlan> {
    match rewritten {
        Ok(Some(p)) => Transformed::yes(p),
        Ok(None) | Err(_) => Transformed::no(plan),
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
        let schema = node.schema();
        let mut ok = true;
        let mut map = |e: &Expr| -> Result<Expr> {
            Ok(e.clone()
                .transform(|e| {
                    if let Expr::Column(c) = &e {
                        if right.has_column(c) {
                            // a name both sides have: which one it means is not ours to guess
                            ok &= !schema.has_column(c);
                            return Ok(Transformed::no(e));
                        }
                        match expr_below(node, c) {
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

/// The alias of the key set a sideways filter reads (also how the rule knows it ran).
const SIDEWAYS: &str = "semc_sideways";

#[derive(Debug)]
pub struct KeysFromTheOtherSide {
    rows: Arc<TableRows>,
}

impl OptimizerRule for KeysFromTheOtherSide {
    fn name(&self) -> &str {
        "semc_keys_from_the_other_side"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        Ok(unless_failed(other_side_restricted(&plan, &self.rows), plan))
    }
}

/// `plan` (a join) with one side (an aggregate, or a table worth it by `rows`) restricted
/// to the keys the other side can match.
fn other_side_restricted(plan: &LogicalPlan, rows: &TableRows) -> Result<Option<LogicalPlan>> {
    let LogicalPlan::Join(join) = plan else {
        return Ok(None);
    };
    if join.null_equality != datafusion::common::NullEquality::NullEqualsNothing {
        return Ok(None);
    }
    // the restricted side's rows that match no row of the other side never reach the output:
    // true of the right side of these joins, and of either side of an inner join
    let mut sides = vec![];
    if matches!(
        join.join_type,
        JoinType::Inner | JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti
    ) {
        sides.push(false);
    }
    if join.join_type == JoinType::Inner {
        sides.push(true);
    }
    for restricted_on_left in sides {
        for (l, r) in &join.on {
            let (this, this_key, other, other_key) = if restricted_on_left {
                (&join.right, r, &join.left, l)
            } else {
                (&join.left, l, &join.right, r)
            };
            let Some((keys, key)) = restricting_keys(this, this_key) else {
                continue;
            };
            let restricted = match restrict_groups(other, other_key, &keys, &key)? {
                Some(plan) => Some(plan),
                None => restrict_table(other, other_key, &keys, &key, this, rows)?,
            };
            if let Some(filtered) = restricted {
                let (left, right) = if restricted_on_left {
                    (filtered, join.right.as_ref().clone())
                } else {
                    (join.left.as_ref().clone(), filtered)
                };
                return Ok(Some(LogicalPlan::Join(Join::try_new(
                    Arc::new(left),
                    Arc::new(right),
                    join.on.clone(),
                    join.filter.clone(),
                    join.join_type,
                    join.join_constraint,
                    join.null_equality,
                    join.null_aware,
                )?)));
            }
        }
    }
    Ok(None)
}

/// Column `c` of `node` as the expression of `node`'s input it is, through an alias, a
/// projection or a filter.
fn expr_below(node: &LogicalPlan, c: &Column) -> Option<Expr> {
    match node {
        LogicalPlan::SubqueryAlias(a) => {
            let (q, f) = a
                .input
                .schema()
                .qualified_field(node.schema().maybe_index_of_column(c)?);
            Some(Expr::Column(Column::new(q.cloned(), f.name())))
        }
        LogicalPlan::Projection(p) => Some(p.expr.get(node.schema().maybe_index_of_column(c)?)?.clone().unalias()),
        LogicalPlan::Filter(_) => Some(Expr::Column(c.clone())),
        _ => None,
    }
}

/// `expr` (a column of `node`) as the column of `node`'s input it is, if it is one.
fn column_below(node: &LogicalPlan, expr: &Expr) -> Option<Expr> {
    let Expr::Column(c) = expr else { return None };
    expr_below(node, c).filter(|below| matches!(below, Expr::Column(_)))
}

/// A filtered plan whose `key` column holds every value `key` can take in `node`: the
/// filtered side of an inner (or semi) join on `key` below `node`.
fn restricting_keys(node: &LogicalPlan, key: &Expr) -> Option<(LogicalPlan, Expr)> {
    match node {
        LogicalPlan::SubqueryAlias(_) | LogicalPlan::Projection(_) | LogicalPlan::Filter(_) => {
            restricting_keys(node.inputs()[0], &column_below(node, key)?)
        }
        LogicalPlan::Join(j) if j.null_equality == datafusion::common::NullEquality::NullEqualsNothing => {
            let inner = j.join_type == JoinType::Inner;
            for (l, r) in &j.on {
                if l == key && (inner || j.join_type == JoinType::LeftSemi) && filtered(&j.right) {
                    return Some((j.right.as_ref().clone(), r.clone()));
                }
                if r == key && inner && filtered(&j.left) {
                    return Some((j.left.as_ref().clone(), l.clone()));
                }
            }
            let on_left = key.column_refs().iter().all(|c| j.left.schema().has_column(c));
            let on_right = key.column_refs().iter().all(|c| j.right.schema().has_column(c));
            match j.join_type {
                JoinType::Inner if on_left && !on_right => restricting_keys(&j.left, key),
                JoinType::Inner if on_right && !on_left => restricting_keys(&j.right, key),
                JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti if on_left && !on_right => {
                    restricting_keys(&j.left, key)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether `plan` filters its rows (so its keys are fewer than its table's).
fn filtered(plan: &LogicalPlan) -> bool {
    plan.exists(|p| {
        Ok(match p {
            LogicalPlan::Filter(_) => true,
            LogicalPlan::TableScan(t) => !t.filters.is_empty(),
            _ => false,
        })
    })
    .unwrap_or(false)
}

/// `node` (reading down to an aggregate grouped by `key`) with the aggregate's input
/// semi-joined to the `keys_column` values of `keys`; `None` when `node` is not that shape
/// or was restricted already.
fn restrict_groups(
    node: &LogicalPlan,
    key: &Expr,
    keys: &LogicalPlan,
    keys_column: &Expr,
) -> Result<Option<LogicalPlan>> {
    let rebuilt = |node: &LogicalPlan, input: LogicalPlan| node.with_new_exprs(node.expressions(), vec![input]);
    match node {
        LogicalPlan::SubqueryAlias(_) | LogicalPlan::Projection(_) | LogicalPlan::Filter(_) => {
            let Some(below) = column_below(node, key) else {
                return Ok(None);
            };
            match restrict_groups(node.inputs()[0], &below, keys, keys_column)? {
                Some(input) => Ok(Some(rebuilt(node, input)?)),
                None => Ok(None),
            }
        }
        LogicalPlan::Aggregate(a) => {
            let Some(i) = a.schema.maybe_index_of_column(match key {
                Expr::Column(c) => c,
                _ => return Ok(None),
            }) else {
                return Ok(None);
            };
            if a.group_expr.iter().any(|g| matches!(g, Expr::GroupingSet(_))) {
                return Ok(None);
            }
            let Some(group @ Expr::Column(_)) = a.group_expr.get(i) else {
                return Ok(None);
            };
            if let LogicalPlan::Join(j) = a.input.as_ref()
                && j.join_type == JoinType::LeftSemi
                && matches!(j.right.as_ref(), LogicalPlan::SubqueryAlias(s) if s.alias.table() == SIDEWAYS)
            {
                return Ok(None);
            }
            let Some(input) = semi_joined_with_keys(a.input.clone(), group, keys, keys_column)? else {
                return Ok(None);
            };
            Ok(Some(LogicalPlan::Aggregate(
                datafusion::logical_expr::Aggregate::try_new(
                    Arc::new(input),
                    a.group_expr.clone(),
                    a.aggr_expr.clone(),
                )?,
            )))
        }
        _ => Ok(None),
    }
}

/// `table` (a table read, filtered, projected) semi-joined on `key` to the `keys_column`
/// values of `keys`, when by the tables' row counts that is worth a pass over it: `keys`'
/// table is smaller than `table`'s (probing them costs less than joining the rows they
/// remove), and `table`'s is smaller than the largest `this` reads (the side whose key
/// `keys` restricts). `None` otherwise, or when `table` is not such a read (restricted
/// already, it is a join).
fn restrict_table(
    table: &LogicalPlan,
    key: &Expr,
    keys: &LogicalPlan,
    keys_column: &Expr,
    this: &LogicalPlan,
    rows: &TableRows,
) -> Result<Option<LogicalPlan>> {
    let more_than_a_read = |p: &LogicalPlan| {
        Ok(!matches!(
            p,
            LogicalPlan::SubqueryAlias(_)
                | LogicalPlan::Projection(_)
                | LogicalPlan::Filter(_)
                | LogicalPlan::TableScan(_)
        ))
    };
    if table.exists(more_than_a_read).unwrap_or(true) || !matches!(key, Expr::Column(_)) {
        return Ok(None);
    }
    let (Some(table_rows), Some(keys_rows), Some(this_rows)) = (
        largest_table(table, rows),
        largest_table(keys, rows),
        largest_table(this, rows),
    ) else {
        return Ok(None);
    };
    if keys_rows >= table_rows || table_rows >= this_rows {
        return Ok(None);
    }
    semi_joined_with_keys(Arc::new(table.clone()), key, keys, keys_column)
}

/// `input` semi-joined on `key` (one of its columns) to the `keys_column` values of `keys`,
/// under the [`SIDEWAYS`] alias.
fn semi_joined_with_keys(
    input: Arc<LogicalPlan>,
    key: &Expr,
    keys: &LogicalPlan,
    keys_column: &Expr,
) -> Result<Option<LogicalPlan>> {
    let Expr::Column(keys_col) = keys_column else {
        return Ok(None);
    };
    let keys = datafusion::logical_expr::LogicalPlanBuilder::from(keys.clone())
        .project(vec![keys_column.clone()])?
        .alias(SIDEWAYS)?
        .build()?;
    let join = Join::try_new(
        input,
        Arc::new(keys),
        vec![(key.clone(), Expr::Column(Column::new(Some(SIDEWAYS), &keys_col.name)))],
        None,
        JoinType::LeftSemi,
        datafusion::logical_expr::JoinConstraint::On,
        datafusion::common::NullEquality::NullEqualsNothing,
        false,
    )?;
    Ok(Some(LogicalPlan::Join(join)))
}

#[derive(Debug, Default)]
pub struct FilteredHopsFirst;

impl OptimizerRule for FilteredHopsFirst {
    fn name(&self) -> &str {
        "semc_filtered_hops_first"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        Ok(unless_failed(hops_reassociated(&plan), plan))
    }
}

/// `(L ⋈ R) ⋈ S` as `L ⋈ (R ⋈ S)` when `S` is filtered and joins on `R`'s columns only
/// (inner joins, or a left join below: the same rows, in the same columns).
fn hops_reassociated(plan: &LogicalPlan) -> Result<Option<LogicalPlan>> {
    let Some(hops) = TwoHops::of(plan) else {
        return Ok(None);
    };
    // a left join below: its rows without a match in R match no S either (S joins on R's
    // columns, and a null equals nothing), so it is an inner join here
    if !matches!(hops.lower.join_type, JoinType::Inner | JoinType::Left) {
        return Ok(None);
    }
    let Some(r_keys) = hops.upper_keys_within(hops.lower.right.schema()) else {
        return Ok(None);
    };
    let (lower, upper) = (hops.lower, hops.upper);
    let hop = inner_join(lower.right.clone(), upper.right.clone(), r_keys, upper, None)?;
    let joined = inner_join(
        lower.left.clone(),
        Arc::new(LogicalPlan::Join(hop)),
        lower.on.iter().map(|(l, _)| l.clone()).collect(),
        lower,
        lower.filter.clone(),
    )?;
    hops.in_upper_columns(joined).map(Some)
}

/// `upper ⋈ S` standing on `lower = L ⋈ R` (directly or through a projection): two joins
/// in a row, the upper one inner, on equal keys, its right side filtered, and no column
/// name shared by L, R and S.
struct TwoHops<'a> {
    plan: &'a LogicalPlan,
    upper: &'a Join,
    projection: Option<&'a datafusion::logical_expr::Projection>,
    lower: &'a Join,
}

impl<'a> TwoHops<'a> {
    fn of(plan: &'a LogicalPlan) -> Option<TwoHops<'a>> {
        use datafusion::common::NullEquality::NullEqualsNothing;
        let LogicalPlan::Join(upper) = plan else { return None };
        if upper.join_type != JoinType::Inner
            || upper.filter.is_some()
            || upper.null_equality != NullEqualsNothing
            || !filtered(&upper.right)
        {
            return None;
        }
        let (projection, lower) = match upper.left.as_ref() {
            LogicalPlan::Projection(p) => match p.input.as_ref() {
                LogicalPlan::Join(j) => (Some(p), j),
                _ => return None,
            },
            LogicalPlan::Join(j) => (None, j),
            _ => return None,
        };
        if lower.null_equality != NullEqualsNothing {
            return None;
        }
        let (l, r, s) = (lower.left.schema(), lower.right.schema(), upper.right.schema());
        let shared = |a: &DFSchema, b: &DFSchema| a.columns().iter().any(|c| b.has_column(c));
        if shared(l, r) || shared(l, s) || shared(r, s) {
            return None;
        }
        Some(TwoHops {
            plan,
            upper,
            projection,
            lower,
        })
    }

    /// The upper join's left keys as expressions of the lower join (through the projection),
    /// when each reads only columns of `schema`.
    fn upper_keys_within(&self, schema: &DFSchema) -> Option<Vec<Expr>> {
        self.upper
            .on
            .iter()
            .map(|(key, _)| {
                let key = match self.projection {
                    Some(_) => column_below(&self.upper.left, key)?,
                    None => key.clone(),
                };
                key.column_refs().iter().all(|c| schema.has_column(c)).then_some(key)
            })
            .collect()
    }

    /// `joined` (L, R and S joined another way) with the upper join's columns, in its
    /// order: what the projection kept, then S's.
    fn in_upper_columns(&self, joined: Join) -> Result<LogicalPlan> {
        let columns: Vec<Expr> = match self.projection {
            Some(p) => p
                .expr
                .iter()
                .cloned()
                .chain(self.upper.right.schema().columns().into_iter().map(Expr::Column))
                .collect(),
            None => self.plan.schema().columns().into_iter().map(Expr::Column).collect(),
        };
        datafusion::logical_expr::LogicalPlanBuilder::from(LogicalPlan::Join(joined))
            .project(columns)?
            .build()
    }
}

/// An inner join of `left` and `right` on `left_keys` = the right keys of `like` (and its
/// constraint), with `filter`.
fn inner_join(
    left: Arc<LogicalPlan>,
    right: Arc<LogicalPlan>,
    left_keys: Vec<Expr>,
    like: &Join,
    filter: Option<Expr>,
) -> Result<Join> {
    Join::try_new(
        left,
        right,
        left_keys
            .into_iter()
            .zip(like.on.iter().map(|(_, r)| r.clone()))
            .collect(),
        filter,
        JoinType::Inner,
        like.join_constraint,
        datafusion::common::NullEquality::NullEqualsNothing,
        false,
    )
}

#[derive(Debug)]
pub struct SmallerHopsFirst {
    rows: Arc<TableRows>,
}

impl OptimizerRule for SmallerHopsFirst {
    fn name(&self) -> &str {
        "semc_smaller_hops_first"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        Ok(unless_failed(hops_by_size(&plan, &self.rows), plan))
    }
}

/// The selectivity semc assumes no filter goes below without knowing it: 1 row in 100.
/// Filters are not measured, so one table is taken to give a smaller side than another only
/// when even 1 % of it is at least the whole other.
const KEPT_AT_LEAST: u64 = 100;

/// `(L ⋈ A) ⋈ B` as `(L ⋈ B) ⋈ A` when A and B are both filtered, both inner joins on L's
/// columns, and B's largest table has at most 1 % of the rows of A's ([`KEPT_AT_LEAST`]:
/// TPC-H Q2's part table is 20 times its supplier table, but its filter keeps 0.4 % of it
/// and the supplier's 20 %, so the order is left as it is). The other way round it never
/// applies, so the rewrite never undoes itself.
fn hops_by_size(plan: &LogicalPlan, rows: &TableRows) -> Result<Option<LogicalPlan>> {
    let Some(hops) = TwoHops::of(plan) else {
        return Ok(None);
    };
    let (lower, upper) = (hops.lower, hops.upper);
    if lower.join_type != JoinType::Inner || !filtered(&lower.right) {
        return Ok(None);
    }
    let (Some(a_rows), Some(b_rows)) = (largest_table(&lower.right, rows), largest_table(&upper.right, rows)) else {
        return Ok(None);
    };
    if b_rows.saturating_mul(KEPT_AT_LEAST) > a_rows {
        return Ok(None);
    }
    let Some(l_keys) = hops.upper_keys_within(lower.left.schema()) else {
        return Ok(None);
    };
    let with_b = inner_join(lower.left.clone(), upper.right.clone(), l_keys, upper, None)?;
    let with_a = inner_join(
        Arc::new(LogicalPlan::Join(with_b)),
        lower.right.clone(),
        lower.on.iter().map(|(l, _)| l.clone()).collect(),
        lower,
        lower.filter.clone(),
    )?;
    hops.in_upper_columns(with_a).map(Some)
}

/// The rows of the largest table `plan` reads, if the Delta log counts every one.
fn largest_table(plan: &LogicalPlan, rows: &TableRows) -> Option<u64> {
    let mut largest = Some(0);
    let _ = plan.apply(|p| {
        if let LogicalPlan::TableScan(t) = p {
            largest = largest.zip(rows.of(t.table_name.table())).map(|(a, b)| a.max(b));
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    largest.filter(|n| *n > 0)
}
