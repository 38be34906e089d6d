//! Stage 1: text → syntax tree ([`ast::File`]) plus diagnostics.
//!
//! Invariant: parsing never panics and never overflows the stack. Bytes that are not
//! UTF-8, NUL bytes, nesting deeper than [`MAX_DEPTH`] and files over [`MAX_FILE_BYTES`] are
//! reported before the grammar runs; expression trees are capped at [`MAX_DEPTH`].

use crate::diag::Diagnostic;
use crate::span::FileId;
use crate::syntax::ast::*;
use pest::Parser;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use std::sync::LazyLock;

pub mod ast;
mod build_exprs;
mod builder;
pub(crate) mod decode;
mod errors;
pub mod lex;
pub mod load;
pub mod stdlib;
mod templates;

use builder::Builder;
pub use decode::decode;
use decode::{check_depth, too_deep};
pub use errors::rule_name;
use errors::syntax_error;
pub use load::{STDLIB_TEXT, Workspace};
pub use stdlib::{Signature, parse_stdlib};

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
        .op(Op::infix(Rule::op_add, Assoc::Left)
            | Op::infix(Rule::op_sub, Assoc::Left)
            | Op::infix(Rule::op_concat, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left)
            | Op::infix(Rule::op_div, Assoc::Left)
            | Op::infix(Rule::op_mod, Assoc::Left))
        .op(Op::prefix(Rule::op_neg))
        .op(Op::postfix(Rule::index) | Op::postfix(Rule::member))
});

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
            Rule::fn_decl => items.push(Item::Function(b.function(p))),
            Rule::template => items.push(Item::Template(b.template(p))),
            Rule::instance => items.push(Item::Model(b.instance(p))),
            Rule::type_alias => items.push(Item::TypeAlias(b.type_alias(p))),
            _ => {}
        }
    }
    (File { items }, b.diags)
}

pub fn unescape(raw: &str) -> String {
    unescape_checked(raw).unwrap_or_else(|_| raw.trim_matches('"').to_string())
}

/// A string literal's value: `\n`, `\t`, `\r`, `\0`, `\\`, `\"`, `\xHH` (a byte below 0x80) and
/// `\u{H…}` (a Unicode scalar value) are escapes; any other backslash stays as written, so
/// regular expressions such as `"\d+"` read as they do elsewhere. An escape that is not well
/// formed is an error: its byte offset in `raw` and what is wrong.
pub fn unescape_checked(raw: &str) -> Result<String, (usize, String)> {
    let inner = raw.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(raw);
    let offset = if raw.starts_with('"') { 1 } else { 0 };
    let mut out = String::with_capacity(inner.len());
    let mut it = inner.char_indices().peekable();
    while let Some((at, c)) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let bad = |what: &str| Err((offset + at, what.to_string()));
        match it.next().map(|(_, e)| e) {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('x') => {
                let hex: String = (0..2)
                    .filter_map(|_| it.next_if(|(_, h)| h.is_ascii_hexdigit()).map(|(_, h)| h))
                    .collect();
                match u8::from_str_radix(&hex, 16) {
                    Ok(b) if hex.len() == 2 && b < 0x80 => out.push(char::from(b)),
                    _ => return bad("`\\x` takes two hex digits below 80, e.g. `\\x1f`"),
                }
            }
            Some('u') => {
                if it.next_if(|(_, b)| *b == '{').is_none() {
                    return bad("`\\u` takes a code point in braces, e.g. `\\u{e9}`");
                }
                let hex: String =
                    std::iter::from_fn(|| it.next_if(|(_, h)| h.is_ascii_hexdigit()).map(|(_, h)| h)).collect();
                let closed = it.next_if(|(_, b)| *b == '}').is_some();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) if closed && hex.len() <= 6 => out.push(ch),
                    _ => return bad("`\\u{…}` takes 1 to 6 hex digits of a Unicode scalar value, e.g. `\\u{e9}`"),
                }
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Ok(out)
}
