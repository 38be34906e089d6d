//! Names and dotted paths: columns, join paths, scalar models, measures and dimensions.

use super::*;
use crate::codes::Code;
use crate::diag::{Diagnostic, did_you_mean};
use crate::span::Span;
use crate::syntax::ast::{self, Cardinality};

impl<'a> Checker<'a> {
    pub(super) fn path(&mut self, parts: &[ast::Ident], span: Span, cx: &Ctx) -> TExpr {
        if parts.len() == 1 {
            return self.name(&parts[0], span, cx);
        }
        if let Some(t) = self.struct_path(parts, cx) {
            return t;
        }
        if let Some(frame) = self.fn_frames.last() {
            let function = frame.function.clone();
            self.err(
                Diagnostic::error(Code::E0102, span, format!("a path in the body of `{function}`"))
                    .label("not a parameter")
                    .help(
                        "a function reads only its parameters: pass the column as an argument (`f(customer.c_name)`)",
                    ),
            );
            return ty_err();
        }
        let first = self.canonical_name(&parts[0]);
        if cx.path.is_empty()
            && !cx.source_only
            && let Some(ad) = self
                .building
                .as_ref()
                .and_then(|m| m.adhoc.iter().find(|a| a.name == first))
                .cloned()
        {
            if parts.len() != 2 {
                self.err(
                    Diagnostic::error(
                        Code::E0106,
                        span,
                        format!("`{first}` is joined in this model: name its columns as `{first}.column`"),
                    )
                    .label("path too long")
                    .help("paths through declared joins start at the model's source"),
                );
                return ty_err();
            }
            let n = self.canonical_name(&parts[1]);
            return match ad.cols.iter().find(|c| c.name == n) {
                Some(c) => {
                    if cx.agg == AggMode::Allowed {
                        return self.bare_column(&n, span);
                    }
                    texpr(
                        TExprKind::Col {
                            qual: Some(ad.alias.clone()),
                            name: n,
                        },
                        c.ty,
                        true,
                    )
                }
                None => {
                    let cands: Vec<String> = ad.cols.iter().map(|c| c.name.clone()).collect();
                    self.unknown_col(parts[1].span, &n, &cands, &first);
                    ty_err()
                }
            };
        }
        let shaped = self.building.as_ref().is_some_and(|m| m.shaped);
        if parts.len() == 2 && !cx.source_only {
            let is_join = cx.source.filter(|_| shaped).is_some_and(|s| {
                self.sources[s]
                    .ast
                    .joins
                    .iter()
                    .any(|j| self.canonical_name(j.name()) == first)
            });
            if !is_join && let Some(&mi) = self.model_idx.get(&first) {
                return self.scalar_ref(mi, &parts[1], span, cx);
            }
        }
        let Some(src) = cx.source.filter(|_| shaped || cx.source_only) else {
            let help = if self.building.as_ref().is_some_and(|m| m.base_source.is_some()) {
                "paths through declared joins are available before `select`, `aggregate`, `distinct` and `union`; use them earlier".to_string()
            } else {
                "this model reads from a model, which has no declared joins; add a `join` step".to_string()
            };
            self.err(
                Diagnostic::error(Code::E0106, parts[0].span, format!("`{first}` is not a join here"))
                    .label("no such join in scope")
                    .help(help),
            );
            return ty_err();
        };
        let mut path = cx.path.clone();
        let mut cur_src = src;
        let mut alias = cx.alias.clone().unwrap_or_default();
        let mut nullable_hop = false;
        for (at, part) in parts[..parts.len() - 1].iter().enumerate() {
            let pn = self.canonical_name(part);
            let join = self.sources[cur_src]
                .ast
                .joins
                .iter()
                .find(|j| self.canonical_name(j.name()) == pn);
            // `customer.address.city`: a struct column of the source reached, then its fields
            if join.is_none()
                && self.sources[cur_src]
                    .cols
                    .iter()
                    .any(|c| c.name == pn && matches!(c.ty, Type::Struct(_)))
            {
                let inner = Ctx {
                    path: path.clone(),
                    source: Some(cur_src),
                    alias: Some(alias.clone()),
                    source_only: true,
                    agg: cx.agg,
                };
                let base = self.name(part, part.span, &inner);
                let t = self.fields(base, &parts[at + 1..]);
                return TExpr {
                    nullable: t.nullable || nullable_hop,
                    ..t
                };
            }
            let Some(j) = join else {
                let names: Vec<String> = self.sources[cur_src]
                    .ast
                    .joins
                    .iter()
                    .map(|j| self.canonical_name(j.name()))
                    .collect();
                let sname = self.sources[cur_src].name.clone();
                let is_col = self.sources[cur_src].cols.iter().any(|c| c.name == pn);
                let help = if is_col {
                    format!("`{pn}` is a column of `{sname}`, not a join")
                } else {
                    did_you_mean(&pn, names.iter().map(String::as_str)).unwrap_or_else(|| {
                        if names.is_empty() {
                            format!("`{sname}` declares no joins")
                        } else {
                            format!("joins of `{sname}`: {}", names.join(", "))
                        }
                    })
                };
                self.err(
                    Diagnostic::error(Code::E0106, part.span, format!("`{sname}` has no join `{pn}`"))
                        .label("unknown join")
                        .help(help),
                );
                return ty_err();
            };
            let target = self.source_idx.get(&self.canonical_name(&j.target)).copied();
            // a join named by its target goes to the target's declaration, an alias to the join
            let def = match target {
                Some(t) if j.name().span == j.target.span => self.sources[t].ast.name.span,
                _ => j.name().span,
            };
            self.note(part.span, Some(def), index::RefKind::Join, |c| c.join_hover(cur_src, j));
            let Some(target) = target else {
                return ty_err();
            };
            path.push(pn);
            alias = self.path_join(&path, cur_src, &alias, j, target);
            cur_src = target;
            nullable_hop = true;
        }
        let t = self.name(
            &parts[parts.len() - 1],
            span,
            &Ctx {
                path,
                source: Some(cur_src),
                alias: Some(alias),
                source_only: true,
                agg: cx.agg,
            },
        );
        if nullable_hop && !t.contains_agg() {
            // left joins: a row without a match reads nulls
            TExpr { nullable: true, ..t }
        } else {
            t
        }
    }

