//! Between semc's byte spans and the protocol's positions: lines and UTF-16 code units, as
//! the Language Server Protocol counts them by default; file paths and `file://` URIs.

use crate::diag::{Diagnostic, Severity};
use crate::span::{SourceMap, Span};
use line_index::{LineCol, LineIndex, TextSize, WideEncoding, WideLineCol};
use lsp_types::{Position, Range, Uri};
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub fn path_of(uri: &Uri) -> Option<PathBuf> {
    let url = url::Url::parse(uri.as_str()).ok()?;
    let path = url.to_file_path().ok()?;
    Some(std::fs::canonicalize(&path).unwrap_or(path))
}

pub fn uri_of(path: &Path) -> Option<Uri> {
    let url = url::Url::from_file_path(path).ok()?;
    Uri::from_str(url.as_str()).ok()
}

/// A text's positions.
pub struct Lines {
    index: LineIndex,
    len: usize,
    /// Where each line's text ends (its `\n`, or the end of the text).
    line_ends: Vec<usize>,
}

impl Lines {
    pub fn new(text: &str) -> Lines {
        let mut line_ends: Vec<usize> = text.match_indices('\n').map(|(i, _)| i).collect();
        line_ends.push(text.len());
        Lines {
            index: LineIndex::new(text),
            len: text.len(),
            line_ends,
        }
    }

    pub fn position(&self, offset: usize) -> Position {
        let offset = TextSize::try_from(offset.min(self.len)).unwrap_or_default();
        let lc = self.index.line_col(offset);
        let wide = self.index.to_wide(WideEncoding::Utf16, lc).unwrap_or(WideLineCol {
            line: lc.line,
            col: lc.col,
        });
        Position::new(wide.line, wide.col)
    }

    /// The byte offset of a position; one past the end of a line is its end.
    pub fn offset(&self, p: Position) -> usize {
        let wide = WideLineCol {
            line: p.line,
            col: p.character,
        };
        let lc = self
            .index
            .to_utf8(WideEncoding::Utf16, wide)
            .unwrap_or(LineCol { line: p.line, col: 0 });
        let clamped = self.index.line(lc.line).map(|r| {
            let start: usize = r.start().into();
            let end = self.line_ends.get(lc.line as usize).copied().unwrap_or(self.len);
            (start + lc.col as usize).min(end)
        });
        clamped.unwrap_or(self.len)
    }

    pub fn range(&self, start: usize, end: usize) -> Range {
        Range::new(self.position(start), self.position(end))
    }
}

/// A semc diagnostic in the protocol's terms: its code, message and help, its other labels
/// as related information.
pub fn diagnostic(map: &SourceMap, lines: &dyn Fn(Span) -> Range, d: &Diagnostic) -> lsp_types::Diagnostic {
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<lsp_types::DiagnosticRelatedInformation> = d
        .secondary
        .iter()
        .filter_map(|l| {
            let uri = uri_of(&map.get(l.span.file).path)?;
            Some(lsp_types::DiagnosticRelatedInformation {
                location: lsp_types::Location::new(uri, lines(l.span)),
                message: if l.message.is_empty() {
                    "here".into()
                } else {
                    l.message.clone()
                },
            })
        })
        .collect();
    lsp_types::Diagnostic {
        range: lines(d.primary.span),
        severity: Some(match d.severity {
            Severity::Error => lsp_types::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp_types::DiagnosticSeverity::WARNING,
        }),
        code: Some(lsp_types::NumberOrString::String(d.code.as_str().to_string())),
        source: Some("semc".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units() {
        let text = "a\n😀é x\n";
        let l = Lines::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(l.position(x), Position::new(1, 4));
        assert_eq!(l.offset(Position::new(1, 4)), x);
        assert_eq!(l.offset(Position::new(1, 99)), text.len() - 1);
    }
}
