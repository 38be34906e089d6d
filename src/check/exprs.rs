//! Expressions: typing of operators and the forms of the language.

use super::*;
use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::span::Span;
use crate::syntax::ast::{self, BinOp, ExprKind};
use crate::types::{Operand, Type};

impl<'a> Checker<'a> {
    pub(super) fn want_bool(&mut self, t: &TExpr, span: Span, what: &str) {
        if !t.is_error() && t.ty != Type::Bool && t.ty != Type::Null {
            self.err(
                Diagnostic::error(Code::E0202, span, format!("{what} takes a bool, this is {}", t.ty))
                    .label(format!("{}, not bool", t.ty))
                    .help("compare it with something, e.g. `x > 0` or `x == \"a\"`"),
            );
        }
    }

    pub(super) fn expr(&mut self, e: &ast::Expr, cx: &Ctx) -> TExpr {
        match &e.kind {
            ExprKind::Error => ty_err(),
            ExprKind::Lit(l) => self.literal(l, e.span),
            ExprKind::Path(parts) => self.path(parts, e.span, cx),
            ExprKind::Call(name, args) => self.call(name, args, e.span, cx),
            ExprKind::Window(w) => self.window(w, e.span, cx),
            ExprKind::Binary(op, a, b) => {
                let l = self.expr(a, cx);
                let r = self.expr(b, cx);
                self.binary(*op, l, r, a.span, b.span, e.span)
            }
            ExprKind::Not(a) => {
                let t = self.expr(a, cx);
                self.want_bool(&t, a.span, "`not`");
                let n = t.nullable;
                texpr(TExprKind::Not(Box::new(t)), Type::Bool, n)
            }
            ExprKind::Neg(a) => {
                let t = self.expr(a, cx);
                if !t.is_error() && !t.ty.is_numeric() && t.ty != Type::Interval {
                    self.err(
                        Diagnostic::error(Code::E0201, a.span, format!("cannot negate {}", t.ty))
                            .label(format!("{}", t.ty))
                            .help("`-` applies to numbers"),
                    );
                    return ty_err();
                }
                let (ty, n) = (t.ty, t.nullable);
                texpr(TExprKind::Neg(Box::new(t)), ty, n)
            }
            ExprKind::IsNull(a, neg) => {
                let t = self.expr(a, cx);
                texpr(TExprKind::IsNull(Box::new(t), *neg), Type::Bool, false)
            }
            ExprKind::InList(a, items, neg) => {
                let t = self.expr(a, cx);
                let mut list = vec![];
                let mut nullable = t.nullable;
                for it in items {
                    let x = self.expr(it, cx);
                    if !t.is_error() && !x.is_error() && Type::unify_operands(t.operand(), x.operand()).is_none() {
                        self.err(
                            Diagnostic::error(Code::E0201, it.span, format!("{} in a list of {}", x.ty, t.ty))
                                .label(format!("{}", x.ty))
                                .with(a.span, format!("{}", t.ty))
                                .help("every item of the list must have the type of the value tested"),
                        );
                    }
                    nullable |= x.nullable;
                    list.push(x);
                }
                texpr(TExprKind::InList(Box::new(t), list, *neg), Type::Bool, nullable)
            }
            ExprKind::Between(a, lo, hi, neg) => {
                let t = self.expr(a, cx);
                let l = self.expr(lo, cx);
                let h = self.expr(hi, cx);
                for (x, sp) in [(&l, lo.span), (&h, hi.span)] {
                    if !t.is_error() && !x.is_error() && Type::unify_operands(t.operand(), x.operand()).is_none() {
                        self.err(
                            Diagnostic::error(Code::E0201, sp, format!("cannot compare {} with {}", t.ty, x.ty))
                                .label(format!("{}", x.ty))
                                .with(a.span, format!("{}", t.ty))
                                .help("both bounds must have the type of the value tested"),
                        );
                    }
                }
                let n = t.nullable || l.nullable || h.nullable;
                texpr(
                    TExprKind::Between(Box::new(t), Box::new(l), Box::new(h), *neg),
                    Type::Bool,
                    n,
                )
            }
            ExprKind::Like(a, p, neg) => {
                let t = self.expr(a, cx);
                let pt = self.expr(p, cx);
                for (x, sp) in [(&t, a.span), (&pt, p.span)] {
                    if !x.is_error() && x.ty != Type::String && x.ty != Type::Null {
                        self.err(
                            Diagnostic::error(Code::E0201, sp, format!("`like` takes strings, this is {}", x.ty))
                                .label(format!("{}", x.ty))
                                .help("cast it: `cast(x as string)`"),
                        );
                    }
                }
                let n = t.nullable || pt.nullable;
                texpr(TExprKind::Like(Box::new(t), Box::new(pt), *neg), Type::Bool, n)
            }
            ExprKind::Case(arms, otherwise) => {
                let mut out = vec![];
                let mut ty: Option<(Type, bool)> = None;
                let mut nullable = otherwise.is_none();
                let mut first_span = e.span;
                let mut vals: Vec<(TExpr, Span)> = vec![];
                for (c, v) in arms {
                    let ct = self.expr(c, cx);
                    self.want_bool(&ct, c.span, "`when`");
                    let vt = self.expr(v, cx);
                    vals.push((vt.clone(), v.span));
                    out.push((ct, vt));
                }
                let other = otherwise.as_ref().map(|o| {
                    let t = self.expr(o, cx);
                    vals.push((t.clone(), o.span));
                    Box::new(t)
                });
                let mut bad = false;
                for (v, sp) in &vals {
                    nullable |= v.nullable;
                    if v.is_error() || v.ty == Type::Null {
                        continue;
                    }
                    match ty {
                        None => {
                            ty = Some((v.ty, v.is_literal()));
                            first_span = *sp;
                        }
                        Some((t, lit)) => match Type::unify_operands(Operand { ty: t, literal: lit }, v.operand()) {
                            Some(u) => ty = Some((u, lit && v.is_literal())),
                            None => {
                                bad = true;
                                self.err(
                                    Diagnostic::error(
                                        Code::E0201,
                                        *sp,
                                        format!("`case` branches have different types: {t} and {}", v.ty),
                                    )
                                    .label(format!("{}", v.ty))
                                    .with(first_span, format!("{t}"))
                                    .help("every branch must give the same type; cast one of them"),
                                );
                            }
                        },
                    }
                }
                if bad {
                    return ty_err();
                }
                let t = ty.map(|x| x.0).unwrap_or(Type::Null);
                texpr(TExprKind::Case(out, other), t, nullable)
            }
            ExprKind::Cast(a, te) => {
                let t = self.expr(a, cx);
                let Some(to) = self.type_of(te) else {
                    return ty_err();
                };
                if t.is_error() || t.ty == to {
                    // a cast to its own type is no cast
                    return t;
                }
                if to.has_struct() {
                    // Substrait's types carry no field names: a plan would read the fields
                    // back as c0, c1, …
                    self.err(
                        Diagnostic::error(Code::E0226, e.span, format!("cannot cast {} to {to}", t.ty))
                            .label("a cast to a struct")
                            .help("build the struct from cast fields: `struct(a = cast(x as int64), …)`"),
                    );
                    return ty_err();
                }
                let ok = match (t.ty, to) {
                    (x, y) if x == y => true,
                    (Type::Null, _) => true,
                    // a nested value casts part by part where no part loses anything, and an
                    // empty list (`[]`) to any list
                    (Type::List(e), Type::List(_)) if *e == Type::Null => true,
                    (x, y) if x.is_nested() || y.is_nested() => x.widens_to(y),
                    (x, y) if x.is_numeric() && y.is_numeric() => true,
                    (Type::String, _) | (_, Type::String) => to != Type::Interval && t.ty != Type::Interval,
                    (Type::Date, Type::Timestamp) | (Type::Timestamp, Type::Date) => true,
                    (Type::Bool, y) | (y, Type::Bool) => y.is_integer(),
                    _ => false,
                };
                if !ok {
                    self.err(
                        Diagnostic::error(Code::E0201, e.span, format!("cannot cast {} to {to}", t.ty))
                            .label("invalid cast")
                            .help("casts go between numbers, strings, dates and timestamps"),
                    );
                    return ty_err();
                }
                let n = t.nullable;
                texpr(TExprKind::Cast(Box::new(t), to), to, n)
            }
            ExprKind::List(items) => self.make_list(items, cx),
            ExprKind::Index(base, at) => self.index(base, at, cx),
            ExprKind::Member(base, field) => {
                let b = self.expr(base, cx);
                self.fields(b, std::slice::from_ref(field))
            }
            ExprKind::Struct(fields) => self.make_struct(fields, e.span, cx),
            ExprKind::Ordered(call, keys) => self.ordered_call(call, keys, cx),
        }
    }

