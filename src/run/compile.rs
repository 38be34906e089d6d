//! Load, parse and check a workspace against its Delta snapshots.

use super::*;
use crate::check::{self, Tables};
use crate::delta::{self, PinSpec, TableError};
use crate::diag::Diagnostic;
use crate::ir::Program;
use crate::syntax;
use crate::syntax::load::{STDLIB_TEXT, Workspace};
use deltalake::DeltaTable;
use std::path::Path;

/// A checked workspace and the Delta snapshots it was checked against.
pub struct Compilation {
    pub ws: Workspace,
    pub program: Option<Program>,
    pub diags: Vec<Diagnostic>,
    /// Opened tables by pinned name.
    pub tables: Vec<(String, DeltaTable)>,
    /// What the checker saw of each source's table, in source order.
    pub infos: Tables,
}

impl Compilation {
    /// Where model `name` is declared (its name), if a file declares it.
    pub fn model_span(&self, name: &str) -> Option<crate::span::Span> {
        self.ws
            .files
            .iter()
            .flat_map(|(_, f)| &f.items)
            .find_map(|item| match item {
                crate::syntax::ast::Item::Model(m) if m.name.text == name => Some(m.name.span),
                _ => None,
            })
    }

    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(Diagnostic::is_error)
    }
    /// The checked program, or the diagnostics that prevent one.
    pub fn program(&self) -> Result<&Program, Failure> {
        match &self.program {
            _ if self.has_errors() => Err(Failure::User(self.diags.clone())),
            Some(p) => Ok(p),
            None => Err(Failure::Internal(
                "the checker found no error but gave no program (a model was not built)".into(),
            )),
        }
    }
}

