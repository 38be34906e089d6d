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
        if let Some(f) = self.user_fns.get(&n).copied() {
            return self.call_user_function(name, f, args, span, cx);
        }
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
                    let units = crate::syntax::stdlib::TIME_UNITS.join("\", \"");
                    self.err(
                        Diagnostic::error(Code::E0203, args[0].span, format!("`{n}` takes a time unit first"))
                            .label("not a unit")
                            .help(format!("write one of \"{units}\" as a literal")),
                    );
                    return ty_err();
                }
                if !self.check_argument_values(&n, fi, &targs, args) {
                    return ty_err();
                }
                let sig = &self.funcs[fi];
                let nullable = if sig.props.never_null {
                    false
                } else if sig.aggregate {
                    true
                } else {
                    args2.iter().any(|a| a.nullable)
                };
                let props = sig.props;
                let kind = if sig.aggregate {
                    TExprKind::Agg(fi, args2, vec![])
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
        let help = self.signature_help(&n, &cands, &targs, args);
        let got: Vec<String> = targs.iter().map(|t| t.ty.to_string()).collect();
        self.err(
            Diagnostic::error(Code::E0203, span, format!("`{n}` does not take ({})", got.join(", ")))
                .label("wrong arguments")
                .help(help),
        );
        ty_err()
    }

    /// The arguments a signature takes only as literals, or only with some values
    /// (`[literal(N)]`, `positive`, `nonzero`, `not_negative`, `regex`, `algorithm`): reported here, so a
    /// literal never fails a run. Gives whether they all hold.
    pub(super) fn check_argument_values(&mut self, n: &str, fi: usize, targs: &[TExpr], args: &[ast::Expr]) -> bool {
        let props = self.funcs[fi].props;
        let mut ok = true;
        for (i, a) in targs.iter().enumerate() {
            let span = args.get(i).map(|x| x.span).unwrap_or_default();
            let nth = ordinal(i + 1);
            let int = a.literal_int();
            let refuse = |label: &str, msg: String, help: String| {
                Diagnostic::error(Code::E0203, span, msg)
                    .label(label.to_string())
                    .help(help)
            };
            let bad = if props.literal.has(i) && !a.is_literal() {
                Some(refuse(
                    "not a literal",
                    format!("`{n}` takes its {nth} argument only as a literal"),
                    if i == 2 {
                        format!(
                            "write a constant (`{n}(x, 1, 0)`), or choose the value per row: `case when row_number() over (…) <= 1 then d else {n}(x, 1) over (…) end`"
                        )
                    } else {
                        format!("write a constant, e.g. `{n}(…, 2, …)`")
                    },
                ))
            } else if props.positive.has(i) && int.is_some_and(|v| v < 1) {
                Some(refuse(
                    "not at least 1",
                    format!(
                        "`{n}` needs its {nth} argument to be at least 1, not {}",
                        int.unwrap_or_default()
                    ),
                    "write a whole number from 1 up".into(),
                ))
            } else if props.digest_size.has(i) && int.is_some_and(|v| !(1..=64).contains(&v)) {
                Some(refuse(
                    "not 1 to 64",
                    format!("`{n}` makes digests of 1 to 64 bytes, not {}", int.unwrap_or_default()),
                    "BLAKE2b-128 is 16 bytes: `blake2b(s, 16)`".into(),
                ))
            } else if props.not_negative.has(i) && a.literal_negative() == Some(true) {
                Some(refuse(
                    "below 0",
                    format!("`{n}`'s {nth} argument is never below 0"),
                    "write a value of 0 or more".into(),
                ))
            } else if props.nonzero.has(i) && int == Some(0) {
                Some(refuse(
                    "0 here",
                    format!("`{n}`'s {nth} argument is never 0"),
                    "parts count from 1 (the first) and from -1 (the last)".into(),
                ))
            } else if props.regex.has(i)
                && let TExprKind::Lit(Value::Str(re)) = &a.kind
                && let Err(e) = regex::Regex::new(re)
            {
                let why = e.to_string();
                let why = why.lines().last().unwrap_or_default().trim().to_string();
                Some(refuse(
                    "not a regular expression",
                    format!("`{n}`'s {nth} argument is not a valid regular expression: {why}"),
                    "the syntax is Rust's `regex` crate's (as the engine's); escape a literal `(`, `[`, `{` or `\\` with `\\`".into(),
                ))
            } else if props.algorithm && i == 1 {
                let known = crate::syntax::stdlib::DIGEST_ALGORITHMS;
                match &a.kind {
                    TExprKind::Lit(Value::Str(alg)) if known.contains(&alg.to_ascii_lowercase().as_str()) => None,
                    TExprKind::Lit(Value::Str(alg)) => Some(refuse(
                        "unknown algorithm",
                        format!("`{n}` has no algorithm \"{alg}\""),
                        format!("write one of \"{}\"", known.join("\", \"")),
                    )),
                    _ => Some(refuse(
                        "not a literal",
                        format!("`{n}` takes its algorithm only as a literal"),
                        format!("write one of \"{}\"", known.join("\", \"")),
                    )),
                }
            } else {
                None
            };
            if let Some(d) = bad {
                self.err(d);
                ok = false;
            }
        }
        ok
    }

    /// What to write when no signature of `n` takes these arguments: the one cast that
    /// makes a signature match (`cast(d as timestamp)`), else the signatures.
    pub(super) fn signature_help(&self, n: &str, cands: &[usize], targs: &[TExpr], args: &[ast::Expr]) -> String {
        // the casts that keep a value's meaning
        let sensible = |from: Type, to: Type| match (from, to) {
            (Type::Date, Type::Timestamp) | (Type::Timestamp, Type::Date) => true,
            (Type::Int32, Type::Int64) => true,
            (f, Type::Float64) => f.is_numeric() && f != Type::Float64,
            _ => false,
        };
        const CASTS: [Type; 4] = [Type::Timestamp, Type::Date, Type::Int64, Type::Float64];
        for &fi in cands {
            for (i, a) in targs.iter().enumerate() {
                for to in CASTS {
                    if !sensible(a.ty, to) {
                        continue;
                    }
                    let mut tried = targs.to_vec();
                    tried[i] = texpr(TExprKind::Cast(Box::new(a.clone()), to), to, a.nullable);
                    if self.match_sig(fi, &tried).is_some() {
                        let text = args.get(i).map(|x| self.text_of(x.span)).unwrap_or("…");
                        let (want, got) = (with_article(to), with_article(a.ty));
                        return format!("`{n}` takes {want} there, not {got}: write `cast({text} as {to})`");
                    }
                }
            }
        }
        let sigs: Vec<String> = cands.iter().map(|&i| self.funcs[i].display()).collect();
        format!("`{n}` takes {}", sigs.join(" or "))
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
                    ArgClass::List => matches!(t, Type::List(_)),
                    ArgClass::Map => matches!(t, Type::Map(_)),
                    ArgClass::Element => match args.first().map(|l| l.ty) {
                        Some(Type::List(e)) => Type::unify_operands(Operand::value(*e), a.operand()).is_some(),
                        _ => false,
                    },
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
            ReturnRule::ListOf(n) => Type::list(argty(n)),
            ReturnRule::Element(n) => match argty(n) {
                Type::List(e) => *e,
                _ => Type::Null,
            },
            ReturnRule::Keys(n) | ReturnRule::Values(n) | ReturnRule::Entries(n) => match argty(n) {
                Type::Map(kv) => match sig.ret {
                    ReturnRule::Keys(_) => Type::list(kv.0),
                    ReturnRule::Values(_) => Type::list(kv.1),
                    _ => Type::list(Type::structure(vec![
                        crate::types::StructField {
                            name: "key".into(),
                            ty: kv.0,
                        },
                        crate::types::StructField {
                            name: "value".into(),
                            ty: kv.1,
                        },
                    ])),
                },
                _ => Type::Null,
            },
            ReturnRule::Whole(n) => match argty(n) {
                Type::Decimal(p, _) => Type::Decimal(p, 0),
                t => t,
            },
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
    matches!(arg.map(|a| &a.kind), Some(TExprKind::Lit(Value::Str(u))) if crate::syntax::stdlib::TIME_UNITS.contains(&u.to_ascii_lowercase().as_str()))
}

/// "first", "second", … for argument numbers.
fn ordinal(n: usize) -> &'static str {
    ["first", "second", "third", "fourth", "fifth"]
        .get(n - 1)
        .copied()
        .unwrap_or("next")
}

/// A type's name after "a" or "an" (`an int64`, `a date`).
fn with_article(t: Type) -> String {
    let name = t.to_string();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}
