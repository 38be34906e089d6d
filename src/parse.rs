//! Stage 1: text → syntax tree ([`ast::File`]) plus diagnostics.
//!
//! Invariant: parsing never panics and never overflows the stack. Bytes that are not
//! UTF-8, NUL bytes, nesting deeper than [`MAX_DEPTH`] and files over [`MAX_FILE_BYTES`] are
//! reported before the grammar runs; expression trees are capped at [`MAX_DEPTH`].

use crate::ast::*;
use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::span::{FileId, Span};
use pest::Parser;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use std::sync::LazyLock;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/sem.pest"]
pub struct SemParser;

/// Deepest nesting of brackets, prefix operators or expression trees.
pub const MAX_DEPTH: usize = 256;
/// Largest `.sem` file accepted.
pub const MAX_FILE_BYTES: usize = 16 << 20;

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::op_or, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left))
        .op(Op::prefix(Rule::op_not))
        .op(Op::infix(Rule::op_eq, Assoc::Left)
            | Op::infix(Rule::op_ne, Assoc::Left)
            | Op::infix(Rule::op_lt, Assoc::Left)
            | Op::infix(Rule::op_le, Assoc::Left)
            | Op::infix(Rule::op_gt, Assoc::Left)
            | Op::infix(Rule::op_ge, Assoc::Left)
            | Op::infix(Rule::join_eq, Assoc::Left)
            | Op::postfix(Rule::is_null)
            | Op::postfix(Rule::in_list)
            | Op::postfix(Rule::between)
            | Op::postfix(Rule::like))
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left)
            | Op::infix(Rule::op_div, Assoc::Left)
            | Op::infix(Rule::op_mod, Assoc::Left))
        .op(Op::prefix(Rule::op_neg))
});

/// Decodes raw bytes: invalid UTF-8, NUL bytes and oversize files are diagnostics.
/// Returns the text to show (lossy) and whether it may be parsed.
pub fn decode(file: FileId, bytes: &[u8]) -> (String, Option<Diagnostic>) {
    if bytes.len() > MAX_FILE_BYTES {
        let text = String::from_utf8_lossy(&bytes[..1024.min(bytes.len())]).into_owned();
        let d = Diagnostic::error(
            Code::E0007,
            Span::new(file, 0, 0),
            format!("file is {} bytes; the limit is {MAX_FILE_BYTES}", bytes.len()),
        )
        .label("this file")
        .help("split the workspace into several files with `import`");
        return (text, Some(d));
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            if let Some(p) = s.find('\0') {
                let d = Diagnostic::error(Code::E0006, Span::new(file, p, p + 1), "file contains a NUL byte")
                    .label("NUL byte here")
                    .help("`.sem` files are text; remove the byte or check that this is the right file");
                return (s.to_string(), Some(d));
            }
            (s.to_string(), None)
        }
        Err(e) => {
            let at = e.valid_up_to();
            let text = String::from_utf8_lossy(bytes).into_owned();
            // the replacement character is 3 bytes long in the lossy text
            let d = Diagnostic::error(
                Code::E0002,
                Span::new(file, at, at + 3),
                format!("invalid UTF-8 at byte {at}"),
            )
            .label("not UTF-8")
            .help("save the file as UTF-8");
            (text, Some(d))
        }
    }
}

/// Rejects nesting deeper than [`MAX_DEPTH`] before the recursive-descent grammar sees it.
fn check_depth(file: FileId, text: &str) -> Option<Diagnostic> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut prefix_run = 0usize;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'`' => {
                i += 1;
                while i < b.len() && b[i] != c && b[i] != b'\n' {
                    if b[i] == b'\\' && c == b'"' {
                        i += 1;
                    }
                    i += 1;
                }
                prefix_run = 0;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(too_deep(file, i, i + 1));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'-' => {
                prefix_run += 1;
                if prefix_run > MAX_DEPTH {
                    return Some(too_deep(file, i, i + 1));
                }
            }
            b'n' if b[i..].starts_with(b"not")
                && (i == 0 || !is_ident_byte(b[i - 1]))
                && !b.get(i + 3).is_some_and(|x| is_ident_byte(*x)) =>
            {
                prefix_run += 1;
                if prefix_run > MAX_DEPTH {
                    return Some(too_deep(file, i, i + 3));
                }
                i += 3;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => prefix_run = 0,
        }
        i += 1;
    }
    None
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn too_deep(file: FileId, start: usize, end: usize) -> Diagnostic {
    Diagnostic::error(
        Code::E0003,
        Span::new(file, start, end),
        format!("nesting deeper than {MAX_DEPTH} levels"),
    )
    .label("too deep here")
    .help("split the expression into named parts with `derive`")
}