    /// `s.f…` where `s` is a struct column (or a function's parameter) in scope: its fields.
    /// None when the first name is not a struct; a join of the same name is ambiguous (E0106).
    fn struct_path(&mut self, parts: &[ast::Ident], cx: &Ctx) -> Option<TExpr> {
        let first = self.canonical_name(&parts[0]);
        let param = self
            .fn_frames
            .last()
            .and_then(|f| f.params.iter().find(|(n, _)| *n == first))
            .map(|(_, t)| t.ty);
        let column = if cx.source_only {
            cx.source
                .and_then(|s| self.sources[s].cols.iter().find(|c| c.name == first))
                .map(|c| c.ty)
        } else {
            self.building
                .as_ref()
                .and_then(|m| m.cols.iter().find(|c| c.name == first))
                .map(|c| c.ty)
        };
        if !matches!(param.or(column)?, Type::Struct(_)) {
            return None;
        }
        let shaped = self.building.as_ref().is_some_and(|m| m.shaped);
        let adhoc = !cx.source_only
            && self
                .building
                .as_ref()
                .is_some_and(|m| m.adhoc.iter().any(|a| a.name == first));
        let declared = param.is_none()
            && cx.source.filter(|_| shaped || cx.source_only).is_some_and(|s| {
                self.sources[s]
                    .ast
                    .joins
                    .iter()
                    .any(|j| self.canonical_name(j.name()) == first)
            });
        if adhoc || declared {
            self.err(
                Diagnostic::error(
                    Code::E0106,
                    parts[0].span,
                    format!("`{first}` is both a join and a struct column here"),
                )
                .label("ambiguous")
                .help(format!(
                    "give the join another name (`join … as {first}_j`) or the column (`select {{ {first}_s = {first} }}`)"
                )),
            );
            return Some(ty_err());
        }
        let base = self.name(&parts[0], parts[0].span, cx);
        Some(self.fields(base, &parts[1..]))
    }

