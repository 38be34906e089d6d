//! The syntax tree builder, expressions: operators by precedence, calls and windows,
//! literals; trees deeper than the limit become error nodes.

use super::builder::{Builder, empty_ident};
use super::*;

use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::span::Span;
use pest::iterators::{Pair, Pairs};

impl Builder {
    /// `over (partition by … order by … rows between … and …)` after a call.
    pub(super) fn window(&mut self, name: Ident, args: Vec<Expr>, over: Pair<Rule>) -> WindowCall {
        let over_span = self.span(&over);
        let mut w = WindowCall {
            name,
            args,
            partition: vec![],
            order: vec![],
            frame: None,
            over_span,
        };
        for part in over.into_inner() {
            match part.as_rule() {
                Rule::window_parts => {
                    w.partition = part
                        .into_inner()
                        .filter(|x| x.as_rule() == Rule::expr)
                        .map(|x| self.expr(x))
                        .collect()
                }
                Rule::window_order => {
                    w.order = part
                        .into_inner()
                        .filter(|x| x.as_rule() == Rule::sort_key)
                        .map(|k| self.sort_key(k, over_span))
                        .collect()
                }
                Rule::frame => {
                    let bounds: Vec<FrameBound> = part
                        .into_inner()
                        .filter(|x| x.as_rule() == Rule::frame_bound)
                        .map(|b| self.frame_bound(b))
                        .collect();
                    if let [start, end] = bounds[..] {
                        w.frame = Some((start, end));
                    }
                }
                _ => {}
            }
        }
        w
    }

    pub(super) fn frame_bound(&mut self, b: Pair<Rule>) -> FrameBound {
        let span = self.span(&b);
        let text = b.as_str();
        let preceding = text.ends_with("preceding");
        let first = b.into_inner().next();
        match first.as_ref().map(|f| f.as_rule()) {
            Some(Rule::k_unbounded) if preceding => FrameBound::UnboundedPreceding,
            Some(Rule::k_unbounded) => FrameBound::UnboundedFollowing,
            Some(Rule::k_current) => FrameBound::CurrentRow,
            _ => {
                let n = first.and_then(|f| f.as_str().parse::<u64>().ok());
                let Some(n) = n else {
                    self.diags.push(
                        Diagnostic::error(Code::E0212, span, "a frame offset too large")
                            .label("not a row count")
                            .help("write a number of rows, e.g. `rows between 6 preceding and current row`"),
                    );
                    return FrameBound::CurrentRow;
                };
                if preceding {
                    FrameBound::Preceding(n)
                } else {
                    FrameBound::Following(n)
                }
            }
        }
    }

    /// `e [asc|desc] [nulls first|last]`, in a sort step, a `keep` or a window's order.
    pub(super) fn sort_key(&mut self, k: Pair<Rule>, span: Span) -> SortKey {
        let mut key = SortKey {
            expr: Expr {
                kind: ExprKind::Error,
                span,
            },
            descending: false,
            nulls_first: None,
        };
        for x in k.into_inner() {
            match x.as_rule() {
                Rule::expr => key.expr = self.expr(x),
                Rule::sort_dir => key.descending = x.as_str() == "desc",
                Rule::sort_nulls => key.nulls_first = Some(x.into_inner().any(|w| w.as_rule() == Rule::k_first)),
                _ => {}
            }
        }
        key
    }

    pub(super) fn expr(&mut self, p: Pair<Rule>) -> Expr {
        let (e, _) = self.pratt(p.into_inner());
        e
    }

