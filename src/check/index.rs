//! What an editor asks of a checked workspace: at each name, what it is (hover text) and
//! where it is declared (definition, references). The checker records it as it resolves
//! names, so the editor sees exactly what the checker saw; the command line does not pay for it.

use super::*;
use crate::span::FileId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Source,
    Model,
    Column,
    Measure,
    Dimension,
    Join,
    Function,
    /// A `type` alias.
    Type,
}

/// One name in the text: a declaration (`def == Some(span)`) or a use of one.
#[derive(Debug, Clone)]
pub struct Ref {
    pub span: Span,
    /// The name it resolves to (None: nothing to go to, e.g. a standard-library function).
    pub def: Option<Span>,
    pub kind: RefKind,
    /// Markdown.
    pub hover: String,
}

/// Every resolved name of a workspace.
#[derive(Debug, Default, Clone)]
pub struct Index {
    pub refs: Vec<Ref>,
    /// Each model that was built: its columns as (name, type).
    pub models: HashMap<String, Vec<(String, String)>>,
}

impl Index {
    /// The innermost name at `offset` in `file`.
    pub fn at(&self, file: FileId, offset: usize) -> Option<&Ref> {
        self.refs
            .iter()
            .filter(|r| r.span.file == file && (r.span.start as usize) <= offset && offset <= r.span.end as usize)
            .min_by_key(|r| r.span.len())
    }

    /// The declaration and every use of what `def` declares, each once, in text order.
    pub fn references(&self, def: Span) -> Vec<Span> {
        let mut out: Vec<Span> = self
            .refs
            .iter()
            .filter(|r| r.def == Some(def))
            .map(|r| r.span)
            .collect();
        out.sort_by_key(|s| (s.file, s.start));
        out.dedup();
        out
    }
}

/// Runs the checker and records every name it resolves.
pub fn check_indexed(
    ws: &Workspace,
    tables: &Tables,
    functions: Vec<Signature>,
) -> (Option<Program>, Vec<Diagnostic>, Index) {
    let mut c = Checker::new(ws, functions);
    c.index = Some(Index::default());
    c.run(tables);
    c.index_models();
    let mut index = c.index.take().unwrap_or_default();
    let (program, diags) = c.finish();
    if let Some(p) = &program {
        add_lineage(&mut index, p, ws);
    }
    (program, diags, index)
}

/// A model's hover lists, per column, the source columns it is computed from.
fn add_lineage(index: &mut Index, program: &Program, ws: &Workspace) {
    let by_name: HashMap<Span, usize> = ws
        .files
        .iter()
        .flat_map(|(_, f)| &f.items)
        .filter_map(|i| match i {
            ast::Item::Model(m) => Some(m.name.span),
            _ => None,
        })
        .zip(0..)
        .collect();
    for r in &mut index.refs {
        let Some(&mi) = r.def.filter(|_| r.kind == RefKind::Model).and_then(|d| by_name.get(&d)) else {
            continue;
        };
        let Some(m) = program.models.get(mi) else { continue };
        let lines: Vec<String> = m
            .schema
            .iter()
            .map(|f| {
                let from = program.lineage_names(mi, &f.name);
                format!(
                    "- `{}` ← {}",
                    f.name,
                    if from.is_empty() {
                        "no column".into()
                    } else {
                        from.join(", ")
                    }
                )
            })
            .collect();
        r.hover.push_str(&format!("\n\ncomputed from:\n{}", lines.join("\n")));
    }
}

fn doc_suffix(doc: &Option<String>) -> String {
    doc.as_ref().map(|d| format!("\n\n{d}")).unwrap_or_default()
}

fn field_table(fields: &[Field]) -> String {
    let rows: Vec<String> = fields
        .iter()
        .map(|f| {
            format!(
                "| `{}` | {} | {} |",
                f.name,
                f.ty,
                if f.nullable { "null" } else { "not null" }
            )
        })
        .collect();
    format!("| column | type | |\n|---|---|---|\n{}", rows.join("\n"))
}

