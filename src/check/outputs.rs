//! Outputs: the model written, where, and how.

use super::*;
use crate::codes::Code;
use crate::diag::{Diagnostic, did_you_mean};
use crate::span::Span;
use crate::syntax::ast::{self};
use std::collections::HashMap;

impl<'a> Checker<'a> {
    pub(super) fn output(&mut self, o: &ast::Output, locations: &mut HashMap<String, Span>) {
        let name = self.canonical_name(&o.model);
        self.note_relation(&o.model);
        let Some(&mi) = self.model_idx.get(&name) else {
            let is_source = self.source_idx.contains_key(&name);
            let help = if is_source {
                format!("outputs materialize models; write `model {name}_out from {name} {{ }}` and output that")
            } else {
                did_you_mean(&name, self.model_idx.keys().map(String::as_str))
                    .unwrap_or_else(|| "declare the model first".into())
            };
            self.err(
                Diagnostic::error(Code::E0103, o.model.span, format!("unknown model `{name}`"))
                    .label("no such model")
                    .help(help),
            );
            return;
        };
        let url = match crate::project::resolve(&self.ws.root, &o.location) {
            Ok(u) => u,
            Err(e) => {
                self.err(
                    Diagnostic::error(Code::E0306, o.location_span, e.message().to_string())
                        .label("invalid location")
                        .help("write a path relative to the workspace root, or a URI"),
                );
                return;
            }
        };
        if let Some(prev) = locations.insert(url.to_string(), o.location_span) {
            self.err(
                Diagnostic::error(Code::E0211, o.location_span, "two outputs write the same Delta table")
                    .label("written again here")
                    .with(prev, "first written here")
                    .help("give each output its own location"),
            );
            return;
        }
        if let Some(src) = self.sources.iter().find(|s| s.ir.url == url) {
            self.err(
                Diagnostic::error(
                    Code::E0223,
                    o.location_span,
                    format!(
                        "output `{name}` would overwrite `{}`, a source of this workspace",
                        src.name
                    ),
                )
                .label("this is the source's table")
                .with(src.ast.location_span, format!("`{}` reads it", src.name))
                .help("write the output to a location of its own; semc never overwrites an input"),
            );
            return;
        }
        if self.outputs.iter().any(|x| x.name == name) {
            self.err(
                Diagnostic::error(Code::E0211, o.model.span, format!("model `{name}` is output twice"))
                    .label("second output")
                    .help("output each model once"),
            );
            return;
        }
        let schema = self.models[mi].done.as_ref().map(|m| m.schema.clone());
        if self.models[mi].done.as_ref().is_some_and(|m| m.incremental.is_some())
            && o.mode != crate::syntax::ast::WriteMode::Append
        {
            self.err(
                Diagnostic::error(Code::E0221, o.span, format!("model `{name}` is incremental: its output appends"))
                    .label("declared `mode overwrite`")
                    .help("write `mode append`: each run appends the rows of the source's new changes (a run that cannot do so rebuilds the output)"),
            );
        }
        let mut parts = vec![];
        for p in &o.partition_by {
            let pn = self.canonical_name(p);
            if let Some(schema) = &schema
                && !schema.iter().any(|f| f.name == pn)
            {
                let names: Vec<&str> = schema.iter().map(|f| f.name.as_str()).collect();
                let help = did_you_mean(&pn, names.iter().copied())
                    .unwrap_or_else(|| format!("the model's columns are {}", names.join(", ")));
                self.err(
                    Diagnostic::error(
                        Code::E0211,
                        p.span,
                        format!("model `{name}` has no column `{pn}` to partition by"),
                    )
                    .label("not a column of the model")
                    .help(help),
                );
            }
            parts.push(pn);
        }
        self.outputs.push(OutputIr {
            name: name.clone(),
            span: o.span,
            model: mi,
            url,
            mode: o.mode,
            partition_by: parts,
        });
    }
}
