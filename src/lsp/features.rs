//! What the editor asks for at a position: hover, definition, references, completion, the
//! outline, formatting and quick fixes.

use super::analysis::{Analysis, Scope, SourceScope};
use super::convert::{Lines, uri_of};
use crate::span::Span;
use crate::syntax::ast::Item;
use crate::syntax::lex::{TokenKind, tokens};
use lsp_types::*;

/// The protocol range of a span of the analysis.
pub fn range_of(a: &Analysis, span: Span) -> Range {
    a.lines(span.file).range(span.start as usize, span.end as usize)
}

fn location_of(a: &Analysis, span: Span) -> Option<Location> {
    Some(Location::new(uri_of(&a.ws.map.get(span.file).path)?, range_of(a, span)))
}

pub fn hover(a: &Analysis, file: crate::span::FileId, offset: usize) -> Option<Hover> {
    let r = a.index.at(file, offset)?;
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: r.hover.clone(),
        }),
        range: Some(range_of(a, r.span)),
    })
}

pub fn definition(a: &Analysis, file: crate::span::FileId, offset: usize) -> Option<Location> {
    location_of(a, a.index.at(file, offset)?.def?)
}

pub fn references(a: &Analysis, file: crate::span::FileId, offset: usize, with_decl: bool) -> Vec<Location> {
    let Some(def) = a.index.at(file, offset).and_then(|r| r.def) else {
        return vec![];
    };
    a.index
        .references(def)
        .into_iter()
        .filter(|s| with_decl || *s != def)
        .filter_map(|s| location_of(a, s))
        .collect()
}

/// The outline of one file.
pub fn symbols(a: &Analysis, file: crate::span::FileId) -> Vec<DocumentSymbol> {
    let Some((_, f)) = a.ws.files.iter().find(|(id, _)| *id == file) else {
        return vec![];
    };
    #[allow(deprecated)] // `deprecated` is a field the protocol type still requires
    let symbol = |name: String, detail: Option<String>, kind, span: Span, sel: Span, children: Vec<DocumentSymbol>| {
        DocumentSymbol {
            name,
            detail,
            kind,
            tags: None,
            deprecated: None,
            range: range_of(a, span),
            selection_range: range_of(a, sel),
            children: (!children.is_empty()).then_some(children),
        }
    };
    let text = |s: Span| {
        a.ws.map
            .get(s.file)
            .text
            .get(s.start as usize..s.end as usize)
            .unwrap_or("")
            .to_string()
    };
    f.items
        .iter()
        .map(|item| match item {
            Item::Source(s) => {
                let mut children: Vec<DocumentSymbol> = s
                    .columns
                    .iter()
                    .map(|c| {
                        symbol(
                            c.name.text.clone(),
                            Some(text(c.ty.span())),
                            SymbolKind::FIELD,
                            c.span,
                            c.name.span,
                            vec![],
                        )
                    })
                    .collect();
                children.extend(s.joins.iter().map(|j| {
                    let detail = format!("{} {}", j.cardinality.as_str(), j.target.text);
                    symbol(
                        j.name().text.clone(),
                        Some(detail),
                        SymbolKind::INTERFACE,
                        j.span,
                        j.name().span,
                        vec![],
                    )
                }));
                for (list, what) in [(&s.measures, "measure"), (&s.dimensions, "dimension")] {
                    children.extend(list.iter().map(|m| {
                        symbol(
                            m.name.text.clone(),
                            Some(what.into()),
                            SymbolKind::PROPERTY,
                            m.span,
                            m.name.span,
                            vec![],
                        )
                    }));
                }
                symbol(
                    s.name.text.clone(),
                    Some(format!("source {}", s.location)),
                    SymbolKind::CLASS,
                    s.span,
                    s.name.span,
                    children,
                )
            }
            Item::Model(m) => symbol(
                m.name.text.clone(),
                Some(format!("model from {}", m.from.text)),
                SymbolKind::FUNCTION,
                m.span,
                m.name.span,
                vec![],
            ),
            Item::Output(o) => symbol(
                format!("output {}", o.model.text),
                Some(o.location.clone()),
                SymbolKind::EVENT,
                o.span,
                o.model.span,
                vec![],
            ),
            Item::Function(f) => symbol(
                f.name.text.clone(),
                Some(format!("fn → {}", text(f.ret.span()))),
                SymbolKind::METHOD,
                f.span,
                f.name.span,
                vec![],
            ),
            Item::Template(t) => symbol(
                t.body.name.text.clone(),
                Some(format!("template from {}", t.body.from.text)),
                SymbolKind::FUNCTION,
                t.body.span,
                t.body.name.span,
                vec![],
            ),
            Item::TypeAlias(t) => symbol(
                t.name.text.clone(),
                Some(format!("type = {}", text(t.ty.span()))),
                SymbolKind::TYPE_PARAMETER,
                t.span,
                t.name.span,
                vec![],
            ),
            Item::Policy(p) => symbol("policy".into(), None, SymbolKind::NAMESPACE, p.span, p.span, vec![]),
            Item::Import(i) => symbol(
                format!("import {}", i.path),
                None,
                SymbolKind::FILE,
                i.span,
                i.span,
                vec![],
            ),
        })
        .collect()
}

