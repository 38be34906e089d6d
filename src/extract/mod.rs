//! Stage 0: `semc extract PATH… --to LAKE` — a repository's code anatomy as Delta tables,
//! extracted in parallel, outside the planner, before any `.sem` plan reads them.
//!
//! Files are walked as git sees them (`.gitignore`, hidden files and `.git` skipped, with or
//! without a git repository). Every file is a row of `repo_files` (its sha256, size,
//! encoding, lines); a Python file's lines are `file_lines`; its abstract syntax is ruff's
//! parser's, in CPython's `ast` shapes, in Rust ([`syntax`]: `py_defs`, `py_decorators`,
//! `py_calls`, `py_call_args`, `py_imports` — resolved to files of the extracted repositories,
//! else named as an external package —, `py_names`, `py_errors`); its concrete syntax tree and
//! tokens (comments included) are tree-sitter-python's, in Rust ([`cst`]: `ts_nodes`,
//! `ts_tokens`, `ts_errors`); CPython's own `symtable` and `dis` (a long-lived helper per job,
//! [`python`]) give `py_scopes`, `py_symbols`, `py_code_objects` and `py_instructions` for the
//! files the parser read. Byte offsets are UTF-8, from the start of the file. The syntax comes
//! first; then tree-sitter and the helpers run at once. A file that does not parse is a row of
//! `py_errors` (and its tree has `ts_errors`), never a failed run.
//!
//! Each table is written in one commit (overwrite), its rows in the order of the files'
//! paths, then as the file gives them; each commit records the extractor's versions and each
//! repository's state. A rerun extracts only files whose sha256 changed (or that are new);
//! the other files' rows are carried over from the lake. Without Python, the helpers' four
//! tables are not written (a warning, E0013); the others are.

mod cst;
mod imports;
mod lake;
mod parallel;
mod python;
mod syntax;
pub mod tables;

use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::run::Failure;
use crate::span::Span;
use datafusion::arrow::array::{RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use futures::StreamExt;
use lake::{Earlier, rows_by_file, table_url};
use serde_json::{Map, Value};
use sha2::Digest;
use std::collections::HashMap;
use std::path::PathBuf;
use tables::{Cell, Extractor, Rows, TABLES, TableDef};
use url::Url;

/// The version of the extractors' tables: a change of columns or of what a row means.
pub const EXTRACT_VERSION: &str = "3";

#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// Files extracted at once (Python helpers).
    pub jobs: usize,
    /// The Python to run the helpers with (`SEMC_PYTHON`, else `python3`).
    pub python: String,
    /// Paths left out, as `.gitignore` lines (`site-packages/`, `*_test.py`).
    pub exclude: Vec<String>,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            jobs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            python: std::env::var("SEMC_PYTHON").unwrap_or_else(|_| "python3".into()),
            exclude: vec![],
        }
    }
}

/// What a run of `semc extract` did.
#[derive(Debug, Clone, Default)]
pub struct ExtractReport {
    pub files: usize,
    /// Files read and parsed by this run (new or changed).
    pub extracted: usize,
    /// Files whose rows were carried over from the lake (unchanged).
    pub carried: usize,
    /// Each table written: its name, rows and Delta version.
    pub tables: Vec<(String, usize, i64)>,
    /// Python's version, when the `py_*` tables were written.
    pub python: Option<String>,
    /// Nothing changed since the lake's tables were written: nothing was.
    pub up_to_date: bool,
    pub warnings: Vec<Diagnostic>,
}

/// A file of a repository.
struct SourceFile {
    repo: String,
    /// Relative to the repository's root, with `/`.
    path: String,
    abs: PathBuf,
    file_id: String,
    sha256: String,
    size: i64,
    content: Content,
    python: bool,
}

/// A file's bytes, known once to be UTF-8 text or not.
enum Content {
    Text(String),
    Binary(Vec<u8>),
}

