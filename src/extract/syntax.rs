//! A Python file's abstract syntax by ruff's parser (`ruff_python_parser`, in Rust), in the
//! shapes of CPython's `ast`: `py_defs`, `py_decorators`, `py_calls`, `py_call_args`,
//! `py_imports` (resolved here, [`Modules`]) and `py_names` (each `Name` with its context, each
//! parameter as `param`), with byte offsets (UTF-8) from the start of the file and CPython's
//! line numbers. A file that does not parse, or cannot be decoded, is a `py_errors` row and
//! has no other rows here.
//!
//! Read as CPython reads a source file: UTF-8, unless a coding cookie (PEP 263) names another
//! encoding; then the offsets are those of the file's text in UTF-8, as CPython's are.

use super::imports::{Modules, Target};
use super::tables::{Cell, Rows, table};
use datafusion::arrow::array::RecordBatch;
use datafusion::common::{DataFusionError, Result};
use ruff_python_ast::token::TokenKind;
use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Decorator, Expr, ExprContext, Parameter, Stmt};
use ruff_text_size::{Ranged, TextRange};
use std::borrow::Cow;

/// The parser's version, as the tables' commits record it.
pub const PARSER: &str = "ruff_python_parser 0.0.10";

/// The deepest a syntax tree is walked: CPython refuses far shallower files (200 nested
/// brackets, 100 indents); past it a file is an error row, and its tree is not walked.
const MAX_DEPTH: usize = 1000;

/// The tables this module writes, in the order of [`Syntax::batches`].
pub const TABLES: [&str; 7] = [
    "py_defs",
    "py_decorators",
    "py_calls",
    "py_call_args",
    "py_imports",
    "py_names",
    "py_errors",
];

/// One file's tables.
pub struct Syntax {
    /// One batch per table of [`TABLES`], in that order.
    pub batches: Vec<RecordBatch>,
    /// Whether the file parsed: CPython's `symtable` and `dis` are run only on such a file.
    pub parsed: bool,
}

/// The file being read: where it is, for its imports.
pub struct File<'a> {
    pub file_id: &'a str,
    pub repo: &'a str,
    pub path: &'a str,
    pub bytes: &'a [u8],
    /// The file as UTF-8, when it is.
    pub text: Option<&'a str>,
}

/// Parses one file and walks its tree into rows.
pub fn extract(file: &File, modules: &Modules) -> Result<Syntax> {
    let mut out = Out::new(file.file_id)?;
    let parsed = match decode(file.bytes, file.text) {
        Err(message) => {
            out.error("decode", &message, None, None);
            false
        }
        Ok(text) => match ruff_python_parser::parse_module(&text) {
            Err(e) => {
                let lines = Lines::of(&text);
                let at = e.location.start().to_usize();
                let line = lines.line_of(at);
                // CPython's column: characters from the line's start, from 1
                let col = text.get(lines.start_of(line)..at).map_or(0, |s| s.chars().count()) + 1;
                out.error("parse", &e.error.to_string(), Some(line as i64), Some(col as i64));
                false
            }
            Ok(parsed) => {
                let mut walk = Walk {
                    lines: Lines::of(&text),
                    tokens: parsed.tokens(),
                    file,
                    modules,
                    out: Out::new(file.file_id)?,
                    parent: None,
                    prefix: String::new(),
                    depth: 0,
                    too_deep: false,
                };
                walk.visit_body(&parsed.syntax().body);
                if walk.too_deep {
                    // dropping the tree is as deep as the tree: it is left to the process
                    std::mem::forget(parsed);
                    out.error(
                        "parse",
                        &format!("the syntax tree is nested more than {MAX_DEPTH} deep"),
                        None,
                        None,
                    );
                    false
                } else {
                    out = walk.out;
                    true
                }
            }
        },
    };
    Ok(Syntax {
        batches: out.rows.into_iter().map(Rows::finish).collect::<Result<_>>()?,
        parsed,
    })
}

