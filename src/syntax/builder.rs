//! The syntax tree builder: grammar pairs → [`ast`] nodes with spans.

use super::*;

use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::span::{FileId, Span};
use pest::iterators::{Pair, Pairs};

pub(crate) struct Builder {
    pub(super) file: FileId,
    pub(super) diags: Vec<Diagnostic>,
}

impl Builder {
    /// The span of a pair's own text: without the whitespace and comments the grammar
    /// skipped after its last token (a one-line item's label stays on its line).
    pub(super) fn span(&self, p: &Pair<Rule>) -> Span {
        let s = p.as_span();
        let end = s.start() + without_trailing_skip(s.as_str()).len();
        Span::new(self.file, s.start(), end)
    }

    fn ident(&self, p: Pair<Rule>) -> Ident {
        let span = self.span(&p);
        let inner = p.into_inner().next();
        match inner {
            Some(q) if q.as_rule() == Rule::quoted_ident => {
                let t = q.as_str();
                Ident {
                    text: t[1..t.len() - 1].to_string(),
                    quoted: true,
                    span,
                }
            }
            Some(q) => Ident {
                text: q.as_str().to_string(),
                quoted: false,
                span,
            },
            None => Ident {
                text: String::new(),
                quoted: false,
                span,
            },
        }
    }

    pub(super) fn policy(&mut self, p: Pair<Rule>) -> Policy {
        let span = self.span(&p);
        let mut entries = vec![];
        for e in p.into_inner().filter(|e| e.as_rule() == Rule::policy_entry) {
            let espan = self.span(&e);
            let mut it = e.into_inner();
            let (Some(k), Some(v)) = (it.next(), it.next()) else {
                continue;
            };
            let key = self.ident(k);
            let value = match v.into_inner().next() {
                Some(x) => match x.as_rule() {
                    Rule::k_true => PolicyValue::Bool(true),
                    Rule::k_false => PolicyValue::Bool(false),
                    Rule::int_lit => PolicyValue::Int(x.as_str().parse().unwrap_or(i64::MAX)),
                    Rule::string_lit => PolicyValue::Str(unescape(x.as_str())),
                    Rule::list_lit => PolicyValue::List(x.into_inner().map(|e| self.expr(e)).collect()),
                    _ => PolicyValue::Name(self.ident(x)),
                },
                None => PolicyValue::Bool(false),
            };
            entries.push(PolicyEntry {
                key,
                value,
                span: espan,
            });
        }
        Policy { entries, span }
    }

    fn delta_ref(&self, p: Pair<Rule>) -> (String, Span) {
        let lit = p.into_inner().find(|x| x.as_rule() == Rule::string_lit);
        match lit {
            Some(l) => (unescape(l.as_str()), self.span(&l)),
            None => (String::new(), Span::default()),
        }
    }

    pub(super) fn source(&mut self, p: Pair<Rule>) -> Source {
        let span = self.span(&p);
        let mut it = p.into_inner();
        it.next(); // source
        let name = it.next().map(|x| self.ident(x)).unwrap_or_else(|| empty_ident(span));
        it.next(); // from
        let (location, location_span) = it.next().map(|x| self.delta_ref(x)).unwrap_or_default();
        let mut s = Source {
            name,
            location,
            location_span,
            pin: None,
            columns: vec![],
            joins: vec![],
            measures: vec![],
            dimensions: vec![],
            keys: vec![],
            scan: vec![],
            span,
        };
        for m in it {
            match m.as_rule() {
                Rule::pin => {
                    if let Some(x) = m.into_inner().next() {
                        let xs = self.span(&x);
                        let is_version = x.as_rule() == Rule::pin_version;
                        let last = x.into_inner().last();
                        let text = last.map(|l| l.as_str().to_string()).unwrap_or_default();
                        s.pin = Some(if is_version {
                            match text.parse::<i64>() {
                                Ok(v) => Pin::Version(v, xs),
                                Err(_) => {
                                    self.diags.push(
                                        Diagnostic::error(Code::E0212, xs, "version number too large")
                                            .label("here")
                                            .help("Delta versions are 64-bit integers"),
                                    );
                                    Pin::Version(0, xs)
                                }
                            }
                        } else {
                            Pin::Timestamp(unescape(&text), xs)
                        });
                    }
                }
                Rule::column_decl => s.columns.push(self.column_decl(m)),
                Rule::scan_block => {
                    let block = self.policy(m);
                    s.scan.extend(block.entries);
                }
                Rule::key_decl => s.keys.push(
                    m.into_inner()
                        .filter(|x| x.as_rule() == Rule::ident)
                        .map(|x| self.ident(x))
                        .collect(),
                ),
                Rule::join_decl => s.joins.push(self.join(m)),
                Rule::measure_decl => s.measures.push(self.named_decl(m)),
                Rule::dimension_decl => s.dimensions.push(self.named_decl(m)),
                _ => {}
            }
        }
        s
    }

