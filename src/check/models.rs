//! Models: their dependency order, the relation they start from, and the build of their steps.

use super::*;
use crate::codes::Code;
use crate::diag::{Diagnostic, did_you_mean};
use crate::span::Span;
use crate::syntax::ast::{self};
use crate::types::Type;

impl<'a> Checker<'a> {
    pub(super) fn model(&mut self, i: usize) {
        match self.models[i].state {
            BuildState::Done | BuildState::InProgress => return,
            BuildState::Todo => {}
        }
        self.models[i].state = BuildState::InProgress;
        let m = self.models[i].ast;
        // an instance whose template did not fit was reported when the workspace loaded
        if m.instance.as_ref().is_some_and(|inst| !inst.expanded) {
            self.models[i].state = BuildState::Done;
            return;
        }
        let saved = self.building.take();
        let before = self.diags.len();
        let built = self.build_model(m);
        if let Some(inst) = &m.instance {
            let hover = format!("**template** `{}`", inst.template.text);
            self.note(
                inst.template.span,
                Some(inst.template_name_span),
                index::RefKind::Model,
                |_| hover,
            );
            // what the template's body got wrong here is shown at the instance too
            let within = |s: Span| {
                s.file == inst.template_span.file
                    && inst.template_span.start <= s.start
                    && s.end <= inst.template_span.end
            };
            for d in &mut self.diags[before..] {
                if within(d.primary.span) {
                    *d = d.clone().with(
                        inst.span,
                        format!("in `{}`, made from template `{}`", m.name.text, inst.template.text),
                    );
                }
            }
        }
        self.building = saved;
        self.models[i].done = built;
        self.models[i].state = BuildState::Done;
    }

    pub(super) fn model_build(&mut self) -> &mut ModelBuild {
        // only called while a model (or a source's members) is being checked; a fresh
        // build keeps any other caller safe
        self.building.get_or_insert_with(ModelBuild::empty)
    }

    /// Makes sure model `mi` is checked; reports a cycle if it is being checked right now.
    pub(super) fn model_dep(&mut self, mi: usize, span: Span) -> Option<ModelIr> {
        if self.models[mi].state == BuildState::InProgress {
            let name = self.models[mi].name.clone();
            self.err(
                Diagnostic::error(Code::E0112, span, format!("model `{name}` depends on itself"))
                    .label("this reference closes the cycle")
                    .with(self.models[mi].ast.name.span, "declared here")
                    .help("models form a graph without cycles: read from a source or an earlier model"),
            );
            return None;
        }
        self.model(mi);
        self.models[mi].done.clone()
    }

    /// A relation named in `from`, `join` or `union`.
    pub(super) fn relation(&mut self, id: &ast::Ident, alias: &str) -> Option<Relation> {
        let n = self.canonical_name(id);
        self.note_relation(id);
        if let Some(&si) = self.source_idx.get(&n) {
            let s = &self.sources[si];
            let cols = s.cols_as(alias);
            let keys = s.keys.clone();
            return Some(Relation {
                rel: Rel::Scan {
                    source: si,
                    alias: alias.into(),
                },
                cols,
                source: Some(si),
                keys,
            });
        }
        if let Some(&mi) = self.model_idx.get(&n) {
            let m = self.model_dep(mi, id.span)?;
            let cols = m
                .schema
                .iter()
                .map(|f| Col {
                    name: f.name.clone(),
                    ty: f.ty,
                    nullable: f.nullable,
                    qual: Some(alias.into()),
                })
                .collect();
            return Some(Relation {
                rel: Rel::ModelRef {
                    model: mi,
                    alias: alias.into(),
                },
                cols,
                source: None,
                keys: m.unique_keys.clone(),
            });
        }
        let names: Vec<&str> = self
            .source_idx
            .keys()
            .chain(self.model_idx.keys())
            .map(String::as_str)
            .collect();
        let help = did_you_mean(&n, names).unwrap_or_else(|| "declare it, or import the file that does".into());
        self.err(
            Diagnostic::error(Code::E0103, id.span, format!("unknown source or model `{n}`"))
                .label("not declared")
                .help(help),
        );
        None
    }

