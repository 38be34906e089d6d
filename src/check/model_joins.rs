//! Joins and unions written as steps of a model.

use super::*;
use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::syntax::ast::{self, BinOp, Cardinality, ExprKind};
use crate::types::Type;

impl<'a> Checker<'a> {
    pub(super) fn join_step(&mut self, j: &'a ast::JoinDecl) {
        let name = self.canonical_name(j.name());
        let alias = self.model_build().fresh_alias();
        let Some(Relation {
            rel,
            cols,
            source,
            keys,
        }) = self.relation(&j.target, &alias)
        else {
            return;
        };
        if self.model_build().adhoc.iter().any(|a| a.name == name) {
            self.err(
                Diagnostic::error(
                    Code::E0101,
                    j.name().span,
                    format!("`{name}` is already joined in this model"),
                )
                .label("joined again")
                .help("give the second join another name with `as`"),
            );
            return;
        }
        let mut on = vec![];
        let mut right_cols = vec![];
        // key pairs: `x = name.col` pairs, and comparisons `expr = name.col` among the conditions
        let names_right =
            |e: &ast::Expr| matches!(&e.kind, ExprKind::Path(p) if p.len() == 2 && self.canonical_name(&p[0]) == name);
        let mut pairs: Vec<(&ast::Expr, &ast::Expr)> = j.on.iter().map(|(a, b)| (a, b)).collect();
        let mut filters: Vec<&ast::Expr> = vec![];
        for f in &j.filters {
            match &f.kind {
                ExprKind::Binary(BinOp::Eq, a, b) if names_right(a) != names_right(b) => pairs.push((a, b)),
                _ => filters.push(f),
            }
        }
        let n_pairs = pairs.len();
        for (a, b) in pairs {
            // one side names the joined relation: `name.col`
            let is_right = |e: &ast::Expr| matches!(&e.kind, ExprKind::Path(p) if p.len() == 2 && self.canonical_name(&p[0]) == name);
            let (l, r) = if is_right(b) {
                (a, b)
            } else if is_right(a) {
                (b, a)
            } else {
                self.err(
                    Diagnostic::error(
                        Code::E0214,
                        a.span.to(b.span),
                        format!("one side of each key pair must be a column of `{name}`"),
                    )
                    .label("neither side names the joined relation")
                    .help(format!("write `column = {name}.column`")),
                );
                continue;
            };
            let cx = self.row_ctx();
            let lt = self.expr(l, &cx);
            let ExprKind::Path(rp) = &r.kind else {
                continue;
            };
            // `rich.c_custkey`: `rich` is the joined relation (or the `as` name given it)
            match &j.alias {
                Some(a) => self.note(rp[0].span, Some(a.span), index::RefKind::Join, |_| {
                    format!("`{}` joined as `{}`", j.target.text, a.text)
                }),
                None => self.note_relation_at(rp[0].span, &j.target),
            }
            let rn = self.canonical_name(&rp[1]);
            let Some(rc) = cols.iter().find(|c| c.name == rn) else {
                let cands: Vec<String> = cols.iter().map(|c| c.name.clone()).collect();
                self.unknown_col(rp[1].span, &rn, &cands, &name);
                continue;
            };
            let rt = texpr(
                TExprKind::Col {
                    qual: Some(alias.clone()),
                    name: rn.clone(),
                },
                rc.ty,
                rc.nullable,
            );
            if !lt.is_error()
                && self.scalar_key(lt.ty, a.span, "this join key")
                && (Type::unify(lt.ty, rt.ty).is_none() || lt.ty.family() != rt.ty.family())
            {
                self.err(
                    Diagnostic::error(
                        Code::E0204,
                        a.span.to(b.span),
                        format!("join keys have different types: {} and {}", lt.ty, rt.ty),
                    )
                    .label("compared here")
                    .help("cast one side so both have the same type"),
                );
            }
            right_cols.push(rn);
            on.push((lt, rt));
        }
        // other comparisons see both sides
        let semi_like = matches!(j.cardinality, Cardinality::Semi | Cardinality::Anti);
        self.model_build().adhoc.push(Adhoc {
            unnest: false,
            name: name.clone(),
            alias: alias.clone(),
            cols: cols.clone(),
            fans_out: false,
            repeated: false,
            span: j.span,
        });
        let mut filter: Option<TExpr> = None;
        for f in filters {
            let cx = self.row_ctx();
            let t = self.expr(f, &cx);
            self.want_bool(&t, f.span, "a join condition");
            filter = Some(match filter {
                None => t,
                Some(prev) => texpr(
                    TExprKind::Binary(BinOp::And, Box::new(prev), Box::new(t)),
                    Type::Bool,
                    true,
                ),
            });
        }
        self.model_build().adhoc.pop();
        if on.is_empty() && filter.is_none() {
            return;
        }
        if semi_like {
            let kind = if j.cardinality == Cardinality::Semi {
                JoinKind::Semi
            } else {
                JoinKind::Anti
            };
            self.model_build().push_step(StepIr::Join(rel, kind, on, filter));
            return;
        }
        let mut kind = JoinKind::Left;
        if matches!(j.cardinality, Cardinality::ManyToOne | Cardinality::OneToOne)
            && !on.is_empty()
            && on.len() == n_pairs
        {
            let unique = keys
                .iter()
                .any(|k| !k.is_empty() && k.iter().all(|c| right_cols.contains(c)));
            if !unique {
                self.err(
                    Diagnostic::error(Code::E0205, j.cardinality_span, format!("`{}` join to `{name}` on columns that are not known to be unique", j.cardinality.as_str()))
                        .label(format!("{} needs a unique target", j.cardinality.as_str()))
                        .help(format!("join on `{name}`'s key (declared `key`/`unique`, its group keys, or a contract `unique`), or use `one_to_many`")),
                );
            } else {
                kind = JoinKind::LeftUnique;
            }
        }
        if let Some(si) = source
            && matches!(j.cardinality, Cardinality::ManyToOne | Cardinality::OneToOne)
        {
            self.model_build().key_claims.push(KeyClaim {
                source: si,
                columns: right_cols.clone(),
                span: j.span,
                from: None,
            });
        }
        let mb = self.model_build();
        mb.adhoc.push(Adhoc {
            unnest: false,
            name,
            alias,
            cols,
            fans_out: j.cardinality == Cardinality::OneToMany,
            repeated: j.cardinality == Cardinality::ManyToOne,
            span: j.span,
        });
        if j.cardinality == Cardinality::OneToMany {
            mb.unique_keys.clear();
            mb.single_row = false;
        }
        mb.push_step(StepIr::Join(rel, kind, on, filter));
    }

