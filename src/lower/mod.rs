//! Stage 3: checked [`Program`] → DataFusion logical plans → ONE Substrait [`Plan`] with one
//! root relation per output.
//!
//! Invariant: each scan names its table as `<url>@v<version>` ([`crate::delta::pinned_name`]),
//! so the plan alone pins every snapshot; the root's column names and types are the
//! model's checked schema.

use crate::delta::pinned_name_with;
use crate::ir::*;
use crate::syntax::ast::BinOp;
use crate::syntax::stdlib::ReturnRule;
use crate::types::Type;
use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano};
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DataFusionError, ExprSchema, Result, ScalarValue, TableReference};
use datafusion::datasource::provider_as_source;
use datafusion::execution::SessionState;
use datafusion::logical_expr::expr::{Case, Like};
use datafusion::logical_expr::{
    Between, Cast, Expr, ExprFunctionExt, JoinType, LogicalPlan, LogicalPlanBuilder, Operator, binary_expr, lit,
};
use std::collections::HashMap;
use std::sync::Arc;

mod plan;
pub use plan::{single_root, to_substrait};

/// Table providers by pinned name, opened at the versions the checker saw.
pub type Providers = HashMap<String, Arc<dyn TableProvider>>;

pub struct Lowerer<'a> {
    program: &'a Program,
    providers: &'a Providers,
    state: &'a SessionState,
    /// The input of the projection being lowered: a window that must read its partition in
    /// a total order takes these columns as tie-breakers.
    window_input: std::cell::RefCell<Option<datafusion::common::DFSchemaRef>>,
}

fn internal(msg: impl Into<String>) -> DataFusionError {
    DataFusionError::Internal(msg.into())
}

impl<'a> Lowerer<'a> {
    pub fn new(program: &'a Program, providers: &'a Providers, state: &'a SessionState) -> Self {
        Lowerer {
            program,
            providers,
            state,
            window_input: std::cell::RefCell::new(None),
        }
    }

    /// The logical plan of one output: the model's rows with the model's checked schema.
    pub fn output_plan(&self, output: &OutputIr) -> Result<LogicalPlan> {
        self.model_plan(output.model)
    }

    /// The logical plan of model `m`'s rows, with its checked schema, in a total order.
    pub fn model_plan(&self, m: usize) -> Result<LogicalPlan> {
        let model = &self.program.models[m];
        let plan = self.rel(&model.rel)?.build()?;
        // make the engine's types exactly the checked ones
        let mut exprs = vec![];
        let mut changed = false;
        for (field, want) in plan.schema().columns().into_iter().zip(&model.schema) {
            let have = plan.schema().field_from_column(&field)?.data_type().clone();
            let e = Expr::Column(field.clone());
            if Type::from_arrow(&have) != Some(want.ty) {
                changed = true;
                exprs.push(Expr::Cast(Cast::new(Box::new(e), want.ty.to_arrow())).alias(&want.name));
            } else {
                exprs.push(e.alias(&want.name));
            }
        }
        let b = if changed {
            LogicalPlanBuilder::from(plan).project(exprs)?
        } else {
            LogicalPlanBuilder::from(plan)
        };
        // deterministic: the same snapshots give the same rows in the same order (parallel
        // execution interleaves rows as its threads finish), so an output whose model does
        // not end ordered is written in the order of all its columns
        if ordered(&model.rel) {
            b.build()
        } else {
            let ks = total_order(b.schema(), &[]);
            b.sort(ks)?.build()
        }
    }