impl SourceFile {
    /// The file as text, when it is UTF-8.
    fn text(&self) -> Option<&str> {
        match &self.content {
            Content::Text(text) => Some(text),
            Content::Binary(_) => None,
        }
    }

    fn bytes(&self) -> &[u8] {
        match &self.content {
            Content::Text(text) => text.as_bytes(),
            Content::Binary(bytes) => bytes,
        }
    }
}

/// The stable id of a file: `stable_id("file", "<repo>/<path>")`, as a `.sem` model computes it.
pub fn file_id(repo: &str, path: &str) -> String {
    crate::engine::ids::stable_id("file", &format!("{repo}/{path}"))
}

fn unreadable(what: String, help: &str) -> Failure {
    Failure::User(vec![
        Diagnostic::error(Code::E0004, Span::default(), what).help(help.to_string()),
    ])
}

/// The files of each repository, as git sees them, in (repository, path) order.
fn walk(repos: &[PathBuf], exclude: &[String]) -> Result<Vec<(String, String, PathBuf)>, Failure> {
    let mut out = vec![];
    for root in repos {
        let root = std::fs::canonicalize(root).map_err(|e| {
            unreadable(
                format!("cannot read `{}`: {e}", root.display()),
                "give the folder of a repository",
            )
        })?;
        if !root.is_dir() {
            return Err(unreadable(
                format!("`{}` is not a folder", root.display()),
                "give the folder of a repository",
            ));
        }
        let repo = root
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "repo".into());
        let mut overrides = ignore::overrides::OverrideBuilder::new(&root);
        for pattern in exclude {
            overrides.add(&format!("!{pattern}")).map_err(|e| {
                Failure::User(vec![
                    Diagnostic::error(Code::E0012, Span::default(), format!("--exclude `{pattern}`: {e}"))
                        .help("write a pattern as a `.gitignore` line, e.g. `site-packages/` or `*_test.py`"),
                ])
            })?;
        }
        let overrides = overrides
            .build()
            .map_err(|e| Failure::Internal(format!("exclude patterns: {e}")))?;
        let walker = ignore::WalkBuilder::new(&root)
            .overrides(overrides)
            .require_git(false)
            .follow_links(false)
            .sort_by_file_path(|a, b| a.cmp(b))
            .build();
        for entry in walker {
            let entry = entry.map_err(|e| {
                unreadable(
                    format!("cannot walk `{}`: {e}", root.display()),
                    "check the folder's permissions",
                )
            })?;
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let rel = entry.path().strip_prefix(&root).unwrap_or(entry.path());
            let path = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((repo.clone(), path, entry.path().to_path_buf()));
        }
    }
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Ok(out)
}

/// Reads and hashes the files, `jobs` at once.
fn read_files(found: Vec<(String, String, PathBuf)>, jobs: usize) -> Result<Vec<SourceFile>, Failure> {
    let chunk = found.len().div_ceil(jobs.max(1)).max(1);
    let read = |(repo, path, abs): (String, String, PathBuf)| -> Result<SourceFile, Failure> {
        let bytes = std::fs::read(&abs).map_err(|e| {
            unreadable(
                format!("cannot read `{}`: {e}", abs.display()),
                "check the file's permissions",
            )
        })?;
        let sha256: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let python = path.ends_with(".py") || path.ends_with(".pyi");
        Ok(SourceFile {
            file_id: file_id(&repo, &path),
            size: bytes.len() as i64,
            content: match String::from_utf8(bytes) {
                Ok(text) => Content::Text(text),
                Err(e) => Content::Binary(e.into_bytes()),
            },
            repo,
            path,
            abs,
            sha256,
            python,
        })
    };
    std::thread::scope(|s| {
        let mut rest = found;
        let mut handles = vec![];
        while !rest.is_empty() {
            let tail = rest.split_off(chunk.min(rest.len()));
            let part = std::mem::replace(&mut rest, tail);
            handles.push(s.spawn(move || part.into_iter().map(read).collect::<Result<Vec<_>, _>>()));
        }
        let mut out = vec![];
        for h in handles {
            out.extend(
                h.join()
                    .map_err(|_| Failure::Internal("a file reader panicked".into()))??,
            );
        }
        Ok(out)
    })
}

