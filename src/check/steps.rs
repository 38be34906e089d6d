//! Model steps: where, select, derive, group by/aggregate, sort, limit, distinct.

use super::*;
use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::span::Span;
use crate::syntax::ast::{self, ExprKind, StepKind};
use std::collections::HashMap;

impl<'a> Checker<'a> {
    pub(super) fn row_ctx(&self) -> Ctx {
        let mb = self.building.as_ref();
        Ctx {
            path: vec![],
            source: mb.and_then(|m| if m.shaped { m.base_source } else { None }),
            alias: mb.map(|m| m.base_alias.clone()),
            source_only: false,
            agg: AggMode::Row,
        }
    }

    /// The output name of an unnamed item: a column, a path's last part, or a measure.
    pub(super) fn item_name(&mut self, it: &ast::NamedExpr) -> Option<String> {
        if let Some(n) = &it.name {
            return Some(self.canonical_name(n));
        }
        if let ExprKind::Path(p) = &it.expr.kind {
            return p.last().map(|i| self.canonical_name(i));
        }
        let text = self.ws.map.text(it.expr.span).to_string();
        let d = if matches!(it.expr.kind, ExprKind::Lit(ast::Lit::Int(_))) {
            // SQL's `group by 1` / `order by 2`
            Diagnostic::error(Code::E0111, it.expr.span, format!("`{text}` is a number, not a column position"))
                .label("a constant without a name")
                .help(format!(
                    "semc has no positional references: name the column (`group by o_custkey`), or name the value (`name = {text}`)"
                ))
        } else {
            Diagnostic::error(Code::E0111, it.expr.span, "this column needs a name")
                .label("unnamed expression")
                .help(format!("write `name = {text}`"))
        };
        self.err(d);
        None
    }

    pub(super) fn named_items(
        &mut self,
        items: &[ast::NamedExpr],
        agg: AggMode,
        seen: &mut HashMap<String, Span>,
    ) -> Vec<(String, TExpr)> {
        let mut out = vec![];
        for it in items {
            let name = self.item_name(it);
            let cx = Ctx { agg, ..self.row_ctx() };
            let t = self.expr(&it.expr, &cx);
            let Some(name) = name else { continue };
            let span = it.name.as_ref().map(|n| n.span).unwrap_or(it.expr.span);
            if self.dup_check(seen, &name, span, "output column") {
                continue;
            }
            self.note_column_def(&name, span, &t);
            out.push((name, t));
        }
        out
    }

    pub(super) fn set_plain_cols(&mut self, items: &[(String, TExpr)]) {
        let mb = self.model_build();
        mb.cols = items
            .iter()
            .map(|(n, t)| Col {
                name: n.clone(),
                ty: t.ty,
                nullable: t.nullable,
                qual: None,
            })
            .collect();
        mb.shaped = false;
        mb.adhoc.clear();
        mb.scalars.clear();
    }

