//! Row estimates that know unique keys, for the planner's choice of join sides.
//!
//! DataFusion estimates an equi-join's rows from each key column's distinct values alone
//! (the most selective one): a join on a composite key — `lineitem` to `partsupp` on
//! `(ps_partkey, ps_suppkey)` — is estimated as if each row matched every `partsupp` row of
//! its part (four times the rows), and every estimate above it inherits the error. TPC-H Q9
//! then built its hash table on `orders` (all of it: 15 million rows at SF 10) instead of
//! the 3.3 million lineitems of green parts, and that build was semc's peak memory.
//!
//! The keys a `many_to_one` or `one_to_one` join relies on (`key`, `unique`, `key (a, b)`:
//! proven unique in the snapshot before a run that reads the join commits) reach the
//! physical plan as the scan's constraints ([`super::files::PinnedFiles`]), and DataFusion
//! carries them through projections, filters, repartitions and group-bys. When one side of a hash or sort-merge
//! join is unique on the join's keys, each row of the other side matches at most once: an
//! inner join has at most that side's rows, a left (right) join exactly its left (right)
//! side's. A join without keys to a side of at most one row (a total compared with each
//! row) keeps at most the other side's rows, where DataFusion gives no estimate at all.
//!
//! DataFusion keeps 20 % of a filter's rows whenever its condition holds anything its
//! interval analysis cannot read, a LIKE among them. TPC-H Q9's `p_name like "%green%"`
//! keeps 5 % of the parts; estimated at 20 %, the lineitems of green parts looked larger
//! than `partsupp` (8 M rows at SF 10), and Q9 built its hash table on all of `partsupp`.
//! A pattern's share of the rows is estimated as PostgreSQL estimates one without a
//! column's statistics, each literal character keeping a fifth, but never below 1 %
//! ([`pattern_selectivity`]); the filter's other conditions are estimated by DataFusion.
//!
//! Every other estimate is DataFusion's own, computed from these. The estimates stay
//! inexact (an estimate never answers a query).

use datafusion::common::stats::Precision;
use datafusion::common::{Constraint, JoinType, Result, ScalarValue, Statistics};
use datafusion::physical_expr::expressions::{Column, LikeExpr, Literal, NotExpr};
use datafusion::physical_expr::utils::{conjunction, split_conjunction};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::joins::utils::JoinOnRef;
use datafusion::physical_plan::joins::{HashJoinExec, NestedLoopJoinExec, SortMergeJoinExec};
use datafusion::physical_plan::operator_statistics::{
    ExtendedStatistics, StatisticsProvider, StatisticsRegistry, StatisticsResult,
};
use datafusion::physical_plan::statistics::StatisticsArgs;
use std::sync::Arc;

/// The registry the planner's join selection reads estimates from: semc's alone.
pub fn registry() -> StatisticsRegistry {
    StatisticsRegistry::with_providers(vec![Arc::new(KeysAndPatterns)])
}

/// Every operator's estimate as DataFusion computes it from its inputs' estimates, but a
/// join with a side unique on its keys or of at most one row bounded by the other side's
/// rows, and a filter's LIKE conditions keeping their patterns' shares.
#[derive(Debug)]
struct KeysAndPatterns;

impl StatisticsProvider for KeysAndPatterns {
    fn compute_statistics(
        &self,
        plan: &dyn ExecutionPlan,
        child_stats: &[ExtendedStatistics],
    ) -> Result<StatisticsResult> {
        let inputs: Vec<Arc<Statistics>> = child_stats.iter().map(|s| s.base_arc().clone()).collect();
        if let Some(f) = plan.downcast_ref::<FilterExec>()
            && let Some(stats) = filter_with_patterns(f, &inputs)
        {
            return Ok(StatisticsResult::Computed(ExtendedStatistics::new_arc(Arc::new(stats))));
        }
        let mut stats = plan.statistics_from_inputs(&inputs, &StatisticsArgs::new())?;
        if let Some(rows) = join_rows(plan, &inputs, stats.num_rows.get_value().copied()) {
            let mut bounded = Arc::unwrap_or_clone(stats);
            bounded.num_rows = rows;
            stats = Arc::new(bounded);
        }
        Ok(StatisticsResult::Computed(ExtendedStatistics::new_arc(stats)))
    }
}