    /// Registers (or finds) the join for `path`, reached from `parent_alias` (a row of `from`).
    pub(super) fn path_join(
        &mut self,
        path: &[String],
        from: usize,
        parent_alias: &str,
        j: &ast::JoinDecl,
        target: usize,
    ) -> String {
        if let Some(p) = self
            .building
            .as_ref()
            .and_then(|m| m.paths.iter().find(|p| p.path == path))
        {
            return p.alias.clone();
        }
        let alias = self.model_build().fresh_alias();
        let (pf, pr) = self
            .building
            .as_ref()
            .and_then(|m| m.paths.iter().find(|p| p.path == path[..path.len() - 1]))
            .map(|p| (p.fans_out, p.repeated))
            .unwrap_or((false, false));
        let jn = self.canonical_name(j.name());
        let tn = self.sources[target].name.clone();
        let mut on = vec![];
        for (a, b) in &j.on {
            let (l, r) = self.key_sides_quiet(a, b, &jn, &tn);
            let (Some(l), Some(r)) = (l, r) else { continue };
            let ln = self.canonical_name(l);
            let rn = self.canonical_name(r);
            let lc = self.sources[from]
                .cols
                .iter()
                .find(|c| c.name == ln)
                .map(|c| (c.ty, c.nullable));
            let rc = self.sources[target]
                .cols
                .iter()
                .find(|c| c.name == rn)
                .map(|c| (c.ty, c.nullable));
            if let (Some(lc), Some(rc)) = (lc, rc) {
                on.push((
                    texpr(
                        TExprKind::Col {
                            qual: Some(parent_alias.to_string()),
                            name: ln,
                        },
                        lc.0,
                        lc.1,
                    ),
                    texpr(
                        TExprKind::Col {
                            qual: Some(alias.clone()),
                            name: rn,
                        },
                        rc.0,
                        rc.1,
                    ),
                ));
            }
        }
        if matches!(j.cardinality, Cardinality::ManyToOne | Cardinality::OneToOne) && !on.is_empty() {
            let columns = on
                .iter()
                .filter_map(|(_, r)| r.column_name().map(String::from))
                .collect();
            let fks = on
                .iter()
                .filter_map(|(l, _)| l.column_name().map(String::from))
                .collect();
            self.model_build().key_claims.push(KeyClaim {
                source: target,
                columns,
                span: j.span,
                from: Some((from, fks)),
            });
        }
        let unique = matches!(j.cardinality, Cardinality::ManyToOne | Cardinality::OneToOne) && !on.is_empty();
        let pj = PathJoin {
            path: path.to_vec(),
            alias: alias.clone(),
            source: target,
            on,
            fans_out: pf || j.cardinality == Cardinality::OneToMany,
            repeated: pr || j.cardinality == Cardinality::ManyToOne,
            join_span: j.span,
            unique,
        };
        let mb = self.model_build();
        if pj.fans_out {
            mb.unique_keys.clear();
        }
        mb.paths.push(pj);
        alias
    }

    /// `model.column` where the model has at most one row: joined in as a scalar.
    pub(super) fn scalar_ref(&mut self, mi: usize, col: &ast::Ident, span: Span, cx: &Ctx) -> TExpr {
        let Some(m) = self.model_dep(mi, span) else {
            return ty_err();
        };
        if !m.single_row {
            self.err(
                Diagnostic::error(Code::E0217, span, format!("model `{}` is not a single row", m.name))
                    .label("used as a scalar")
                    .help(format!("only a model that ends in an `aggregate` without `group by` is a scalar; join `{}` with a `join` step instead", m.name)),
            );
            return ty_err();
        }
        let n = self.canonical_name(col);
        let Some(f) = m.schema.iter().find(|f| f.name == n) else {
            let cands: Vec<String> = m.schema.iter().map(|f| f.name.clone()).collect();
            self.unknown_col(col.span, &n, &cands, &m.name);
            return ty_err();
        };
        if cx.agg == AggMode::Allowed {
            return self.bare_column(&format!("{}.{n}", m.name), span);
        }
        let mb = self.model_build();
        let alias = match mb.scalars.iter().find(|(x, _)| *x == mi) {
            Some((_, a)) => a.clone(),
            None => {
                let a = mb.fresh_alias();
                mb.scalars.push((mi, a.clone()));
                mb.pending_scalars.push((mi, a.clone()));
                a
            }
        };
        texpr(
            TExprKind::Col {
                qual: Some(alias),
                name: n,
            },
            f.ty,
            true,
        )
    }

    pub(super) fn bare_column(&mut self, name: &str, span: Span) -> TExpr {
        self.err(
            Diagnostic::error(
                Code::E0208,
                span,
                format!("column `{name}` is used without an aggregate"),
            )
            .label("not aggregated")
            .help(format!(
                "aggregate it (e.g. `max({name})`) or make it a group key: `group by {name}`"
            )),
        );
        ty_err()
    }