    fn rel(&self, r: &Rel) -> Result<LogicalPlanBuilder> {
        Ok(match r {
            Rel::Scan { source, alias } => {
                let s = &self.program.sources[*source];
                let name = pinned_name_with(&s.url, s.version, &s.options);
                let provider = self
                    .providers
                    .get(&name)
                    .ok_or_else(|| internal(format!("no provider for {name}")))?;
                let schema = provider.schema();
                let mut proj = vec![];
                for c in &s.columns {
                    proj.push(
                        schema
                            .index_of(&c.name)
                            .map_err(|_| internal(format!("column {} missing from {name}", c.name)))?,
                    );
                }
                let b = LogicalPlanBuilder::scan(
                    TableReference::bare(name),
                    provider_as_source(provider.clone()),
                    Some(proj.clone()),
                )?
                .alias(alias.as_str())?;
                // a column declared wider than the table stores it (int16 as int32, a
                // timestamp without time zone as UTC, …) is cast here, once
                // (a string the engine stores otherwise — a view, a dictionary — and a nested
                // type stored as the same `.sem` type — a list's field named `element`, a
                // string view inside — are read as they are)
                let widened = |i: usize, c: &crate::ir::Field| {
                    let have = schema.field(i).data_type();
                    let want = c.ty.to_arrow();
                    let same = *have == want
                        || matches!(
                            have,
                            DataType::Dictionary(..) | DataType::Utf8View | DataType::LargeUtf8
                        )
                        || (c.ty.is_nested() && Type::from_arrow(have) == Some(c.ty));
                    (!same).then_some(want)
                };
                if proj.iter().zip(&s.columns).all(|(i, c)| widened(*i, c).is_none()) {
                    b
                } else {
                    let exprs: Vec<Expr> =
                        proj.iter()
                            .zip(&s.columns)
                            .map(|(i, c)| {
                                let e = Expr::Column(Column::new(Some(alias.as_str()), &c.name));
                                match widened(*i, c) {
                                    Some(t) => Expr::Cast(Cast::new(Box::new(e), t))
                                        .alias_qualified(Some(alias.as_str()), &c.name),
                                    None => e,
                                }
                            })
                            .collect();
                    b.project(exprs)?
                }
            }
            Rel::ModelRef { model, alias } => self.rel(&self.program.models[*model].rel)?.alias(alias.as_str())?,
            Rel::Join {
                left,
                right,
                kind,
                on,
                filter,
            } => {
                let l = self.rel(left)?;
                let r = self.rel(right)?.build()?;
                let mut conds: Vec<Expr> = on
                    .iter()
                    .map(|(a, b)| Ok(self.expr(a)?.eq(self.expr(b)?)))
                    .collect::<Result<_>>()?;
                if let Some(f) = filter {
                    conds.push(self.expr(f)?);
                }
                let jt = match kind {
                    JoinKind::Left | JoinKind::LeftUnique => JoinType::Left,
                    JoinKind::Semi => JoinType::LeftSemi,
                    JoinKind::Anti => JoinType::LeftAnti,
                };
                l.join_on(r, jt, conds)?
            }
            Rel::Filter { input, predicate } => self.rel(input)?.filter(self.expr(predicate)?)?,
            Rel::Project { input, exprs } => {
                let b = self.rel(input)?;
                *self.window_input.borrow_mut() = Some(b.schema().clone());
                let es: Vec<Expr> = exprs
                    .iter()
                    .map(|(n, e)| Ok(self.expr(e)?.alias(n)))
                    .collect::<Result<_>>()?;
                project_with_windows(b, es)?
            }
            Rel::Derive { input, alias, exprs } => {
                let b = self.rel(input)?;
                *self.window_input.borrow_mut() = Some(b.schema().clone());
                let mut es: Vec<Expr> = b.schema().columns().into_iter().map(Expr::Column).collect();
                for (n, e) in exprs {
                    es.push(self.expr(e)?.alias_qualified(Some(alias.as_str()), n));
                }
                project_with_windows(b, es)?
            }
            Rel::Aggregate { input, groups, aggs } => self.aggregate(input, groups, aggs)?,
            Rel::Sort { input, keys } => {
                let mut ks = keys
                    .iter()
                    .map(|(e, o)| Ok(self.expr(e)?.sort(!o.descending, o.nulls_first)))
                    .collect::<Result<Vec<_>>>()?;
                let b = self.rel(input)?;
                // rows the keys leave tied come in the order of all their columns: the
                // order (and which rows a `limit` keeps) is the same on every run
                ks.extend(total_order(b.schema(), &ks));
                b.sort(ks)?
            }
            Rel::Limit { input, n } => {
                let b = self.rel(input)?;
                // `limit` without `sort`: the first rows in the order of all columns, not
                // whichever rows the engine's threads deliver first
                let b = if ordered(input) {
                    b
                } else {
                    let ks = total_order(b.schema(), &[]);
                    b.sort(ks)?
                };
                b.limit(0, Some(*n))?
            }
            Rel::Distinct { input } => self.rel(input)?.distinct()?,
            Rel::Closure { input, spec } => {
                let input = self.rel(input)?.build()?;
                let node = crate::engine::closure::ClosureNode::new(spec.clone(), input)?;
                LogicalPlanBuilder::from(node.into_plan())
            }
            Rel::Unnest { input, spec, .. } => {
                let input = self.rel(input)?.build()?;
                let node = crate::engine::unnest::UnnestNode::new(spec.clone(), input)?;
                LogicalPlanBuilder::from(node.into_plan())
            }
            Rel::Alias { input, alias } => self.rel(input)?.alias(alias.as_str())?,
            Rel::Union { left, right } => self.rel(left)?.union(self.rel(right)?.build()?)?,
        })
    }