    pub(super) fn binary(&mut self, op: BinOp, l: TExpr, r: TExpr, ls: Span, rs: Span, span: Span) -> TExpr {
        if l.is_error() || r.is_error() {
            return ty_err();
        }
        let nullable = l.nullable || r.nullable;
        let mismatch = |this: &mut Self, msg: String, help: &str| {
            this.err(
                Diagnostic::error(Code::E0201, span, msg)
                    .label(format!("`{}` cannot combine these", op.symbol()))
                    .with(ls, format!("{}", l.ty))
                    .with(rs, format!("{}", r.ty))
                    .help(help.to_string()),
            );
            ty_err()
        };
        match op {
            BinOp::And | BinOp::Or => {
                for (t, s) in [(&l, ls), (&r, rs)] {
                    if t.ty != Type::Bool && t.ty != Type::Null {
                        self.err(
                            Diagnostic::error(
                                Code::E0202,
                                s,
                                format!("`{}` takes bools, this is {}", op.symbol(), t.ty),
                            )
                            .label(format!("{}, not bool", t.ty))
                            .help("compare it with something, e.g. `x > 0`"),
                        );
                        return ty_err();
                    }
                }
                texpr(TExprKind::Binary(op, Box::new(l), Box::new(r)), Type::Bool, nullable)
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge if l.ty.is_nested() || r.ty.is_nested() => {
                let nested = if l.ty.is_nested() { l.ty } else { r.ty };
                self.err(
                    Diagnostic::error(Code::E0226, span, format!("a {} has no order", nested.family()))
                        .label(format!("`{}` compares values in order", op.symbol()))
                        .with(if l.ty.is_nested() { ls } else { rs }, format!("{nested}"))
                        .help("lists, structs and maps compare only with `==` and `!=`; compare a field, an element or a size"),
                );
                ty_err()
            }
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if Type::unify_operands(l.operand(), r.operand()).is_none()
                    || l.ty == Type::Interval
                    || r.ty == Type::Interval
                {
                    return mismatch(
                        self,
                        format!("cannot compare {} with {}", l.ty, r.ty),
                        "both sides must have compatible types; use `cast(x as T)` to convert",
                    );
                }
                texpr(TExprKind::Binary(op, Box::new(l), Box::new(r)), Type::Bool, nullable)
            }
            BinOp::Concat => {
                let string = |t: Type| t == Type::String || t == Type::Null;
                if !string(l.ty) || !string(r.ty) {
                    let help = if l.ty == Type::Bool || r.ty == Type::Bool {
                        "`||` joins strings; the boolean or is written `or`"
                    } else {
                        "`||` joins strings (convert a value with `cast(x as string)`); the boolean or is written `or`"
                    };
                    return mismatch(self, format!("cannot join {} and {} with `||`", l.ty, r.ty), help);
                }
                texpr(TExprKind::Binary(op, Box::new(l), Box::new(r)), Type::String, nullable)
            }
            _ => {
                let numeric = l.ty.is_numeric() && r.ty.is_numeric();
                let temporal = (l.ty.is_temporal() && r.ty == Type::Interval)
                    || (op == BinOp::Add && l.ty == Type::Interval && r.ty.is_temporal());
                let null = l.ty == Type::Null || r.ty == Type::Null;
                if null {
                    let t = if l.ty == Type::Null { r.ty } else { l.ty };
                    return texpr(TExprKind::Binary(op, Box::new(l), Box::new(r)), t, true);
                }
                if !(numeric || temporal && matches!(op, BinOp::Add | BinOp::Sub)) {
                    let help = if l.ty == Type::String && r.ty == Type::String {
                        "join strings with `a || b` or `concat(a, b)`"
                    } else {
                        "arithmetic takes numbers (and date ± interval)"
                    };
                    return mismatch(
                        self,
                        format!("cannot apply `{}` to {} and {}", op.symbol(), l.ty, r.ty),
                        help,
                    );
                }
                if numeric {
                    let lossy = |a: &TExpr, b: &TExpr| {
                        a.ty == Type::Float64 && matches!(b.ty, Type::Int64 | Type::Decimal(..)) && !b.is_literal()
                    };
                    if lossy(&l, &r) || lossy(&r, &l) {
                        return mismatch(
                            self,
                            format!("mixing {} and {} would lose precision", l.ty, r.ty),
                            "cast one side explicitly: `cast(x as float64)`",
                        );
                    }
                }
                let Some(t) = arith_type(op, l.ty, r.ty) else {
                    return mismatch(
                        self,
                        format!("cannot apply `{}` to {} and {}", op.symbol(), l.ty, r.ty),
                        "arithmetic takes numbers (and date ± interval)",
                    );
                };
                texpr(TExprKind::Binary(op, Box::new(l), Box::new(r)), t, nullable)
            }
        }
    }
}

/// The result type of arithmetic, as the engine computes it (so plan and checker agree).
pub(super) fn arith_type(op: BinOp, l: Type, r: Type) -> Option<Type> {
    use datafusion::logical_expr::Operator;
    use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
    let o = match op {
        BinOp::Add => Operator::Plus,
        BinOp::Sub => Operator::Minus,
        BinOp::Mul => Operator::Multiply,
        BinOp::Div => Operator::Divide,
        BinOp::Mod => Operator::Modulo,
        _ => return None,
    };
    let (la, ra) = (l.to_arrow(), r.to_arrow());
    let t = BinaryTypeCoercer::new(&la, &o, &ra).get_result_type().ok()?;
    Type::from_arrow(&t)
}
