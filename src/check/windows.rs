//! Window functions: `f(…) over (partition by … order by … rows between … and …)`, a
//! value per row from the rows of its partition.

use super::*;
use crate::codes::Code;
use crate::diag::{Diagnostic, did_you_mean};
use crate::span::Span;
use crate::syntax::ast::{self, FrameBound};

impl<'a> Checker<'a> {
    pub(super) fn window(&mut self, w: &ast::WindowCall, span: Span, cx: &Ctx) -> TExpr {
        let n = w.name.text.to_lowercase();
        if cx.agg != AggMode::Window {
            self.err(
                Diagnostic::error(Code::E0224, span, format!("`{n}(…) over (…)` cannot be computed here"))
                    .label("a window outside `derive` or `select`")
                    .help("compute it in a `derive` (`derive { rn = row_number() over (order by x) }`), then filter on it in a later `where`"),
            );
            return ty_err();
        }
        let cands: Vec<usize> = match self.func_idx.get(&n) {
            Some(c) => c
                .iter()
                .copied()
                .filter(|&i| self.funcs[i].window || self.funcs[i].aggregate)
                .collect(),
            None => {
                let windowed = self
                    .funcs
                    .iter()
                    .filter(|f| f.window || f.aggregate)
                    .map(|f| f.name.as_str());
                let help = match did_you_mean(&n, windowed) {
                    Some(close) => format!("{close} (`semc functions` lists every function)"),
                    None => "`semc functions` lists the window functions and aggregates".into(),
                };
                self.err(
                    Diagnostic::error(Code::E0104, w.name.span, format!("unknown function `{n}`"))
                        .label("not in the standard library")
                        .help(help),
                );
                return ty_err();
            }
        };
        if cands.is_empty() {
            self.err(
                Diagnostic::error(Code::E0224, w.name.span, format!("`{n}` is not a window function or an aggregate"))
                    .label("computed row by row")
                    .with(w.over_span, "so it takes no window")
                    .help("drop `over (…)`; window functions are `row_number`, `rank`, `dense_rank`, `ntile`, `lag`, `lead`, `first_value`, `last_value`, and aggregates"),
            );
            return ty_err();
        }
        if let Some(&distinct) = cands.iter().find(|&&i| self.funcs[i].props.distinct) {
            let name = self.funcs[distinct].name.clone();
            self.err(
                Diagnostic::error(
                    Code::E0224,
                    w.name.span,
                    format!("`{name}` is not computed over a window"),
                )
                .label("a distinct aggregate")
                .help("count the distinct values in a model grouped by the partition keys, and join it back"),
            );
            return ty_err();
        }
        let row = Ctx {
            agg: AggMode::Row,
            ..cx.clone()
        };
        let args: Vec<TExpr> = w.args.iter().map(|a| self.expr(a, &row)).collect();
        let partition: Vec<TExpr> = w.partition.iter().map(|p| self.expr(p, &row)).collect();
        let order: Vec<(TExpr, SortOrder)> = w
            .order
            .iter()
            .map(|k| (self.expr(&k.expr, &row), sort_order(k)))
            .collect();
        if args
            .iter()
            .chain(&partition)
            .chain(order.iter().map(|(e, _)| e))
            .any(TExpr::is_error)
        {
            return ty_err();
        }
        if let Some((start, end)) = w.frame
            && frame_rank(start) > frame_rank(end)
        {
            self.err(
                Diagnostic::error(Code::E0224, w.over_span, "the frame ends before it starts")
                    .label("`rows between A and B` needs A at or before B")
                    .help("e.g. `rows between 6 preceding and current row`"),
            );
            return ty_err();
        }
        self.model_build().first_window.get_or_insert(span);
        for &fi in &cands {
            let Some((ty, checked)) = self.match_sig(fi, &args) else {
                continue;
            };
            if !self.check_argument_values(&n, fi, &args, &w.args) {
                return ty_err();
            }
            let args = checked;
            let sig = &self.funcs[fi];
            // rows that tie in the order get the same value from a ranking function and from an
            // aggregate over the default frame (its peers); any other window reads rows by
            // position, so ties are broken by every other column
            let (aggregate, props) = (sig.aggregate, sig.props);
            let keeps_ties = props.ties || (aggregate && w.frame.is_none());
            let tie_break = !keeps_ties;
            if sig.window && !props.ties && w.order.is_empty() {
                self.err(
                    Diagnostic::warning(
                        Code::E0224,
                        w.over_span,
                        format!("`{n}` reads rows by their position, but its window has no `order by`"),
                    )
                    .label("no order")
                    .help("the rows then come in the order of all their columns, ascending: say which order you mean, e.g. `over (partition by k order by ts)`"),
                );
            }
            let nullable = !props.never_null;
            if aggregate {
                // a windowed aggregate over rows a join repeats counts them more than once,
                // as a grouped one would: checked with them at the end of the step
                let home = self.model_build().base_alias.clone();
                let pending = PendingAgg {
                    func: n.clone(),
                    measure: None,
                    props,
                    home,
                    expr: texpr(TExprKind::Agg(fi, args.clone(), vec![]), ty, nullable),
                    span,
                };
                self.model_build().pending.push(pending);
            }
            return texpr(
                TExprKind::Window(Box::new(WindowIr {
                    func: fi,
                    args,
                    partition,
                    order,
                    frame: w.frame,
                    tie_break,
                })),
                ty,
                nullable,
            );
        }
        let sigs: Vec<String> = cands.iter().map(|&i| self.funcs[i].display()).collect();
        let got: Vec<String> = args.iter().map(|t| t.ty.to_string()).collect();
        self.err(
            Diagnostic::error(Code::E0203, span, format!("`{n}` does not take ({})", got.join(", ")))
                .label("wrong arguments")
                .help(format!("`{n}` takes {}", sigs.join(" or "))),
        );
        ty_err()
    }
}

/// Where a frame bound lies, from the partition's start to its end.
fn frame_rank(b: FrameBound) -> i128 {
    match b {
        FrameBound::UnboundedPreceding => i128::MIN,
        FrameBound::Preceding(n) => -(n as i128),
        FrameBound::CurrentRow => 0,
        FrameBound::Following(n) => n as i128,
        FrameBound::UnboundedFollowing => i128::MAX,
    }
}