    /// `aggregate { a = sum(x) / count() }`: aggregate calls are computed by an Aggregate,
    /// then a projection combines them.
    fn aggregate(
        &self,
        input: &Rel,
        groups: &[(String, TExpr)],
        aggs: &[(String, TExpr)],
    ) -> Result<LogicalPlanBuilder> {
        let b = self.rel(input)?;
        let gs: Vec<Expr> = groups
            .iter()
            .map(|(n, e)| Ok(self.expr(e)?.alias(n)))
            .collect::<Result<_>>()?;
        let mut calls: Vec<Expr> = vec![];
        let mut finals: Vec<(String, Expr)> = vec![];
        let mut simple = true;
        for (n, e) in aggs {
            let de = self.expr(e)?;
            if matches!(de, Expr::AggregateFunction(_)) {
                calls.push(de.clone().alias(n));
                finals.push((n.clone(), Expr::Column(Column::from_name(n))));
                continue;
            }
            simple = false;
            let replaced = de
                .transform_up(|x| {
                    if matches!(x, Expr::AggregateFunction(_)) {
                        let name = format!("__agg{}", calls.len());
                        calls.push(x.alias(&name));
                        Ok(Transformed::yes(Expr::Column(Column::from_name(name))))
                    } else {
                        Ok(Transformed::no(x))
                    }
                })?
                .data;
            finals.push((n.clone(), replaced));
        }
        let b = b.aggregate(gs, calls)?;
        if simple {
            return Ok(b);
        }
        let mut out: Vec<Expr> = groups.iter().map(|(n, _)| Expr::Column(Column::from_name(n))).collect();
        out.extend(finals.into_iter().map(|(n, e)| e.alias(n)));
        b.project(out)
    }

    /// Lowers one checked expression (for contract checks over an output's columns).
    pub fn lower_expr(&self, e: &TExpr) -> Result<Expr> {
        self.expr(e)
    }