    /// Returns the expression and its depth; trees deeper than MAX_DEPTH become error nodes.
    pub(super) fn pratt(&mut self, pairs: Pairs<Rule>) -> (Expr, usize) {
        let this = std::cell::RefCell::new(self);
        PRATT
            .map_primary(|p| this.borrow_mut().primary(p))
            .map_prefix(|op, (e, d)| {
                let mut b = this.borrow_mut();
                let span = b.span(&op).to(e.span);
                let kind = if op.as_rule() == Rule::op_not {
                    ExprKind::Not(Box::new(e))
                } else {
                    ExprKind::Neg(Box::new(e))
                };
                b.cap(Expr { kind, span }, d + 1)
            })
            .map_postfix(|(e, d), op| {
                let mut b = this.borrow_mut();
                let span = e.span.to(b.span(&op));
                let rule = op.as_rule();
                if rule == Rule::member {
                    let field = op
                        .into_inner()
                        .next()
                        .map(|i| b.ident(i))
                        .unwrap_or_else(|| empty_ident(span));
                    return b.cap(
                        Expr {
                            kind: ExprKind::Member(Box::new(e), field),
                            span,
                        },
                        d + 1,
                    );
                }
                if rule == Rule::index {
                    let at = op.into_inner().next().map(|i| b.pratt(i.into_inner()));
                    let Some((at, da)) = at else {
                        return (
                            Expr {
                                kind: ExprKind::Error,
                                span,
                            },
                            1,
                        );
                    };
                    return b.cap(
                        Expr {
                            kind: ExprKind::Index(Box::new(e), Box::new(at)),
                            span,
                        },
                        d.max(da) + 1,
                    );
                }
                let mut negated = false;
                let mut operands = vec![];
                for x in op.into_inner() {
                    match x.as_rule() {
                        Rule::negated => negated = true,
                        Rule::bound => operands.push(b.pratt(x.into_inner())),
                        Rule::list_lit => operands.push(b.primary(x)),
                        _ => {}
                    }
                }
                let depth = operands.iter().map(|o| o.1).max().unwrap_or(0).max(d) + 1;
                let mut ops = operands.into_iter().map(|o| o.0);
                let err = Expr {
                    kind: ExprKind::Error,
                    span,
                };
                let kind = match rule {
                    Rule::is_null => ExprKind::IsNull(Box::new(e), negated),
                    Rule::in_list => match ops.next() {
                        Some(Expr {
                            kind: ExprKind::List(items),
                            ..
                        }) => ExprKind::InList(Box::new(e), items, negated),
                        _ => ExprKind::Error,
                    },
                    Rule::between => {
                        let lo = ops.next().unwrap_or(err.clone());
                        let hi = ops.next().unwrap_or(err);
                        ExprKind::Between(Box::new(e), Box::new(lo), Box::new(hi), negated)
                    }
                    _ => ExprKind::Like(Box::new(e), Box::new(ops.next().unwrap_or(err)), negated),
                };
                b.cap(Expr { kind, span }, depth)
            })
            .map_infix(|(l, dl), op, (r, dr)| {
                let mut b = this.borrow_mut();
                let span = l.span.to(r.span);
                let bop = match op.as_rule() {
                    Rule::op_or => BinOp::Or,
                    Rule::op_and => BinOp::And,
                    Rule::op_eq | Rule::join_eq => BinOp::Eq,
                    Rule::op_ne => BinOp::Ne,
                    Rule::op_lt => BinOp::Lt,
                    Rule::op_le => BinOp::Le,
                    Rule::op_gt => BinOp::Gt,
                    Rule::op_ge => BinOp::Ge,
                    Rule::op_add => BinOp::Add,
                    Rule::op_sub => BinOp::Sub,
                    Rule::op_mul => BinOp::Mul,
                    Rule::op_div => BinOp::Div,
                    Rule::op_concat => BinOp::Concat,
                    _ => BinOp::Mod,
                };
                b.cap(
                    Expr {
                        kind: ExprKind::Binary(bop, Box::new(l), Box::new(r)),
                        span,
                    },
                    dl.max(dr) + 1,
                )
            })
            .parse(pairs)
    }

    pub(super) fn cap(&mut self, e: Expr, depth: usize) -> (Expr, usize) {
        if depth > MAX_DEPTH {
            if !self.diags.iter().any(|d| d.code == Code::E0003) {
                self.diags
                    .push(too_deep(self.file, e.span.start as usize, e.span.end as usize));
            }
            return (
                Expr {
                    kind: ExprKind::Error,
                    span: e.span,
                },
                1,
            );
        }
        (e, depth)
    }