/// A filter's estimate when its condition matches patterns: DataFusion's estimate of the
/// other conditions, times each pattern's share. `None` when it matches none, or when the
/// filter of the other conditions cannot be estimated, and DataFusion's estimate stands.
fn filter_with_patterns(f: &FilterExec, inputs: &[Arc<Statistics>]) -> Option<Statistics> {
    let (patterns, rest): (Vec<_>, Vec<_>) = split_conjunction(f.predicate())
        .into_iter()
        .map(|c| (pattern_share(c), c))
        .partition(|(share, _)| share.is_some());
    if patterns.is_empty() {
        return None;
    }
    let share: f64 = patterns.iter().filter_map(|(s, _)| *s).product();
    let mut stats = if rest.is_empty() {
        // the patterns alone: every input row is a candidate (DataFusion keeps its default
        // fifth of the rows for a filter of `true`, as for any it cannot read)
        Arc::unwrap_or_clone(Arc::clone(inputs.first()?)).project(f.projection().as_ref())
    } else {
        let rest = conjunction(rest.into_iter().map(|(_, c)| Arc::clone(c)));
        let without_patterns = FilterExecBuilder::from(f).with_predicate(rest).build().ok()?;
        let stats = without_patterns
            .statistics_from_inputs(inputs, &StatisticsArgs::new())
            .ok()?;
        Arc::unwrap_or_clone(stats)
    };
    stats.num_rows = stats.num_rows.with_estimated_selectivity(share);
    stats.total_byte_size = stats.total_byte_size.with_estimated_selectivity(share);
    Some(stats)
}

/// The share of rows a condition `x like "…"`, `x not like "…"` (or semc's own form of one,
/// [`super::like`]) keeps, for a literal pattern; `None` for any other condition.
fn pattern_share(condition: &Arc<dyn PhysicalExpr>) -> Option<f64> {
    let literal = |e: &Arc<dyn PhysicalExpr>| match e.downcast_ref::<Literal>()?.value() {
        ScalarValue::Utf8(Some(p)) | ScalarValue::LargeUtf8(Some(p)) | ScalarValue::Utf8View(Some(p)) => {
            Some(p.clone())
        }
        _ => None,
    };
    if let Some(not) = condition.downcast_ref::<NotExpr>() {
        return pattern_share(not.arg()).map(|s| 1.0 - s);
    }
    if let Some(like) = condition.downcast_ref::<LikeExpr>() {
        let share = pattern_selectivity(&literal(like.pattern())?);
        return Some(if like.negated() { 1.0 - share } else { share });
    }
    let f = condition.downcast_ref::<ScalarFunctionExpr>()?;
    match f.args() {
        [_, pattern] if f.name() == super::like::IN_PIECES => Some(pattern_selectivity(&literal(pattern)?)),
        _ => None,
    }
}

/// The share of strings a LIKE pattern matches, as PostgreSQL estimates it without a
/// column's statistics (`like_selectivity` in its `selfuncs.c`): after the leading
/// wildcards, a fifth for each literal character, five times for each `%`, nine tenths for
/// each `_`; `"%ab%"` keeps 20 %, `"%a%"` all. It is kept at 1 % at least
/// ([`LEAST_PATTERN_SHARE`]): a longer literal is rarer, but not as rare as a fifth per
/// character says (`"%green%"` would keep 0.16 % of TPC-H's parts; it keeps 5 %), and a
/// side estimated nearly empty is chosen to build a join's hash table on whatever it holds.
fn pattern_selectivity(pattern: &str) -> f64 {
    const FIXED_CHAR: f64 = 0.20;
    const ANY_CHAR: f64 = 0.9;
    const FULL_WILDCARD: f64 = 5.0;
    let mut share = 1.0_f64;
    let mut chars = pattern.trim_start_matches(['%', '_']).chars();
    while let Some(c) = chars.next() {
        share *= match c {
            '%' => FULL_WILDCARD,
            '_' => ANY_CHAR,
            // an escaped character is a literal one
            '\\' if chars.next().is_none() => break,
            _ => FIXED_CHAR,
        };
    }
    share.clamp(LEAST_PATTERN_SHARE, 1.0)
}