/// The file's text as CPython decodes it: UTF-8, or the coding its cookie names.
fn decode<'a>(bytes: &'a [u8], text: Option<&'a str>) -> Result<Cow<'a, str>, String> {
    let coding = coding_cookie(bytes).map(|c| c.to_ascii_lowercase().replace('_', "-"));
    match coding.as_deref() {
        None | Some("utf-8" | "utf8") => text
            .map(Cow::Borrowed)
            .ok_or_else(|| "the file is not UTF-8 and names no other coding (PEP 263)".to_string()),
        Some(c) if c.starts_with("utf-8-") => text
            .map(Cow::Borrowed)
            .ok_or_else(|| format!("the file is not in its coding `{c}`")),
        // Latin-1 as Python reads it (the web's `latin1` label is windows-1252)
        Some("latin-1" | "latin1" | "l1" | "iso-8859-1" | "iso8859-1" | "iso-latin-1" | "cp819" | "8859") => {
            Ok(Cow::Owned(bytes.iter().map(|&b| b as char).collect()))
        }
        Some(c) => match encoding_rs::Encoding::for_label(c.as_bytes()) {
            Some(encoding) => match encoding.decode_without_bom_handling_and_without_replacement(bytes) {
                Some(text) => Ok(text),
                None => Err(format!("the file is not in its coding `{c}`")),
            },
            None => Err(format!("the coding `{c}` the file names is not one semc reads")),
        },
    }
}

/// The coding a PEP 263 cookie names, on the first line or (after a comment or blank first
/// line) the second: `# -*- coding: <name> -*-`.
fn coding_cookie(bytes: &[u8]) -> Option<&str> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    for line in bytes.split(|&b| b == b'\n').take(2) {
        let line = line.trim_ascii_start();
        if !line.starts_with(b"#") {
            if line.trim_ascii().is_empty() {
                continue;
            }
            return None;
        }
        let mut rest = line;
        while let Some(at) = find(rest, b"coding") {
            rest = &rest[at + b"coding".len()..];
            if let Some(after) = rest.strip_prefix(b":").or_else(|| rest.strip_prefix(b"=")) {
                let after = after.trim_ascii_start();
                let len = after
                    .iter()
                    .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                    .count();
                if len > 0 {
                    return std::str::from_utf8(&after[..len]).ok();
                }
            }
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Where the text's lines start (after `\n`, `\r\n` or a lone `\r`, as CPython counts them).
struct Lines(Vec<usize>);

impl Lines {
    fn of(text: &str) -> Lines {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                starts.push(i + 1);
            }
        }
        Lines(starts)
    }

    /// The line (from 1) of a byte offset.
    fn line_of(&self, offset: usize) -> usize {
        self.0.partition_point(|&s| s <= offset)
    }

    fn start_of(&self, line: usize) -> usize {
        self.0[line.saturating_sub(1).min(self.0.len() - 1)]
    }
}

/// The rows of each table of [`TABLES`], in that order.
struct Out {
    rows: Vec<Rows>,
}

// each table's place in [`TABLES`]
const DEFS: usize = 0;
const DECORATORS: usize = 1;
const CALLS: usize = 2;
const CALL_ARGS: usize = 3;
const IMPORTS: usize = 4;
const NAMES: usize = 5;
const ERRORS: usize = 6;

impl Out {
    fn new(file_id: &str) -> Result<Out> {
        let rows = TABLES
            .iter()
            .map(|name| {
                table(name)
                    .map(|def| Rows::new(def, file_id))
                    .ok_or_else(|| DataFusionError::Internal(format!("the table `{name}` is not defined")))
            })
            .collect::<Result<_>>()?;
        Ok(Out { rows })
    }

    fn error(&mut self, stage: &str, message: &str, line: Option<i64>, col: Option<i64>) {
        self.rows[ERRORS].row(&[
            Cell::Str(Some(stage)),
            Cell::Str(Some(message)),
            Cell::Int(line),
            Cell::Int(col),
        ]);
    }
}

struct Walk<'a> {
    lines: Lines,
    tokens: &'a ruff_python_ast::token::Tokens,
    file: &'a File<'a>,
    modules: &'a Modules,
    out: Out,
    /// The byte the enclosing def (function or class) starts at.
    parent: Option<i64>,
    /// The qualified name's prefix inside it (`f.<locals>.`, `C.`).
    prefix: String,
    depth: usize,
    too_deep: bool,
}

fn at(offset: impl Into<usize>) -> Cell<'static> {
    Cell::Int(Some(offset.into() as i64))
}

/// `a.b.c` of a name or of attributes of a name.
fn dotted(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Name(n) => Some(n.id.to_string()),
        Expr::Attribute(a) => Some(format!("{}.{}", dotted(&a.value)?, a.attr.id)),
        _ => None,
    }
}

/// The docstring of a body, as `ast.get_docstring(node, clean=False)` gives it.
fn docstring(body: &[Stmt]) -> Option<&str> {
    match body.first()? {
        Stmt::Expr(e) => match e.value.as_ref() {
            Expr::StringLiteral(s) => Some(s.value.to_str()),
            _ => None,
        },
        _ => None,
    }
}

