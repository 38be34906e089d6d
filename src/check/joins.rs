//! Declared joins on sources: key pairs, their types, and the uniqueness a cardinality needs.

use super::*;
use crate::codes::Code;
use crate::diag::{Diagnostic, did_you_mean};
use crate::span::Span;
use crate::syntax::ast::{self, Cardinality, ExprKind};
use crate::types::Type;

impl<'a> Checker<'a> {
    pub(super) fn declared_join(&mut self, i: usize, j: &ast::JoinDecl) {
        let target_name = self.canonical_name(&j.target);
        let Some(&t) = self.source_idx.get(&target_name) else {
            let mut d = Diagnostic::error(Code::E0103, j.target.span, format!("unknown source `{target_name}`"))
                .label("no such source");
            let models_hint = self.model_idx.contains_key(&target_name);
            d = d.help(if models_hint {
                "a source declares joins to sources; join a model with a `join` step inside a model".to_string()
            } else {
                did_you_mean(&target_name, self.source_idx.keys().map(String::as_str))
                    .unwrap_or_else(|| "declare the source, or import the file that does".into())
            });
            self.err(d);
            return;
        };
        let jn = self.canonical_name(j.name());
        for (a, b) in &j.on {
            let (l, r) = self.key_sides(a, b, &jn, &target_name);
            let (Some(l), Some(r)) = (l, r) else { continue };
            let lc = self.source_col(i, l);
            let rc = self.source_col(t, r);
            match (lc, rc) {
                (None, _) => {
                    let cands: Vec<String> = self.sources[i].cols.iter().map(|c| c.name.clone()).collect();
                    let name = self.canonical_name(l);
                    self.unknown_col(l.span, &name, &cands, &self.sources[i].name.clone());
                }
                (_, None) => {
                    let cands: Vec<String> = self.sources[t].cols.iter().map(|c| c.name.clone()).collect();
                    let name = self.canonical_name(r);
                    self.unknown_col(r.span, &name, &cands, &target_name);
                }
                (Some((lt, _)), Some((rt, _))) => {
                    if self.scalar_key(lt, a.span, "this join key")
                        && (Type::unify(lt, rt).is_none() || lt.family() != rt.family())
                    {
                        self.err(
                            Diagnostic::error(
                                Code::E0204,
                                a.span.to(b.span),
                                format!("join keys have different types: {lt} and {rt}"),
                            )
                            .label("compared here")
                            .with(a.span, format!("{lt}"))
                            .with(b.span, format!("{rt}"))
                            .help("join keys must have the same type family; cast one side in a model"),
                        );
                    }
                }
            }
        }
        if matches!(j.cardinality, Cardinality::ManyToOne | Cardinality::OneToOne) {
            let target_cols: Vec<String> =
                j.on.iter()
                    .filter_map(|(a, b)| {
                        self.key_sides_quiet(a, b, &jn, &target_name)
                            .1
                            .map(|r| self.canonical_name(r))
                    })
                    .collect();
            let target_unique = self.sources[t]
                .keys
                .iter()
                .any(|k| !k.is_empty() && k.iter().all(|c| target_cols.contains(c)));
            let all_resolved = j.on.iter().all(|(a, b)| {
                let (l, r) = self.key_sides_quiet(a, b, &jn, &target_name);
                l.and_then(|l| self.source_col(i, l)).is_some() && r.and_then(|r| self.source_col(t, r)).is_some()
            });
            if all_resolved && !target_unique && !j.on.is_empty() {
                self.err(
                    Diagnostic::error(
                        Code::E0205,
                        j.cardinality_span,
                        format!(
                            "`{}` join to `{target_name}` on columns that are not unique there",
                            j.cardinality.as_str()
                        ),
                    )
                    .label(format!("{} needs a unique target", j.cardinality.as_str()))
                    .with(j.on[0].1.span, "not declared `key` or `unique`")
                    .help(format!(
                        "declare the target column `key` or `unique` in `{target_name}`, or make the join `one_to_many`"
                    )),
                );
            }
        }
    }

    /// Splits a key pair into (this side's column, target side's column).
    pub(super) fn key_sides<'e>(
        &mut self,
        a: &'e ast::Expr,
        b: &'e ast::Expr,
        join_name: &str,
        target: &str,
    ) -> (Option<&'e ast::Ident>, Option<&'e ast::Ident>) {
        let r = self.key_sides_quiet(a, b, join_name, target);
        if r.0.is_none() || r.1.is_none() {
            self.err(
                Diagnostic::error(
                    Code::E0214,
                    a.span.to(b.span),
                    "a join key pair compares a column of this source with a column of the target",
                )
                .label("cannot tell which side is the target")
                .help(format!("write `column = {join_name}.column`")),
            );
        }
        r
    }

    pub(super) fn key_sides_quiet<'e>(
        &self,
        a: &'e ast::Expr,
        b: &'e ast::Expr,
        join_name: &str,
        target: &str,
    ) -> (Option<&'e ast::Ident>, Option<&'e ast::Ident>) {
        let parts = |e: &'e ast::Expr| match &e.kind {
            ExprKind::Path(p) => Some(p),
            _ => None,
        };
        let (Some(pa), Some(pb)) = (parts(a), parts(b)) else {
            return (None, None);
        };
        let is_target = |p: &[ast::Ident]| {
            p.len() == 2 && (self.canonical_name(&p[0]) == join_name || self.canonical_name(&p[0]) == target)
        };
        if pa.len() == 1 && is_target(pb) {
            (Some(&pa[0]), Some(&pb[1]))
        } else if pb.len() == 1 && is_target(pa) {
            (Some(&pb[0]), Some(&pa[1]))
        } else {
            (None, None)
        }
    }

    pub(super) fn source_col(&self, i: usize, id: &ast::Ident) -> Option<(Type, bool)> {
        let n = self.canonical_name(id);
        self.sources[i]
            .cols
            .iter()
            .find(|c| c.name == n)
            .map(|c| (c.ty, c.unique))
    }

    pub(super) fn unknown_col(&mut self, span: Span, name: &str, candidates: &[String], rel: &str) {
        let mut d =
            Diagnostic::error(Code::E0102, span, format!("unknown column `{name}` in `{rel}`")).label("not found");
        let h = did_you_mean(name, candidates.iter().map(String::as_str)).unwrap_or_else(|| {
            if candidates.is_empty() {
                format!("`{rel}` has no columns here")
            } else {
                format!(
                    "columns here: {}",
                    candidates.iter().take(12).cloned().collect::<Vec<_>>().join(", ")
                )
            }
        });
        d = d.help(h);
        self.err(d);
    }
}
