//! Sources: declared columns, constraints and keys, measures and dimensions.

use super::*;
use crate::codes::Code;
use crate::delta::{TableError, TableInfo};
use crate::diag::Diagnostic;
use crate::span::Span;
use crate::syntax::ast::{self, Constraint, ExprKind};
use crate::types::Type;
use std::collections::{HashMap, HashSet};
use url::Url;

impl<'a> Checker<'a> {
    pub(super) fn source(&mut self, s: &'a ast::Source, table: Option<&Result<TableInfo, TableError>>) {
        let name = self.canonical_name(&s.name);
        let mut cols: Vec<SrcCol> = vec![];
        let mut members: HashMap<String, Span> = HashMap::new();
        let mut lower_names: HashMap<String, Span> = HashMap::new();
        for c in &s.columns {
            let cname = self.canonical_name(&c.name);
            if self.dup_check(
                &mut members,
                &cname,
                c.name.span,
                "column, join, measure or dimension of a source",
            ) {
                continue;
            }
            if let Some(prev) = lower_names.insert(cname.to_lowercase(), c.name.span) {
                self.err(
                    Diagnostic::error(
                        Code::E0110,
                        c.name.span,
                        format!("`{cname}` differs from another column only by case"),
                    )
                    .label("this column")
                    .with(prev, "and this one")
                    .help("rename one of them; names that differ only by case cannot be told apart safely"),
                );
            }
            let ty = self.type_of(&c.ty);
            let (not_null, mut unique) = c.not_null_and_unique();
            if unique && let Some(t) = ty {
                unique = self.scalar_key(t, c.ty.span(), &format!("`{cname}`"));
            }
            let nullable = !not_null;
            cols.push(SrcCol {
                name: cname,
                ty: ty.unwrap_or(Type::Null),
                nullable,
                unique,
                span: c.name.span,
            });
        }
        let (options, file_col) = self.scan_options(s, &cols, table.and_then(|t| t.as_ref().ok()));
        // the table
        let mut constraints = vec![];
        let (url, version) = match table {
            Some(Ok(info)) => {
                for (c, span) in self.compare_with_table(s, &cols, info) {
                    constraints.push(SourceConstraint {
                        kind: SourceConstraintKind::NotNull(c),
                        span,
                    });
                }
                (info.url.clone(), info.version)
            }
            Some(Err(e)) => {
                let (code, help) = match e {
                    TableError::NotFound(_) => (
                        Code::E0301,
                        "check the path: relative paths start at the workspace root (the entry file's folder)",
                    ),
                    TableError::Unreadable(_) => (
                        Code::E0302,
                        "the Delta log is corrupt or unreadable; check `_delta_log` at this location",
                    ),
                    TableError::VersionNotAvailable(_) => (
                        Code::E0305,
                        "pin a version the log still holds, or remove the pin to read the latest",
                    ),
                    TableError::BadLocation(_) => (
                        Code::E0306,
                        "write a path relative to the workspace root, or a URI such as file:///data/t",
                    ),
                    TableError::Unreachable(_) => (
                        Code::E0310,
                        "check the endpoint, that the bucket or container exists, and the credentials (each cloud's usual environment variables, profile files or instance metadata)",
                    ),
                    TableError::Unsupported(_) => (
                        Code::E0308,
                        "the table's protocol requires a feature the Delta reader does not support; rewrite the table without it",
                    ),
                };
                let span = match (&s.pin, code) {
                    (Some(ast::Pin::Version(_, sp) | ast::Pin::Timestamp(_, sp)), Code::E0305) => *sp,
                    _ => s.location_span,
                };
                self.err(
                    Diagnostic::error(code, span, format!("source `{name}`: {}", e.message()))
                        .label("this table")
                        .help(help),
                );
                (Url::parse("file:///").expect("static URL"), 0)
            }
            // no table read (offline, or an editor's check): the declarations alone
            None => match crate::project::resolve(&self.ws.root, &s.location) {
                Ok(url) => {
                    let version = match &s.pin {
                        Some(ast::Pin::Version(v, _)) => *v,
                        _ => 0,
                    };
                    (url, version)
                }
                Err(e) => {
                    self.err(
                        Diagnostic::error(
                            Code::E0306,
                            s.location_span,
                            format!("source `{name}`: {}", e.message()),
                        )
                        .label("this table")
                        .help("write a path relative to the workspace root, or a URI such as file:///data/t"),
                    );
                    (Url::parse("file:///").expect("static URL"), 0)
                }
            },
        };
        if let Some(fc) = file_col {
            cols.push(fc);
        }
        let mut ir = SourceIr {
            name: name.clone(),
            url,
            version,
            options,
            columns: cols
                .iter()
                .map(|c| Field {
                    name: c.name.clone(),
                    ty: c.ty,
                    nullable: c.nullable,
                })
                .collect(),
            constraints: vec![],
        };
        let mut keys: Vec<Vec<String>> = cols.iter().filter(|c| c.unique).map(|c| vec![c.name.clone()]).collect();
        for c in cols.iter().filter(|c| c.unique) {
            constraints.push(SourceConstraint {
                kind: SourceConstraintKind::Unique(vec![c.name.clone()]),
                span: c.span,
            });
        }
        for k in &s.keys {
            let mut set = vec![];
            for id in k {
                let n = self.canonical_name(id);
                if let Some(c) = cols.iter().find(|c| c.name == n) {
                    let ty = c.ty;
                    self.scalar_key(ty, id.span, &format!("`{n}`"));
                } else {
                    let cands: Vec<String> = cols.iter().map(|c| c.name.clone()).collect();
                    self.unknown_col(id.span, &n, &cands, &name);
                }
                set.push(n);
            }
            if let (Some(first), Some(last)) = (k.first(), k.last()) {
                constraints.push(SourceConstraint {
                    kind: SourceConstraintKind::Unique(set.clone()),
                    span: first.span.to(last.span),
                });
            }
            keys.push(set);
        }
        ir.constraints = constraints;
        let idx = self.sources.len();
        self.source_idx.insert(name.clone(), idx);
        self.sources.push(SrcInfo {
            ast: s,
            name,
            cols,
            keys,
            ir,
            change_data_feed: table.and_then(|t| t.as_ref().ok()).map(|t| t.change_data_feed),
            broken_members: HashSet::new(),
        });
        // joins, measures, dimensions, checks are checked once every source is known
        let _ = members;
    }