/// The whole text in canonical layout, as one edit (none when it does not parse).
pub fn formatting(text: &str) -> Vec<TextEdit> {
    match crate::fmt::format(text) {
        Ok(out) if out != text => vec![TextEdit {
            range: Lines::new(text).range(0, text.len()),
            new_text: out,
        }],
        _ => vec![],
    }
}

/// A quick fix for each diagnostic that suggests a name ("did you mean `x`?").
pub fn code_actions(uri: &Uri, context: &CodeActionContext) -> Vec<CodeActionOrCommand> {
    context
        .diagnostics
        .iter()
        .filter_map(|d| {
            let at = d.message.find("did you mean `")? + "did you mean `".len();
            let name = d.message[at..].split('`').next()?.to_string();
            let edit = TextEdit {
                range: d.range,
                new_text: name.clone(),
            };
            Some(CodeActionOrCommand::CodeAction(CodeAction {
                title: format!("replace with `{name}`"),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![d.clone()]),
                edit: Some(WorkspaceEdit {
                    changes: Some([(uri.clone(), vec![edit])].into_iter().collect()),
                    ..Default::default()
                }),
                is_preferred: Some(true),
                ..Default::default()
            }))
        })
        .collect()
}

/// Where the cursor is: which kind of block, and of what.
#[derive(Debug, PartialEq)]
enum Place {
    TopLevel,
    /// In source NAME's body.
    Source(String),
    /// In a model reading FROM.
    Model(String),
    Other,
}

fn place(before: &str) -> Place {
    let mut depth = 0usize;
    let mut item: Option<(String, Vec<String>)> = None;
    let toks = tokens(before);
    for (i, t) in toks.iter().enumerate() {
        if t.kind == TokenKind::Comment || t.kind == TokenKind::Str {
            continue;
        }
        match t.text {
            "{" => depth += 1,
            "}" => depth = depth.saturating_sub(1),
            "source" | "model" | "output" | "policy" | "import" if depth == 0 => {
                let words = toks[i + 1..]
                    .iter()
                    .take(3)
                    .filter(|w| w.kind == TokenKind::Word)
                    .map(|w| w.text.to_lowercase())
                    .collect();
                item = Some((t.text.to_string(), words));
            }
            _ => {}
        }
    }
    match (depth, item) {
        (0, _) => Place::TopLevel,
        (_, Some((kw, words))) if kw == "source" => Place::Source(words.first().cloned().unwrap_or_default()),
        (_, Some((kw, words))) if kw == "model" => Place::Model(words.get(2).cloned().unwrap_or_default()),
        _ => Place::Other,
    }
}

/// The dotted names right before the cursor: `orders.customer.` gives ["orders", "customer"].
fn path_before(before: &str) -> Option<Vec<String>> {
    let ident = |c: char| c == '_' || c == '`' || unicode_ident::is_xid_continue(c);
    let word_start = before.trim_end_matches(ident).len();
    let mut rest = &before[..word_start];
    let mut parts = vec![];
    while let Some(r) = rest.strip_suffix('.') {
        let start = r.trim_end_matches(ident).len();
        if start == r.len() {
            return None;
        }
        parts.push(r[start..].trim_matches('`').to_lowercase());
        rest = &r[..start];
    }
    parts.reverse();
    (!parts.is_empty()).then_some(parts)
}

const TOP_LEVEL: [&str; 5] = ["source", "model", "output", "import", "policy"];
const SOURCE_BODY: [&str; 9] = [
    "join",
    "measure",
    "dimension",
    "key",
    "scan",
    "unique",
    "not null",
    "check",
    "many_to_one",
];
const TYPES: [&str; 12] = [
    "int8",
    "int16",
    "int32",
    "int64",
    "float32",
    "float64",
    "decimal",
    "string",
    "bool",
    "date",
    "timestamp",
    "binary",
];
const STEPS: [&str; 14] = [
    "where",
    "select",
    "derive",
    "join",
    "group by",
    "aggregate",
    "sort",
    "limit",
    "distinct",
    "union",
    "keep",
    "contract",
    "desc",
    "over",
];

fn keyword(k: &str) -> CompletionItem {
    CompletionItem {
        label: k.to_string(),
        kind: Some(CompletionItemKind::KEYWORD),
        ..Default::default()
    }
}

