//! A source against its Delta table: the protocol gate, scan options, and declared columns compared with the snapshot's schema.

use super::*;
use crate::codes::Code;
use crate::delta::TableInfo;
use crate::diag::{Diagnostic, did_you_mean};
use crate::span::Span;
use crate::syntax::ast::{self, ExprKind, Lit};
use crate::types::Type;
use std::collections::HashMap;

impl<'a> Checker<'a> {
    /// The protocol gate: reader features semc cannot honour are errors under `strict`;
    /// the policy's max versions bound what a table may require.
    pub(super) fn protocol_gate(&mut self, s: &ast::Source, info: &TableInfo) {
        const SUPPORTED: &[&str] = &[
            "columnMapping",
            "deletionVectors",
            "timestampNtz",
            "v2Checkpoint",
            "vacuumProtocolCheck",
        ];
        let p = &info.protocol;
        let get = |a: &str, b: &str| p.get(a).or_else(|| p.get(b)).and_then(|v| v.as_i64());
        let reader = get("minReaderVersion", "min_reader_version").unwrap_or(1);
        let writer = get("minWriterVersion", "min_writer_version").unwrap_or(1);
        let features: Vec<String> = p
            .get("readerFeatures")
            .or_else(|| p.get("reader_features"))
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
            .unwrap_or_default();
        let name = self.canonical_name(&s.name);
        if let Some(max) = self.policy.max_reader_version
            && reader > max
        {
            self.err(
                Diagnostic::error(
                    Code::E0308,
                    s.location_span,
                    format!("table of `{name}` needs reader version {reader}; the policy allows {max}"),
                )
                .label("reader version too high")
                .help("raise `max_reader_version` in the policy, or read another table"),
            );
        }
        if let Some(max) = self.policy.max_writer_version
            && writer > max
        {
            self.err(
                Diagnostic::error(
                    Code::E0308,
                    s.location_span,
                    format!("table of `{name}` needs writer version {writer}; the policy allows {max}"),
                )
                .label("writer version too high")
                .help("raise `max_writer_version` in the policy, or read another table"),
            );
        }
        if self.policy.strict {
            for f in features.iter().filter(|f| !SUPPORTED.contains(&f.as_str())) {
                self.err(
                    Diagnostic::error(
                        Code::E0308,
                        s.location_span,
                        format!("table of `{name}` uses reader feature `{f}`, which semc cannot read faithfully"),
                    )
                    .label("unsupported table feature")
                    .help(format!(
                        "supported reader features: {}; set `strict = false` in the policy to read it anyway",
                        SUPPORTED.join(", ")
                    )),
                );
            }
        }
    }

    /// `scan { … }`: checked options, and the file column they add (if any).
    pub(super) fn scan_options(
        &mut self,
        s: &ast::Source,
        cols: &[SrcCol],
        info: Option<&TableInfo>,
    ) -> (crate::delta::ScanOptions, Option<SrcCol>) {
        let mut o = crate::delta::ScanOptions::default();
        let mut file_col = None;
        let mut seen = HashMap::new();
        for e in &s.scan {
            if self.dup_check(&mut seen, &e.key.text, e.key.span, "scan option") {
                continue;
            }
            let bad = |msg: String, help: &str| {
                Diagnostic::error(Code::E0218, e.span, msg)
                    .label("here")
                    .help(help.to_string())
            };
            match (e.key.text.as_str(), &e.value) {
                ("file_column", ast::PolicyValue::Str(n)) if !n.is_empty() => {
                    if cols.iter().any(|c| c.name == *n) || info.is_some_and(|i| i.columns.iter().any(|c| c.name == *n))
                    {
                        self.err(bad(
                            format!("the table already has a column `{n}`"),
                            "choose another name for the file column",
                        ));
                        continue;
                    }
                    o.file_column = Some(n.clone());
                    file_col = Some(SrcCol {
                        name: n.clone(),
                        ty: Type::String,
                        nullable: false,
                        unique: false,
                        span: e.span,
                    });
                }
                ("file_column", _) => self.err(bad(
                    "`file_column` is a column name in quotes".into(),
                    "write `file_column = \"_file\"`",
                )),
                ("pushdown", ast::PolicyValue::Bool(b)) => o.pushdown = Some(*b),
                ("pushdown", _) => self.err(bad("`pushdown` is `true` or `false`".into(), "write `pushdown = true`")),
                ("files", ast::PolicyValue::List(items)) => {
                    for it in items {
                        match &it.kind {
                            ExprKind::Lit(Lit::Str(f)) => {
                                if let Some(info) = info
                                    && !info.files.iter().any(|x| x == f)
                                {
                                    let help =
                                        did_you_mean(f, info.files.iter().map(String::as_str)).unwrap_or_else(|| {
                                            format!(
                                                "the snapshot at version {} has {} file(s)",
                                                info.version,
                                                info.files.len()
                                            )
                                        });
                                    self.err(
                                        Diagnostic::error(
                                            Code::E0218,
                                            it.span,
                                            format!("`{f}` is not a file of the snapshot at version {}", info.version),
                                        )
                                        .label("not in the snapshot")
                                        .help(help),
                                    );
                                }
                                o.files.push(f.clone());
                            }
                            _ => self.err(
                                Diagnostic::error(Code::E0218, it.span, "a file is a path in quotes")
                                    .label("not a string")
                                    .help("write `files = [\"part-00000-….parquet\"]`"),
                            ),
                        }
                    }
                }
                ("files", _) => self.err(bad(
                    "`files` is a list of paths".into(),
                    "write `files = [\"part-00000-….parquet\"]`",
                )),
                (k, _) => {
                    const KEYS: &[&str] = &["file_column", "pushdown", "files"];
                    let h = did_you_mean(k, KEYS.iter().copied())
                        .unwrap_or_else(|| format!("scan options are {}", KEYS.join(", ")));
                    self.err(
                        Diagnostic::error(Code::E0218, e.key.span, format!("unknown scan option `{k}`"))
                            .label("unknown option")
                            .help(h),
                    );
                }
            }
        }
        (o, file_col)
    }

