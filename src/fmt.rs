//! `semc fmt`: one canonical layout for `.sem` text, comments kept.
//!
//! The layout keeps the author's line breaks (as gofmt does) and decides everything else:
//! two spaces per block level, a continuation line one level deeper than the line it
//! continues, one space between words and around operators, none inside brackets or around
//! `.`, column types aligned in a run of column lines, at most one blank line in a row (none
//! at a block's edges), a blank line between top-level blocks, one newline at the end.
//!
//! Invariant: only whitespace changes. Every formatted text is re-lexed and must give the
//! same tokens, and must parse; otherwise formatting is refused as semc's bug.

use crate::syntax::lex::{Token, TokenKind, tokens};
use crate::syntax::{Rule, SemParser};
use pest::Parser;
use std::collections::HashMap;

const INDENT: &str = "  ";

/// Why a text was not formatted.
#[derive(Debug)]
pub enum FmtError {
    /// The text does not parse: it is reported by `semc check`, and left as it is.
    Syntax,
    /// The layout would have changed a token: semc's bug, reported, nothing written.
    Internal(String),
}

/// The text in canonical layout (without a byte order mark).
pub fn format(text: &str) -> Result<String, FmtError> {
    let text = text
        .strip_prefix(crate::syntax::decode::BYTE_ORDER_MARK)
        .unwrap_or(text);
    if crate::syntax::decode::check_depth(crate::span::FileId(1), text).is_some() {
        return Err(FmtError::Syntax);
    }
    let file = SemParser::parse(Rule::file, text).map_err(|_| FmtError::Syntax)?;
    let mut starts = HashMap::new();
    collect_statements(file, None, &mut starts);
    let toks = tokens(text);
    let out = layout(&toks, &starts);
    let again: Vec<(TokenKind, &str)> = tokens(&out).iter().map(|t| (t.kind, t.text)).collect();
    let before: Vec<(TokenKind, &str)> = toks.iter().map(|t| (t.kind, t.text)).collect();
    if again != before {
        return Err(FmtError::Internal("the layout changed a token".into()));
    }
    if SemParser::parse(Rule::file, &out).is_err() {
        return Err(FmtError::Internal("the formatted text does not parse".into()));
    }
    Ok(out)
}

/// What a line can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Statement {
    /// A top-level item that is one line when written as usual (`import`, `output`).
    LineItem(Rule),
    /// A top-level item with a `{ }` body.
    BlockItem,
    Column,
    /// `name = expr` in a `{ }` list: the `=` line up in a run of them.
    Named,
    /// A member or a step.
    Other,
}

/// Where each statement starts (byte offset). The names of `group by` are not statements: a
/// line starting one continues the `group by`.
fn collect_statements(pairs: pest::iterators::Pairs<Rule>, parent: Option<Rule>, out: &mut HashMap<usize, Statement>) {
    use Rule::*;
    for p in pairs {
        let rule = p.as_rule();
        let kind = match rule {
            import | output | fn_decl | instance | type_alias => Some(Statement::LineItem(rule)),
            policy | source | model | template => Some(Statement::BlockItem),
            column_decl => Some(Statement::Column),
            named_expr if parent == Some(named_list) => Some(Statement::Named),
            join_decl | measure_decl | dimension_decl | key_decl | scan_block | policy_entry | where_step
            | select_step | derive_step | join_step | group_step | aggregate_step | sort_step | limit_step
            | distinct_step | union_step | keep_step | closure_step | unnest_step | contract => Some(Statement::Other),
            _ => None,
        };
        if let Some(kind) = kind {
            out.entry(p.as_span().start()).or_insert(kind);
        }
        collect_statements(p.into_inner(), Some(rule), out);
    }
}

/// Words after which `(` opens a call, not a parenthesised part: names and these.
fn opens_call(word: &str) -> bool {
    const SPACED: [&str; 22] = [
        "and", "or", "not", "in", "between", "like", "is", "when", "then", "else", "key", "check", "on", "over", "by",
        "where", "as", "to", "from", "per", "unique", "null",
    ];
    !SPACED.contains(&word)
}

fn is_open(t: &Token) -> bool {
    t.kind == TokenKind::Punct && matches!(t.text, "{" | "(" | "[")
}

fn is_close(t: &Token) -> bool {
    t.kind == TokenKind::Punct && matches!(t.text, "}" | ")" | "]")
}

/// Whether `-` at `i` is a sign (no space after it), not a subtraction.
fn is_sign(toks: &[Token], i: usize) -> bool {
    let Some(prev) = i.checked_sub(1).map(|p| toks[p]) else {
        return true;
    };
    match prev.kind {
        TokenKind::Number | TokenKind::Str => false,
        TokenKind::Word => matches!(
            prev.text,
            "and" | "or" | "not" | "when" | "then" | "else" | "where" | "between" | "in" | "like" | "by" | "is"
        ),
        TokenKind::Punct => !matches!(prev.text, ")" | "]"),
        TokenKind::Comment => true,
    }
}