    pub(super) fn visible_projection(&mut self) -> Vec<(String, TExpr)> {
        self.model_build()
            .cols
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    texpr(
                        TExprKind::Col {
                            qual: c.qual.clone(),
                            name: c.name.clone(),
                        },
                        c.ty,
                        c.nullable,
                    ),
                )
            })
            .collect()
    }

    pub(super) fn step(&mut self, step: &'a ast::Step) {
        match &step.kind {
            StepKind::Where(e) => {
                let cx = self.row_ctx();
                let t = self.expr(e, &cx);
                self.want_bool(&t, e.span, "`where`");
                self.model_build().push_step(StepIr::Filter(t));
            }
            StepKind::Select(items) => {
                let out = self.named_items(items, AggMode::Window, &mut HashMap::new());
                // aggregates over windows: the same grain as the relation's, before it is reshaped
                self.check_grain();
                self.set_plain_cols(&out);
                let mb = self.model_build();
                let names: Vec<&String> = out.iter().map(|o| &o.0).collect();
                mb.unique_keys.retain(|k| k.iter().all(|c| names.contains(&c)));
                mb.push_step(StepIr::Project(out));
                mb.requalify();
            }
            StepKind::Derive(items) => {
                let mut seen: HashMap<String, Span> = HashMap::new();
                let existing: Vec<String> = self.model_build().cols.iter().map(|c| c.name.clone()).collect();
                let mut out = vec![];
                for it in items {
                    let Some(name) = self.item_name(it) else {
                        continue;
                    };
                    let cx = Ctx {
                        agg: AggMode::Window,
                        ..self.row_ctx()
                    };
                    let t = self.expr(&it.expr, &cx);
                    let span = it.name.as_ref().map(|n| n.span).unwrap_or(it.expr.span);
                    if existing.contains(&name) {
                        self.err(
                            Diagnostic::error(Code::E0101, span, format!("column `{name}` already exists"))
                                .label("derived again here")
                                .help("choose a new name, or replace columns with `select`"),
                        );
                        continue;
                    }
                    if self.dup_check(&mut seen, &name, span, "derived column") {
                        continue;
                    }
                    self.note_column_def(&name, span, &t);
                    out.push((name, t));
                }
                let mb = self.model_build();
                let alias = mb.fresh_alias();
                for (n, t) in &out {
                    if let TExprKind::Col { qual: Some(q), name } = &t.kind {
                        let origin = mb.copies.get(&(q.clone(), name.clone())).unwrap_or(q).clone();
                        mb.copies.insert((alias.clone(), n.clone()), origin);
                    }
                }
                mb.cols.extend(out.iter().map(|(n, t)| Col {
                    name: n.clone(),
                    ty: t.ty,
                    nullable: t.nullable,
                    qual: Some(alias.clone()),
                }));
                mb.push_step(StepIr::Derive(alias, out));
                // aggregates over windows see each row of their own relation once, too
                self.check_grain();
            }
            StepKind::Join(j) => self.join_step(j),
            StepKind::Unnest(u) => self.unnest_step(u, step.span),
            StepKind::GroupBy(keys, aggs) => {
                let mut seen = HashMap::new();
                let groups = self.named_items(keys, AggMode::Row, &mut seen);
                let out = self.named_items(aggs, AggMode::Allowed, &mut seen);
                self.finish_aggregate(groups, out);
            }
            StepKind::Aggregate(aggs) => {
                if aggs.is_empty() {
                    self.err(
                        Diagnostic::error(Code::E0219, step.span, "`aggregate { }` computes nothing")
                            .label("empty aggregate")
                            .help("add an item, e.g. `aggregate { n = count() }`, or group with `group by k aggregate { }`"),
                    );
                    return;
                }
                let out = self.named_items(aggs, AggMode::Allowed, &mut HashMap::new());
                self.finish_aggregate(vec![], out);
            }
            StepKind::Sort(keys) => {
                let mut out = vec![];
                for k in keys {
                    let cx = self.row_ctx();
                    let t = self.expr(&k.expr, &cx);
                    out.push((t, sort_order(k)));
                }
                self.model_build().push_step(StepIr::Sort(out));
            }
            StepKind::Limit(n) => {
                if *n < 0 {
                    self.err(
                        Diagnostic::error(Code::E0215, step.span, "limit cannot be negative")
                            .label("negative")
                            .help("write a count of rows: `limit 10`"),
                    );
                }
                self.model_build().push_step(StepIr::Limit((*n).max(0) as usize));
            }
            StepKind::Distinct => {
                let p = self.visible_projection();
                self.set_plain_cols(&p);
                let mb = self.model_build();
                mb.unique_keys.push(p.iter().map(|x| x.0.clone()).collect());
                mb.push_step(StepIr::Project(p));
                mb.push_step(StepIr::Distinct);
                mb.requalify();
            }
            StepKind::Union(other) => self.union_step(other),
            StepKind::Keep { n, per, by } => self.keep_step(*n, per, by, step.span),
            StepKind::Closure(c) => self.closure_step(c),
        }
    }

    /// `keep N per k, … by e, …`: per group, the first N rows in the order (ties broken by
    /// every other column), as a row number over the group, a filter, and the columns as
    /// they were. With `keep 1`, the group's columns are a unique key of the result.
    fn keep_step(&mut self, n: i64, per: &[ast::Expr], by: &[ast::SortKey], span: Span) {
        if n < 1 {
            self.err(
                Diagnostic::error(Code::E0215, span, format!("`keep {n}` keeps nothing"))
                    .label("at least 1")
                    .help("keep the first row of each group with `keep 1 per k by e`"),
            );
            return;
        }
        let cx = self.row_ctx();
        let partition: Vec<TExpr> = per.iter().map(|e| self.expr(e, &cx)).collect();
        let order: Vec<(TExpr, SortOrder)> = by.iter().map(|k| (self.expr(&k.expr, &cx), sort_order(k))).collect();
        if partition
            .iter()
            .chain(order.iter().map(|(e, _)| e))
            .any(TExpr::is_error)
        {
            return;
        }
        let Some(row_number) = self
            .func_idx
            .get("row_number")
            .and_then(|c| c.iter().copied().find(|&i| self.funcs[i].window))
        else {
            return self.err(Diagnostic::error(
                Code::E0104,
                span,
                "the standard library has no `row_number`",
            ));
        };
        let keys: Vec<String> = partition
            .iter()
            .filter_map(|p| p.column_name().map(String::from))
            .collect();
        let columns = self.visible_projection();
        let alias = self.model_build().fresh_alias();
        let position = texpr(
            TExprKind::Window(Box::new(WindowIr {
                func: row_number,
                args: vec![],
                partition,
                order,
                frame: None,
                tie_break: true,
            })),
            Type::Int64,
            false,
        );
        let kept = texpr(
            TExprKind::Binary(
                ast::BinOp::Le,
                Box::new(texpr(
                    TExprKind::Col {
                        qual: Some(alias.clone()),
                        name: "__position".into(),
                    },
                    Type::Int64,
                    false,
                )),
                Box::new(texpr(TExprKind::Lit(Value::Int(n)), Type::Int64, false)),
            ),
            Type::Bool,
            false,
        );
        self.set_plain_cols(&columns);
        let unique = n == 1 && keys.len() == per.len() && keys.iter().all(|k| columns.iter().any(|(c, _)| c == k));
        let mb = self.model_build();
        mb.push_step(StepIr::Derive(alias, vec![("__position".into(), position)]));
        mb.push_step(StepIr::Filter(kept));
        mb.push_step(StepIr::Project(columns));
        if unique {
            mb.unique_keys.push(keys);
        }
        mb.requalify();
    }

    pub(super) fn finish_aggregate(&mut self, groups: Vec<(String, TExpr)>, aggs: Vec<(String, TExpr)>) {
        self.check_grain();
        let all: Vec<(String, TExpr)> = groups.iter().chain(aggs.iter()).cloned().collect();
        self.set_plain_cols(&all);
        let mb = self.model_build();
        mb.unique_keys = vec![groups.iter().map(|g| g.0.clone()).collect()];
        mb.single_row = groups.is_empty();
        mb.push_step(StepIr::Aggregate(groups, aggs));
        mb.requalify();
    }
}