    fn expr(&self, e: &TExpr) -> Result<Expr> {
        let b = |x: &TExpr| -> Result<Box<Expr>> { Ok(Box::new(self.expr(x)?)) };
        Ok(match &e.kind {
            TExprKind::Col { qual, name } => Expr::Column(Column::new(
                qual.as_ref().map(|q| TableReference::bare(q.as_str())),
                name,
            )),
            TExprKind::Lit(v) => Expr::Literal(scalar(v, e.ty)?, None),
            TExprKind::Binary(op, l, r) => {
                let o = match op {
                    BinOp::Or => Operator::Or,
                    BinOp::And => Operator::And,
                    BinOp::Eq => Operator::Eq,
                    BinOp::Ne => Operator::NotEq,
                    BinOp::Lt => Operator::Lt,
                    BinOp::Le => Operator::LtEq,
                    BinOp::Gt => Operator::Gt,
                    BinOp::Ge => Operator::GtEq,
                    BinOp::Add => Operator::Plus,
                    BinOp::Sub => Operator::Minus,
                    BinOp::Mul => Operator::Multiply,
                    BinOp::Div => Operator::Divide,
                    BinOp::Mod => Operator::Modulo,
                    BinOp::Concat => Operator::StringConcat,
                };
                let (lx, rx) = (self.expr(l)?, self.expr(r)?);
                match runs_checked(*op, l, r, e.ty) {
                    true => self.checked(o, lx, rx)?,
                    false => binary_expr(lx, o, rx),
                }
            }
            TExprKind::Not(x) => Expr::Not(b(x)?),
            TExprKind::Neg(x) if matches!(x.ty, Type::Int32 | Type::Int64) => {
                // `-x` is `0 - x`: the engine's negation wraps the smallest integer around
                let zero = Expr::Literal(ScalarValue::new_zero(&x.ty.to_arrow())?, None);
                self.checked(Operator::Minus, zero, self.expr(x)?)?
            }
            TExprKind::Neg(x) => Expr::Negative(b(x)?),
            TExprKind::IsNull(x, neg) => {
                if *neg {
                    Expr::IsNotNull(b(x)?)
                } else {
                    Expr::IsNull(b(x)?)
                }
            }
            TExprKind::InList(x, items, neg) => {
                let list = items.iter().map(|i| self.expr(i)).collect::<Result<Vec<_>>>()?;
                self.expr(x)?.in_list(list, *neg)
            }
            TExprKind::Between(x, lo, hi, neg) => Expr::Between(Between::new(b(x)?, *neg, b(lo)?, b(hi)?)),
            TExprKind::Like(x, p, neg) => Expr::Like(Like::new(*neg, b(x)?, b(p)?, None, false)),
            TExprKind::Case(arms, other) => {
                let when_then = arms
                    .iter()
                    .map(|(c, v)| Ok((b(c)?, b(v)?)))
                    .collect::<Result<Vec<_>>>()?;
                let else_expr = match other {
                    Some(o) => Some(b(o)?),
                    None => None,
                };
                Expr::Case(Case {
                    expr: None,
                    when_then_expr: when_then,
                    else_expr,
                })
            }
            TExprKind::Cast(x, t) => Expr::Cast(Cast::new(b(x)?, t.to_arrow())),
            TExprKind::Call(fi, args) => {
                let sig = &self.program.functions[*fi];
                let udf = self.scalar_function(&sig.engine)?;
                let mut a = vec![];
                if let Some(c) = &sig.engine_const {
                    a.push(lit(c.clone()));
                }
                for (i, x) in args.iter().enumerate() {
                    let value = match (sig.ret, x.literal_int()) {
                        // the places a decimal is rounded to, as the engine's `round` takes
                        // them (int32): a literal it would cast instead types the result one
                        // digit wider until its optimizer folds the cast, and the plan's
                        // types then change under it
                        (ReturnRule::Round(_, places), Some(n))
                            if i + 1 == places && matches!(e.ty, Type::Decimal(..)) =>
                        {
                            match i32::try_from(n) {
                                Ok(n) => lit(ScalarValue::Int32(Some(n))),
                                Err(_) => self.expr(x)?,
                            }
                        }
                        _ => self.expr(x)?,
                    };
                    a.push(match argument_rule(sig, i) {
                        Some(rule) if !x.is_literal() => self
                            .scalar_function(crate::engine::arguments::ArgumentGuard::NAME)?
                            .call(vec![value, lit(rule.as_str()), lit(sig.name.as_str())]),
                        _ => value,
                    });
                }
                // a decimal made whole: computed one digit wider (a carry always fits), then
                // given its checked type (scale 0)
                if let (ReturnRule::Whole(k), Type::Decimal(..)) = (sig.ret, e.ty)
                    && let Some(Type::Decimal(p, s)) = args.get(k - 1).map(|x| x.ty)
                {
                    let i = k - 1 + usize::from(sig.engine_const.is_some());
                    let arg = std::mem::replace(&mut a[i], lit(0));
                    a[i] = Expr::Cast(Cast::new(Box::new(arg), DataType::Decimal128((p + 1).min(38), s)));
                    return Ok(Expr::Cast(Cast::new(Box::new(udf.call(a)), e.ty.to_arrow())));
                }
                let call = udf.call(a);
                if sig.props.hex {
                    let encode = self.scalar_function("encode")?;
                    encode.call(vec![call, lit("hex")])
                } else {
                    call
                }
            }
            TExprKind::Agg(fi, args, order) => {
                let sig = &self.program.functions[*fi];
                let risk = sum_overflow(sig, args);
                // a decimal sum that may overflow: the engine's sum, with checked additions
                let engine = match risk {
                    Some(SumOverflow::Decimal) => crate::engine::checked::CheckedSum::NAME,
                    _ => sig.engine.as_str(),
                };
                let udaf = self.aggregate_function(engine)?;
                let mut a = args.iter().map(|x| self.expr(x)).collect::<Result<Vec<_>>>()?;
                if a.is_empty() {
                    a.push(lit(1i64));
                }
                // the checked sum takes its argument as the checker typed it: the engine types a
                // `case` by its first branch until its coercion runs, after the sum is planned
                if let (Some(SumOverflow::Decimal), Some(arg), Some(x)) = (risk, a.first_mut(), args.first()) {
                    let value = std::mem::replace(arg, lit(0));
                    *arg = Expr::Cast(Cast::new(Box::new(value), x.ty.to_arrow()));
                }
                let cast_to = round_average(sig, args, &mut a, e.ty).or_else(|| match risk {
                    Some(SumOverflow::Integer) => summed_wide(sig, &mut a, DataType::Decimal128(38, 0), e.ty),
                    _ => None,
                });
                let call = udaf.call(a);
                let call = if sig.props.distinct {
                    call.distinct().build()?
                } else if sig.props.ordered {
                    // in the order the call says, else in the order of the values: the same
                    // rows give the same list on every run
                    let keys: Vec<(TExpr, SortOrder)> = if order.is_empty() {
                        args.iter().map(|x| (x.clone(), SortOrder::default())).collect()
                    } else {
                        order.clone()
                    };
                    let sorts = keys
                        .iter()
                        .map(|(x, o)| Ok(self.expr(x)?.sort(!o.descending, o.nulls_first)))
                        .collect::<Result<Vec<_>>>()?;
                    call.order_by(sorts).build()?
                } else {
                    call
                };
                match cast_to {
                    Some(t) => Expr::Cast(Cast::new(Box::new(call), t)),
                    None => call,
                }
            }
            TExprKind::Window(w) => self.window(w, e.ty)?,
            TExprKind::Field(x, name) => self
                .scalar_function("get_field")?
                .call(vec![self.expr(x)?, lit(name.as_str())]),
            TExprKind::Index(x, at) => match x.ty {
                // a map's value for a key: the one-element list of its matches, its element
                Type::Map(_) => {
                    let matches = self
                        .scalar_function("map_extract")?
                        .call(vec![self.expr(x)?, self.expr(at)?]);
                    self.scalar_function("array_element")?.call(vec![matches, lit(1i64)])
                }
                _ => self
                    .scalar_function("array_element")?
                    .call(vec![self.expr(x)?, self.expr(at)?]),
            },
            TExprKind::MakeStruct(fields) => {
                let mut args = vec![];
                for (name, x) in fields {
                    args.push(lit(name.as_str()));
                    args.push(self.expr(x)?);
                }
                // (never cast to a struct type: Substrait's types carry no field names, so
                // the cast would name the fields c0, c1, … where the plan is read)
                self.scalar_function("named_struct")?.call(args)
            }
            // the checker cast the items to one type
            TExprKind::MakeList(items) => {
                let items = items.iter().map(|x| self.expr(x)).collect::<Result<Vec<_>>>()?;
                self.scalar_function("make_array")?.call(items)
            }
            TExprKind::Error => return Err(internal("an error node reached lowering")),
        })
    }
}