/// Parses one file. Always returns a tree (possibly partial) and every diagnostic found.
pub fn parse_file(file: FileId, text: &str) -> (File, Vec<Diagnostic>) {
    if let Some(d) = check_depth(file, text) {
        return (File { items: vec![] }, vec![d]);
    }
    let pairs = match SemParser::parse(Rule::file, text) {
        Ok(p) => p,
        Err(e) => return (File { items: vec![] }, vec![syntax_error(file, text, e)]),
    };
    let mut b = Builder { file, diags: vec![] };
    let mut items = vec![];
    let file_pair = pairs.into_iter().next();
    for p in file_pair.into_iter().flat_map(|p| p.into_inner()) {
        match p.as_rule() {
            Rule::policy => items.push(Item::Policy(b.policy(p))),
            Rule::import => {
                let span = b.span(&p);
                let s = p.into_inner().nth(1).map(|s| unescape(s.as_str())).unwrap_or_default();
                items.push(Item::Import(Import { path: s, span }));
            }
            Rule::source => items.push(Item::Source(b.source(p))),
            Rule::model => items.push(Item::Model(b.model(p))),
            Rule::output => items.push(Item::Output(b.output(p))),
            _ => {}
        }
    }
    (File { items }, b.diags)
}

fn syntax_error(file: FileId, text: &str, e: pest::error::Error<Rule>) -> Diagnostic {
    let pos = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((a, _)) => a,
    };
    let expected = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<&str> = positives.iter().map(|r| rule_name(*r)).collect();
            names.sort();
            names.dedup();
            names
        }
        pest::error::ErrorVariant::CustomError { .. } => vec![],
    };
    let rest = &text[pos.min(text.len())..];
    let found_len = token_len(rest);
    let found = if rest.is_empty() {
        "end of file".to_string()
    } else {
        format!("`{}`", &rest[..found_len])
    };
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", join_or(&expected))
    };
    let mut d =
        Diagnostic::error(Code::E0001, Span::new(file, pos, pos + found_len), message).label(if expected.is_empty() {
            "unexpected here".to_string()
        } else {
            format!("expected {}", join_or(&expected))
        });
    if let Some(h) = syntax_help(rest, &expected) {
        d = d.help(h);
    } else {
        d = d.help("see the README's language section for the form of each item and step");
    }
    d
}

fn syntax_help(rest: &str, expected: &[&str]) -> Option<String> {
    if rest.starts_with('=') && !rest.starts_with("==") && expected.iter().any(|e| e.contains("operator")) {
        return Some("comparison is written `==`".into());
    }
    if rest.starts_with('\'') {
        return Some("strings are written in double quotes: \"text\"".into());
    }
    if rest.starts_with("--") || rest.starts_with("//") {
        return Some("comments start with `#`".into());
    }
    if rest.starts_with("&&") || rest.starts_with("||") {
        return Some("boolean operators are written `and` and `or`".into());
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_lowercase();
    let sql_hint = match word.as_str() {
        "order" => Some("results are ordered with `sort e [asc|desc], …`"),
        "having" => Some("a `where` after `aggregate { }` filters the aggregated rows"),
        "filter" => Some("rows are filtered with `where`"),
        "groupby" => Some("write `group by k` followed by `aggregate { … }`"),
        "from" => Some("a model names its input once: `model m from source { steps }`"),
        "left" | "inner" | "right" | "outer" => Some(
            "joins are written `join TARGET [as NAME] many_to_one|one_to_one|one_to_many|semi|anti on a = TARGET.b`",
        ),
        _ => None,
    };
    if let Some(h) = sql_hint {
        return Some(h.into());
    }
    None
}

/// Length in bytes of the token that starts `rest` (at least one char, at most 40 bytes).
fn token_len(rest: &str) -> usize {
    let mut chars = rest.char_indices();
    let Some((_, first)) = chars.next() else {
        return 0;
    };
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut end = first.len_utf8();
    if is_word(first) {
        for (i, c) in rest.char_indices().skip(1) {
            if !is_word(c) || i >= 40 {
                break;
            }
            end = i + c.len_utf8();
        }
    }
    end
}

fn join_or(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [a] => a.to_string(),
        _ => {
            let (last, init) = names.split_last().unwrap_or((&"", &[]));
            format!("{} or {}", init.join(", "), last)
        }
    }
}