/// The `repo_files` row of a file.
fn file_rows(def: &'static TableDef, f: &SourceFile) -> datafusion::common::Result<RecordBatch> {
    let mut rows = Rows::new(def, &f.file_id);
    let lines = f.text().map(|t| t.split_inclusive('\n').count() as i64);
    rows.row(&[
        Cell::Str(Some(&f.repo)),
        Cell::Str(Some(&f.path)),
        Cell::Int(Some(f.size)),
        Cell::Str(Some(&f.sha256)),
        Cell::Str(Some(if f.text().is_some() { "utf-8" } else { "binary" })),
        Cell::Int(lines),
        Cell::Str(f.python.then_some("python")),
    ]);
    rows.finish()
}

/// The `file_lines` rows of a Python file (none for another file).
fn line_rows(def: &'static TableDef, f: &SourceFile) -> datafusion::common::Result<RecordBatch> {
    let mut rows = Rows::new(def, &f.file_id);
    if let Some(text) = f.text().filter(|_| f.python) {
        let mut start = 0usize;
        for (i, line) in text.split_inclusive('\n').enumerate() {
            rows.row(&[
                Cell::Int(Some(i as i64 + 1)),
                Cell::Int(Some(start as i64)),
                Cell::Str(Some(line.strip_suffix('\n').unwrap_or(line).trim_end_matches('\r'))),
            ]);
            start += line.len();
        }
    }
    rows.finish()
}

/// The repositories' state, as each commit records it: git's HEAD where there is one.
fn repo_states(repos: &[PathBuf]) -> Value {
    let mut out = Map::new();
    for r in repos {
        let head = std::process::Command::new("git")
            .args(["-C", &r.to_string_lossy(), "rev-parse", "HEAD"])
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        let name = std::fs::canonicalize(r)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
            .unwrap_or_default();
        out.insert(
            name,
            head.map(Value::from).unwrap_or(Value::from("not a git repository")),
        );
    }
    Value::Object(out)
}