    pub(super) fn union_step(&mut self, other: &ast::Ident) {
        let alias = self.model_build().fresh_alias();
        let Some(Relation { rel, cols, .. }) = self.relation(other, &alias) else {
            return;
        };
        let mine = self.model_build().cols.clone();
        let mut left = vec![];
        let mut right = vec![];
        let mut problems = vec![];
        for c in &mine {
            match cols.iter().find(|o| o.name == c.name) {
                Some(o) => match Type::unify(c.ty, o.ty) {
                    Some(t) => {
                        let cast = |col: &Col| {
                            let e = texpr(
                                TExprKind::Col {
                                    qual: col.qual.clone(),
                                    name: col.name.clone(),
                                },
                                col.ty,
                                col.nullable,
                            );
                            if col.ty == t {
                                e
                            } else {
                                texpr(TExprKind::Cast(Box::new(e), t), t, col.nullable)
                            }
                        };
                        left.push((c.name.clone(), cast(c)));
                        right.push((c.name.clone(), cast(o)));
                    }
                    None => problems.push(format!("`{}` is {} here and {} there", c.name, c.ty, o.ty)),
                },
                None => problems.push(format!("`{}` is missing there", c.name)),
            }
        }
        for o in cols.iter().filter(|o| !mine.iter().any(|c| c.name == o.name)) {
            problems.push(format!("`{}` is only there", o.name));
        }
        if !problems.is_empty() {
            let shown: Vec<String> = problems.iter().take(6).cloned().collect();
            let more = if problems.len() > 6 {
                format!(" and {} more", problems.len() - 6)
            } else {
                String::new()
            };
            self.err(
                Diagnostic::error(
                    Code::E0210,
                    other.span,
                    format!(
                        "`{}` does not match this model's columns: {}{more}",
                        other.text,
                        shown.join("; ")
                    ),
                )
                .label("union needs the same columns with compatible types")
                .help("`select` the same columns (cast where types differ) on both sides before `union`"),
            );
            return;
        }
        let mut merged = left.clone();
        for (m, (_, r)) in merged.iter_mut().zip(&right) {
            m.1.nullable |= r.nullable;
        }
        self.set_plain_cols(&merged);
        let mb = self.model_build();
        mb.unique_keys.clear();
        mb.single_row = false;
        mb.push_step(StepIr::Project(left));
        mb.push_step(StepIr::Union(Rel::Project {
            input: Box::new(rel),
            exprs: right,
        }));
        mb.requalify();
    }
}
