//! Fan-out: aggregates over rows a join repeats.

use super::*;
use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::span::Span;
use std::collections::HashSet;

impl<'a> Checker<'a> {
    /// Fan-out: every pending aggregate must see each row of its own relation once.
    pub(super) fn check_grain(&mut self) {
        let mb = self.model_build();
        let pending = std::mem::take(&mut mb.pending);
        let base = mb.base_alias.clone();
        let copies = mb.copies.clone();
        // (alias, join declaration or unnest step, what repeats the rows, why), for messages
        let join = |name: &str| {
            (
                format!("the join `{name}`"),
                format!("`{name}` is one_to_many: it repeats each row"),
            )
        };
        let mut fans: Vec<(String, Span, (String, String))> = mb
            .paths
            .iter()
            .filter(|p| p.fans_out)
            .map(|p| (p.alias.clone(), p.join_span, join(&p.path.join("."))))
            .collect();
        fans.extend(mb.adhoc.iter().filter(|a| a.fans_out).map(|a| {
            let step = if a.unnest {
                (
                    format!("`{}`", a.name),
                    format!("`{}` repeats each row once per element", a.name),
                )
            } else {
                join(&a.name)
            };
            (a.alias.clone(), a.span, step)
        }));
        let mut repeated: Vec<(String, Span, String)> = mb
            .paths
            .iter()
            .filter(|p| p.repeated && !p.fans_out)
            .map(|p| (p.alias.clone(), p.join_span, p.path.join(".")))
            .collect();
        repeated.extend(
            mb.adhoc
                .iter()
                .filter(|a| a.repeated && !a.fans_out)
                .map(|a| (a.alias.clone(), a.span, a.name.clone())),
        );
        for p in pending {
            if p.props.repeat_safe {
                continue;
            }
            let mut quals: HashSet<String> = HashSet::new();
            p.expr.walk(&mut |e| {
                if let TExprKind::Col { qual, name } = &e.kind {
                    let qual = qual.clone().unwrap_or_else(|| base.clone());
                    // a derived copy of a joined column is that column: one rule for both
                    let origin = copies.get(&(qual.clone(), name.clone())).cloned();
                    quals.insert(origin.unwrap_or(qual));
                }
            });
            if quals.is_empty() {
                quals.insert(p.home.clone());
            }
            let on_fan = fans.iter().any(|(a, _, _)| quals.contains(a));
            if on_fan {
                continue;
            }
            if let Some((_, span, (step, label))) = fans.first() {
                let what = match &p.measure {
                    Some(m) => format!("measure `{m}` (`{}`)", p.func),
                    None => format!("`{}`", p.func),
                };
                self.err(
                    Diagnostic::error(
                        Code::E0206,
                        p.span,
                        format!("{what} would count rows more than once: {step} repeats each row"),
                    )
                    .label("aggregated here")
                    .with(*span, label.clone())
                    .help("aggregate at this relation's own grain in a model of its own and join the result, or use count_distinct/min/max"),
                );
                continue;
            }
            // Values of a joined many_to_one target repeat once per base row: a measure of
            // that target, or a plain column of it, would be counted once per row. (An
            // expression such as `case when target.x … then 1 end` is per base row: fine.)
            let all_repeated = quals.iter().all(|q| repeated.iter().any(|r| &r.0 == q));
            let from_measure = p.home != base;
            // (`count(target.x)` counts base rows that have a match: fine)
            let plain_column = !p.props.counts_rows
                && match &p.expr.kind {
                    TExprKind::Agg(_, args, _) => args.len() == 1 && matches!(args[0].kind, TExprKind::Col { .. }),
                    _ => false,
                };
            if all_repeated && (from_measure || plain_column) {
                let (_, span, name) = repeated
                    .iter()
                    .find(|r| quals.contains(&r.0))
                    .cloned()
                    .unwrap_or_default();
                self.err(
                    Diagnostic::error(
                        Code::E0206,
                        p.span,
                        match &p.measure {
                            Some(m) => format!("measure `{m}` (`{}`) over `{name}` would count each `{name}` row once per joined row", p.func),
                            None => format!("`{}` over `{name}` would count each `{name}` row once per joined row", p.func),
                        },
                    )
                        .label("aggregated across a many_to_one join")
                        .with(span, "many rows here share one target row")
                        .help(format!("compute it in a model from `{name}` (its own grain) and join that model, or use count_distinct/min/max")),
                );
            }
        }
    }
}