/// The least share of rows a LIKE pattern is estimated to match.
const LEAST_PATTERN_SHARE: f64 = 0.01;

/// A join's rows when a side is unique on its keys (`estimate`: DataFusion's): `None` when
/// neither is (or a side's rows are unknown), and DataFusion's estimate stands.
fn join_rows(
    plan: &dyn ExecutionPlan,
    inputs: &[Arc<Statistics>],
    estimate: Option<usize>,
) -> Option<Precision<usize>> {
    if let Some(j) = plan.downcast_ref::<NestedLoopJoinExec>() {
        return single_row_side(j.join_type(), inputs);
    }
    let (on, join_type): (JoinOnRef, JoinType) = if let Some(j) = plan.downcast_ref::<HashJoinExec>() {
        (j.on(), *j.join_type())
    } else if let Some(j) = plan.downcast_ref::<SortMergeJoinExec>() {
        (j.on(), j.join_type())
    } else {
        return None;
    };
    let [left, right] = plan.children()[..] else {
        return None;
    };
    let [left_stats, right_stats] = inputs else { return None };
    let keys = |side: usize| -> Vec<usize> {
        on.iter()
            .filter_map(|(l, r)| {
                let key = if side == 0 { l } else { r };
                key.downcast_ref::<Column>().map(|c| c.index())
            })
            .collect()
    };
    let left_unique = unique_on(left.as_ref(), &keys(0));
    let right_unique = unique_on(right.as_ref(), &keys(1));
    let left_rows = *left_stats.num_rows.get_value()?;
    let right_rows = *right_stats.num_rows.get_value()?;
    let at_most = |bound: usize| Precision::Inexact(estimate.map_or(bound, |e| e.min(bound)));
    match join_type {
        JoinType::Inner if left_unique && right_unique => Some(at_most(left_rows.min(right_rows))),
        JoinType::Inner if right_unique => Some(at_most(left_rows)),
        JoinType::Inner if left_unique => Some(at_most(right_rows)),
        // every row of the kept side once: matched at most once, or kept with nulls
        JoinType::Left if right_unique => Some(Precision::Inexact(left_rows)),
        JoinType::Right if left_unique => Some(Precision::Inexact(right_rows)),
        _ => None,
    }
}

/// A join without equal keys whose one side has at most one row (a total, `SELECT avg(…)`,
/// compared with each row of the other side: TPC-H Q22) has at most the other side's rows,
/// where DataFusion knows nothing (it cannot read the join's condition): left unknown, the
/// join selection built its hash table above it on the other side, all 15 million `orders`
/// of Q22 at SF 10.
fn single_row_side(join_type: &JoinType, inputs: &[Arc<Statistics>]) -> Option<Precision<usize>> {
    let [left, right] = inputs else { return None };
    let at_most_one = |s: &Statistics| s.num_rows.get_value().is_some_and(|n| *n <= 1);
    let rows = |s: &Statistics| s.num_rows.get_value().copied();
    match join_type {
        JoinType::Inner | JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti if at_most_one(right) => {
            rows(left).map(Precision::Inexact)
        }
        JoinType::Inner | JoinType::Right | JoinType::RightSemi | JoinType::RightAnti if at_most_one(left) => {
            rows(right).map(Precision::Inexact)
        }
        _ => None,
    }
}

/// Whether `plan`'s rows are unique on the columns `keys` (indices in its schema): some
/// constraint it carries lies within them.
fn unique_on(plan: &dyn ExecutionPlan, keys: &[usize]) -> bool {
    plan.properties()
        .equivalence_properties()
        .constraints()
        .iter()
        .any(|c| match c {
            Constraint::PrimaryKey(columns) | Constraint::Unique(columns) => {
                !columns.is_empty() && columns.iter().all(|i| keys.contains(i))
            }
        })
}
