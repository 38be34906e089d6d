//! Contracts: a model's promised columns, types and constraints against its checked schema.

use super::*;
use crate::codes::Code;
use crate::diag::{Diagnostic, did_you_mean};
use crate::syntax::ast::{self, Constraint};
use std::collections::HashMap;

impl<'a> Checker<'a> {
    pub(super) fn contract(&mut self, model: &str, m: &ast::Model, c: &ast::Contract) -> Vec<ContractColumn> {
        let cols = self.model_build().cols.clone();
        let mut out = vec![];
        let mut seen = HashMap::new();
        for d in &c.columns {
            let n = self.canonical_name(&d.name);
            if self.dup_check(&mut seen, &n, d.name.span, "contract column") {
                continue;
            }
            let Some(ty) = self.type_of(&d.ty) else {
                continue;
            };
            let Some(col) = cols.iter().find(|x| x.name == n) else {
                let names: Vec<&str> = cols.iter().map(|x| x.name.as_str()).collect();
                let help = did_you_mean(&n, names.iter().copied())
                    .unwrap_or_else(|| format!("the model's columns are {}", names.join(", ")));
                self.err(
                    Diagnostic::error(Code::E0209, d.name.span, format!("model `{model}` has no column `{n}`"))
                        .label("promised by the contract")
                        .with(m.name.span, "this model")
                        .help(help),
                );
                continue;
            };
            if col.ty != ty && !col.ty.widens_to(ty) {
                self.err(
                    Diagnostic::error(
                        Code::E0209,
                        d.ty.span(),
                        format!("column `{n}` is {} but the contract says {ty}", col.ty),
                    )
                    .label(format!("contract: {ty}"))
                    .with(m.name.span, format!("the model gives {}", col.ty))
                    .help(format!(
                        "{} does not widen to {ty} without loss; change the contract or cast in the model",
                        col.ty
                    )),
                );
            }
            let (not_null, unique) = d.not_null_and_unique();
            let nullable = col.nullable && !not_null;
            let mut checks = vec![];
            for k in &d.constraints {
                match k {
                    Constraint::Key(_) | Constraint::Unique(_) | Constraint::NotNull(_) => {}
                    Constraint::Check(e, _) => {
                        // checks see the model's output columns, unqualified (they run on the output)
                        let saved = self.model_build().shaped;
                        let saved_cols = self.model_build().cols.clone();
                        self.model_build().shaped = false;
                        for c in &mut self.model_build().cols {
                            c.qual = None;
                        }
                        let cx = Ctx {
                            path: vec![],
                            source: None,
                            alias: None,
                            source_only: false,
                            agg: AggMode::Row,
                        };
                        let t = self.expr(e, &cx);
                        self.model_build().shaped = saved;
                        self.model_build().cols = saved_cols;
                        self.want_bool(&t, e.span, "a check");
                        checks.push(t);
                    }
                }
            }
            out.push(ContractColumn {
                field: Field { name: n, ty, nullable },
                span: d.span,
                unique,
                checks,
            });
        }
        out
    }
}