/// The indices of `<` and `>` that enclose a nested type's parts (`list<T>`,
/// `struct<a: T>`, `map<K, V>`): written without spaces, unlike comparisons.
fn type_angles(toks: &[Token]) -> std::collections::HashSet<usize> {
    let mut out = std::collections::HashSet::new();
    let mut i = 0;
    while i + 1 < toks.len() {
        let opens = toks[i].kind == TokenKind::Word
            && matches!(toks[i].text.to_lowercase().as_str(), "list" | "struct" | "map")
            && toks[i + 1].is("<");
        if !opens {
            i += 1;
            continue;
        }
        // a type holds no comparison: its angles pair up
        let mut depth = 0usize;
        let mut j = i + 1;
        while j < toks.len() {
            if toks[j].is("<") {
                depth += 1;
                out.insert(j);
            } else if toks[j].is(">") {
                depth -= 1;
                out.insert(j);
                if depth == 0 {
                    break;
                }
            }
            j += 1;
        }
        i = j + 1;
    }
    out
}

/// Whether a space goes between `toks[i - 1]` and `toks[i]` on one line.
fn space_before(toks: &[Token], i: usize, angles: &std::collections::HashSet<usize>) -> bool {
    let (p, n) = (toks[i - 1], toks[i]);
    if n.kind == TokenKind::Comment {
        return true;
    }
    if angles.contains(&i) || (angles.contains(&(i - 1)) && p.is("<")) {
        return false;
    }
    // `xs[1]`, `f(x)[1]`, `m["k"]`: an index, not a list
    if n.is("[") && (p.is(")") || p.is("]") || (p.kind == TokenKind::Word && opens_call(p.text))) {
        return false;
    }
    if n.kind == TokenKind::Punct && matches!(n.text, "," | ")" | "]" | "." | ":" | "...") {
        return false;
    }
    if p.kind == TokenKind::Punct && matches!(p.text, "(" | "[" | ".") {
        return false;
    }
    if p.is("-") && is_sign(toks, i - 1) {
        return false;
    }
    if p.is("{") && n.is("}") {
        return false;
    }
    if n.is("(") {
        return !(p.kind == TokenKind::Word && opens_call(p.text));
    }
    true
}

/// One line of the input: the tokens on it.
struct Line<'t, 'a> {
    toks: &'t [Token<'a>],
    /// Index of its first token in the whole token list.
    first: usize,
    blank_before: bool,
}