/// Runs `f` on a thread with a large stack: the front end recurses over user input, whose
/// depth is capped, but debug builds use big frames. A panic inside is passed on (the CLI
/// reports it as an internal error).
pub(crate) fn big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, Failure> {
    std::thread::scope(|s| {
        let h = std::thread::Builder::new().stack_size(256 << 20).spawn_scoped(s, f);
        match h {
            Ok(h) => Ok(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
            Err(e) => Err(Failure::Internal(format!("cannot start the front-end thread: {e}"))),
        }
    })
}

/// The standard library's signatures.
/// Parsed once per process (an editor checks on every keystroke).
pub fn stdlib() -> Result<Vec<syntax::Signature>, Failure> {
    static PARSED: std::sync::OnceLock<Result<Vec<syntax::Signature>, String>> = std::sync::OnceLock::new();
    PARSED
        .get_or_init(|| syntax::parse_stdlib(STDLIB_TEXT))
        .clone()
        .map_err(|e| Failure::Internal(format!("the embedded standard library does not parse: {e}")))
}

/// Parses and checks one file's bytes without reading any Delta table (what an editor, a
/// fuzzer or a test of the front end needs): the workspace and every diagnostic.
pub fn check_bytes(name: &str, bytes: &[u8]) -> Result<(Workspace, Vec<Diagnostic>), Failure> {
    let funcs = stdlib()?;
    big_stack(move || {
        let ws = Workspace::from_bytes(name, bytes, Path::new("/nonexistent/semc-workspace"));
        let mut diags = ws.diags.clone();
        if !diags.iter().any(Diagnostic::is_error) {
            diags.extend(check::check(&ws, &vec![], funcs).1);
        }
        (ws, diags)
    })
}

/// Loads, parses and checks the workspace at `path` (a `.sem` file or a folder).
pub async fn compile(path: &Path) -> Result<Compilation, Failure> {
    compile_locked(path, None).await
}

/// Checks the workspace at `path` from its declarations alone: no Delta table is opened, so
/// nothing is compared with a table (an offline check, or an editor's).
pub async fn compile_offline(path: &Path) -> Result<Compilation, Failure> {
    compile_workspace_offline(load(path)?).await
}

/// Loads and parses the workspace at `path` (a `.sem` file or a folder).
pub fn load(path: &Path) -> Result<Workspace, Failure> {
    let p = path.to_path_buf();
    tracing::info_span!("load", path = %path.display()).in_scope(|| big_stack(move || Workspace::load(&p)))
}

/// Checks an already loaded workspace from its declarations alone (no Delta table opened).
pub async fn compile_workspace_offline(ws: Workspace) -> Result<Compilation, Failure> {
    check_workspace(ws, vec![], vec![])
}

/// Like [`compile`], reading every source at the version `lock` records for it.
pub async fn compile_locked(path: &Path, lock: Option<&Lock>) -> Result<Compilation, Failure> {
    compile_workspace_locked(load(path)?, lock).await
}

/// Checks an already loaded workspace, reading each source's Delta log at its pin.
pub async fn compile_workspace(ws: Workspace) -> Result<Compilation, Failure> {
    compile_workspace_locked(ws, None).await
}

pub async fn compile_workspace_locked(ws: Workspace, lock: Option<&Lock>) -> Result<Compilation, Failure> {
    let mut tables: Tables = vec![];
    let mut opened = vec![];
    // every source's snapshot, read concurrently (one Delta log read each)
    let reads = check::sources_of(&ws).into_iter().map(|s| {
        let mut pin = match &s.pin {
            None => PinSpec::Latest,
            Some(crate::syntax::ast::Pin::Version(v, _)) => PinSpec::Version(*v),
            Some(crate::syntax::ast::Pin::Timestamp(t, _)) => PinSpec::Timestamp(t.clone()),
        };
        let location = crate::project::resolve(&ws.root, &s.location);
        let mut missing_from_lock = false;
        // the lock is keyed by source: two sources may read one table at two versions; a
        // source pinned to a version in the program keeps its pin
        if let Some(lock) = lock
            && !matches!(s.pin, Some(crate::syntax::ast::Pin::Version(..)))
        {
            let uri = location.as_ref().map(|u| u.to_string()).unwrap_or_default();
            match lock.sources.iter().find(|l| l.uri == uri && s.name.matches(&l.name)) {
                Some(l) => pin = PinSpec::Version(l.version),
                None => missing_from_lock = true,
            }
        }
        let name = s.name.text.clone();
        async move {
            let url = location?;
            if missing_from_lock {
                return Err(TableError::VersionNotAvailable(format!(
                    "source `{name}` (`{url}`) is not in sem.lock; run without --locked to record it"
                )));
            }
            let table = delta::open(&url, &pin).await?;
            let info = delta::table_info(&url, &table)?;
            Ok::<_, TableError>((info, table))
        }
    });
    let span = tracing::info_span!("snapshots");
    let read = tracing::Instrument::instrument(futures::future::join_all(reads), span).await;
    for read in read {
        match read {
            Ok((info, table)) => {
                opened.push((delta::pinned_name(&info.url, info.version), table));
                tables.push(Ok(info));
            }
            Err(e) => tables.push(Err(e)),
        }
    }
    check_workspace(ws, tables, opened)
}

/// Checks a loaded workspace against what was read of its tables (`tables`, in source
/// order; empty: the declarations alone).
fn check_workspace(ws: Workspace, tables: Tables, opened: Vec<(String, DeltaTable)>) -> Result<Compilation, Failure> {
    let funcs = stdlib()?;
    // a file that does not parse would make every name it declares look unknown:
    // report the syntax errors alone
    let (mut program, mut diags) = if ws.diags.iter().any(Diagnostic::is_error) {
        (None, vec![])
    } else {
        tracing::info_span!("check").in_scope(|| big_stack(|| check::check(&ws, &tables, funcs)))?
    };
    // a profile may tighten the policy, never loosen it
    if let Some(p) = program.as_mut()
        && crate::project::active().is_some_and(|a| a.profile.strict == Some(true))
    {
        p.policy.strict = true;
    }
    let mut all = ws.diags.clone();
    all.append(&mut diags);
    Ok(Compilation {
        ws,
        program,
        diags: all,
        tables: opened,
        infos: tables,
    })
}
