//! The syntax tree builder: grammar pairs → [`ast`] nodes with spans.

use super::*;

use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::span::{FileId, Span};
use pest::iterators::Pair;

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

    pub(super) fn ident(&self, p: Pair<Rule>) -> Ident {
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
            // an identifier is its NFC form, as Rust reads identifiers: `größe` is one name
            // however its letters are composed (a quoted name is kept exactly as written)
            Some(q) => Ident {
                text: unicode_normalization::UnicodeNormalization::nfc(q.as_str()).collect(),
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

    pub(super) fn delta_ref(&self, p: Pair<Rule>) -> (String, Span) {
        let lit = p.into_inner().find(|x| x.as_rule() == Rule::string_lit);
        match lit {
            Some(l) => (unescape(l.as_str()), self.span(&l)),
            None => (String::new(), Span::default()),
        }
    }

    pub(super) fn source(&mut self, p: Pair<Rule>) -> Source {
        let span = self.span(&p);
        let doc = doc_of(&p);
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
            doc,
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
        let doc = doc_of(&p);
        let mut it = p.into_inner();
        it.next();
        let name = it.next().map(|x| self.ident(x)).unwrap_or_else(|| empty_ident(span));
        let expr = it.next().map(|x| self.expr(x)).unwrap_or(Expr {
            kind: ExprKind::Error,
            span,
        });
        NamedDecl { name, expr, doc, span }
    }

    fn column_decl(&mut self, p: Pair<Rule>) -> ColumnDecl {
        let span = self.span(&p);
        let doc = doc_of(&p);
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
            doc,
            span,
        }
    }

    pub(super) fn type_expr(&mut self, p: Pair<Rule>) -> TypeExpr {
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
            Some(x) if x.as_rule() == Rule::list_type => {
                match x.into_inner().find(|t| t.as_rule() == Rule::type_expr) {
                    Some(t) => TypeExpr::List(Box::new(self.type_expr(t)), span),
                    None => TypeExpr::Decimal(0, 0, span),
                }
            }
            Some(x) if x.as_rule() == Rule::map_type => {
                let mut parts = x.into_inner().filter(|t| t.as_rule() == Rule::type_expr);
                match (parts.next(), parts.next()) {
                    (Some(k), Some(v)) => TypeExpr::Map(Box::new(self.type_expr(k)), Box::new(self.type_expr(v)), span),
                    _ => TypeExpr::Decimal(0, 0, span),
                }
            }
            Some(x) if x.as_rule() == Rule::struct_type => {
                let mut fields = vec![];
                for f in x.into_inner().filter(|f| f.as_rule() == Rule::struct_field) {
                    let mut it = f.into_inner();
                    if let (Some(n), Some(t)) = (it.next(), it.next()) {
                        fields.push((self.ident(n), self.type_expr(t)));
                    }
                }
                TypeExpr::Struct(fields, span)
            }
            Some(x) => TypeExpr::Named(self.ident(x)),
            None => TypeExpr::Decimal(0, 0, span),
        }
    }

    /// `type name = T`.
    pub(super) fn type_alias(&mut self, p: Pair<Rule>) -> TypeAlias {
        let span = self.span(&p);
        let doc = doc_of(&p);
        let mut name = empty_ident(span);
        let mut ty = TypeExpr::Decimal(0, 0, span);
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::ident => name = self.ident(x),
                Rule::type_expr => ty = self.type_expr(x),
                _ => {}
            }
        }
        TypeAlias { name, ty, doc, span }
    }

    pub(super) fn function(&mut self, p: Pair<Rule>) -> Function {
        let span = self.span(&p);
        let doc = doc_of(&p);
        let mut name = empty_ident(span);
        let mut params = vec![];
        let mut ret = TypeExpr::Decimal(0, 0, span);
        let mut body = None;
        let mut external = false;
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::k_extern => external = true,
                Rule::ident => name = self.ident(x),
                Rule::fn_param => {
                    let mut it = x.into_inner();
                    let (Some(n), Some(t)) = (it.next(), it.next()) else {
                        continue;
                    };
                    params.push((self.ident(n), self.type_expr(t)));
                }
                Rule::type_expr => ret = self.type_expr(x),
                Rule::expr => body = Some(self.expr(x)),
                _ => {}
            }
        }
        if external != body.is_none() {
            let what = if external {
                "an `extern fn` has no body: the host implements it"
            } else {
                "a `fn` needs a body: `= expression`"
            };
            self.diags.push(
                Diagnostic::error(Code::E0001, span, what)
                    .label(if external { "a body here" } else { "no body" })
                    .help("write `fn f(x: int64) -> int64 = x * 2`, or `extern fn f(x: int64) -> int64` for one the host registers"),
            );
        }
        Function {
            name,
            params,
            ret,
            body,
            doc,
            span,
        }
    }

    fn join(&mut self, p: Pair<Rule>) -> JoinDecl {
        let span = self.span(&p);
        let doc = doc_of(&p);
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
            doc,
            span,
        }
    }

    pub(super) fn path(&self, p: Pair<Rule>) -> Expr {
        let span = self.span(&p);
        Expr {
            kind: ExprKind::Path(p.into_inner().map(|i| self.ident(i)).collect()),
            span,
        }
    }

    pub(super) fn model(&mut self, p: Pair<Rule>) -> Model {
        let span = self.span(&p);
        let doc = doc_of(&p);
        let mut it = p.into_inner();
        it.next();
        let name = it.next().map(|x| self.ident(x)).unwrap_or_else(|| empty_ident(span));
        it.next();
        let from = it.next().map(|x| self.ident(x)).unwrap_or_else(|| empty_ident(span));
        self.model_body(name, from, it, doc, span)
    }

    /// A model's `[incremental] { steps [contract] }`, from the pairs after its `from`.
    fn model_body<'i>(
        &mut self,
        name: Ident,
        from: Ident,
        body: impl Iterator<Item = Pair<'i, Rule>>,
        doc: Option<String>,
        span: Span,
    ) -> Model {
        let mut steps = vec![];
        let mut contract = None;
        let mut incremental = None;
        for s in body {
            match s.as_rule() {
                Rule::k_incremental => incremental = Some(self.span(&s)),
                Rule::contract => {
                    let cspan = self.span(&s);
                    let columns = s
                        .into_inner()
                        .filter(|c| c.as_rule() == Rule::column_decl)
                        .map(|c| self.column_decl(c))
                        .collect();
                    contract = Some(Contract { columns, span: cspan });
                }
                _ => steps.push(self.step(s)),
            }
        }
        Model {
            name,
            from,
            steps,
            contract,
            incremental,
            doc,
            span,
            instance: None,
        }
    }

    /// `template name(params) from rel { … }`: its body is a model named as the template.
    pub(super) fn template(&mut self, p: Pair<Rule>) -> Template {
        let span = self.span(&p);
        let doc = doc_of(&p);
        let mut name = None;
        let mut params = vec![];
        let mut from = None;
        let mut body = vec![];
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::k_template | Rule::k_from => {}
                Rule::ident if name.is_none() => name = Some(self.ident(x)),
                Rule::ident => from = Some(self.ident(x)),
                Rule::tparam => params.push(self.template_param(x, span)),
                _ => body.push(x),
            }
        }
        let name = name.unwrap_or_else(|| empty_ident(span));
        let from = from.unwrap_or_else(|| empty_ident(span));
        Template {
            params,
            body: self.model_body(name, from, body.into_iter(), doc, span),
        }
    }

    /// `name`, `name: column`, `name: expr`, `name: T`, each `[= default]`.
    fn template_param(&mut self, p: Pair<Rule>, span: Span) -> TemplateParam {
        let mut param = TemplateParam {
            name: empty_ident(span),
            kind: ParamKind::Relation,
            default: None,
        };
        for y in p.into_inner() {
            match y.as_rule() {
                Rule::ident => param.name = self.ident(y),
                Rule::tparam_kind => {
                    param.kind = match y.into_inner().next() {
                        Some(k) if k.as_rule() == Rule::k_column => ParamKind::Column,
                        Some(k) if k.as_rule() == Rule::k_expr => ParamKind::Expr,
                        Some(t) => ParamKind::Value(self.type_expr(t)),
                        None => ParamKind::Relation,
                    }
                }
                Rule::expr => param.default = Some(self.expr(y)),
                _ => {}
            }
        }
        param
    }

    /// `model name = template(args)`: a model whose body the template gives when the
    /// workspace is loaded (`syntax::templates`).
    pub(super) fn instance(&mut self, p: Pair<Rule>) -> Model {
        let span = self.span(&p);
        let doc = doc_of(&p);
        let mut idents = vec![];
        let mut args = vec![];
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::ident => idents.push(self.ident(x)),
                Rule::targ => {
                    let mut named = None;
                    let mut value = None;
                    for y in x.into_inner() {
                        match y.as_rule() {
                            Rule::ident => named = Some(self.ident(y)),
                            Rule::expr => value = Some(self.expr(y)),
                            _ => {}
                        }
                    }
                    if let Some(v) = value {
                        args.push((named, v));
                    }
                }
                _ => {}
            }
        }
        let mut idents = idents.into_iter();
        let name = idents.next().unwrap_or_else(|| empty_ident(span));
        let template = idents.next().unwrap_or_else(|| empty_ident(span));
        Model {
            name,
            // until expanded: a model that reads the template's name (unknown: E0103)
            from: template.clone(),
            steps: vec![],
            contract: None,
            incremental: None,
            doc,
            span,
            instance: Some(InstanceOf {
                template,
                args,
                span,
                template_span: span,
                template_name_span: span,
                expanded: false,
            }),
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
            Rule::closure_step => {
                let mut idents = vec![];
                let (mut max, mut max_span) = (0, span);
                let (mut shortest, mut truncate) = (false, false);
                for x in p.into_inner() {
                    match x.as_rule() {
                        Rule::ident => idents.push(self.ident(x)),
                        Rule::int_lit => {
                            max_span = self.span(&x);
                            // too large to read: above any depth the checker takes (E0215)
                            max = x.as_str().parse::<i64>().unwrap_or(i64::MAX);
                        }
                        Rule::k_shortest => shortest = true,
                        Rule::k_truncate => truncate = true,
                        _ => {}
                    }
                }
                // from, to, the `per` keys, reached, depth (the grammar gives at least four)
                let n = idents.len();
                let ident = |i: usize| idents.get(i).cloned().unwrap_or_else(|| empty_ident(span));
                StepKind::Closure(Closure {
                    from: ident(0),
                    to: ident(1),
                    per: idents.get(2..n.saturating_sub(2)).unwrap_or_default().to_vec(),
                    max,
                    max_span,
                    reached: ident(n.saturating_sub(2)),
                    depth: ident(n.saturating_sub(1)),
                    shortest,
                    truncate,
                })
            }
            Rule::unnest_step => {
                let mut unnest = Unnest {
                    expr: Expr {
                        kind: ExprKind::Error,
                        span,
                    },
                    name: empty_ident(span),
                    keep_empty: false,
                    ordinality: None,
                };
                for x in p.into_inner() {
                    match x.as_rule() {
                        Rule::expr => unnest.expr = self.expr(x),
                        Rule::ident => unnest.name = self.ident(x),
                        Rule::unnest_keep => unnest.keep_empty = true,
                        Rule::unnest_position => {
                            unnest.ordinality = x
                                .into_inner()
                                .find(|i| i.as_rule() == Rule::ident)
                                .map(|i| self.ident(i))
                        }
                        _ => {}
                    }
                }
                StepKind::Unnest(unnest)
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

/// The `##` doc comment right above a declaration.
fn doc_of(p: &Pair<Rule>) -> Option<String> {
    crate::syntax::lex::doc_above(p.get_input(), p.as_span().start())
}
