//! A Python file's concrete syntax tree by tree-sitter-python, parsed in Rust: `ts_nodes`
//! (every named node, in preorder, with its parent and the field it fills), `ts_tokens` (the
//! file's text as tokens, comments included, in source order: each leaf, and each node's own
//! text between its children; with the whitespace between them they are the file) and
//! `ts_errors` (tree-sitter's `ERROR` and `MISSING` nodes: a file that does not parse still
//! has its tree, around the errors).
//!
//! Node ids number every node of the tree, named or not, in preorder from 0, so a token's
//! `node_id` and `parent_id` are ids of the same numbering as `ts_nodes`'.

use super::tables::{Cell, Rows, table};
use datafusion::arrow::array::RecordBatch;
use tree_sitter::{Node, Parser, Point};

/// tree-sitter-python's version, as the tables' commits record it.
pub const GRAMMAR: &str = "tree-sitter-python 0.25.0";

/// A file's three tables.
pub struct Tree {
    pub nodes: RecordBatch,
    pub tokens: RecordBatch,
    pub errors: RecordBatch,
}

/// The longest text an error's message quotes.
const QUOTED: usize = 40;

/// Parses one file. `parser` is reused across files (one per thread).
pub fn extract(parser: &mut Parser, file_id: &str, source: &[u8]) -> datafusion::common::Result<Tree> {
    let (Some(nodes), Some(tokens), Some(errors)) = (table("ts_nodes"), table("ts_tokens"), table("ts_errors")) else {
        return Err(datafusion::common::DataFusionError::Internal(
            "the tree-sitter tables are not defined".into(),
        ));
    };
    let mut out = (
        Rows::new(nodes, file_id),
        Rows::new(tokens, file_id),
        Rows::new(errors, file_id),
    );
    match parser.parse(source, None) {
        Some(tree) => walk(tree.root_node(), source, &mut out),
        None => out.2.row(&[
            Cell::Int(None),
            Cell::Str(Some("error")),
            Cell::Str(Some("tree-sitter gave no tree")),
        ]),
    }
    Ok(Tree {
        nodes: out.0.finish()?,
        tokens: out.1.finish()?,
        errors: out.2.finish()?,
    })
}

/// A new parser for Python.
pub fn parser() -> Result<Parser, String> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .map_err(|e| e.to_string())?;
    Ok(parser)
}

/// A node whose children are being walked.
struct Open {
    id: i64,
    parent: Option<i64>,
    kind: &'static str,
    named: bool,
    extra: bool,
    end: usize,
    end_at: Point,
    /// The first byte its children have not covered yet, and its position.
    covered: usize,
    covered_at: Point,
}