impl<'a> Walk<'a> {
    fn line(&self, offset: usize) -> Cell<'static> {
        Cell::Int(Some(self.lines.line_of(offset) as i64))
    }

    /// Where a def starts as CPython says: its `def`, `async` or `class` keyword (after its
    /// decorators), the last tokens before its name that are not comments or line breaks.
    fn keyword_start(&self, name: TextRange, is_async: bool) -> usize {
        let before = &self.tokens[..self.tokens.partition_point(|t| t.start() < name.start())];
        let mut code = before
            .iter()
            .rev()
            .filter(|t| !matches!(t.kind(), TokenKind::Comment | TokenKind::NonLogicalNewline));
        let keyword = code.next();
        let start = if is_async { code.next().or(keyword) } else { keyword };
        start.map_or(name.start().to_usize(), |t| t.start().to_usize())
    }

    /// Where a compound statement ends as CPython says: at its last token that is not
    /// whitespace, a `;` after its last simple statement included.
    fn statement_end(&self, range: TextRange) -> usize {
        let after = self.tokens.partition_point(|t| t.start() < range.end());
        match self.tokens.get(after) {
            Some(t) if t.kind() == TokenKind::Semi => t.end().to_usize(),
            _ => range.end().to_usize(),
        }
    }

    fn def(
        &mut self,
        stmt: &'a Stmt,
        kind: &str,
        name: &ruff_python_ast::Identifier,
        decorators: &[Decorator],
        body: &[Stmt],
    ) {
        let is_async = kind == "async_function";
        let bstart = self.keyword_start(name.range, is_async);
        let bend = self.statement_end(stmt.range());
        let qualname = format!("{}{}", self.prefix, name.id);
        let (line, end_line) = (self.line(bstart), self.line(bend));
        self.out.rows[DEFS].row(&[
            Cell::Str(Some(kind)),
            Cell::Str(Some(name.id.as_str())),
            Cell::Str(Some(&qualname)),
            at(bstart),
            at(bend),
            at(name.range.start()),
            at(name.range.end()),
            line,
            end_line,
            Cell::Int(self.parent),
            Cell::Str(docstring(body)),
            Cell::Int(Some(decorators.len() as i64)),
        ]);
        for d in decorators {
            let named = match &d.expression {
                Expr::Call(c) => dotted(&c.func),
                e => dotted(e),
            };
            let r = d.expression.range();
            self.out.rows[DECORATORS].row(&[at(bstart), at(r.start()), at(r.end()), Cell::Str(named.as_deref())]);
        }
        let suffix = if kind == "class" { "." } else { ".<locals>." };
        let parent = self.parent.replace(bstart as i64);
        let prefix = std::mem::replace(&mut self.prefix, qualname + suffix);
        visitor::walk_stmt(self, stmt);
        self.parent = parent;
        self.prefix = prefix;
    }

    fn import(
        &mut self,
        stmt: &Stmt,
        is_from: bool,
        module: Option<&str>,
        name: &str,
        asname: Option<&str>,
        level: i64,
    ) {
        let r = stmt.range();
        let (module, name) = if is_from {
            (module, Some(name))
        } else {
            (Some(name), None)
        };
        let target = self
            .modules
            .resolve(self.file.repo, self.file.path, is_from, level, module, name);
        let (file_id, path, external) = match &target {
            Target::File { file_id, path } => (Some(*file_id), Some(*path), None),
            Target::External(top) => (None, None, Some(top.as_str())),
            Target::Unknown => (None, None, None),
        };
        let line = self.line(r.start().to_usize());
        self.out.rows[IMPORTS].row(&[
            at(r.start()),
            at(r.end()),
            line,
            Cell::Bool(is_from),
            Cell::Str(module),
            Cell::Str(name),
            Cell::Str(asname),
            Cell::Int(Some(level)),
            Cell::Int(self.parent),
            Cell::Str(file_id),
            Cell::Str(path),
            Cell::Str(external),
        ]);
    }

    fn name(&mut self, name: &str, ctx: &str, r: TextRange) {
        let line = self.line(r.start().to_usize());
        self.out.rows[NAMES].row(&[
            Cell::Str(Some(name)),
            Cell::Str(Some(ctx)),
            at(r.start()),
            at(r.end()),
            line,
            Cell::Int(self.parent),
        ]);
    }

    /// Whether the walk may go one level deeper (else the file is too deep: walked no more).
    fn deeper(&mut self) -> bool {
        if self.depth >= MAX_DEPTH {
            self.too_deep = true;
        }
        !self.too_deep
    }
}