/// The rule a value of argument `i` (from 0) must keep when it is not a literal (the
/// checker has checked literals).
fn argument_rule(sig: &crate::syntax::stdlib::Signature, i: usize) -> Option<crate::engine::arguments::Rule> {
    use crate::engine::arguments::Rule;
    let p = sig.props;
    [
        (p.positive, Rule::Positive),
        (p.nonzero, Rule::Nonzero),
        (p.not_negative, Rule::NotNegative),
        (p.regex, Rule::Regex),
    ]
    .into_iter()
    .find(|(set, _)| set.has(i))
    .map(|(_, rule)| rule)
}

/// A literal as a value of its checked type. The checker typed it, so a value that does
/// not convert is semc's bug, never a silent null.
fn scalar(v: &Value, ty: Type) -> Result<ScalarValue> {
    let value = match v {
        Value::Null => ScalarValue::Null,
        Value::Bool(b) => ScalarValue::Boolean(Some(*b)),
        Value::Int(i) => ScalarValue::Int64(Some(*i)),
        Value::Decimal(v, p, s) => ScalarValue::Decimal128(Some(*v), *p, *s),
        Value::Float(f) => ScalarValue::Float64(Some(*f)),
        Value::Str(s) => ScalarValue::Utf8(Some(s.clone())),
        Value::Date(d) => ScalarValue::Date32(Some(*d)),
        Value::Timestamp(t) => ScalarValue::TimestampMicrosecond(Some(*t), Some("UTC".into())),
        Value::Interval { months, days, nanos } => {
            ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(*months, *days, *nanos)))
        }
    };
    value
        .cast_to(&ty.to_arrow())
        .map_err(|e| internal(format!("the literal {v:?} does not convert to {ty}: {e}")))
}