    pub(super) fn build_model(&mut self, m: &'a ast::Model) -> Option<ModelIr> {
        let errors_before = self.diags.len();
        let name = self.canonical_name(&m.name);
        let Relation {
            rel: base,
            cols,
            source: base_source,
            keys,
        } = self.relation(&m.from, "t0")?;
        let single_row = self
            .model_idx
            .get(&self.canonical_name(&m.from))
            .and_then(|&i| self.models[i].done.as_ref())
            .is_some_and(|m| m.single_row);
        self.building = Some(ModelBuild {
            cols,
            base_source,
            shaped: base_source.is_some(),
            unique_keys: keys,
            single_row,
            ..ModelBuild::empty()
        });
        for step in &m.steps {
            if let Some(allow) = &self.policy.allow {
                let kw = step.kind.keyword();
                if !allow.iter().any(|a| a == kw) {
                    self.err(
                        Diagnostic::error(
                            Code::E0108,
                            step.keyword_span,
                            format!("the policy does not allow `{kw}`"),
                        )
                        .label("not in the policy's `allow` list")
                        .help(format!(
                            "add `{kw}` to `allow` in the policy, or express the model without it"
                        )),
                    );
                    continue;
                }
            }
            self.step(step);
        }
        // contract
        let mut contract = vec![];
        if let Some(c) = &m.contract {
            contract = self.contract(&name, m, c);
        }
        // (an error node also has no type: only report when this model had no other error)
        let had_errors = self.diags[errors_before..].iter().any(Diagnostic::is_error)
            || self.building.as_ref().is_some_and(|b| b.poisoned);
        for c in self.model_build().cols.clone() {
            if c.ty == Type::Null && !had_errors {
                self.err(
                    Diagnostic::error(
                        Code::E0220,
                        m.name.span,
                        format!("column `{}` of model `{name}` is always null and has no type", c.name),
                    )
                    .label("this model")
                    .help(format!("give it a type: `{} = cast(null as string)`", c.name)),
                );
            }
        }
        let mb = self.building.take()?;
        if had_errors {
            // a model with an error gives nothing to read: models built on it stay silent
            // instead of reporting what follows from its error
            return None;
        }
        let schema: Vec<Field> = mb
            .cols
            .iter()
            .map(|c| Field {
                name: c.name.clone(),
                ty: c.ty,
                nullable: c.nullable,
            })
            .collect();
        // assemble: base, path joins, steps, final projection to the visible columns
        let mut rel = base;
        for p in join_order(&mb.paths, &mb.steps) {
            let right = Rel::Scan {
                source: p.source,
                alias: p.alias.clone(),
            };
            rel = Rel::Join {
                left: Box::new(rel),
                right: Box::new(right),
                kind: if p.unique { JoinKind::LeftUnique } else { JoinKind::Left },
                on: p.on.clone(),
                filter: None,
            };
        }
        for s in mb.steps {
            let input = Box::new(rel);
            rel = match s {
                StepIr::Filter(p) => Rel::Filter { input, predicate: p },
                StepIr::Project(e) => Rel::Project { input, exprs: e },
                StepIr::Derive(alias, e) => Rel::Derive { input, alias, exprs: e },
                StepIr::Alias(alias) => Rel::Alias { input, alias },
                StepIr::Join(right, kind, on, filter) => Rel::Join {
                    left: input,
                    right: Box::new(right),
                    kind,
                    on,
                    filter,
                },
                StepIr::Aggregate(g, a) => Rel::Aggregate {
                    input,
                    groups: g,
                    aggs: a,
                },
                StepIr::Sort(k) => Rel::Sort { input, keys: k },
                StepIr::Limit(n) => Rel::Limit { input, n },
                StepIr::Distinct => Rel::Distinct { input },
                StepIr::Closure(spec) => Rel::Closure { input, spec },
                StepIr::Unnest(alias, spec) => Rel::Unnest { input, alias, spec },
                StepIr::Union(r) => Rel::Union {
                    left: input,
                    right: Box::new(r),
                },
            };
        }
        let exprs = mb
            .cols
            .iter()
            .map(|c| {
                let target = contract
                    .iter()
                    .find(|k: &&ContractColumn| k.field.name == c.name)
                    .map(|k| k.field.ty)
                    .unwrap_or(c.ty);
                let col = texpr(
                    TExprKind::Col {
                        qual: c.qual.clone(),
                        name: c.name.clone(),
                    },
                    c.ty,
                    c.nullable,
                );
                let e = if target != c.ty {
                    texpr(TExprKind::Cast(Box::new(col), target), target, c.nullable)
                } else {
                    col
                };
                (c.name.clone(), e)
            })
            .collect();
        rel = Rel::Project {
            input: Box::new(rel),
            exprs,
        };
        // joins to a unique target whose columns nothing reads, and unread derives, go
        let rel = rel.drop_unused();
        let schema: Vec<Field> = schema
            .into_iter()
            .map(|f| {
                let ty = contract
                    .iter()
                    .find(|k| k.field.name == f.name)
                    .map(|k| k.field.ty)
                    .unwrap_or(f.ty);
                Field { ty, ..f }
            })
            .collect();
        let mut unique_keys = mb.unique_keys;
        unique_keys.extend(contract.iter().filter(|c| c.unique).map(|c| vec![c.field.name.clone()]));
        let incremental = m
            .incremental
            .and_then(|sp| self.incremental(m, sp, base_source, &rel, mb.first_window));
        // a single-column key of the source that reaches the output unchanged
        let incremental_key = incremental.and_then(|si| {
            schema.iter().find_map(|f: &Field| {
                let (s, col) = rel.origin(None, &f.name)?;
                (s == si && self.sources[si].keys.iter().any(|k| k.len() == 1 && k[0] == col))
                    .then(|| (col, f.name.clone()))
            })
        });
        Some(ModelIr {
            name,
            rel,
            schema,
            contract,
            unique_keys,
            single_row: mb.single_row,
            key_claims: mb.key_claims,
            incremental,
            incremental_key,
        })
    }
}
