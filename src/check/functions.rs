//! Function calls: resolution against the standard library and signature matching.

use super::*;
use crate::codes::Code;
use crate::diag::{Diagnostic, did_you_mean};
use crate::span::Span;
use crate::syntax::ast::{self};
use crate::syntax::stdlib::{ArgClass, ReturnRule};
use crate::types::{Operand, Type};

impl<'a> Checker<'a> {
    pub(super) fn call(&mut self, name: &ast::Ident, args: &[ast::Expr], span: Span, cx: &Ctx) -> TExpr {
        let n = name.text.to_lowercase();
        if self.func_idx.contains_key(&n) {
            self.note(name.span, None, index::RefKind::Function, |c| c.function_hover(&n));
        }
        let Some(cands) = self.func_idx.get(&n).cloned() else {
            let help = match did_you_mean(&n, self.func_idx.keys().map(String::as_str)) {
                Some(close) => format!("{close} (`semc functions` lists every function)"),
                None => "`semc functions` lists every function with its signature".into(),
            };
            self.err(
                Diagnostic::error(Code::E0104, name.span, format!("unknown function `{n}`"))
                    .label("not in the standard library")
                    .help(help),
            );
            return ty_err();
        };
        if cands.iter().all(|&i| self.funcs[i].window) {
            self.err(
                Diagnostic::error(
                    Code::E0224,
                    span,
                    format!("`{n}` is a window function: it needs `over (…)`"),
                )
                .label("no window")
                .help(format!("write e.g. `{n}() over (partition by k order by e desc)`")),
            );
            return ty_err();
        }
        let cands: Vec<usize> = cands.into_iter().filter(|&i| !self.funcs[i].window).collect();
        let is_agg = self.funcs[cands[0]].aggregate;
        if is_agg && cx.agg != AggMode::Allowed {
            self.err(
                Diagnostic::error(Code::E0207, span, format!("`{n}` is an aggregate and cannot be used here"))
                    .label(if cx.agg == AggMode::Inside { "inside another aggregate" } else { "row-level position" })
                    .help("aggregates belong in `aggregate { }` or a measure; filter aggregated rows with a `where` after the aggregate"),
            );
            return ty_err();
        }
        let arg_cx = Ctx {
            agg: if is_agg { AggMode::Inside } else { cx.agg },
            ..cx.clone()
        };
        let targs: Vec<TExpr> = args.iter().map(|a| self.expr(a, &arg_cx)).collect();
        if targs.iter().any(TExpr::is_error) {
            return ty_err();
        }
        for &fi in &cands {
            if let Some((ret, args2)) = self.match_sig(fi, &targs) {
                let sig = &self.funcs[fi];
                if sig.props.units && !is_time_unit(args2.first()) {
                    let units = crate::engine::functions::TIME_UNITS.join("\", \"");
                    self.err(
                        Diagnostic::error(Code::E0203, args[0].span, format!("`{n}` takes a time unit first"))
                            .label("not a unit")
                            .help(format!("write one of \"{units}\" as a literal")),
                    );
                    return ty_err();
                }
                let nullable = if sig.props.never_null {
                    false
                } else if sig.aggregate {
                    true
                } else {
                    args2.iter().any(|a| a.nullable)
                };
                let props = sig.props;
                let kind = if sig.aggregate {
                    TExprKind::Agg(fi, args2)
                } else {
                    TExprKind::Call(fi, args2)
                };
                let t = texpr(kind, ret, nullable);
                if is_agg && let Some(mb) = self.building.as_mut() {
                    let home = if cx.source_only {
                        cx.alias.clone().unwrap_or_else(|| mb.base_alias.clone())
                    } else {
                        mb.base_alias.clone()
                    };
                    mb.pending.push(PendingAgg {
                        func: n.clone(),
                        measure: None,
                        props,
                        home,
                        expr: t.clone(),
                        span,
                    });
                }
                return t;
            }
        }
        let sigs: Vec<String> = cands.iter().map(|&i| self.funcs[i].display()).collect();
        let got: Vec<String> = targs.iter().map(|t| t.ty.to_string()).collect();
        self.err(
            Diagnostic::error(Code::E0203, span, format!("`{n}` does not take ({})", got.join(", ")))
                .label("wrong arguments")
                .help(format!("`{n}` takes {}", sigs.join(" or "))),
        );
        ty_err()
    }

