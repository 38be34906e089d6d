//! Diagnostics: data first (code, severity, message, labels, help), rendered with miette
//! (plain or fancy) or as JSON for editors.

use crate::codes::Code;
use crate::span::{SourceMap, Span};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    pub help: Option<String>,
}

/// A file or folder `path` that cannot be read (E0004) or written (E0010).
pub fn file_error(code: Code, path: &std::path::Path, e: &dyn std::fmt::Display) -> Diagnostic {
    let (verb, help) = match code {
        Code::E0004 => ("read", "check that the path exists and is readable"),
        _ => (
            "written",
            "check that the folder exists and is writable, and that the disk has room",
        ),
    };
    Diagnostic::error(
        code,
        Span::default(),
        format!("`{}` cannot be {verb}: {e}", path.display()),
    )
    .label(format!("not {verb}"))
    .help(help)
}

impl Diagnostic {
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            primary: Label {
                span,
                message: String::new(),
            },
            secondary: vec![],
            help: None,
        }
    }
    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }
    /// The text of the primary label.
    pub fn label(mut self, text: impl Into<String>) -> Diagnostic {
        self.primary.message = text.into();
        self
    }
    pub fn with(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            span,
            message: text.into(),
        });
        self
    }
    pub fn help(mut self, text: impl Into<String>) -> Diagnostic {
        self.help = Some(text.into());
        self
    }
    /// The same diagnostic, its primary label moved to `span`.
    pub fn at(mut self, span: Span) -> Diagnostic {
        self.primary.span = span;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Collects diagnostics of one stage.
#[derive(Debug, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }
}

/// "did you mean `x`?" for the closest candidate, if any is close enough.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lname = name.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = strsim::levenshtein(&lname, &c.to_lowercase());
        let limit = (name.chars().count().max(3)) / 3 + 1;
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}

// ---------------------------------------------------------------- rendering

struct MietteView<'a> {
    d: &'a Diagnostic,
    src: &'a miette::NamedSource<String>,
}

impl std::fmt::Debug for MietteView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.d.message)
    }
}
impl std::fmt::Display for MietteView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.d.message)
    }
}
impl std::error::Error for MietteView<'_> {}

impl miette::Diagnostic for MietteView<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        Some(Box::new(self.d.code.as_str()))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.d.help.as_ref().map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(self.src)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let file = self.d.primary.span.file;
        let mk = |l: &Label, primary: bool| {
            let text = if l.message.is_empty() {
                None
            } else {
                Some(l.message.clone())
            };
            let span = (l.span.start as usize, l.span.len());
            if primary {
                miette::LabeledSpan::new_primary_with_span(text, span)
            } else {
                miette::LabeledSpan::new_with_span(text, span)
            }
        };
        let mut v = vec![mk(&self.d.primary, true)];
        v.extend(
            self.d
                .secondary
                .iter()
                .filter(|l| l.span.file == file)
                .map(|l| mk(l, false)),
        );
        Some(Box::new(v.into_iter()))
    }
}

/// Renders diagnostics as text. `fancy` uses colour and unicode (for terminals);
/// otherwise the output is stable (no colour, fixed width) for snapshots and logs.
/// At most this many diagnostics are rendered as text (all of them go to JSON): a file with
/// thousands of errors would otherwise take minutes to print and nobody reads past these.
pub const MAX_RENDERED: usize = 200;

pub fn render(map: &SourceMap, diags: &[Diagnostic], fancy: bool) -> String {
    let handler = if fancy {
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode())
    } else {
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .with_links(false)
    };
    let mut out = String::new();
    // one copy of each file's text for miette, whatever the number of diagnostics in it
    let mut sources: std::collections::HashMap<crate::span::FileId, miette::NamedSource<String>> = Default::default();
    for d in diags.iter().take(MAX_RENDERED) {
        if d.primary.span == Span::default() {
            // no place in any file (e.g. a command-line argument)
            out.push_str(&format!(
                "{}[{}]: {}\n",
                severity_word(d.severity),
                d.code.as_str(),
                clip(&d.message)
            ));
            if let Some(h) = &d.help {
                out.push_str(&format!("  help: {h}\n"));
            }
            out.push('\n');
            continue;
        }
        let f = map.get(d.primary.span.file);
        // Long lines (a 1 MB line) would make the snippet unreadable: cut the context.
        let short;
        let d = if d.message.len() > 400 || d.primary.message.len() > 400 {
            short = Diagnostic {
                message: clip(&d.message),
                primary: Label {
                    span: d.primary.span,
                    message: clip(&d.primary.message),
                },
                ..d.clone()
            };
            &short
        } else {
            d
        };
        // a snippet of a line of many KiB is unreadable, and slow to lay out: say where
        let start = d.primary.span.start as usize;
        if f.line_len(start) > 2_000 {
            out.push_str(&format!(
                "{}[{}]: {}\n  --> {} (a line of {} bytes)\n",
                severity_word(d.severity),
                d.code.as_str(),
                clip(&d.message),
                location(map, d.primary.span),
                f.line_len(start)
            ));
            if let Some(h) = &d.help {
                out.push_str(&format!("  help: {h}\n"));
            }
            out.push('\n');
            continue;
        }
        let src = sources
            .entry(d.primary.span.file)
            .or_insert_with(|| miette::NamedSource::new(&f.name, f.text.clone()));
        let view = MietteView { d, src };
        let mut s = String::new();
        if handler.render_report(&mut s, &view).is_err() {
            s = format!("{}[{}]: {}\n", severity_word(d.severity), d.code.as_str(), d.message);
        }
        if s.len() > 20_000 {
            s = format!(
                "{}[{}]: {}\n  --> {}\n",
                severity_word(d.severity),
                d.code.as_str(),
                d.message,
                location(map, d.primary.span)
            );
            if let Some(h) = &d.help {
                s.push_str(&format!("  help: {h}\n"));
            }
        }
        out.push_str(&s);
        out.push('\n');
    }
    if diags.len() > MAX_RENDERED {
        out.push_str(&format!(
            "… and {} more diagnostic(s) not shown (`semc check --format json` lists every one)\n\n",
            diags.len() - MAX_RENDERED
        ));
    }
    out
}