fn layout(toks: &[Token], starts: &HashMap<usize, Statement>) -> String {
    // split into lines
    let mut lines: Vec<Line> = vec![];
    let mut begin = 0;
    for i in 1..=toks.len() {
        if i == toks.len() || toks[i].newlines_before > 0 {
            lines.push(Line {
                toks: &toks[begin..i],
                first: begin,
                blank_before: toks[begin].newlines_before > 1,
            });
            begin = i;
        }
    }
    let aligned = aligned_names(&lines, starts);
    let angles = type_angles(toks);
    let mut out: Vec<String> = vec![];
    // brackets open at the start of the current line
    let mut open: Vec<&str> = vec![];
    // the last top-level item: its kind and whether it took more than one line
    let mut last_item: Option<(Statement, bool)> = None;
    let mut prev_ends_block_open = true;
    for (li, line) in lines.iter().enumerate() {
        let first = line.toks[0];
        let leading_closers = line.toks.iter().take_while(|t| is_close(t)).count();
        let mut level = open.len().saturating_sub(leading_closers);
        let kind = starts.get(&first.start).copied();
        let in_block = open.last().is_none_or(|b| *b == "{");
        if kind.is_none() && leading_closers == 0 && first.kind != TokenKind::Comment && in_block && li > 0 {
            level += 1;
        }
        // blank lines: at most one, none at a block's edges
        let mut blank = line.blank_before && !prev_ends_block_open && leading_closers == 0;
        if open.is_empty() && matches!(kind, Some(Statement::LineItem(_) | Statement::BlockItem)) {
            let multi_line = item_is_multi_line(&lines[li..]);
            if let Some((prev_kind, prev_multi)) = last_item
                && (prev_multi || multi_line || prev_kind != kind.unwrap_or(Statement::Other))
            {
                // the blank line goes above the comments that lead the item
                let lead = out.iter().rev().take_while(|l| l.starts_with('#')).count();
                let at = out.len() - lead;
                if at > 0 && !out[at - 1].is_empty() {
                    out.insert(at, String::new());
                }
            }
            last_item = kind.map(|k| (k, multi_line));
        }
        if blank && out.last().is_some_and(String::is_empty) {
            blank = false;
        }
        if blank && !out.is_empty() {
            out.push(String::new());
        }
        let mut text = INDENT.repeat(level);
        for (k, t) in line.toks.iter().enumerate() {
            let i = line.first + k;
            if k > 0 {
                if k == 1
                    && let Some(&(width, colon)) = aligned.get(&line.first)
                {
                    // `name:   type` / `name   = expr`
                    let pad = width - display_width(line.toks[0].text);
                    if colon {
                        text.push(':');
                        text.push_str(&" ".repeat(pad + 1));
                    } else {
                        text.push_str(&" ".repeat(pad + 1));
                        text.push_str(t.text);
                        text.push(' ');
                    }
                    continue;
                }
                if space_before(toks, i, &angles) && !(k == 2 && aligned.contains_key(&line.first)) {
                    text.push(' ');
                }
            }
            text.push_str(t.text);
        }
        out.push(text.trim_end().to_string());
        for t in line.toks {
            if is_open(t) {
                open.push(t.text);
            } else if is_close(t) {
                open.pop();
            }
        }
        prev_ends_block_open = line.toks.last().is_some_and(|t| t.is("{"));
    }
    // a blank line before a closer was dropped above; one before the end goes too
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// Whether the item starting at `lines[0]` goes on past its first line.
fn item_is_multi_line(lines: &[Line]) -> bool {
    let mut depth = 0i64;
    for (n, line) in lines.iter().enumerate() {
        for t in line.toks {
            if is_open(t) {
                depth += 1;
            } else if is_close(t) {
                depth -= 1;
            }
        }
        if depth <= 0 {
            return n > 0;
        }
    }
    lines.len() > 1
}

/// Lines that line up: each column declaration (`name: type`) and each `name = expr` of a
/// list in a run of lines of the same kind (no blank line between), with the width their
/// names are padded to and whether the name ends with `:`.
fn aligned_names(lines: &[Line], starts: &HashMap<usize, Statement>) -> HashMap<usize, (usize, bool)> {
    let name_of = |line: &Line| -> Option<(bool, usize)> {
        let kind = starts.get(&line.toks[0].start)?;
        let colon = match kind {
            Statement::Column => true,
            Statement::Named => false,
            _ => return None,
        };
        let second = line.toks.get(1)?;
        (second.is(if colon { ":" } else { "=" })).then(|| (colon, display_width(line.toks[0].text)))
    };
    let mut widths = HashMap::new();
    let mut run: Vec<(usize, usize)> = vec![];
    let mut run_kind = None;
    let mut flush = |run: &mut Vec<(usize, usize)>, colon: Option<bool>| {
        let w = run.iter().map(|(_, w)| *w).max().unwrap_or(0);
        widths.extend(run.drain(..).map(|(first, _)| (first, (w, colon.unwrap_or(true)))));
    };
    for line in lines {
        match name_of(line) {
            Some((colon, w)) if !line.blank_before && run_kind == Some(colon) => run.push((line.first, w)),
            Some((colon, w)) => {
                flush(&mut run, run_kind);
                run_kind = Some(colon);
                run.push((line.first, w));
            }
            None => {
                flush(&mut run, run_kind);
                run_kind = None;
            }
        }
    }
    flush(&mut run, run_kind);
    widths
}

/// The `.sem` files under `path` (a file, or a folder searched recursively, skipping hidden
/// folders), in name order.
pub fn sem_files(path: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    if !path.is_dir() {
        std::fs::metadata(path)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = vec![];
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let p = entry?.path();
            let hidden = p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if p.is_dir() && !hidden {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "sem") && p.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The columns a name takes on a terminal or in an editor: a CJK character takes two, a
/// combining mark none, so aligned `:` and `=` line up as they are seen.
fn display_width(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn lays_out_a_model() {
        let src = "# q\nsource  t from delta( \"x\" ){\na:int64 key\n  bee :  string\n\n\n  join u many_to_one on a=u.a\n}\nmodel m from t {\nwhere a>-1\n and bee!=\"\"\n select{a,n=count( * )}\n  derive {\n  a2=a\n  long = case\n  when a>0 then 1\n  else 0\n  end\n  }\n  group by a,\n  bee\n  aggregate {n=count()}\n}\noutput m to delta(\"o\") mode overwrite\n";
        let want = "# q\nsource t from delta(\"x\") {\n  a:   int64 key\n  bee: string\n\n  join u many_to_one on a = u.a\n}\n\nmodel m from t {\n  where a > -1\n    and bee != \"\"\n  select { a, n = count(*) }\n  derive {\n    a2   = a\n    long = case\n      when a > 0 then 1\n      else 0\n      end\n  }\n  group by a,\n    bee\n  aggregate { n = count() }\n}\n\noutput m to delta(\"o\") mode overwrite\n";
        let got = format(src).unwrap();
        assert_eq!(got, want);
        assert_eq!(format(&got).unwrap(), got);
    }
}