/// Extracts `repos` into the Delta tables under `lake`.
pub async fn extract(repos: &[PathBuf], lake: &Url, opts: &ExtractOptions) -> Result<ExtractReport, Failure> {
    let mut report = ExtractReport::default();
    let lake = crate::delta::as_folder(lake);
    let found = walk(repos, &opts.exclude)?;
    lake::reachable(&lake).await?;
    let files = tokio::task::block_in_place(|| read_files(found, opts.jobs))?;
    report.files = files.len();
    let python = match python::probe(&opts.python) {
        Ok(v) => Some(v),
        Err(e) => {
            report.warnings.push(
                Diagnostic::warning(Code::E0013, Span::default(), format!("no Python to extract Python files with: {e}"))
                    .help("install Python 3 (or set SEMC_PYTHON to one): every table but `py_scopes`, `py_symbols`, `py_code_objects` and `py_instructions` is written"),
            );
            None
        }
    };
    report.python = python.as_ref().map(|v| v.python.clone());
    let versions = serde_json::json!({
        "semc": env!("CARGO_PKG_VERSION"),
        "tables": EXTRACT_VERSION,
        "helper": python.as_ref().map(|v| v.helper.clone()),
        "parser": syntax::PARSER,
        "tree_sitter": cst::GRAMMAR,
        "python": python.as_ref().map(|v| v.python.clone()),
    });
    let mut before = lake::earlier(&lake, &versions).await;
    let fresh = changed(&files, before.as_ref());
    report.extracted = fresh.len();
    report.carried = files.len() - fresh.len();
    let removed = before.as_ref().is_some_and(|b| b.sha256.len() != report.carried);
    if before.is_some() && fresh.is_empty() && !removed {
        report.up_to_date = true;
        return Ok(report);
    }
    if let Some(b) = before.as_mut()
        && report.carried > 0
        && b.read_tables(&lake).await.is_none()
    {
        // an earlier table cannot be read back: extract everything again
        before = None;
    }
    let unchanged = |f: &SourceFile| before.as_ref().is_some_and(|b| b.holds(f));
    let fresh = changed(&files, before.as_ref());
    report.extracted = fresh.len();
    report.carried = files.len() - fresh.len();
    let to_parse: Vec<usize> = fresh.iter().copied().filter(|&i| files[i].python).collect();
    let modules = imports::Modules::of(
        files
            .iter()
            .map(|f| (f.repo.as_str(), f.path.as_str(), f.file_id.as_str())),
    );
    // each parsed file's `py_*` and `ts_*` batches: the abstract syntax first (ruff's parser,
    // fast), which says the files CPython can read
    let (mut parsed, readable) = tokio::task::block_in_place(|| read_syntax(&files, &to_parse, &modules, opts.jobs))?;
    // then tree-sitter and CPython's `symtable` and `dis` (helpers) at once
    let sources: Vec<(&str, &[u8])> = to_parse
        .iter()
        .filter_map(|&i| Some((files[i].file_id.as_str(), files[i].text()?.as_bytes())))
        .collect();
    let paths: Vec<PathBuf> = readable.iter().map(|&i| files[i].abs.clone()).collect();
    let convert = |k: usize, mut tables: python::FileRows| -> Result<HashMap<&'static str, RecordBatch>, String> {
        let f = &files[readable[k]];
        let mut out = HashMap::new();
        // the helpers' tables, and the errors of their stages (added to the parser's below)
        for def in TABLES
            .iter()
            .filter(|t| t.extractor == Extractor::Python || t.name == "py_errors")
        {
            let Some(Value::Object(columns)) = tables.remove(def.name) else {
                continue;
            };
            out.insert(
                def.name,
                def.batch_from_columns(&f.file_id, &columns)
                    .map_err(|e| e.to_string())?,
            );
        }
        Ok(out)
    };
    let (trees, made) = tokio::task::block_in_place(|| {
        std::thread::scope(|s| {
            let trees = s.spawn(|| cst::extract_all(&sources, opts.jobs));
            let made = python
                .is_some()
                .then(|| python::extract_all(&opts.python, &paths, opts.jobs, &convert));
            (trees.join(), made)
        })
    });
    let trees = trees
        .map_err(|_| Failure::Internal("the tree-sitter parsers panicked".into()))?
        .map_err(|e| Failure::Internal(format!("tree-sitter: {e}")))?;
    for ((file_id, _), tree) in sources.iter().zip(trees) {
        let tables = parsed.entry(file_id.to_string()).or_default();
        tables.insert("ts_nodes", tree.nodes);
        tables.insert("ts_tokens", tree.tokens);
        tables.insert("ts_errors", tree.errors);
    }
    if let Some(made) = made {
        let made = made.map_err(|e| {
            Failure::User(vec![
                Diagnostic::error(Code::E0013, Span::default(), format!("the Python helpers stopped: {e}"))
                    .help("check that `python3` (or SEMC_PYTHON) runs; nothing was written"),
            ])
        })?;
        for (&i, batches) in readable.iter().zip(made) {
            let batches = batches.map_err(|e| Failure::Internal(format!("rows of {}: {e}", files[i].path)))?;
            let tables = parsed.entry(files[i].file_id.clone()).or_default();
            for (name, batch) in batches {
                // a file's errors: the parser's, then the helper's stages'
                let batch = match tables.remove(name) {
                    Some(first) => concat_batches(&first.schema(), [&first, &batch])
                        .map_err(|e| Failure::Internal(e.to_string()))?,
                    None => batch,
                };
                tables.insert(name, batch);
            }
        }
    }
    let metadata = serde_json::json!({ "versions": versions, "repos": repo_states(repos), "files": files.len() });
    // each table's rows, then the tables written `jobs` at once (encoding is CPU-bound)
    let mut writes = vec![];
    for def in TABLES
        .iter()
        .filter(|t| t.extractor != Extractor::Python || python.is_some())
    {
        let carried = before.as_ref().and_then(|b| b.tables.get(def.name));
        let by_file = carried.map(rows_by_file).unwrap_or_default();
        let mut parts: Vec<RecordBatch> = vec![];
        for f in &files {
            if unchanged(f) {
                if let (Some(batch), Some(rows)) = (carried, by_file.get(&f.file_id)) {
                    let take = UInt32Array::from(rows.clone());
                    parts.push(take_record_batch(batch, &take).map_err(|e| Failure::Internal(e.to_string()))?);
                }
                continue;
            }
            let batch = match (def.extractor, def.name) {
                (Extractor::Files, "repo_files") => Some(file_rows(def, f)),
                (Extractor::Files, _) => Some(line_rows(def, f)),
                _ => parsed.get_mut(&f.file_id).and_then(|t| t.remove(def.name)).map(Ok),
            };
            if let Some(batch) = batch {
                parts.push(batch.map_err(|e| Failure::Internal(e.to_string()))?);
            }
        }
        let rows: usize = parts.iter().map(RecordBatch::num_rows).sum();
        let url = table_url(&lake, def.name)?;
        let (versions, metadata) = (versions.clone(), metadata.clone());
        writes.push(async move {
            let version = lake::write(&url, def, parts, &versions, &metadata).await?;
            Ok::<_, Failure>((def.name.to_string(), rows, version))
        });
    }
    let written: Vec<_> = futures::stream::iter(writes)
        .map(tokio::spawn)
        .buffered(opts.jobs.max(1))
        .collect()
        .await;
    for table in written {
        let table = table.map_err(|e| Failure::Internal(format!("writing a table failed: {e}")))??;
        report.tables.push(table);
    }
    Ok(report)
}