    fn named_decl(&mut self, p: Pair<Rule>) -> NamedDecl {
        let span = self.span(&p);
        let mut it = p.into_inner();
        it.next();
        let name = it.next().map(|x| self.ident(x)).unwrap_or_else(|| empty_ident(span));
        let expr = it.next().map(|x| self.expr(x)).unwrap_or(Expr {
            kind: ExprKind::Error,
            span,
        });
        NamedDecl { name, expr, span }
    }

    fn column_decl(&mut self, p: Pair<Rule>) -> ColumnDecl {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = it.next().map(|x| self.ident(x)).unwrap_or_else(|| empty_ident(span));
        let ty = it
            .next()
            .map(|x| self.type_expr(x))
            .unwrap_or(TypeExpr::Decimal(0, 0, span));
        let mut constraints = vec![];
        for c in it {
            let cs = self.span(&c);
            let Some(inner) = c.into_inner().next() else {
                continue;
            };
            constraints.push(match inner.as_rule() {
                Rule::c_key => Constraint::Key(cs),
                Rule::c_unique => Constraint::Unique(cs),
                Rule::c_not_null => Constraint::NotNull(cs),
                _ => {
                    let e = inner.into_inner().find(|x| x.as_rule() == Rule::expr);
                    Constraint::Check(
                        e.map(|e| self.expr(e)).unwrap_or(Expr {
                            kind: ExprKind::Error,
                            span: cs,
                        }),
                        cs,
                    )
                }
            });
        }
        ColumnDecl {
            name,
            ty,
            constraints,
            span,
        }
    }

    fn type_expr(&mut self, p: Pair<Rule>) -> TypeExpr {
        let span = self.span(&p);
        match p.into_inner().next() {
            Some(x) if x.as_rule() == Rule::decimal_type => {
                let nums: Vec<i64> = x.into_inner().map(|n| n.as_str().parse().unwrap_or(i64::MAX)).collect();
                TypeExpr::Decimal(
                    nums.first().copied().unwrap_or(0),
                    nums.get(1).copied().unwrap_or(0),
                    span,
                )
            }
            Some(x) => TypeExpr::Named(self.ident(x)),
            None => TypeExpr::Decimal(0, 0, span),
        }
    }