impl Lowerer<'_> {
    /// The session's scalar function `name` (the engine's, or one semc registered).
    fn scalar_function(&self, name: &str) -> Result<Arc<datafusion::logical_expr::ScalarUDF>> {
        self.state
            .scalar_functions()
            .get(name)
            .cloned()
            .ok_or_else(|| internal(format!("engine has no function {name}")))
    }

    /// The session's aggregate function `name` (the engine's, or one semc registered).
    fn aggregate_function(&self, name: &str) -> Result<Arc<datafusion::logical_expr::AggregateUDF>> {
        self.state
            .aggregate_functions()
            .get(name)
            .cloned()
            .ok_or_else(|| internal(format!("engine has no aggregate {name}")))
    }

    /// `l op r` computed by the engine function that fails on overflow
    /// ([`crate::engine::checked`]).
    fn checked(&self, op: Operator, l: Expr, r: Expr) -> Result<Expr> {
        let name = crate::engine::checked::CheckedArithmetic::name_of(op)
            .ok_or_else(|| internal(format!("no checked form of {op}")))?;
        Ok(self.scalar_function(name)?.call(vec![l, r]))
    }

    /// A window function (or an aggregate over a window), cast to its checked type (the
    /// engine's ranks are unsigned).
    fn window(&self, w: &WindowIr, ty: Type) -> Result<Expr> {
        use crate::syntax::ast::FrameBound as B;
        use datafusion::logical_expr::expr::WindowFunction;
        use datafusion::logical_expr::{ExprFunctionExt, WindowFrame, WindowFrameBound, WindowFrameUnits};
        let sig = &self.program.functions[w.func];
        let fun: datafusion::logical_expr::WindowFunctionDefinition = if sig.window {
            self.state
                .window_functions()
                .get(&sig.engine)
                .cloned()
                .ok_or_else(|| internal(format!("engine has no window function {}", sig.engine)))?
                .into()
        } else {
            self.aggregate_function(&sig.engine)?.into()
        };
        let mut args = w.args.iter().map(|x| self.expr(x)).collect::<Result<Vec<_>>>()?;
        if args.is_empty() && sig.aggregate {
            args.push(lit(1i64));
        }
        // a sum over a window that may overflow is summed wide (its frame may retract rows)
        let cast_to = round_average(sig, &w.args, &mut args, ty).or_else(|| match (sum_overflow(sig, &w.args), ty) {
            (Some(SumOverflow::Integer), _) => summed_wide(sig, &mut args, DataType::Decimal128(38, 0), ty),
            (Some(SumOverflow::Decimal), Type::Decimal(_, s)) => {
                summed_wide(sig, &mut args, DataType::Decimal256(76, s), ty)
            }
            _ => None,
        });
        let partition = w.partition.iter().map(|x| self.expr(x)).collect::<Result<Vec<_>>>()?;
        let mut order = w
            .order
            .iter()
            .map(|(x, o)| Ok(self.expr(x)?.sort(!o.descending, o.nulls_first)))
            .collect::<Result<Vec<_>>>()?;
        if w.tie_break
            && let Some(schema) = self.window_input.borrow().as_ref()
        {
            order.extend(total_order(schema, &order));
        }
        let bound = |b: B| match b {
            B::UnboundedPreceding => WindowFrameBound::Preceding(ScalarValue::UInt64(None)),
            B::Preceding(n) => WindowFrameBound::Preceding(ScalarValue::UInt64(Some(n))),
            B::CurrentRow => WindowFrameBound::CurrentRow,
            B::Following(n) => WindowFrameBound::Following(ScalarValue::UInt64(Some(n))),
            B::UnboundedFollowing => WindowFrameBound::Following(ScalarValue::UInt64(None)),
        };
        let frame = match w.frame {
            Some((start, end)) => WindowFrame::new_bounds(WindowFrameUnits::Rows, bound(start), bound(end)),
            None => WindowFrame::new(if order.is_empty() { None } else { Some(false) }),
        };
        let call = Expr::WindowFunction(Box::new(WindowFunction::new(fun, args)))
            .partition_by(partition)
            .order_by(order)
            .window_frame(frame)
            .build()?;
        Ok(Expr::Cast(Cast::new(
            Box::new(call),
            cast_to.unwrap_or_else(|| ty.to_arrow()),
        )))
    }
}