/// Each file's batches.
type Batches = HashMap<String, HashMap<&'static str, RecordBatch>>;

/// The syntax tables of the files `to_parse` (indexes into `files`), `jobs` at once: each
/// file's batches, and the files that parsed.
fn read_syntax(
    files: &[SourceFile],
    to_parse: &[usize],
    modules: &imports::Modules,
    jobs: usize,
) -> Result<(Batches, Vec<usize>), Failure> {
    let made = parallel::map(to_parse.len(), jobs, &|| Ok(()), &|_, k| {
        let f = &files[to_parse[k]];
        let file = syntax::File {
            file_id: &f.file_id,
            repo: &f.repo,
            path: &f.path,
            bytes: f.bytes(),
            text: f.text(),
        };
        syntax::extract(&file, modules)
    })
    .map_err(|e| Failure::Internal(format!("the Python parser: {e}")))?;
    let mut parsed = Batches::new();
    let mut readable = vec![];
    for (&i, made) in to_parse.iter().zip(made) {
        let made = made.map_err(|e| Failure::Internal(format!("rows of {}: {e}", files[i].path)))?;
        if made.parsed {
            readable.push(i);
        }
        parsed
            .entry(files[i].file_id.clone())
            .or_default()
            .extend(syntax::TABLES.into_iter().zip(made.batches));
    }
    Ok((parsed, readable))
}

/// The files to extract now: new, or changed since the lake's rows.
fn changed(files: &[SourceFile], before: Option<&Earlier>) -> Vec<usize> {
    (0..files.len())
        .filter(|&i| !before.is_some_and(|b| b.holds(&files[i])))
        .collect()
}