/// Long texts (a 1 MB path in a message) are cut for display.
fn clip(s: &str) -> String {
    if s.len() <= 400 {
        return s.to_string();
    }
    let mut end = 400;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn location(map: &SourceMap, span: Span) -> String {
    let (l, c) = map.line_col(span.file, span.start as usize);
    format!("{}:{l}:{c}", map.get(span.file).name)
}

/// Where a label points, in lines and columns (1-based; columns count chars; line 0 and
/// no file when it points nowhere) and in bytes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Position {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub offset: u32,
    pub length: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct LabelRecord {
    #[serde(flatten)]
    pub at: Position,
    pub message: String,
}

/// A diagnostic as data with its place resolved: what `--format json` prints per line and
/// what the Python package raises.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Always `diagnostic`: every JSON line semc prints names its kind.
    pub kind: &'static str,
    /// Where the primary label points.
    #[serde(flatten)]
    pub at: Position,
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<LabelRecord>,
    pub help: Option<String>,
}

/// Each diagnostic with its place resolved against `map`.
pub fn records(map: &SourceMap, diags: &[Diagnostic]) -> Vec<Record> {
    let position = |span: Span| {
        // a diagnostic about the run as a whole (an unknown `--output`), or of a run without
        // `.sem` files (a bundle, a spec), is placed nowhere
        if span == Span::default() || map.files.get(span.file.0 as usize).is_none() {
            return Position::default();
        }
        let (line, column) = map.line_col(span.file, span.start as usize);
        let (end_line, end_column) = map.line_col(span.file, span.end as usize);
        Position {
            file: map.get(span.file).name.clone(),
            line,
            column,
            end_line,
            end_column,
            offset: span.start,
            length: span.end - span.start,
        }
    };
    let label = |l: &Label| LabelRecord {
        at: position(l.span),
        message: l.message.clone(),
    };
    diags
        .iter()
        .map(|d| Record {
            kind: "diagnostic",
            at: position(d.primary.span),
            code: d.code.as_str(),
            severity: d.severity,
            message: d.message.clone(),
            labels: std::iter::once(&d.primary).chain(&d.secondary).map(label).collect(),
            help: d.help.clone(),
        })
        .collect()
}

/// One JSON object per line, one line per diagnostic.
pub fn render_json(map: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for r in records(map, diags) {
        out.push_str(&serde_json::to_string(&r).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// What every set of diagnostics must be, whatever the input: each has a help, each label's
/// span lies inside its file on char boundaries, and both renderings finish. Tests and fuzz
/// targets hold the front end to it.
pub fn well_formed(map: &SourceMap, diags: &[Diagnostic]) -> Result<(), String> {
    for d in diags {
        for l in std::iter::once(&d.primary).chain(&d.secondary) {
            let t = &map.get(l.span.file).text;
            let (s, e) = (l.span.start as usize, l.span.end as usize);
            if s > e || e > t.len() || !t.is_char_boundary(s) || !t.is_char_boundary(e) {
                return Err(format!(
                    "{}: bad span {s}..{e} (file of {} bytes)",
                    d.code.as_str(),
                    t.len()
                ));
            }
        }
        if d.help.is_none() {
            return Err(format!("{} `{}` has no help", d.code.as_str(), d.message));
        }
    }
    let _ = render(map, diags, false);
    let _ = render(map, diags, true);
    let _ = render_json(map, diags);
    Ok(())
}