    /// Joins, measures, dimensions and checks of every source (after all sources are known).
    pub(super) fn source_members(&mut self, i: usize) {
        let s = self.sources[i].ast;
        let mut names: HashMap<String, Span> = self.sources[i].cols.iter().map(|c| (c.name.clone(), c.span)).collect();
        for j in &s.joins {
            let jn = self.canonical_name(j.name());
            self.dup_check(
                &mut names,
                &jn,
                j.name().span,
                "column, join, measure or dimension of a source",
            );
            self.declared_join(i, j);
        }
        for m in s.measures.iter().chain(&s.dimensions) {
            let n = self.canonical_name(&m.name);
            self.dup_check(
                &mut names,
                &n,
                m.name.span,
                "column, join, measure or dimension of a source",
            );
        }
        // checks and members are validated in a scope made of the source alone
        let saved = self.building.take();
        self.building = Some(ModelBuild {
            cols: self.sources[i].cols_as("t0"),
            base_source: Some(i),
            shaped: true,
            ..ModelBuild::empty()
        });
        let row = Ctx {
            path: vec![],
            source: Some(i),
            alias: Some("t0".into()),
            source_only: true,
            agg: AggMode::Row,
        };
        for c in &s.columns {
            for k in &c.constraints {
                if let Constraint::Check(e, _) = k {
                    let t = self.expr(e, &row);
                    self.want_bool(&t, e.span, "a check");
                    if !t.is_error() && t.ty == Type::Bool {
                        self.sources[i].ir.constraints.push(SourceConstraint {
                            kind: SourceConstraintKind::Check(t),
                            span: e.span,
                        });
                    }
                }
            }
        }
        for m in &s.measures {
            let errors_before = self.diags.len();
            self.measure(s, m, &row);
            self.note_broken(i, &m.name, errors_before);
        }
        for d in &s.dimensions {
            let errors_before = self.diags.len();
            self.expr(&d.expr, &row);
            self.note_broken(i, &d.name, errors_before);
        }
        self.building = saved;
    }

    /// Records a measure or dimension of source `i` as broken when its check reported an error.
    fn note_broken(&mut self, i: usize, name: &ast::Ident, errors_before: usize) {
        if self.diags[errors_before..].iter().any(Diagnostic::is_error) {
            let name = self.canonical_name(name);
            self.sources[i].broken_members.insert(name);
        }
    }

    /// A measure's declaration: an aggregate over the source's rows.
    fn measure(&mut self, s: &ast::Source, m: &ast::NamedDecl, row: &Ctx) {
        let aggregates = self.mentions_aggregate(&m.expr, s) && {
            let t = self.expr(
                &m.expr,
                &Ctx {
                    agg: AggMode::Allowed,
                    ..row.clone()
                },
            );
            t.is_error() || t.contains_agg()
        };
        if !aggregates {
            self.err(
                Diagnostic::error(
                    Code::E0213,
                    m.expr.span,
                    format!("measure `{}` does not aggregate", m.name.text),
                )
                .label("a row-level expression")
                .help("a measure aggregates rows, e.g. `sum(x)`; a per-row expression is a `dimension`"),
            );
        }
    }

    /// Does the expression call an aggregate or name a measure (syntactically)?
    pub(super) fn mentions_aggregate(&self, e: &ast::Expr, s: &ast::Source) -> bool {
        let mut found = false;
        let mut stack = vec![e];
        while let Some(x) = stack.pop() {
            match &x.kind {
                ExprKind::Call(n, args) => {
                    let n = n.text.to_lowercase();
                    found |= self
                        .func_idx
                        .get(&n)
                        .is_some_and(|c| c.iter().any(|&i| self.funcs[i].aggregate));
                    stack.extend(args);
                }
                // a window is a value per row, never a measure's aggregate
                ExprKind::Window(_) => {}
                ExprKind::Path(p) => {
                    found |= p.len() > 1
                        || s.measures
                            .iter()
                            .any(|m| p.len() == 1 && self.canonical_name(&m.name) == self.canonical_name(&p[0]))
                }
                _ => stack.extend(x.children()),
            }
        }
        found
    }
}