    fn join(&mut self, p: Pair<Rule>) -> JoinDecl {
        let span = self.span(&p);
        let mut target = None;
        let mut alias = None;
        let mut cardinality = Cardinality::ManyToOne;
        let mut cardinality_span = span;
        let mut on = vec![];
        let mut filters = vec![];
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::ident if target.is_none() => target = Some(self.ident(x)),
                Rule::ident => alias = Some(self.ident(x)),
                Rule::cardinality | Rule::join_kind => {
                    cardinality_span = self.span(&x);
                    cardinality = match x.as_str() {
                        "one_to_one" => Cardinality::OneToOne,
                        "one_to_many" => Cardinality::OneToMany,
                        "semi" => Cardinality::Semi,
                        "anti" => Cardinality::Anti,
                        _ => Cardinality::ManyToOne,
                    };
                }
                Rule::join_cond => {
                    for kp in x.into_inner() {
                        if kp.as_rule() == Rule::join_filter {
                            let (e, _) = self.pratt(kp.into_inner());
                            filters.push(e);
                            continue;
                        }
                        let mut sides = kp.into_inner().map(|s| self.path(s));
                        if let (Some(a), Some(b)) = (sides.next(), sides.next()) {
                            on.push((a, b));
                        }
                    }
                }
                _ => {}
            }
        }
        JoinDecl {
            target: target.unwrap_or_else(|| empty_ident(span)),
            alias,
            cardinality,
            cardinality_span,
            on,
            filters,
            span,
        }
    }

    fn path(&self, p: Pair<Rule>) -> Expr {
        let span = self.span(&p);
        Expr {
            kind: ExprKind::Path(p.into_inner().map(|i| self.ident(i)).collect()),
            span,
        }
    }

    pub(super) fn model(&mut self, p: Pair<Rule>) -> Model {
        let span = self.span(&p);
        let mut it = p.into_inner();
        it.next();
        let name = it.next().map(|x| self.ident(x)).unwrap_or_else(|| empty_ident(span));
        it.next();
        let from = it.next().map(|x| self.ident(x)).unwrap_or_else(|| empty_ident(span));
        let mut steps = vec![];
        let mut contract = None;
        let mut incremental = None;
        for s in it {
            if s.as_rule() == Rule::k_incremental {
                incremental = Some(self.span(&s));
            } else if s.as_rule() == Rule::contract {
                let cspan = self.span(&s);
                let columns = s
                    .into_inner()
                    .filter(|c| c.as_rule() == Rule::column_decl)
                    .map(|c| self.column_decl(c))
                    .collect();
                contract = Some(Contract { columns, span: cspan });
            } else {
                steps.push(self.step(s));
            }
        }
        Model {
            name,
            from,
            steps,
            contract,
            incremental,
            span,
        }
    }

    fn named_list(&mut self, p: Pair<Rule>) -> Vec<NamedExpr> {
        p.into_inner()
            .filter(|x| x.as_rule() == Rule::named_list)
            .flat_map(|l| l.into_inner())
            .map(|n| self.named_expr(n))
            .collect()
    }

    fn named_expr(&mut self, p: Pair<Rule>) -> NamedExpr {
        let span = self.span(&p);
        let parts: Vec<Pair<Rule>> = p.into_inner().collect();
        let mut name = None;
        let mut expr = Expr {
            kind: ExprKind::Error,
            span,
        };
        for x in parts {
            match x.as_rule() {
                Rule::ident => name = Some(self.ident(x)),
                Rule::expr => expr = self.expr(x),
                _ => {}
            }
        }
        NamedExpr { name, expr, span }
    }

    fn step(&mut self, p: Pair<Rule>) -> Step {
        let span = self.span(&p);
        let rule = p.as_rule();
        let keyword_span = p.clone().into_inner().next().map(|k| self.span(&k)).unwrap_or(span);
        let kind = match rule {
            Rule::where_step => StepKind::Where(p.into_inner().nth(1).map(|e| self.expr(e)).unwrap_or(Expr {
                kind: ExprKind::Error,
                span,
            })),
            Rule::select_step => StepKind::Select(self.named_list(p)),
            Rule::derive_step => StepKind::Derive(self.named_list(p)),
            Rule::join_step => StepKind::Join(self.join(p)),
            Rule::group_step => {
                let mut keys = vec![];
                let mut aggs = vec![];
                for x in p.into_inner() {
                    match x.as_rule() {
                        Rule::named_expr => keys.push(self.named_expr(x)),
                        Rule::aggregate_step => aggs = self.named_list(x),
                        _ => {}
                    }
                }
                StepKind::GroupBy(keys, aggs)
            }
            Rule::aggregate_step => StepKind::Aggregate(self.named_list(p)),
            Rule::sort_step => StepKind::Sort(
                p.into_inner()
                    .filter(|x| x.as_rule() == Rule::sort_key)
                    .map(|k| self.sort_key(k, span))
                    .collect(),
            ),
            Rule::keep_step => {
                let mut n = 0;
                let mut per = vec![];
                let mut by = vec![];
                for x in p.into_inner() {
                    match x.as_rule() {
                        Rule::int_lit => match x.as_str().parse::<i64>() {
                            Ok(v) => n = v,
                            Err(_) => self.diags.push(
                                Diagnostic::error(
                                    Code::E0215,
                                    self.span(&x),
                                    format!("keep `{}` is too large", x.as_str()),
                                )
                                .label("here")
                                .help("keep takes an integer below 2^63"),
                            ),
                        },
                        Rule::expr => per.push(self.expr(x)),
                        Rule::sort_key => by.push(self.sort_key(x, span)),
                        _ => {}
                    }
                }
                StepKind::Keep { n, per, by }
            }
            Rule::limit_step => {
                let n = p
                    .into_inner()
                    .nth(1)
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_default();
                match n.parse::<i64>() {
                    Ok(v) => StepKind::Limit(v),
                    Err(_) => {
                        self.diags.push(
                            Diagnostic::error(Code::E0215, span, format!("limit `{n}` is too large"))
                                .label("here")
                                .help("limit takes an integer below 2^63"),
                        );
                        StepKind::Limit(0)
                    }
                }
            }
            Rule::distinct_step => StepKind::Distinct,
            _ => StepKind::Union(
                p.into_inner()
                    .nth(1)
                    .map(|i| self.ident(i))
                    .unwrap_or_else(|| empty_ident(span)),
            ),
        };
        Step {
            kind,
            keyword_span,
            span,
        }
    }

    pub(super) fn output(&mut self, p: Pair<Rule>) -> Output {
        let span = self.span(&p);
        let mut model = empty_ident(span);
        let mut location = (String::new(), span);
        let mut mode = WriteMode::Append;
        let mut partition_by = vec![];
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::ident => model = self.ident(x),
                Rule::delta_ref => location = self.delta_ref(x),
                Rule::write_mode => {
                    mode = if x.as_str() == "overwrite" {
                        WriteMode::Overwrite
                    } else {
                        WriteMode::Append
                    }
                }
                Rule::partition => {
                    partition_by = x
                        .into_inner()
                        .filter(|i| i.as_rule() == Rule::ident)
                        .map(|i| self.ident(i))
                        .collect()
                }
                _ => {}
            }
        }
        Output {
            model,
            location: location.0,
            location_span: location.1,
            mode,
            partition_by,
            span,
        }
    }

    // ------------------------------------------------------------ expressions

    /// `over (partition by … order by … rows between … and …)` after a call.
    fn window(&mut self, name: Ident, args: Vec<Expr>, over: Pair<Rule>) -> WindowCall {
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

    fn frame_bound(&mut self, b: Pair<Rule>) -> FrameBound {
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

    /// `e [asc|desc]`, in a sort step or a window's order.
    fn sort_key(&mut self, k: Pair<Rule>, span: Span) -> SortKey {
        let mut it = k.into_inner();
        let expr = it.next().map(|e| self.expr(e)).unwrap_or(Expr {
            kind: ExprKind::Error,
            span,
        });
        let descending = it.next().is_some_and(|d| d.as_str() == "desc");
        SortKey { expr, descending }
    }

    fn expr(&mut self, p: Pair<Rule>) -> Expr {
        let (e, _) = self.pratt(p.into_inner());
        e
    }

    /// Returns the expression and its depth; trees deeper than MAX_DEPTH become error nodes.
    fn pratt(&mut self, pairs: Pairs<Rule>) -> (Expr, usize) {
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

    fn cap(&mut self, e: Expr, depth: usize) -> (Expr, usize) {
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

    fn primary(&mut self, p: Pair<Rule>) -> (Expr, usize) {
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
                for a in it {
                    match a.as_rule() {
                        Rule::star_arg => {}
                        Rule::over => over = Some(a),
                        _ => args.push(self.pratt(a.into_inner())),
                    }
                }
                let d = args.iter().map(|a| a.1).max().unwrap_or(0) + 1;
                let args: Vec<Expr> = args.into_iter().map(|a| a.0).collect();
                let kind = match over {
                    None => ExprKind::Call(name, args),
                    Some(over) => ExprKind::Window(Box::new(self.window(name, args, over))),
                };
                self.cap(Expr { kind, span }, d)
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

pub(crate) fn empty_ident(span: Span) -> Ident {
    Ident {
        text: String::new(),
        quoted: false,
        span,
    }
}

/// `text` without trailing whitespace and `#` comments. Only text that ends in whitespace
/// can end in a skipped comment (a comment runs to the end of its line), so the usual case
/// costs nothing.
fn without_trailing_skip(text: &str) -> &str {
    let mut t = text;
    while t.ends_with([' ', '\t', '\r', '\n']) {
        t = t.trim_end();
        let line_start = t.rfind('\n').map_or(0, |i| i + 1);
        match comment_start(&t[line_start..]) {
            Some(c) => t = &t[..line_start + c],
            None => break,
        }
    }
    t
}

/// Where a `#` comment starts in one line, outside string literals.
fn comment_start(line: &str) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '#' if !in_string => return Some(i),
            _ => {}
        }
    }
    None
}