/// Readable names of grammar rules for "expected …" messages.
pub fn rule_name(r: Rule) -> &'static str {
    use Rule::*;
    match r {
        EOI => "end of file",
        item | file => "`policy`, `import`, `source`, `model` or `output`",
        policy => "`policy`",
        import => "`import`",
        source => "`source`",
        model => "`model`",
        output => "`output`",
        ident | plain_ident | quoted_ident => "a name",
        keyword => "a name (not a keyword)",
        int_lit => "an integer",
        number_lit => "a number",
        string_lit => "a string",
        expr | bound | paren | primary | call | path | typed_lit | case_expr | cast_expr => "an expression",
        list_lit => "a list `[…]`",
        op_or | op_and | op_eq | op_ne | op_le | op_ge | op_lt | op_gt | op_add | op_sub | op_mul | op_div | op_mod
        | infix | arith => "an operator",
        is_null | in_list | between | like | postfix | negated => "an operator",
        op_not | op_neg | prefix | neg => "an expression",
        type_expr | decimal_type => "a type",
        constraint | c_key | c_unique | c_not_null | c_check => {
            "a constraint (`key`, `unique`, `not null`, `check (…)`)"
        }
        column_decl => "a column declaration `name: type`",
        join_decl | join_step => "`join`",
        measure_decl => "`measure`",
        dimension_decl => "`dimension`",
        cardinality => "`many_to_one`, `one_to_one` or `one_to_many`",
        join_cond | key_pair | join_filter | join_term => "a join condition `a = target.b`",
        join_kind => "`many_to_one`, `one_to_one`, `one_to_many`, `semi` or `anti`",
        cmp_op | join_eq => "a comparison",
        key_decl => "`key (…)`",
        k_semi => "`semi`",
        k_scan | scan_block => "`scan { … }`",
        k_anti => "`anti`",
        delta_ref => "`delta(\"path\")`",
        pin | pin_version | pin_timestamp => "`at version N` or `at timestamp \"…\"`",
        where_step | select_step | derive_step | group_step | aggregate_step | sort_step | limit_step
        | distinct_step | union_step => "a step",
        named_list | named_expr => "`name = expression` or a column",
        sort_key => "a sort key",
        sort_dir => "`asc` or `desc`",
        contract => "`contract`",
        write_mode => "`append` or `overwrite`",
        partition => "`partition by (…)`",
        when_arm => "`when`",
        else_arm => "`else`",
        policy_entry => "a policy setting `key = value`",
        policy_value => "a value",
        k_policy => "`policy`",
        k_import => "`import`",
        k_source => "`source`",
        k_model => "`model`",
        k_output => "`output`",
        k_from => "`from`",
        k_delta => "`delta`",
        k_at => "`at`",
        k_version => "`version`",
        k_timestamp => "`timestamp`",
        k_date => "`date`",
        k_interval => "`interval`",
        k_key => "`key`",
        k_unique => "`unique`",
        k_not => "`not`",
        k_null => "`null`",
        k_check => "`check`",
        k_join => "`join`",
        k_as => "`as`",
        k_on => "`on`",
        k_and => "`and`",
        k_or => "`or`",
        k_measure => "`measure`",
        k_dimension => "`dimension`",
        k_where => "`where`",
        k_select => "`select`",
        k_derive => "`derive`",
        k_group => "`group`",
        k_by => "`by`",
        k_aggregate => "`aggregate`",
        k_sort => "`sort`",
        k_limit => "`limit`",
        k_distinct => "`distinct`",
        k_union => "`union`",
        k_incremental => "`incremental`",
        k_contract => "`contract`",
        k_to => "`to`",
        k_mode => "`mode`",
        k_partition => "`partition`",
        k_in => "`in`",
        k_between => "`between`",
        k_like => "`like`",
        k_is => "`is`",
        k_case => "`case`",
        k_when => "`when`",
        k_then => "`then`",
        k_else => "`else`",
        k_end => "`end`",
        k_true => "`true`",
        k_false => "`false`",
        k_cast => "`cast`",
        k_asc => "`asc`",
        k_desc => "`desc`",
        k_fn | k_aggregate_fn | stdlib_file | signature | arg_ty | variadic | ret_ty => "a signature",
        WHITESPACE | COMMENT => "whitespace",
        ident_start | ident_cont => "a name",
        source_member => "a column, `join`, `measure` or `dimension`",
        step => {
            "a step (`where`, `select`, `derive`, `join`, `group by`, `aggregate`, `sort`, `limit`, `distinct`, `union`)"
        }
        literal => "a literal",
        star_arg => "`*`",
    }
}