    /// Matches arguments against a signature; gives the return type and the (cast) arguments.
    pub(super) fn match_sig(&self, fi: usize, args: &[TExpr]) -> Option<(Type, Vec<TExpr>)> {
        let sig = &self.funcs[fi];
        let n = sig.args.len();
        if args.len() < n || (args.len() > n && !sig.variadic) || (sig.variadic && args.len() < n) {
            return None;
        }
        let mut out = vec![];
        let mut common: Option<Type> = None;
        for (i, a) in args.iter().enumerate() {
            let class = sig.args.get(i).or(sig.args.last()).copied().unwrap_or(ArgClass::Any);
            let t = a.ty;
            let ok = t == Type::Null
                || match class {
                    ArgClass::Any => true,
                    ArgClass::Numeric | ArgClass::Float64 => t.is_numeric(),
                    ArgClass::Integer => t.is_integer(),
                    ArgClass::String => t == Type::String,
                    ArgClass::Date => t == Type::Date,
                    ArgClass::Timestamp => t == Type::Timestamp,
                    ArgClass::Temporal => t.is_temporal(),
                    ArgClass::Bool => t == Type::Bool,
                    ArgClass::Decimal => matches!(t, Type::Decimal(..)),
                    ArgClass::Same => common
                        .and_then(|c| Type::unify_operands(Operand::value(c), a.operand()))
                        .is_some(),
                };
            if !ok {
                return None;
            }
            common = match common {
                None if t != Type::Null => Some(t),
                Some(c) => Type::unify_operands(Operand::value(c), a.operand()).or(Some(c)),
                x => x,
            };
            let arg = if class == ArgClass::Float64 && t != Type::Float64 && t != Type::Null {
                texpr(
                    TExprKind::Cast(Box::new(a.clone()), Type::Float64),
                    Type::Float64,
                    a.nullable,
                )
            } else {
                a.clone()
            };
            out.push(arg);
        }
        let argty = |k: usize| out.get(k.saturating_sub(1)).map(|a| a.ty).unwrap_or(Type::Null);
        let ret = match sig.ret {
            ReturnRule::Arg(k) => argty(k),
            ReturnRule::Sum(k) => match argty(k) {
                Type::Int32 | Type::Int64 => Type::Int64,
                Type::Decimal(p, s) => Type::Decimal((p + 10).min(38), s),
                t => t,
            },
            ReturnRule::Avg(k) => match argty(k) {
                Type::Decimal(p, s) => Type::Decimal((p + 4).min(38), (s + 4).min(38)),
                _ => Type::Float64,
            },
            ReturnRule::Common => {
                // unify all arguments; cast each to the result
                let t = common.unwrap_or(Type::Null);
                for a in out.iter_mut() {
                    if a.ty != t && a.ty != Type::Null {
                        *a = texpr(TExprKind::Cast(Box::new(a.clone()), t), t, a.nullable);
                    }
                }
                t
            }
            ReturnRule::Fixed(t) => t,
            ReturnRule::Round(n, m) => {
                let places = out.get(m - 1).and_then(|d| match &d.kind {
                    TExprKind::Lit(Value::Int(v)) => Some(*v),
                    TExprKind::Neg(x) => match &x.kind {
                        TExprKind::Lit(Value::Int(v)) => Some(-*v),
                        _ => None,
                    },
                    _ => None,
                });
                match (argty(n), places) {
                    (Type::Decimal(p, s), Some(d)) if s >= 0 => {
                        let scale = i64::from(s).min(d.max(0)) as i8;
                        let precision = if s == 0 && d < 0 && d.unsigned_abs() <= u64::from(p) {
                            (p + 1).min(38)
                        } else {
                            p
                        };
                        Type::Decimal(precision, scale)
                    }
                    (Type::Decimal(p, s), _) => Type::Decimal((p + 1).min(38), s),
                    (t, _) => t,
                }
            }
        };
        Some((ret, out))
    }
}

/// Whether an argument is a literal time unit (`"month"`).
fn is_time_unit(arg: Option<&TExpr>) -> bool {
    matches!(arg.map(|a| &a.kind), Some(TExprKind::Lit(Value::Str(u))) if crate::engine::functions::TIME_UNITS.contains(&u.to_ascii_lowercase().as_str()))
}