fn source_items(s: &SourceScope) -> Vec<CompletionItem> {
    let mut out: Vec<CompletionItem> = s
        .columns
        .iter()
        .map(|(n, ty, doc)| CompletionItem {
            label: n.clone(),
            kind: Some(CompletionItemKind::FIELD),
            detail: Some(ty.clone()),
            documentation: doc.clone().map(Documentation::String),
            ..Default::default()
        })
        .collect();
    out.extend(s.joins.iter().map(|(n, target, card)| CompletionItem {
        label: n.clone(),
        kind: Some(CompletionItemKind::REFERENCE),
        detail: Some(format!("join → {target} ({card})")),
        ..Default::default()
    }));
    out.extend(s.members.iter().map(|(n, expr, what)| CompletionItem {
        label: n.clone(),
        kind: Some(CompletionItemKind::VALUE),
        detail: Some(format!("{what} = {expr}")),
        ..Default::default()
    }));
    out
}

/// What fits at the cursor: `before` is the text up to it.
pub fn completion(scope: &Scope, before: &str) -> Vec<CompletionItem> {
    let here = place(before);
    if let Some(path) = path_before(before) {
        let start = match &here {
            Place::Source(s) => Some(s.clone()),
            Place::Model(from) => Some(from.clone()),
            _ => None,
        };
        // a single-row model's columns: `totals.revenue`
        if path.len() == 1
            && let Some((_, cols)) = scope.models.get(&path[0])
        {
            return cols
                .iter()
                .map(|(n, ty)| CompletionItem {
                    label: n.clone(),
                    kind: Some(CompletionItemKind::FIELD),
                    detail: Some(ty.clone()),
                    ..Default::default()
                })
                .collect();
        }
        let mut cur = start.and_then(|s| scope.sources.get(&s));
        for part in &path {
            let target = cur.and_then(|s| s.joins.iter().find(|(n, _, _)| n.to_lowercase() == *part));
            cur = target.and_then(|(_, t, _)| scope.sources.get(&t.to_lowercase()));
        }
        return cur.map(source_items).unwrap_or_default();
    }
    let mut out: Vec<CompletionItem> = vec![];
    match &here {
        Place::TopLevel => out.extend(TOP_LEVEL.iter().map(|k| keyword(k))),
        Place::Source(name) => {
            out.extend(SOURCE_BODY.iter().chain(&TYPES).map(|k| keyword(k)));
            if let Some(s) = scope.sources.get(name) {
                out.extend(source_items(s));
            }
            out.extend(scope.sources.keys().map(|n| relation_item(n, "source")));
        }
        Place::Model(from) => {
            out.extend(STEPS.iter().map(|k| keyword(k)));
            if let Some(s) = scope.sources.get(from) {
                out.extend(source_items(s));
            } else if let Some((_, cols)) = scope.models.get(from) {
                out.extend(cols.iter().map(|(n, ty)| CompletionItem {
                    label: n.clone(),
                    kind: Some(CompletionItemKind::FIELD),
                    detail: Some(ty.clone()),
                    ..Default::default()
                }));
            }
            out.extend(scope.sources.keys().map(|n| relation_item(n, "source")));
            out.extend(scope.models.keys().map(|n| relation_item(n, "model")));
        }
        Place::Other => {}
    }
    if matches!(here, Place::Source(_) | Place::Model(_)) {
        out.extend(functions());
    }
    out
}

fn relation_item(name: &str, what: &str) -> CompletionItem {
    CompletionItem {
        label: name.to_string(),
        kind: Some(CompletionItemKind::MODULE),
        detail: Some(what.to_string()),
        ..Default::default()
    }
}

fn functions() -> Vec<CompletionItem> {
    let sigs = crate::run::stdlib().unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    sigs.iter()
        .filter(|s| seen.insert(s.name.clone()))
        .map(|s| CompletionItem {
            label: s.name.clone(),
            kind: Some(CompletionItemKind::FUNCTION),
            detail: Some(format!("{} -> {}", s.display(), s.ret)),
            documentation: Some(Documentation::String(s.doc.clone())),
            ..Default::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_where_the_cursor_is() {
        assert_eq!(
            place("source a from delta(\"x\") {\n  x: int64\n"),
            Place::Source("a".into())
        );
        assert_eq!(
            place("source a from delta(\"x\") { }\nmodel m from lineitem {\n where "),
            Place::Model("lineitem".into())
        );
        assert_eq!(place("model m from t { }\n"), Place::TopLevel);
        assert_eq!(
            path_before("  where orders.customer.c_"),
            Some(vec!["orders".into(), "customer".into()])
        );
        assert_eq!(path_before("  where orders"), None);
    }
}
