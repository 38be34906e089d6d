//! Incremental models: which models may read only the new rows of their source.

use super::*;
use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::span::Span;
use crate::syntax::ast::{self};

impl<'a> Checker<'a> {
    /// Checks that an `incremental` model is a row-by-row function of its source's rows (so
    /// the rows of new changes can be appended) and that the source records its changes.
    /// Gives the source it reads changes of.
    pub(super) fn incremental(
        &mut self,
        m: &ast::Model,
        span: Span,
        base: Option<usize>,
        rel: &Rel,
        window: Option<Span>,
    ) -> Option<usize> {
        let Some(si) = base else {
            self.err(
                Diagnostic::error(
                    Code::E0221,
                    m.from.span,
                    format!(
                        "an incremental model reads the changes of a source; `{}` is a model",
                        self.canonical_name(&m.from)
                    ),
                )
                .label("not a source")
                .with(span, "declared incremental here")
                .help("read `from` the source itself (repeat the upstream model's steps), or drop `incremental`"),
            );
            return None;
        };
        let mut ok = true;
        for step in &m.steps {
            let kw = match step.kind {
                ast::StepKind::GroupBy(..) => "group by",
                _ => step.kind.keyword(),
            };
            if matches!(
                kw,
                "group by" | "aggregate" | "distinct" | "sort" | "limit" | "union" | "keep" | "closure"
            ) {
                ok = false;
                self.err(
                    Diagnostic::error(Code::E0221, step.keyword_span, format!("`{kw}` is not incremental"))
                        .label("needs every row of the source at once")
                        .with(span, "declared incremental here")
                        .help(format!(
                            "an incremental model appends the rows of new changes; move `{kw}` to a model that reads this one, or drop `incremental`"
                        )),
                );
            }
        }
        if let Some(w) = window {
            ok = false;
            self.err(
                Diagnostic::error(Code::E0221, w, "a window function is not incremental")
                    .label("reads the other rows of its partition")
                    .with(span, "declared incremental here")
                    .help("an incremental model appends the rows of new changes; compute the window in a model that reads this one, or drop `incremental`"),
            );
        }
        let opts = &self.sources[si].ir.options;
        if opts.file_column.is_some() || !opts.files.is_empty() {
            ok = false;
            let s = &self.sources[si];
            self.err(
                Diagnostic::error(
                    Code::E0221,
                    m.from.span,
                    format!(
                        "source `{}` narrows its files or adds a file column: its changes cannot be read so",
                        s.name
                    ),
                )
                .label("read incrementally")
                .with(span, "declared incremental here")
                .help("drop `file_column` and `files` from the source's `scan { }`, or drop `incremental`"),
            );
        }
        let mut reads = 0;
        self.count_scans(rel, si, &mut reads, &mut vec![]);
        if reads > 1 {
            ok = false;
            self.err(
                Diagnostic::error(
                    Code::E0221,
                    m.from.span,
                    format!(
                        "this incremental model reads `{}` more than once",
                        self.sources[si].name
                    ),
                )
                .label("its changes would meet rows that are not new")
                .with(span, "declared incremental here")
                .help("join or union the source with itself (or a model over it) in a model that is not incremental"),
            );
        }
        if self.sources[si].change_data_feed == Some(false) {
            ok = false;
            let s = &self.sources[si];
            self.err(
                Diagnostic::error(
                    Code::E0222,
                    m.from.span,
                    format!("source `{}` has no change data feed at version {}", s.name, s.ir.version),
                )
                .label("changes of this table are not recorded")
                .with(s.ast.location_span, "this table")
                .with(span, "declared incremental here")
                .help("set the table property `delta.enableChangeDataFeed = true`, or drop `incremental` to rebuild the model on each run"),
            );
        }
        ok.then_some(si)
    }

    /// How many times `rel` (and the models it reads) scans source `si`.
    pub(super) fn count_scans(&self, rel: &Rel, si: usize, n: &mut usize, seen: &mut Vec<usize>) {
        let mut models = vec![];
        rel.model_refs(&mut models);
        *n += rel.scans_of(si);
        for mi in models {
            if seen.contains(&mi) {
                continue;
            }
            seen.push(mi);
            if let Some(m) = self.models.get(mi).and_then(|m| m.done.as_ref()) {
                let r = m.rel.clone();
                self.count_scans(&r, si, n, seen);
            }
        }
    }
}