impl Checker<'_> {
    /// Records a name when an editor asked for the index; `hover` is only built then.
    pub(super) fn note(&mut self, span: Span, def: Option<Span>, kind: RefKind, hover: impl FnOnce(&Self) -> String) {
        if self.index.is_none() || span.is_empty() {
            return;
        }
        let hover = hover(self);
        if let Some(index) = self.index.as_mut() {
            index.refs.push(Ref { span, def, kind, hover });
        }
    }

    pub(super) fn text_of(&self, span: Span) -> &str {
        self.ws.map.text(span)
    }

    /// Where source `i`'s rows come from: its table and the snapshot read.
    fn table_line(&self, i: usize) -> String {
        let s = &self.sources[i];
        match s.change_data_feed {
            Some(_) => format!("`{}` at version {}", s.ir.url, s.ir.version),
            None => format!("`{}` (not read: checked from its declarations)", s.ir.url),
        }
    }

    pub(super) fn source_hover(&self, i: usize) -> String {
        let s = &self.sources[i];
        let fields: Vec<Field> = s
            .cols
            .iter()
            .map(|c| Field {
                name: c.name.clone(),
                ty: c.ty,
                nullable: c.nullable,
            })
            .collect();
        let keys: Vec<String> = s.keys.iter().map(|k| format!("({})", k.join(", "))).collect();
        format!(
            "**source** `{}` — {}\n\nkeys: {}\n\n{}{}",
            s.name,
            self.table_line(i),
            if keys.is_empty() {
                "none".into()
            } else {
                keys.join(", ")
            },
            field_table(&fields),
            doc_suffix(&s.ast.doc)
        )
    }

    pub(super) fn column_hover(&self, i: usize, name: &str) -> String {
        let s = &self.sources[i];
        let Some(c) = s.cols.iter().find(|c| c.name == name) else {
            return format!("`{name}`");
        };
        let doc = s
            .ast
            .columns
            .iter()
            .find(|d| d.name.span == c.span)
            .and_then(|d| d.doc.clone());
        format!(
            "`{}`: {} {}{}\n\ncolumn of source `{}` — {}{}",
            c.name,
            c.ty,
            if c.nullable { "null" } else { "not null" },
            if c.unique { ", unique" } else { "" },
            s.name,
            self.table_line(i),
            doc_suffix(&doc)
        )
    }

    pub(super) fn member_hover(&self, i: usize, d: &ast::NamedDecl, what: &str) -> String {
        format!(
            "**{what}** `{}` = `{}`\n\nof source `{}`{}",
            d.name.text,
            self.text_of(d.expr.span),
            self.sources[i].name,
            doc_suffix(&d.doc)
        )
    }

    pub(super) fn join_hover(&self, i: usize, j: &ast::JoinDecl) -> String {
        let on: Vec<String> =
            j.on.iter()
                .map(|(a, b)| format!("{} = {}", self.text_of(a.span), self.text_of(b.span)))
                .collect();
        let key = match j.cardinality {
            ast::Cardinality::ManyToOne | ast::Cardinality::OneToOne => {
                "\n\nthe key it meets is declared unique in the target, and verified on the data before each run commits"
            }
            _ => "",
        };
        format!(
            "**join** `{}` → `{}` {} on `{}`\n\nof source `{}`{key}{}",
            j.name().text,
            j.target.text,
            j.cardinality.as_str(),
            on.join(" and "),
            self.sources[i].name,
            doc_suffix(&j.doc)
        )
    }

    pub(super) fn function_hover(&self, name: &str) -> String {
        let sigs: Vec<String> = self
            .func_idx
            .get(name)
            .into_iter()
            .flatten()
            .map(|&i| {
                let f = &self.funcs[i];
                format!("`{} -> {}`\n\n{}", f.display(), f.ret, f.doc)
            })
            .collect();
        sigs.join("\n\n---\n\n")
    }

    /// A source or model named at `id` (in `from`, `join`, `union`, an output or a join
    /// declaration's target).
    pub(super) fn note_relation(&mut self, id: &ast::Ident) {
        self.note_relation_at(id.span, id);
    }

    /// A name at `at` that stands for the source or model `named` (a model join's name in
    /// its `on`: `rich.c_custkey`).
    pub(super) fn note_relation_at(&mut self, at: Span, named: &ast::Ident) {
        if self.index.is_none() {
            return;
        }
        let n = self.canonical_name(named);
        if let Some(&si) = self.source_idx.get(&n) {
            let def = self.sources[si].ast.name.span;
            self.note(at, Some(def), RefKind::Source, |c| c.source_hover(si));
        } else if let Some(&mi) = self.model_idx.get(&n) {
            let def = self.models[mi].ast.name.span;
            self.note(at, Some(def), RefKind::Model, |c| c.model_hover(mi));
        }
    }

    pub(super) fn model_hover(&self, mi: usize) -> String {
        let m = &self.models[mi];
        let schema = match &m.done {
            Some(ir) => field_table(&ir.schema),
            None => "(not built: see its diagnostics)".into(),
        };
        format!(
            "**model** `{}` from `{}`\n\n{schema}{}",
            m.name,
            m.ast.from.text,
            doc_suffix(&m.ast.doc)
        )
    }

    /// A column a step names (`select`, `derive`, `aggregate`, `group by`): later uses in the
    /// model go to it.
    pub(super) fn note_column_def(&mut self, name: &str, span: Span, t: &TExpr) {
        if self.index.is_none() {
            return;
        }
        self.model_build().col_defs.insert(name.to_string(), span);
        let hover = format!(
            "`{name}`: {} {}\n\n= `{}`",
            t.ty,
            if t.nullable { "null" } else { "not null" },
            self.text_of(span)
        );
        self.note(span, Some(span), RefKind::Column, |_| hover);
    }

    /// A column named in a model's step: where the model defined it, else the source column
    /// it reads.
    pub(super) fn note_column_use(
        &mut self,
        span: Span,
        name: &str,
        ty: crate::types::Type,
        nullable: bool,
        source: Option<usize>,
    ) {
        if self.index.is_none() {
            return;
        }
        let defined = self.building.as_ref().and_then(|m| m.col_defs.get(name).copied());
        let base = source.or_else(|| self.building.as_ref().and_then(|m| m.base_source));
        let src_col = base.and_then(|s| {
            self.sources[s]
                .cols
                .iter()
                .find(|c| c.name == name)
                .map(|c| (s, c.span))
        });
        match (defined, src_col) {
            (Some(def), _) => {
                let hover = format!(
                    "`{name}`: {ty} {}\n\n= `{}`",
                    if nullable { "null" } else { "not null" },
                    self.text_of(def)
                );
                self.note(span, Some(def), RefKind::Column, |_| hover)
            }
            (None, Some((s, def))) => self.note(span, Some(def), RefKind::Column, |c| c.column_hover(s, name)),
            (None, None) => {
                let hover = format!("`{name}`: {ty} {}", if nullable { "null" } else { "not null" });
                self.note(span, None, RefKind::Column, |_| hover)
            }
        }
    }

    /// Declarations of every source's members and every model (after all are checked).
    fn index_models(&mut self) {
        for si in 0..self.sources.len() {
            let s = self.sources[si].ast;
            self.note(s.name.span, Some(s.name.span), RefKind::Source, |c| c.source_hover(si));
            for col in &s.columns {
                let n = self.canonical_name(&col.name);
                self.note(col.name.span, Some(col.name.span), RefKind::Column, |c| {
                    c.column_hover(si, &n)
                });
            }
            for m in &s.measures {
                self.note(m.name.span, Some(m.name.span), RefKind::Measure, |c| {
                    c.member_hover(si, m, "measure")
                });
            }
            for d in &s.dimensions {
                self.note(d.name.span, Some(d.name.span), RefKind::Dimension, |c| {
                    c.member_hover(si, d, "dimension")
                });
            }
            for j in &s.joins {
                // `join modules … as m` declares `m`; without `as`, the name is the target's
                // and goes to its declaration
                let name = j.name();
                if name.span != j.target.span {
                    self.note(name.span, Some(name.span), RefKind::Join, |c| c.join_hover(si, j));
                }
                self.note_relation(&j.target);
            }
        }
        for mi in 0..self.models.len() {
            let m = self.models[mi].ast;
            if let (Some(done), Some(index)) = (&self.models[mi].done, self.index.as_mut()) {
                let cols = done.schema.iter().map(|f| (f.name.clone(), f.ty.to_string())).collect();
                index.models.insert(self.models[mi].name.clone(), cols);
            }
            self.note(m.name.span, Some(m.name.span), RefKind::Model, |c| c.model_hover(mi));
        }
    }
}