/// An upper bound on an expression's magnitude, as (integer digits, scale): its values are
/// below 10^digits. From the type, narrowed by what the expression computes: `1 - l_discount`
/// is typed `decimal(23, 2)` (an integer literal counts as 20 digits) but stays below 10^14.
fn magnitude(e: &TExpr) -> Option<(i16, i16)> {
    let digits = |v: u128| (v.checked_ilog10().unwrap_or(0) + 1) as i16;
    match &e.kind {
        TExprKind::Lit(Value::Int(i)) => Some((digits(i.unsigned_abs().into()), 0)),
        TExprKind::Lit(Value::Decimal(v, _, s)) => {
            let s = i16::from(*s);
            Some(((digits(v.unsigned_abs()) - s).max(0), s))
        }
        TExprKind::Neg(x) => magnitude(x),
        TExprKind::Binary(op @ (BinOp::Add | BinOp::Sub | BinOp::Mul), l, r) => {
            let ((i1, s1), (i2, s2)) = (magnitude(l)?, magnitude(r)?);
            Some(match op {
                BinOp::Mul => (i1 + i2, s1 + s2),
                _ => (i1.max(i2) + 1, s1.max(s2)),
            })
        }
        _ => match e.ty {
            Type::Int32 => Some((10, 0)),
            Type::Int64 => Some((19, 0)),
            Type::Decimal(p, s) => Some((i16::from(p) - i16::from(s), i16::from(s))),
            _ => None,
        },
    }
}

/// Whether `l op r` (of checked type `ty`) can leave that type: the engine's integer `+`,
/// `-` and `*` wrap around, and its decimal ones let a value outgrow the precision (it
/// caps the precision at 38).
fn can_overflow(op: BinOp, l: &TExpr, r: &TExpr, ty: Type) -> bool {
    if !matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul) {
        return false;
    }
    let (Some((i1, s1)), Some((i2, s2))) = (magnitude(l), magnitude(r)) else {
        return false;
    };
    let (digits, scale) = match op {
        BinOp::Mul => (i1 + i2, s1 + s2),
        _ => (i1.max(i2) + 1, s1.max(s2)),
    };
    match ty {
        // below 10^9 fits an int32, below 10^18 an int64
        Type::Int32 => digits > 9,
        Type::Int64 => digits > 18,
        Type::Decimal(p, s) => digits > i16::from(p) - i16::from(s) || scale > i16::from(s),
        _ => false,
    }
}

/// Whether `l op r` (of checked type `ty`) runs on semc's checked kernels: where it can
/// overflow, and every decimal `+`, `-` and `*`, for which they are the faster ones (they
/// skip the checks a batch's values prove needless; the engine's check every value).
fn runs_checked(op: BinOp, l: &TExpr, r: &TExpr, ty: Type) -> bool {
    let decimal_arithmetic = matches!(ty, Type::Decimal(..)) && matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul);
    decimal_arithmetic || can_overflow(op, l, r, ty)
}

/// Why a sum may leave its type.
#[derive(Clone, Copy)]
enum SumOverflow {
    /// The engine's integer sum wraps around.
    Integer,
    /// The engine's decimal sum (10 more digits than its argument, up to 38) wraps its 128
    /// bits around and lets the result outgrow the precision: an argument that may reach 29
    /// digits can overflow it.
    Decimal,
}