    pub(super) fn primary(&mut self, p: Pair<Rule>) -> (Expr, usize) {
        let span = self.span(&p);
        let lit = |l| {
            (
                Expr {
                    kind: ExprKind::Lit(l),
                    span,
                },
                1,
            )
        };
        match p.as_rule() {
            Rule::paren => match p.into_inner().next() {
                Some(e) => {
                    let (mut inner, d) = self.pratt(e.into_inner());
                    inner.span = span;
                    (inner, d)
                }
                None => (
                    Expr {
                        kind: ExprKind::Error,
                        span,
                    },
                    1,
                ),
            },
            Rule::int_lit => lit(Lit::Int(p.as_str().to_string())),
            Rule::number_lit => lit(Lit::Number(p.as_str().to_string())),
            Rule::string_lit => match unescape_checked(p.as_str()) {
                Ok(v) => lit(Lit::Str(v)),
                Err((at, what)) => {
                    let start = p.as_span().start() + at;
                    self.diags.push(
                        Diagnostic::error(
                            Code::E0212,
                            Span::new(self.file, start, start + 2),
                            "a malformed escape in a string",
                        )
                        .label("this escape")
                        .help(what),
                    );
                    lit(Lit::Str(unescape(p.as_str())))
                }
            },
            Rule::k_true => lit(Lit::Bool(true)),
            Rule::k_false => lit(Lit::Bool(false)),
            Rule::k_null => lit(Lit::Null),
            Rule::typed_lit => {
                let mut it = p.into_inner();
                let k = it.next().map(|k| k.as_rule());
                let s = it.next().map(|s| unescape(s.as_str())).unwrap_or_default();
                let kind = match k {
                    Some(Rule::k_date) => TypedLitKind::Date,
                    Some(Rule::k_timestamp) => TypedLitKind::Timestamp,
                    _ => TypedLitKind::Interval,
                };
                lit(Lit::Typed(kind, s))
            }
            Rule::path => (self.path(p), 1),
            Rule::bound | Rule::expr => self.pratt(p.into_inner()),
            Rule::call => {
                let mut it = p.into_inner();
                let name = it.next().map(|n| self.ident(n)).unwrap_or_else(|| empty_ident(span));
                // `count(*)` is `count()`
                let mut args: Vec<(Expr, usize)> = vec![];
                let mut over = None;
                let mut order = None;
                for a in it {
                    match a.as_rule() {
                        Rule::star_arg => {}
                        Rule::over => over = Some(a),
                        Rule::call_order => order = Some(a),
                        _ => args.push(self.pratt(a.into_inner())),
                    }
                }
                let d = args.iter().map(|a| a.1).max().unwrap_or(0) + 1;
                let args: Vec<Expr> = args.into_iter().map(|a| a.0).collect();
                let kind = match over {
                    None => ExprKind::Call(name, args),
                    Some(over) => ExprKind::Window(Box::new(self.window(name, args, over))),
                };
                let call = Expr { kind, span };
                match order {
                    None => self.cap(call, d),
                    Some(order) => {
                        let keys: Vec<SortKey> = order
                            .into_inner()
                            .filter(|k| k.as_rule() == Rule::sort_key)
                            .map(|k| self.sort_key(k, span))
                            .collect();
                        self.cap(
                            Expr {
                                kind: ExprKind::Ordered(Box::new(call), keys),
                                span,
                            },
                            d + 1,
                        )
                    }
                }
            }
            Rule::struct_expr => {
                let mut fields = vec![];
                let mut d = 1;
                for part in p.into_inner().filter(|x| x.as_rule() == Rule::struct_part) {
                    let mut name = None;
                    let mut value = None;
                    for x in part.into_inner() {
                        match x.as_rule() {
                            Rule::ident => name = Some(self.ident(x)),
                            Rule::expr => value = Some(self.pratt(x.into_inner())),
                            _ => {}
                        }
                    }
                    let Some((value, vd)) = value else { continue };
                    d = d.max(vd);
                    // `struct(a, b.c)`: a name's last part names the field
                    let name = name.or_else(|| match &value.kind {
                        ExprKind::Path(parts) => parts.last().cloned(),
                        _ => None,
                    });
                    match name {
                        Some(name) => fields.push((name, value)),
                        None => self.diags.push(
                            Diagnostic::error(Code::E0001, value.span, "a struct's field needs a name")
                                .label("no name")
                                .help("name it: `struct(total = a + b)`"),
                        ),
                    }
                }
                self.cap(
                    Expr {
                        kind: ExprKind::Struct(fields),
                        span,
                    },
                    d + 1,
                )
            }
            Rule::list_lit => {
                let items: Vec<(Expr, usize)> = p.into_inner().map(|a| self.pratt(a.into_inner())).collect();
                let d = items.iter().map(|a| a.1).max().unwrap_or(0) + 1;
                let e = Expr {
                    kind: ExprKind::List(items.into_iter().map(|a| a.0).collect()),
                    span,
                };
                self.cap(e, d)
            }
            Rule::case_expr => {
                let mut arms = vec![];
                let mut otherwise = None;
                let mut d = 1;
                for x in p.into_inner() {
                    match x.as_rule() {
                        Rule::when_arm => {
                            let mut it = x.into_inner().filter(|y| y.as_rule() == Rule::expr);
                            let c = it.next().map(|e| self.pratt(e.into_inner()));
                            let v = it.next().map(|e| self.pratt(e.into_inner()));
                            if let (Some(c), Some(v)) = (c, v) {
                                d = d.max(c.1).max(v.1);
                                arms.push((c.0, v.0));
                            }
                        }
                        Rule::else_arm => {
                            if let Some(e) = x.into_inner().find(|y| y.as_rule() == Rule::expr) {
                                let (e, ed) = self.pratt(e.into_inner());
                                d = d.max(ed);
                                otherwise = Some(Box::new(e));
                            }
                        }
                        _ => {}
                    }
                }
                self.cap(
                    Expr {
                        kind: ExprKind::Case(arms, otherwise),
                        span,
                    },
                    d + 1,
                )
            }
            Rule::cast_expr => {
                let mut e = None;
                let mut ty = None;
                for x in p.into_inner() {
                    match x.as_rule() {
                        Rule::expr => e = Some(self.pratt(x.into_inner())),
                        Rule::type_expr => ty = Some(self.type_expr(x)),
                        _ => {}
                    }
                }
                match (e, ty) {
                    (Some((e, d)), Some(t)) => self.cap(
                        Expr {
                            kind: ExprKind::Cast(Box::new(e), t),
                            span,
                        },
                        d + 1,
                    ),
                    _ => (
                        Expr {
                            kind: ExprKind::Error,
                            span,
                        },
                        1,
                    ),
                }
            }
            _ => (
                Expr {
                    kind: ExprKind::Error,
                    span,
                },
                1,
            ),
        }
    }
}