    /// Compares the declared columns with the table's; gives the columns declared `not null`
    /// (or `key`) that the table allows nulls in.
    pub(super) fn compare_with_table(
        &mut self,
        s: &ast::Source,
        cols: &[SrcCol],
        info: &TableInfo,
    ) -> Vec<(String, Span)> {
        self.protocol_gate(s, info);
        let mut unguaranteed = vec![];
        for c in cols {
            if let Some(t) = info.columns.iter().find(|t| t.name == c.name)
                && t.nullable
                && !c.nullable
            {
                unguaranteed.push((c.name.clone(), c.span));
            }
            match info.columns.iter().find(|t| t.name == c.name) {
                None => {
                    let mut d = Diagnostic::error(
                        Code::E0303,
                        c.span,
                        format!("column `{}` is not in the table at version {}", c.name, info.version),
                    )
                    .label("not in the table")
                    .with(s.location_span, "this table");
                    let ci = info.columns.iter().find(|t| t.name.eq_ignore_ascii_case(&c.name));
                    d = d.help(match ci {
                        Some(t) => format!(
                            "the table has `{}`; quote the name to keep its case: `{}`",
                            t.name,
                            format_args!("`{}`", t.name)
                        ),
                        None => {
                            did_you_mean(&c.name, info.columns.iter().map(|t| t.name.as_str())).unwrap_or_else(|| {
                                format!(
                                    "the table's columns are {}",
                                    info.columns
                                        .iter()
                                        .map(|t| t.name.as_str())
                                        .take(12)
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            })
                        }
                    });
                    self.err(d);
                }
                Some(t) => match t.ty {
                    // a declaration may widen the table's type without loss (the scan casts)
                    Some(tt) if tt == c.ty || c.ty == Type::Null || tt.widens_to(c.ty) => {}
                    _ => {
                        let decl = s
                            .columns
                            .iter()
                            .find(|d| d.name.span == c.span)
                            .map(|d| d.ty.span())
                            .unwrap_or(c.span);
                        let table_ty =
                            t.ty.map(|x| x.to_string())
                                .unwrap_or_else(|| format!("{} (no .sem type)", t.delta_type));
                        self.err(
                            Diagnostic::error(
                                Code::E0304,
                                decl,
                                format!("column `{}` is {} in the table, declared {}", c.name, table_ty, c.ty),
                            )
                            .label(format!("the table has {table_ty}"))
                            .help(match t.ty {
                                Some(tt) => format!("declare it as `{tt}`, or cast it in a model"),
                                None => {
                                    "this column's type cannot be read by semc; leave it out of the declaration".into()
                                }
                            }),
                        );
                    }
                },
            }
        }
        self.unguaranteed_not_null(s, &unguaranteed);
        unguaranteed
    }

    /// Records the columns a source declares not null (or `key`) that its table allows
    /// nulls in — tables written by pandas, Spark or delta-rs mark every column nullable —
    /// for the one warning of the workspace ([`Self::report_unguaranteed_not_null`]).
    fn unguaranteed_not_null(&mut self, s: &ast::Source, columns: &[(String, Span)]) {
        let source = self.canonical_name(&s.name);
        self.unguaranteed
            .extend(columns.iter().map(|(c, span)| (format!("{source}.{c}"), *span)));
    }

    /// One short warning for the whole workspace (E0307) naming every column declared not
    /// null that its table does not guarantee, the fix said once. Under `strict` the run
    /// verifies them (E0408) and nothing is said here; `trust_declared = true` in the policy
    /// silences it.
    pub(super) fn report_unguaranteed_not_null(&mut self) {
        let columns = std::mem::take(&mut self.unguaranteed);
        let Some((_, first)) = columns.first() else {
            return;
        };
        if self.policy.strict || self.policy.trust_declared {
            return;
        }
        const NAMED: usize = 4;
        let mut names: Vec<String> = columns.iter().take(NAMED).map(|(n, _)| format!("`{n}`")).collect();
        if columns.len() > NAMED {
            names.push(format!("{} more", columns.len() - NAMED));
        }
        let message = format!(
            "{} declared not null but not guaranteed by {}: {}",
            if columns.len() == 1 {
                "1 column is".to_string()
            } else {
                format!("{} columns are", columns.len())
            },
            if columns.len() == 1 {
                "its table"
            } else {
                "their tables"
            },
            names.join(", ")
        );
        self.err(
            Diagnostic::warning(Code::E0307, *first, message)
                .label("the table allows nulls here")
                .help("semc trusts declarations: `trust_declared = true` in the policy says so and silences this, `strict = true` verifies them at each run"),
        );
    }
}