impl<'a> Visitor<'a> for Walk<'a> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if !self.deeper() {
            return;
        }
        self.depth += 1;
        match stmt {
            Stmt::FunctionDef(f) => {
                let kind = if f.is_async { "async_function" } else { "function" };
                self.def(stmt, kind, &f.name, &f.decorator_list, &f.body);
            }
            Stmt::ClassDef(c) => self.def(stmt, "class", &c.name, &c.decorator_list, &c.body),
            Stmt::Import(i) => {
                for a in &i.names {
                    self.import(
                        stmt,
                        false,
                        None,
                        a.name.as_str(),
                        a.asname.as_ref().map(|n| n.as_str()),
                        0,
                    );
                }
            }
            Stmt::ImportFrom(i) => {
                let module = i.module.as_ref().map(|m| m.as_str());
                for a in &i.names {
                    let asname = a.asname.as_ref().map(|n| n.as_str());
                    self.import(stmt, true, module, a.name.as_str(), asname, i.level as i64);
                }
            }
            _ => visitor::walk_stmt(self, stmt),
        }
        self.depth -= 1;
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if !self.deeper() {
            return;
        }
        self.depth += 1;
        match expr {
            Expr::Call(c) => {
                let r = expr.range();
                let f = c.func.range();
                let callee = dotted(&c.func);
                let callee_name = callee.as_deref().map(|c| c.rsplit('.').next().unwrap_or(c));
                let line = self.line(r.start().to_usize());
                self.out.rows[CALLS].row(&[
                    at(r.start()),
                    at(r.end()),
                    at(f.start()),
                    at(f.end()),
                    Cell::Str(callee.as_deref()),
                    Cell::Str(callee_name),
                    Cell::Int(Some(c.arguments.args.len() as i64)),
                    Cell::Int(Some(c.arguments.keywords.len() as i64)),
                    line,
                    Cell::Int(self.parent),
                ]);
                for (i, a) in c.arguments.args.iter().enumerate() {
                    let s = match a {
                        // CPython's span of a call's lone generator argument is the call's parentheses
                        Expr::Generator(g) if !g.parenthesized => c.arguments.range,
                        _ => a.range(),
                    };
                    self.out.rows[CALL_ARGS].row(&[
                        at(r.start()),
                        Cell::Int(Some(i as i64)),
                        Cell::Str(None),
                        at(s.start()),
                        at(s.end()),
                    ]);
                }
                for k in &c.arguments.keywords {
                    let s = k.value.range();
                    self.out.rows[CALL_ARGS].row(&[
                        at(r.start()),
                        Cell::Int(None),
                        Cell::Str(k.arg.as_ref().map(|a| a.as_str())),
                        at(s.start()),
                        at(s.end()),
                    ]);
                }
            }
            Expr::Name(n) => {
                let ctx = match n.ctx {
                    ExprContext::Load => "load",
                    ExprContext::Store => "store",
                    ExprContext::Del => "del",
                    ExprContext::Invalid => "invalid",
                };
                self.name(n.id.as_str(), ctx, n.range);
            }
            _ => {}
        }
        visitor::walk_expr(self, expr);
        self.depth -= 1;
    }

    fn visit_parameter(&mut self, parameter: &'a Parameter) {
        // CPython's span of `*args` or `**kwargs` starts at its name
        let span = TextRange::new(parameter.name.range.start(), parameter.range.end());
        self.name(parameter.name.as_str(), "param", span);
        visitor::walk_parameter(self, parameter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_names_the_coding() {
        assert_eq!(coding_cookie(b"# -*- coding: latin-1 -*-\nx = 1\n"), Some("latin-1"));
        assert_eq!(
            coding_cookie(b"#!/usr/bin/python\n# vim: set fileencoding=koi8-r :\n"),
            Some("koi8-r")
        );
        assert_eq!(coding_cookie(b"x = 1\n# coding: latin-1\n"), None);
        assert_eq!(coding_cookie(b"x = 1  # coding: latin-1\n"), None);
    }

    #[test]
    fn latin_1_is_read_as_python_reads_it() {
        // 0x80 is U+0080 in Latin-1; the web's `latin1` (windows-1252) would make it '€'
        let text = decode(b"# coding: latin-1\nx = '\x80\xe9'\n", None).unwrap();
        assert!(text.ends_with("x = '\u{80}\u{e9}'\n"));
        assert!(decode(b"x = '\xe9'\n", None).is_err());
    }

    #[test]
    fn lines_are_counted_as_cpython_counts_them() {
        let lines = Lines::of("a\r\nb\rc\nd");
        assert_eq!(lines.0, vec![0, 3, 5, 7]);
        assert_eq!(lines.line_of(0), 1);
        assert_eq!(lines.line_of(4), 2);
        assert_eq!(lines.line_of(7), 4);
    }
}