/// Whether `sig` is a sum over `args` that may leave its type.
fn sum_overflow(sig: &crate::syntax::Signature, args: &[TExpr]) -> Option<SumOverflow> {
    let ReturnRule::Sum(k) = sig.ret else {
        return None;
    };
    let arg = args.get(k - 1)?;
    match arg.ty {
        Type::Int32 | Type::Int64 => Some(SumOverflow::Integer),
        Type::Decimal(..) if magnitude(arg).is_some_and(|(i, s)| i + s + 10 > 38) => Some(SumOverflow::Decimal),
        _ => None,
    }
}

/// A sum computed in the `wide` type, which no number of rows overflows, and then cast to
/// the checked type: a sum that does not fit fails the cast (E0409). Widens the argument in
/// `lowered` and gives the type to cast the sum to.
fn summed_wide(sig: &crate::syntax::Signature, lowered: &mut [Expr], wide: DataType, ty: Type) -> Option<DataType> {
    let ReturnRule::Sum(k) = sig.ret else {
        return None;
    };
    let x = lowered.get(k - 1)?.clone();
    lowered[k - 1] = Expr::Cast(Cast::new(Box::new(x), wide));
    Some(ty.to_arrow())
}

/// The engine's decimal average truncates at its result scale; computed over the argument
/// with one more digit and cast to the checked type, it rounds half away from zero, as SQL
/// engines (DuckDB, Spark) do. Widens the argument in `lowered` and gives the type to cast
/// the average to (None when this is not a decimal average).
fn round_average(sig: &crate::syntax::Signature, args: &[TExpr], lowered: &mut [Expr], ty: Type) -> Option<DataType> {
    let (ReturnRule::Avg(k), Type::Decimal(p, s)) = (sig.ret, ty) else {
        return None;
    };
    match args.get(k - 1).map(|x| x.ty) {
        Some(Type::Decimal(ap, scale)) if ap < 38 && (s as i16) < 38 => {
            let x = lowered[k - 1].clone();
            lowered[k - 1] = Expr::Cast(Cast::new(Box::new(x), DataType::Decimal128(ap + 1, scale + 1)));
            Some(DataType::Decimal128(p, s))
        }
        _ => None,
    }
}

/// A projection whose expressions may hold window functions: those are computed first, by
/// window nodes over the input, and the projection reads their results.
fn project_with_windows(b: LogicalPlanBuilder, es: Vec<Expr>) -> Result<LogicalPlanBuilder> {
    let windows = datafusion::logical_expr::utils::find_window_exprs(&es);
    if windows.is_empty() {
        return b.project(es);
    }
    let plan = LogicalPlanBuilder::window_plan(b.build()?, windows.clone())?;
    let es = es
        .into_iter()
        .map(|e| {
            e.transform_up(|x| {
                if windows.contains(&x) {
                    Ok(Transformed::yes(Expr::Column(Column::from_name(
                        x.schema_name().to_string(),
                    ))))
                } else {
                    Ok(Transformed::no(x))
                }
            })
            .map(|t| t.data)
        })
        .collect::<Result<Vec<_>>>()?;
    LogicalPlanBuilder::from(plan).project(es)
}

/// Whether `rel`'s rows come in a total order: a sort (with its tie-breakers) followed only by
/// steps that keep the order.
fn ordered(rel: &Rel) -> bool {
    match rel {
        Rel::Sort { .. } => true,
        Rel::Project { input, .. }
        | Rel::Filter { input, .. }
        | Rel::Derive { input, .. }
        | Rel::Alias { input, .. }
        | Rel::Limit { input, .. } => ordered(input),
        _ => false,
    }
}

/// Every column of `schema` not already sorted on by `keys`, ascending: appended to a sort,
/// it leaves no two distinguishable rows tied.
fn total_order(
    schema: &datafusion::common::DFSchemaRef,
    keys: &[datafusion::logical_expr::SortExpr],
) -> Vec<datafusion::logical_expr::SortExpr> {
    schema
        .columns()
        .into_iter()
        .map(Expr::Column)
        .filter(|c| !keys.iter().any(|k| k.expr == *c))
        .map(|c| c.sort(true, true))
        .collect()
}