pub fn unescape(raw: &str) -> String {
    let inner = raw.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(raw);
    let mut out = String::with_capacity(inner.len());
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

struct Builder {
    file: FileId,
    diags: Vec<Diagnostic>,
}

impl Builder {
    fn span(&self, p: &Pair<Rule>) -> Span {
        let s = p.as_span();
        Span::new(self.file, s.start(), s.end())
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

    fn policy(&mut self, p: Pair<Rule>) -> Policy {
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

    fn source(&mut self, p: Pair<Rule>) -> Source {
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

    fn model(&mut self, p: Pair<Rule>) -> Model {
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
                    .map(|k| {
                        let mut it = k.into_inner();
                        let expr = it.next().map(|e| self.expr(e)).unwrap_or(Expr {
                            kind: ExprKind::Error,
                            span,
                        });
                        let descending = it.next().is_some_and(|d| d.as_str() == "desc");
                        SortKey { expr, descending }
                    })
                    .collect(),
            ),
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

    fn output(&mut self, p: Pair<Rule>) -> Output {
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
            Rule::string_lit => lit(Lit::Str(unescape(p.as_str()))),
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
                let args: Vec<(Expr, usize)> = it
                    .filter(|a| a.as_rule() != Rule::star_arg)
                    .map(|a| self.pratt(a.into_inner()))
                    .collect();
                let d = args.iter().map(|a| a.1).max().unwrap_or(0) + 1;
                let e = Expr {
                    kind: ExprKind::Call(name, args.into_iter().map(|a| a.0).collect()),
                    span,
                };
                self.cap(e, d)
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

fn empty_ident(span: Span) -> Ident {
    Ident {
        text: String::new(),
        quoted: false,
        span,
    }
}

// ---------------------------------------------------------------- stdlib signatures

/// A function signature from `stdlib/functions.sem`.
#[derive(Debug, Clone)]
pub struct Signature {
    pub name: String,
    pub aggregate: bool,
    pub args: Vec<String>,
    pub variadic: bool,
    pub ret: (String, Option<usize>),
    pub engine: String,
    pub engine_const: Option<String>,
}

/// Parses the embedded standard library. It ships with the binary and is tested, so an
/// error here is a build defect: it is returned as text for an internal error.
pub fn parse_stdlib(text: &str) -> Result<Vec<Signature>, String> {
    let pairs = SemParser::parse(Rule::stdlib_file, text).map_err(|e| e.to_string())?;
    let mut out = vec![];
    for sig in pairs
        .flat_map(|p| p.into_inner())
        .filter(|p| p.as_rule() == Rule::signature)
    {
        let mut s = Signature {
            name: String::new(),
            aggregate: false,
            args: vec![],
            variadic: false,
            ret: (String::new(), None),
            engine: String::new(),
            engine_const: None,
        };
        for x in sig.into_inner() {
            match x.as_rule() {
                Rule::k_aggregate_fn => s.aggregate = true,
                Rule::ident => s.name = x.as_str().to_string(),
                Rule::arg_ty => s.args.push(x.as_str().to_string()),
                Rule::variadic => s.variadic = true,
                Rule::ret_ty => {
                    let mut it = x.into_inner();
                    let n = it.next().map(|n| n.as_str().to_string()).unwrap_or_default();
                    let a = it.next().and_then(|a| a.as_str().parse().ok());
                    s.ret = (n, a);
                }
                Rule::string_lit if s.engine.is_empty() => s.engine = unescape(x.as_str()),
                Rule::string_lit => s.engine_const = Some(unescape(x.as_str())),
                _ => {}
            }
        }
        out.push(s);
    }
    Ok(out)
}
