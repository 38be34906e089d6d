//! One workspace as the editor sees it: its files (open buffers over disk), the checker's
//! diagnostics and index, and what completion needs of its declarations.

use crate::check::index::{Index, check_indexed};
use crate::check::{Tables, sources_of};
use crate::delta::{PinSpec, TableError, TableInfo};
use crate::diag::Diagnostic;
use crate::syntax::Workspace;
use crate::syntax::ast::{self, Item};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What was read of each table, by [`table_key`]: filled in the background.
pub type TableCache = HashMap<String, Result<TableInfo, TableError>>;

pub struct Analysis {
    pub ws: Workspace,
    pub diags: Vec<Diagnostic>,
    pub index: Index,
    /// The tables not yet in the cache (checked from declarations until they are).
    pub unread: Vec<(String, url::Url, PinSpec)>,
    /// Each file's line index for the protocol's positions, built on first use.
    lines: Vec<std::sync::OnceLock<super::convert::Lines>>,
}

/// A declared source, for completion.
#[derive(Debug, Clone, Default)]
pub struct SourceScope {
    /// (name, type as written, doc)
    pub columns: Vec<(String, String, Option<String>)>,
    /// (name, target source, cardinality)
    pub joins: Vec<(String, String, String)>,
    /// (name, expression as written, "measure" | "dimension")
    pub members: Vec<(String, String, &'static str)>,
}

/// What completion knows of a workspace: from its last analysis that parsed.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub sources: HashMap<String, SourceScope>,
    /// model name → (its `from`, its columns as (name, type))
    pub models: HashMap<String, (String, Vec<(String, String)>)>,
}

pub fn pin_of(s: &ast::Source) -> PinSpec {
    match &s.pin {
        None => PinSpec::Latest,
        Some(ast::Pin::Version(v, _)) => PinSpec::Version(*v),
        Some(ast::Pin::Timestamp(t, _)) => PinSpec::Timestamp(t.clone()),
    }
}

pub fn table_key(url: &url::Url, pin: &PinSpec) -> String {
    format!("{url}@{pin:?}")
}

/// Loads and checks the workspace of folder `root` with `overlay` standing for files on disk.
/// Tables come from `cache` when every source's is there; otherwise the declarations alone
/// are checked and the missing tables are listed in `unread`.
pub fn analyze(root: &Path, overlay: HashMap<PathBuf, String>, cache: &TableCache) -> Analysis {
    let ws = Workspace::load_with_overlay(root, None, overlay);
    let mut unread = vec![];
    let mut tables: Tables = vec![];
    for s in sources_of(&ws) {
        let pin = pin_of(s);
        match crate::project::resolve(&ws.root, &s.location) {
            Ok(url) => match cache.get(&table_key(&url, &pin)) {
                Some(t) => tables.push(t.clone()),
                None => unread.push((table_key(&url, &pin), url, pin)),
            },
            Err(e) => tables.push(Err(e)),
        }
    }
    if !unread.is_empty() {
        tables.clear();
    }
    let functions = crate::run::stdlib().unwrap_or_default();
    let (diags, index) = if ws.diags.iter().any(Diagnostic::is_error) {
        (ws.diags.clone(), Index::default())
    } else {
        let (_, mut diags, index) = check_indexed(&ws, &tables, functions);
        let mut all = ws.diags.clone();
        all.append(&mut diags);
        (all, index)
    };
    let lines = (0..ws.map.files.len()).map(|_| std::sync::OnceLock::new()).collect();
    Analysis {
        ws,
        diags,
        index,
        unread,
        lines,
    }
}

impl Analysis {
    /// The positions of file `f` (its line index is built once per analysis).
    pub fn lines(&self, f: crate::span::FileId) -> &super::convert::Lines {
        self.lines[f.0 as usize].get_or_init(|| super::convert::Lines::new(&self.ws.map.get(f).text))
    }

    pub fn parsed(&self) -> bool {
        !self.ws.diags.iter().any(Diagnostic::is_error)
    }

    pub fn file_of(&self, path: &Path) -> Option<crate::span::FileId> {
        self.ws
            .map
            .files
            .iter()
            .position(|f| f.path == path)
            .map(|i| crate::span::FileId(i as u32))
    }

    pub fn scope(&self) -> Scope {
        let text = |span: crate::span::Span| self.ws.map.text(span).to_string();
        let mut scope = Scope::default();
        for (_, f) in &self.ws.files {
            for item in &f.items {
                match item {
                    Item::Source(s) => {
                        let entry = SourceScope {
                            columns: s
                                .columns
                                .iter()
                                .map(|c| (c.name.text.clone(), text(c.ty.span()), c.doc.clone()))
                                .collect(),
                            joins: s
                                .joins
                                .iter()
                                .map(|j| {
                                    (
                                        j.name().text.clone(),
                                        j.target.text.clone(),
                                        j.cardinality.as_str().to_string(),
                                    )
                                })
                                .collect(),
                            members: s
                                .measures
                                .iter()
                                .map(|m| (m.name.text.clone(), text(m.expr.span), "measure"))
                                .chain(
                                    s.dimensions
                                        .iter()
                                        .map(|d| (d.name.text.clone(), text(d.expr.span), "dimension")),
                                )
                                .collect(),
                        };
                        scope.sources.insert(s.name.text.to_lowercase(), entry);
                    }
                    Item::Model(m) => {
                        let cols = self
                            .index
                            .models
                            .get(&m.name.text.to_lowercase())
                            .cloned()
                            .unwrap_or_default();
                        scope
                            .models
                            .insert(m.name.text.to_lowercase(), (m.from.text.to_lowercase(), cols));
                    }
                    _ => {}
                }
            }
        }
        scope
    }
}