/// The tree in preorder, iteratively (a deeply nested file cannot overflow the stack).
fn walk(root: Node, source: &[u8], (nodes, tokens, errors): &mut (Rows, Rows, Rows)) {
    let mut cursor = root.walk();
    let mut open: Vec<Open> = vec![];
    let mut next_id = 0i64;
    let mut leaves = Leaves {
        rows: tokens,
        source,
        idx: 0,
    };
    loop {
        let node = cursor.node();
        let id = next_id;
        next_id += 1;
        let parent = open.last().map(|o| o.id);
        let (start, end) = (node.start_position(), node.end_position());
        let (line, col) = (Some(start.row as i64 + 1), Some(start.column as i64));
        let (bstart, bend) = (Some(node.start_byte() as i64), Some(node.end_byte() as i64));
        if node.is_named() {
            nodes.row(&[
                Cell::Int(Some(id)),
                Cell::Int(parent),
                Cell::Str(Some(node.kind())),
                Cell::Str(cursor.field_name()),
                Cell::Int(bstart),
                Cell::Int(bend),
                Cell::Int(line),
                Cell::Int(col),
                Cell::Int(Some(end.row as i64 + 1)),
                Cell::Int(Some(end.column as i64)),
                Cell::Bool(node.is_error()),
                Cell::Bool(node.is_missing()),
                Cell::Bool(node.is_extra()),
            ]);
        }
        if node.is_error() || node.is_missing() {
            let message = if node.is_missing() {
                format!("missing `{}`", node.kind())
            } else {
                format!("unexpected `{}`", quoted(&source[node.start_byte()..node.end_byte()]))
            };
            errors.row(&[
                Cell::Int(Some(id)),
                Cell::Str(Some(if node.is_missing() { "missing" } else { "error" })),
                Cell::Str(Some(&message)),
                Cell::Int(bstart),
                Cell::Int(bend),
                Cell::Int(line),
                Cell::Int(col),
            ]);
        }
        // the parent's own text before this node
        if let Some(o) = open.last_mut() {
            leaves.gap(o, node.start_byte(), start);
        }
        let mut this = Open {
            id,
            parent,
            kind: node.kind(),
            named: node.is_named(),
            extra: node.is_extra(),
            end: node.end_byte(),
            end_at: end,
            covered: node.start_byte(),
            covered_at: start,
        };
        if cursor.goto_first_child() {
            open.push(this);
            continue;
        }
        if !node.is_missing() {
            leaves.rest(&mut this);
        }
        let mut done = (node.end_byte(), end);
        loop {
            if let Some(o) = open.last_mut()
                && done.0 > o.covered
            {
                (o.covered, o.covered_at) = done;
            }
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
            let Some(mut closed) = open.pop() else { return };
            // its own text after its last child
            leaves.rest(&mut closed);
            done = (closed.end, closed.end_at);
        }
    }
}

/// The token stream: each leaf's text, and each node's own text between its children (a
/// string's content around its escape sequences, a format specifier's), in source order.
struct Leaves<'a, 'r> {
    rows: &'r mut Rows,
    source: &'a [u8],
    idx: i64,
}

impl Leaves<'_, '_> {
    /// The text of `owner` its children have not covered, to its end.
    fn rest(&mut self, owner: &mut Open) {
        let (to, to_at) = (owner.end, owner.end_at);
        self.gap(owner, to, to_at);
    }

    /// The text of `owner` from what its children covered to `to`, as a token unless it is
    /// only whitespace and line continuations (outside a string's content, where it is text).
    fn gap(&mut self, owner: &mut Open, to: usize, to_at: Point) {
        let (from, at) = (owner.covered, owner.covered_at);
        if to <= from || to > self.source.len() {
            return;
        }
        (owner.covered, owner.covered_at) = (to, to_at);
        let bytes = &self.source[from..to];
        if owner.kind != "string_content" && blank(bytes) {
            return;
        }
        let (line, col) = (at.row as i64 + 1, at.column as i64);
        let text = String::from_utf8_lossy(bytes);
        self.rows.row(&[
            Cell::Int(Some(self.idx)),
            Cell::Int(Some(owner.id)),
            Cell::Int(owner.parent),
            Cell::Str(Some(owner.kind)),
            Cell::Str(Some(&text)),
            Cell::Int(Some(from as i64)),
            Cell::Int(Some(to as i64)),
            Cell::Int(Some(line)),
            Cell::Int(Some(col)),
            Cell::Bool(owner.named),
            Cell::Bool(owner.extra),
        ]);
        self.idx += 1;
    }
}

/// Whitespace and line continuations only.
fn blank(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => i += 1,
            b'\\' if bytes[i + 1..].starts_with(b"\n") => i += 2,
            b'\\' if bytes[i + 1..].starts_with(b"\r\n") => i += 3,
            _ => return false,
        }
    }
    true
}

/// The start of an error's text, on one line, for its message.
fn quoted(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    let line = text.lines().next().unwrap_or("");
    let mut out: String = line.chars().take(QUOTED).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// Each of `files` (`(file id, bytes)`), `jobs` at once; in the files' order.
pub fn extract_all(files: &[(&str, &[u8])], jobs: usize) -> Result<Vec<Tree>, String> {
    super::parallel::map(files.len(), jobs, &parser, &|parser, i| {
        let (file_id, source) = files[i];
        extract(parser, file_id, source).map_err(|e| e.to_string())
    })?
    .into_iter()
    .collect()
}