    pub(super) fn name(&mut self, id: &ast::Ident, span: Span, cx: &Ctx) -> TExpr {
        if let Some(param) = self.parameter(id) {
            return param;
        }
        let n = self.canonical_name(id);
        // columns
        let col = if cx.source_only {
            cx.source
                .and_then(|s| self.sources[s].cols.iter().find(|c| c.name == n))
                .map(|c| Col {
                    name: c.name.clone(),
                    ty: c.ty,
                    nullable: c.nullable,
                    qual: cx.alias.clone(),
                })
        } else {
            self.building
                .as_ref()
                .and_then(|m| m.cols.iter().find(|c| c.name == n).cloned())
        };
        if let Some(c) = col {
            let from_source = if cx.source_only { cx.source } else { None };
            self.note_column_use(id.span, &n, c.ty, c.nullable, from_source);
            if cx.agg == AggMode::Allowed {
                return self.bare_column(&n, span);
            }
            return texpr(
                TExprKind::Col {
                    qual: c.qual,
                    name: c.name,
                },
                c.ty,
                c.nullable,
            );
        }
        // dimensions and measures of the source in scope
        let shaped = self.building.as_ref().is_some_and(|m| m.shaped);
        if let Some(src) = cx.source.filter(|_| shaped || cx.source_only) {
            let s = self.sources[src].ast;
            if self.sources[src].broken_members.contains(&n) {
                // its declaration's error was reported there: this model is in error, silently
                self.model_build().poisoned = true;
                return ty_err();
            }
            let key = format!("{}.{}", self.sources[src].name, n);
            let inner = Ctx {
                source_only: true,
                ..cx.clone()
            };
            if let Some(d) = s.dimensions.iter().find(|d| self.canonical_name(&d.name) == n) {
                self.note(id.span, Some(d.name.span), index::RefKind::Dimension, |c| {
                    c.member_hover(src, d, "dimension")
                });
                if self.building.as_ref().is_some_and(|m| m.expanding.contains(&key)) {
                    self.err(
                        Diagnostic::error(Code::E0213, span, format!("dimension `{n}` refers to itself"))
                            .label("cycle")
                            .with(d.name.span, "declared here")
                            .help("a dimension is defined by columns and other dimensions, without cycles"),
                    );
                    return ty_err();
                }
                self.model_build().expanding.push(key);
                let t = self.expr(&d.expr, &inner);
                self.model_build().expanding.pop();
                return t;
            }
            if let Some(m) = s.measures.iter().find(|m| self.canonical_name(&m.name) == n) {
                self.note(id.span, Some(m.name.span), index::RefKind::Measure, |c| {
                    c.member_hover(src, m, "measure")
                });
                if cx.agg != AggMode::Allowed {
                    self.err(
                        Diagnostic::error(
                            Code::E0207,
                            span,
                            format!("measure `{n}` is an aggregate and cannot be used here"),
                        )
                        .label(if cx.agg == AggMode::Inside {
                            "inside another aggregate"
                        } else {
                            "row-level position"
                        })
                        .with(m.name.span, "declared here")
                        .help("use measures inside `aggregate { }`; filter aggregated rows with a `where` after it"),
                    );
                    return ty_err();
                }
                if self.building.as_ref().is_some_and(|m| m.expanding.contains(&key)) {
                    self.err(
                        Diagnostic::error(Code::E0213, span, format!("measure `{n}` refers to itself"))
                            .label("cycle")
                            .with(m.name.span, "declared here")
                            .help("a measure is defined by aggregates and other measures, without cycles"),
                    );
                    return ty_err();
                }
                self.model_build().expanding.push(key);
                let before = self.building.as_ref().map(|m| m.pending.len()).unwrap_or(0);
                let t = self.expr(&m.expr, &inner);
                // report fan-out at the use, not inside the declaration
                if let Some(mb) = self.building.as_mut() {
                    for p in &mut mb.pending[before..] {
                        p.span = span;
                        p.measure = Some(n.clone());
                    }
                    mb.expanding.pop();
                }
                return t;
            }
        }
        // unknown
        let mut cands: Vec<String> = vec![];
        if cx.source_only {
            if let Some(s) = cx.source {
                cands.extend(self.sources[s].cols.iter().map(|c| c.name.clone()));
            }
        } else if let Some(m) = &self.building {
            cands.extend(m.cols.iter().map(|c| c.name.clone()));
        }
        if let Some(src) = cx.source.filter(|_| shaped || cx.source_only) {
            let s = self.sources[src].ast;
            cands.extend(
                s.dimensions
                    .iter()
                    .chain(&s.measures)
                    .map(|d| self.canonical_name(&d.name)),
            );
        }
        let where_ = match (cx.source_only, cx.source) {
            (true, Some(s)) => format!(" in `{}`", self.sources[s].name),
            _ => String::new(),
        };
        let mut d = Diagnostic::error(Code::E0102, id.span, format!("unknown name `{n}`{where_}")).label("not found");
        let is_join = cx.source.is_some_and(|s| {
            self.sources[s]
                .ast
                .joins
                .iter()
                .any(|j| self.canonical_name(j.name()) == n)
        });
        d = d.help(if is_join {
            format!("`{n}` is a join: name one of its columns, e.g. `{n}.column`")
        } else {
            did_you_mean(&n, cands.iter().map(String::as_str)).unwrap_or_else(|| {
                if cands.is_empty() {
                    "nothing is in scope here".to_string()
                } else {
                    format!(
                        "in scope: {}",
                        cands.iter().take(12).cloned().collect::<Vec<_>>().join(", ")
                    )
                }
            })
        });
        self.err(d);
        ty_err()
    }
}
