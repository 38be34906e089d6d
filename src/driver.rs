//! The public entry points: each command of the CLI is one function here.

use crate::check::{self, Tables};
use crate::codes::Code;
use crate::delta::{self, PinSpec, TableError};
use crate::diag::Diagnostic;
use crate::engine;
use crate::ir::{OutputIr, Program, TExpr, TExprKind};
use crate::load::{STDLIB_TEXT, Workspace};
use crate::lower::{self, Providers};
use crate::parse;
use crate::span::Span;
use crate::types::Type;
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::{LogicalPlan, col, lit};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use substrait::proto::Plan;

/// What went wrong, by whose fault: the user's program or data (diagnostics), or semc (a bug).
#[derive(Debug)]
pub enum Failure {
    User(Vec<Diagnostic>),
    Internal(String),
}

impl From<DataFusionError> for Failure {
    fn from(e: DataFusionError) -> Self {
        let text = e.to_string();
        match data_error(&text) {
            Some(d) => Failure::User(vec![d]),
            None => Failure::Internal(text),
        }
    }
}

/// An engine error caused by the values of the data (division by zero, overflow, a cast
/// that does not fit), not by semc: a diagnostic (E0409) without a place in the source —
/// callers that know the output give it its span.
fn data_error(text: &str) -> Option<Diagnostic> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("resources exhausted") {
        return Some(
            Diagnostic::error(
                Code::E0410,
                Span::default(),
                format!("the run ran out of memory: {text}"),
            )
            .label("out of memory while computing this output")
            .help("nothing was committed; raise `--memory-limit`, or narrow what the model reads"),
        );
    }
    let cause = ["divide by zero", "overflow", "cast error", "can't cast", "cannot cast"]
        .into_iter()
        .find(|c| lower.contains(c))?;
    Some(
        Diagnostic::error(Code::E0409, Span::default(), format!("evaluating the plan failed on the data: {text}"))
            .label(format!("{cause} while computing this output"))
            .help("nothing was committed; guard the expression (e.g. `case when d == 0 then null else n / d end`), filter the rows, or widen the type"),
    )
}

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
    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(Diagnostic::is_error)
    }
    /// The checked program, or the diagnostics that prevent one.
    pub fn program(&self) -> Result<&Program, Failure> {
        match &self.program {
            Some(p) if !self.has_errors() => Ok(p),
            _ => Err(Failure::User(self.diags.clone())),
        }
    }
}

/// Runs `f` on a thread with a large stack: the front end recurses over user input, whose
/// depth is capped, but debug builds use big frames. A panic inside is passed on (the CLI
/// reports it as an internal error).
fn big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, Failure> {
    std::thread::scope(|s| {
        let h = std::thread::Builder::new().stack_size(256 << 20).spawn_scoped(s, f);
        match h {
            Ok(h) => Ok(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
            Err(e) => Err(Failure::Internal(format!("cannot start the front-end thread: {e}"))),
        }
    })
}

/// The standard library's signatures.
pub fn stdlib() -> Result<Vec<parse::Signature>, Failure> {
    parse::parse_stdlib(STDLIB_TEXT)
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

/// Like [`compile`], reading every source at the version `lock` records for it.
pub async fn compile_locked(path: &Path, lock: Option<&Lock>) -> Result<Compilation, Failure> {
    let p = path.to_path_buf();
    let ws = big_stack(move || Workspace::load(&p))?;
    compile_workspace_locked(ws, lock).await
}

/// `sem.lock`: the snapshot each source was read at by the last `semc run`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Lock {
    pub format: u32,
    pub sources: Vec<LockedSource>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct LockedSource {
    pub name: String,
    pub uri: String,
    pub table_id: String,
    pub version: i64,
}

/// Where the lock of the workspace at `path` lives: beside the entry file, or in the folder.
pub fn lock_path(path: &Path) -> std::path::PathBuf {
    if path.is_dir() {
        path.join("sem.lock")
    } else {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join("sem.lock")
    }
}

impl Lock {
    pub fn read(path: &Path) -> Result<Lock, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("`{}` is not a semc lock file: {e}", path.display()))
    }

    /// The lock of a checked compilation: every source, the version it was read at.
    pub fn of(c: &Compilation) -> Lock {
        let sources = match &c.program {
            Some(p) => p
                .sources
                .iter()
                .map(|s| LockedSource {
                    name: s.name.clone(),
                    uri: s.url.to_string(),
                    table_id: c
                        .tables
                        .iter()
                        .find(|(n, _)| *n == delta::pinned_name(&s.url, s.version))
                        .and_then(|(_, t)| t.snapshot().ok().map(|sn| sn.metadata().id().to_string()))
                        .unwrap_or_default(),
                    version: s.version,
                })
                .collect(),
            None => vec![],
        };
        Lock { format: 1, sources }
    }

    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())? + "\n";
        let tmp = path.with_extension(format!("lock.{}.tmp", std::process::id()));
        std::fs::write(&tmp, text).map_err(|e| format!("cannot write `{}`: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("cannot write `{}`: {e}", path.display()))
    }
}

/// Checks an already loaded workspace, reading each source's Delta log at its pin.
pub async fn compile_workspace(ws: Workspace) -> Result<Compilation, Failure> {
    compile_workspace_locked(ws, None).await
}

pub async fn compile_workspace_locked(ws: Workspace, lock: Option<&Lock>) -> Result<Compilation, Failure> {
    let funcs = stdlib()?;
    let mut tables: Tables = vec![];
    let mut opened = vec![];
    // every source's snapshot, read concurrently (one Delta log read each)
    let reads = check::sources_of(&ws).into_iter().map(|s| {
        let mut pin = match &s.pin {
            None => PinSpec::Latest,
            Some(crate::ast::Pin::Version(v, _)) => PinSpec::Version(*v),
            Some(crate::ast::Pin::Timestamp(t, _)) => PinSpec::Timestamp(t.clone()),
        };
        let location = delta::resolve_location(&ws.root, &s.location);
        let mut missing_from_lock = false;
        if let Some(lock) = lock {
            let uri = location.as_ref().map(|u| u.to_string()).unwrap_or_default();
            match lock.sources.iter().find(|l| l.uri == uri) {
                Some(l) => pin = PinSpec::Version(l.version),
                None => missing_from_lock = true,
            }
        }
        async move {
            let url = location?;
            if missing_from_lock {
                return Err(TableError::VersionNotAvailable(format!(
                    "`{url}` is not in sem.lock; run without --locked to record it"
                )));
            }
            let table = delta::open(&url, &pin).await?;
            let info = delta::table_info(&url, &table)?;
            Ok::<_, TableError>((info, table))
        }
    });
    for read in futures::future::join_all(reads).await {
        match read {
            Ok((info, table)) => {
                opened.push((delta::pinned_name(&info.url, info.version), table));
                tables.push(Ok(info));
            }
            Err(e) => tables.push(Err(e)),
        }
    }
    // a file that does not parse would make every name it declares look unknown:
    // report the syntax errors alone
    if ws.diags.iter().any(Diagnostic::is_error) {
        let diags = ws.diags.clone();
        return Ok(Compilation {
            ws,
            program: None,
            diags,
            tables: opened,
            infos: tables,
        });
    }
    let (program, mut diags) = big_stack(|| check::check(&ws, &tables, funcs))?;
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

/// One DataFusion session with the compilation's snapshots registered under their pinned names.
pub struct Session {
    pub ctx: SessionContext,
    providers: Providers,
}

impl Session {
    pub async fn new(c: &Compilation) -> Result<Session, Failure> {
        Session::with_options(c, &RunOptions::default()).await
    }

    pub async fn with_options(c: &Compilation, opts: &RunOptions) -> Result<Session, Failure> {
        Session::for_program(c, c.program.as_ref(), opts).await
    }

    /// A session for `program` (the compilation's, or one a run rewrote from it).
    async fn for_program(c: &Compilation, program: Option<&Program>, opts: &RunOptions) -> Result<Session, Failure> {
        let partitions = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let ctx = engine::session_with(partitions, opts.memory_limit);
        let state = ctx.state();
        let mut providers = Providers::new();
        let schema =
            engine::pinned_schema(&ctx).ok_or_else(|| Failure::Internal("session has no pinned schema".into()))?;
        for (name, table) in &c.tables {
            let p = engine::provider(table, &state).await?;
            schema.insert(name.clone(), p.clone());
            providers.insert(name.clone(), p);
        }
        // sources with scan options read their table through a provider of their own
        for s in program
            .iter()
            .flat_map(|p| &p.sources)
            .filter(|s| !s.options.is_default())
        {
            let plain = delta::pinned_name(&s.url, s.version);
            let Some((_, table)) = c.tables.iter().find(|(n, _)| *n == plain) else {
                continue;
            };
            let name = delta::pinned_name_with(&s.url, s.version, &s.options);
            let p = engine::provider_with(table, &state, &s.options).await?;
            schema.insert(name.clone(), p.clone());
            providers.insert(name, p);
        }
        Ok(Session { ctx, providers })
    }

    fn prefer_hash_join(&self, yes: bool) {
        self.ctx
            .state_ref()
            .write()
            .config_mut()
            .options_mut()
            .optimizer
            .prefer_hash_join = yes;
    }

    /// Lowers the program (or one output) to one Substrait plan.
    pub fn plan(&self, program: &Program, only: Option<&str>) -> Result<Plan, Failure> {
        check_output_name(program, only)?;
        let (plan, _) = lower::to_substrait(program, &self.providers, &self.ctx.state(), only)?;
        Ok(plan)
    }

    /// Consumes each root of a Substrait plan back into a DataFusion logical plan.
    pub async fn consume(&self, plan: &Plan) -> Result<Vec<LogicalPlan>, Failure> {
        let state = self.ctx.state();
        let mut out = vec![];
        for i in 0..plan.relations.len() {
            let one = lower::single_root(plan, i).ok_or_else(|| Failure::Internal("missing root".into()))?;
            out.push(datafusion_substrait::logical_plan::consumer::from_substrait_plan(&state, &one).await?);
        }
        Ok(out)
    }
}

fn check_output_name(program: &Program, only: Option<&str>) -> Result<(), Failure> {
    if let Some(n) = only
        && !program.outputs.iter().any(|o| o.name == n)
    {
        let names: Vec<&str> = program.outputs.iter().map(|o| o.name.as_str()).collect();
        let help = crate::diag::did_you_mean(n, names.iter().copied())
            .unwrap_or_else(|| format!("outputs: {}", names.join(", ")));
        return Err(Failure::User(vec![
            Diagnostic::error(Code::E0403, Span::default(), format!("no output named `{n}`"))
                .label("--output")
                .help(help),
        ]));
    }
    Ok(())
}

/// What `semc run` did for one output.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutputReport {
    pub output: String,
    pub location: String,
    pub rows: u64,
    pub files: u64,
    pub version: i64,
    pub millis: u128,
    /// The table already recorded this run id: nothing was written.
    pub skipped: bool,
    /// Warnings of the run (e.g. orphan join keys), reported with its first output.
    #[serde(skip)]
    pub warnings: Vec<Diagnostic>,
    /// For the output of an `incremental` model: what this run did and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental: Option<String>,
}

/// Compiles, plans, and executes every output (or the one named), committing each to Delta.
pub async fn run(path: &Path, only: Option<&str>) -> Result<Vec<OutputReport>, Failure> {
    let c = compile(path).await?;
    run_compiled(&c, only).await
}

pub async fn run_compiled(c: &Compilation, only: Option<&str>) -> Result<Vec<OutputReport>, Failure> {
    run_with(c, only, &RunOptions::default()).await
}

/// How `semc run` executes.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Bytes of memory the engine may hold; operators spill to disk beyond it.
    pub memory_limit: Option<usize>,
    /// The run's id, recorded in each output's commit; an output that already records this
    /// id is not written again. Defaults to a new id (time and process).
    pub run_id: Option<String>,
}

/// Parses `256M`, `2G`, `512K` or a plain byte count.
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()?.to_ascii_uppercase() {
        'K' => (&s[..s.len() - 1], 1usize << 10),
        'M' => (&s[..s.len() - 1], 1 << 20),
        'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.trim().parse::<usize>().ok()?.checked_mul(mult).filter(|n| *n > 0)
}

pub async fn run_with(c: &Compilation, only: Option<&str>, opts: &RunOptions) -> Result<Vec<OutputReport>, Failure> {
    let checked = c.program()?;
    check_output_name(checked, only)?;
    // outputs of incremental models read only their source's new changes, or nothing
    let (program, increments) = plan_increments(c, checked, only).await?;
    let program = &program;
    let session = Session::for_program(c, Some(program), opts).await?;
    // ONE plan, one root per output; the roots of outputs that are up to date are not run
    let plan = session.plan(program, only)?;
    let all_roots = session.consume(&plan).await?;
    let mut up_to_date = vec![];
    let mut outputs = vec![];
    let mut roots = vec![];
    let selected = program.outputs.iter().filter(|o| only.is_none_or(|n| n == o.name));
    for (o, root) in selected.zip(all_roots) {
        match increments.get(&o.name) {
            Some(Increment::UpToDate { version, why }) => up_to_date.push(OutputReport {
                output: o.name.clone(),
                location: o.url.to_string(),
                rows: 0,
                files: 0,
                version: *version,
                millis: 0,
                skipped: true,
                warnings: vec![],
                incremental: Some(why.clone()),
            }),
            _ => {
                outputs.push(o);
                roots.push(root);
            }
        }
    }
    // every output's contract and join keys first: a violation anywhere commits nothing anywhere
    let (warnings, mut violations): (Vec<Diagnostic>, Vec<Diagnostic>) = verify_keys(&session, program, &outputs)
        .await?
        .into_iter()
        .partition(|d| !d.is_error());
    if program.policy.strict {
        violations.extend(verify_sources(&session, program, &outputs).await?);
    }
    for (o, lp) in outputs.iter().zip(&roots) {
        let inc = increments.get(&o.name);
        for r in [
            verify_contract(&session, program, o, lp).await,
            verify_table_constraints(&session, o, lp).await,
            verify_unique_with_written(&session, program, o, lp, inc).await,
        ] {
            match r {
                Ok(()) => {}
                Err(Failure::User(d)) => violations.extend(d.into_iter().map(|d| {
                    if d.primary.span == Span::default() {
                        d.at(o.span)
                    } else {
                        d
                    }
                })),
                Err(internal) => return Err(internal),
            }
        }
    }
    if !violations.is_empty() {
        return Err(Failure::User(violations));
    }
    let run_id = opts.run_id.clone().unwrap_or_else(new_run_id);
    let mut reports = commit_all(&session, outputs.into_iter().zip(roots).collect(), &run_id, &increments).await?;
    reports.extend(up_to_date);
    if let Some(first) = reports.first_mut() {
        first.warnings = warnings;
    }
    Ok(reports)
}

/// What a run does for the output of an `incremental` model.
#[derive(Debug, Clone, PartialEq)]
pub enum Increment {
    /// The model in full, overwriting the output (first run, or changes that cannot be
    /// appended).
    Rebuild { txns: Vec<(String, i64)>, why: String },
    /// The rows of the source's changes after version `since`, appended; the output must
    /// still be at `base` when committing.
    Append {
        since: i64,
        base: i64,
        txns: Vec<(String, i64)>,
        why: String,
    },
    /// The source deleted or updated rows after version `since`: the output rows whose
    /// key (`key.1`, the source's key column `key.0` passed through) is among the changed
    /// `keys` are replaced by the model's rows for those keys at the pinned version, in one
    /// commit; the output must still be at `base`.
    Replace {
        since: i64,
        base: i64,
        key: (String, String),
        keys: Vec<datafusion::common::ScalarValue>,
        txns: Vec<(String, i64)>,
        why: String,
    },
    /// Nothing new since the last run.
    UpToDate { version: i64, why: String },
}

impl Increment {
    fn why(&self) -> &str {
        match self {
            Increment::Rebuild { why, .. }
            | Increment::Append { why, .. }
            | Increment::Replace { why, .. }
            | Increment::UpToDate { why, .. } => why,
        }
    }
    fn txns(&self) -> &[(String, i64)] {
        match self {
            Increment::Rebuild { txns, .. } | Increment::Append { txns, .. } | Increment::Replace { txns, .. } => txns,
            Increment::UpToDate { .. } => &[],
        }
    }
    /// The output version the run was computed against, when its commit must land on it.
    fn base(&self) -> Option<i64> {
        match self {
            Increment::Append { base, .. } | Increment::Replace { base, .. } => Some(*base),
            _ => None,
        }
    }
}

/// At most this many changed keys are replaced; more rebuild the output.
const MAX_REPLACED_KEYS: usize = 100_000;

/// The Delta application id under which an incremental output records the version of
/// each table it has read.
pub fn incremental_app_id(output: &str, table: &url::Url) -> String {
    format!("semc:incremental:{output}:{table}")
}

/// Decides, for each output of an incremental model, whether this run appends the rows of
/// new changes, rebuilds, or has nothing to do — from the versions the output's last commit
/// recorded — and rewrites the program so appending outputs read the changes only.
async fn plan_increments(
    c: &Compilation,
    checked: &Program,
    only: Option<&str>,
) -> Result<(Program, std::collections::HashMap<String, Increment>), Failure> {
    let mut program = checked.clone();
    let mut out = std::collections::HashMap::new();
    for oi in 0..checked.outputs.len() {
        let o = &checked.outputs[oi];
        if only.is_some_and(|n| n != o.name) {
            continue;
        }
        let Some(si) = checked.models[o.model].incremental else {
            continue;
        };
        let inc = decide_increment(c, checked, o, si).await?;
        if let Increment::Append { since, .. } = &inc {
            // a copy of the source that reads its changes, and of the model that reads it
            let mut src = checked.sources[si].clone();
            src.options.changes_since = Some(*since);
            program.sources.push(src);
            let mut model = checked.models[o.model].clone();
            let changes = program.sources.len() - 1;
            model.rel.map_scan(si, &|scan| match scan {
                crate::ir::Rel::Scan { alias, .. } => crate::ir::Rel::Scan { source: changes, alias },
                other => other,
            });
            model.name = format!("{}__changes", model.name);
            program.models.push(model);
            program.outputs[oi].model = program.models.len() - 1;
        }
        if let Increment::Replace { key, keys, .. } = &inc {
            // the model over the source's rows (at the pinned version) of the changed keys
            let ty = checked.sources[si]
                .columns
                .iter()
                .find(|f| f.name == key.0)
                .map(|f| f.ty)
                .ok_or_else(|| Failure::Internal(format!("no key column {}", key.0)))?;
            let lits: Vec<TExpr> = keys
                .iter()
                .map(|v| {
                    // decide_increment gave values of the key's declared type: int, string, date
                    let value = match v {
                        ScalarValue::Int64(Some(x)) => crate::ir::Value::Int(*x),
                        ScalarValue::Int32(Some(x)) => crate::ir::Value::Int(*x as i64),
                        ScalarValue::Date32(Some(d)) => crate::ir::Value::Date(*d),
                        ScalarValue::Utf8(Some(s)) => crate::ir::Value::Str(s.clone()),
                        v => return Err(Failure::Internal(format!("a replaced key of unexpected type: {v:?}"))),
                    };
                    Ok(TExpr {
                        kind: TExprKind::Lit(value),
                        ty,
                        nullable: false,
                    })
                })
                .collect::<Result<_, Failure>>()?;
            let column = key.0.clone();
            let mut model = checked.models[o.model].clone();
            model.rel.map_scan(si, &|scan| {
                let alias = match &scan {
                    crate::ir::Rel::Scan { alias, .. } => alias.clone(),
                    _ => String::new(),
                };
                let col = TExpr {
                    kind: TExprKind::Col {
                        qual: Some(alias),
                        name: column.clone(),
                    },
                    ty,
                    nullable: true,
                };
                crate::ir::Rel::Filter {
                    input: Box::new(scan),
                    predicate: TExpr {
                        kind: TExprKind::InList(Box::new(col), lits.clone(), false),
                        ty: crate::types::Type::Bool,
                        nullable: true,
                    },
                }
            });
            model.name = format!("{}__changed_keys", model.name);
            program.models.push(model);
            program.outputs[oi].model = program.models.len() - 1;
        }
        out.insert(o.name.clone(), inc);
    }
    Ok((program, out))
}

async fn decide_increment(c: &Compilation, program: &Program, o: &OutputIr, si: usize) -> Result<Increment, Failure> {
    let src = &program.sources[si];
    let mut read = std::collections::BTreeSet::new();
    program.sources_read(o.model, &mut read);
    let txns: Vec<(String, i64)> = read
        .iter()
        .map(|&i| {
            let s = &program.sources[i];
            (incremental_app_id(&o.name, &s.url), s.version)
        })
        .collect();
    let rebuild = |why: String| Increment::Rebuild {
        txns: txns.clone(),
        why,
    };
    let table = match delta::open(&o.url, &PinSpec::Latest).await {
        Ok(t) => t,
        Err(TableError::NotFound(_)) => return Ok(rebuild("first run: built in full".into())),
        Err(e) => return Err(write_failed(o, e.message())),
    };
    let base = table.version().map(|v| v as i64).unwrap_or(-1);
    let snap = table.snapshot().map_err(|e| write_failed(o, &e.to_string()))?;
    let recorded = |app: String| {
        let (snap, table) = (&snap, &table);
        async move {
            snap.transaction_version(table.log_store().as_ref(), app)
                .await
                .ok()
                .flatten()
        }
    };
    let Some(since) = recorded(incremental_app_id(&o.name, &src.url)).await else {
        return Ok(rebuild(format!(
            "no incremental run recorded in the output: built in full from `{}` at version {}",
            src.name, src.version
        )));
    };
    for &i in &read {
        let s = &program.sources[i];
        if i == si {
            continue;
        }
        let was = recorded(incremental_app_id(&o.name, &s.url)).await;
        if was != Some(s.version) {
            let was = was
                .map(|v| format!("version {v}"))
                .unwrap_or_else(|| "no recorded version".into());
            return Ok(rebuild(format!(
                "`{}` moved from {was} to version {}: rows already written may change; rebuilt in full",
                s.name, s.version
            )));
        }
    }
    if since == src.version {
        return Ok(Increment::UpToDate {
            version: base,
            why: format!("up to date: `{}` is still at version {since}", src.name),
        });
    }
    if since > src.version {
        return Ok(rebuild(format!(
            "`{}` is read at version {}, before version {since} that the output already holds: rebuilt in full",
            src.name, src.version
        )));
    }
    // only commits that add rows can be appended; deletes, updates and schema changes rebuild
    let plain = delta::pinned_name(&src.url, src.version);
    let Some((_, source_table)) = c.tables.iter().find(|(n, _)| *n == plain) else {
        return Err(Failure::Internal(format!("table {plain} was not opened")));
    };
    let mut row_changes = None;
    for v in since + 1..=src.version {
        match not_append_only(source_table, v).await {
            None => {}
            Some(Change::Rows(why)) => {
                row_changes.get_or_insert((v, why));
            }
            Some(Change::Other(why)) => {
                return Ok(rebuild(format!(
                    "version {v} of `{}` {why}: rebuilt in full at version {}",
                    src.name, src.version
                )));
            }
        }
    }
    if let Some((v, why)) = row_changes {
        let Some(key) = program.models[o.model].incremental_key.clone() else {
            return Ok(rebuild(format!(
                "version {v} of `{}` {why} and the model passes none of its keys through: rebuilt in full at version {}",
                src.name, src.version
            )));
        };
        let keys = engine::changed_keys(source_table, since, &key.0, MAX_REPLACED_KEYS).await?;
        // as values of the declared type (the table may store a narrower one)
        let declared = src.columns.iter().find(|f| f.name == key.0).map(|f| f.ty);
        let keys = match (keys, declared) {
            (Some(keys), Some(ty @ (Type::Int32 | Type::Int64 | Type::String | Type::Date))) => keys
                .into_iter()
                .map(|k| k.cast_to(&ty.to_arrow()).ok())
                .collect::<Option<Vec<_>>>(),
            (Some(_), _) => {
                return Ok(rebuild(format!(
                    "version {v} of `{}` {why} and its key `{}` is not an integer, string or date column: rebuilt in full at version {}",
                    src.name, key.0, src.version
                )));
            }
            (None, _) => None,
        };
        let Some(keys) = keys else {
            return Ok(rebuild(format!(
                "more than {MAX_REPLACED_KEYS} keys of `{}` (or a null key) changed after version {since}: rebuilt in full at version {}",
                src.name, src.version
            )));
        };
        return Ok(Increment::Replace {
            why: format!(
                "replaced the rows of {} `{}` value(s) that `{}` inserted, updated or deleted after version {since} up to version {}",
                keys.len(),
                key.1,
                src.name,
                src.version
            ),
            since,
            base,
            key,
            keys,
            txns,
        });
    }
    Ok(Increment::Append {
        since,
        base,
        txns,
        why: format!(
            "appended the rows inserted into `{}` after version {since} up to version {}",
            src.name, src.version
        ),
    })
}

/// What a commit does besides adding rows.
enum Change {
    /// It deletes or updates rows (its changes can be replaced by key).
    Rows(String),
    /// Anything else (metadata, an unreadable or vanished commit): rebuild.
    Other(String),
}

/// What commit `v` of a table does besides adding rows (None when it only adds rows).
async fn not_append_only(table: &DeltaTable, v: i64) -> Option<Change> {
    let bytes = match table.log_store().read_commit_entry(v as _).await {
        Ok(Some(b)) => b,
        Ok(None) => return Some(Change::Other("is no longer in the log".into())),
        Err(e) => return Some(Change::Other(format!("cannot be read ({e})"))),
    };
    let mut rows = None;
    for line in String::from_utf8_lossy(&bytes).lines().filter(|l| !l.trim().is_empty()) {
        let Ok(action) = serde_json::from_str::<serde_json::Value>(line) else {
            return Some(Change::Other("has an unreadable action".into()));
        };
        if action.get("metaData").is_some() {
            return Some(Change::Other("changes the table's metadata".into()));
        }
        let removes = action
            .get("remove")
            .and_then(|r| r.get("dataChange"))
            .and_then(|d| d.as_bool())
            == Some(true);
        if action.get("cdc").is_some() {
            rows = Some(Change::Rows("updates or deletes rows".into()));
        } else if removes {
            rows.get_or_insert(Change::Rows("removes rows".into()));
        }
    }
    rows
}

fn write_failed(o: &OutputIr, e: &str) -> Failure {
    Failure::User(vec![
        Diagnostic::error(Code::E0401, o.span, format!("output `{}`: {e}", o.name))
            .label("writing this output failed")
            .help("nothing was committed to this output; fix the cause and run again"),
    ])
}

/// Writes each output (one atomic Delta commit each) and reports what was done.
async fn commit_all(
    session: &Session,
    items: Vec<(&OutputIr, LogicalPlan)>,
    run_id: &str,
    increments: &std::collections::HashMap<String, Increment>,
) -> Result<Vec<OutputReport>, Failure> {
    let mut reports = vec![];
    for (o, lp) in items {
        let start = Instant::now();
        let inc = increments.get(&o.name);
        let written = match write_output(session, o, lp.clone(), run_id, inc).await {
            // a hash join that ran out of memory: plan again with sort-merge joins, which spill
            Err(Failure::User(d)) if d.iter().any(|d| d.message.contains("Resources exhausted")) => {
                session.prefer_hash_join(false);
                let r = write_output(session, o, lp, run_id, inc).await;
                session.prefer_hash_join(true);
                r?
            }
            r => r?,
        };
        let (rows, files, version, skipped) = match written {
            Some((rows, files, version)) => (rows, files, version, false),
            None => (0, 0, current_version(&o.url).await, true),
        };
        reports.push(OutputReport {
            output: o.name.clone(),
            location: o.url.to_string(),
            rows,
            files,
            version,
            millis: start.elapsed().as_millis(),
            skipped,
            warnings: vec![],
            incremental: inc.map(|i| i.why().to_string()),
        });
    }
    Ok(reports)
}

async fn current_version(url: &url::Url) -> i64 {
    match delta::open(url, &PinSpec::Latest).await {
        Ok(t) => t.version().map(|v| v as i64).unwrap_or(-1),
        Err(_) => -1,
    }
}

/// Checks, on the snapshots read, that every key a `many_to_one`/`one_to_one` join of the
/// outputs' models relies on is unique.
async fn verify_keys(session: &Session, program: &Program, outputs: &[&OutputIr]) -> Result<Vec<Diagnostic>, Failure> {
    let mut claims: Vec<&crate::ir::KeyClaim> = vec![];
    let mut seen_models = std::collections::HashSet::new();
    let mut stack: Vec<usize> = outputs.iter().map(|o| o.model).collect();
    while let Some(m) = stack.pop() {
        if !seen_models.insert(m) {
            continue;
        }
        let model = &program.models[m];
        claims.extend(model.key_claims.iter());
        model.rel.model_refs(&mut stack);
    }
    let mut done = std::collections::HashSet::new();
    let mut orphans_done = std::collections::HashSet::new();
    let mut diags = vec![];
    for claim in claims {
        if let Some((from, fks)) = &claim.from
            && orphans_done.insert((*from, fks.clone(), claim.source, claim.columns.clone()))
            && let Some(d) = orphan_keys(session, program, claim, *from, fks).await?
        {
            diags.push(d);
        }
        let mut cols = claim.columns.clone();
        cols.sort();
        if cols.is_empty() || !done.insert((claim.source, cols.clone())) {
            continue;
        }
        let src = &program.sources[claim.source];
        let name = delta::pinned_name(&src.url, src.version);
        let Some(provider) = session.providers.get(&name) else {
            continue;
        };
        let (n, table) = count_and_show(duplicates_of(session.ctx.read_table(provider.clone())?, &cols)?).await?;
        if n == 0 {
            continue;
        }
        diags.push(
            Diagnostic::error(
                Code::E0405,
                claim.span,
                format!("{n} value(s) of `{}` ({}) occur more than once in `{}` at version {}", cols.join(", "), src.name, src.url, src.version),
            )
            .label("this join relies on a unique key")
            .help(format!("nothing was committed; deduplicate the table, or declare the join `one_to_many`. Duplicated keys:\n{table}")),
        );
    }
    Ok(diags)
}

/// Under `strict`: every constraint the sources the outputs read declare (and their tables
/// do not guarantee), verified on the snapshots read.
async fn verify_sources(
    session: &Session,
    program: &Program,
    outputs: &[&OutputIr],
) -> Result<Vec<Diagnostic>, Failure> {
    use crate::ir::SourceConstraintKind as K;
    let mut read = std::collections::BTreeSet::new();
    for o in outputs {
        program.sources_read(o.model, &mut read);
    }
    let state = session.ctx.state();
    let lw = lower::Lowerer::new(program, &session.providers, &state);
    let mut diags = vec![];
    for si in read {
        let src = &program.sources[si];
        let Some(provider) = session.providers.get(&delta::pinned_name(&src.url, src.version)) else {
            continue;
        };
        for c in &src.constraints {
            let rows = session.ctx.read_table(provider.clone())?.alias("t0")?;
            let (what, probe) = match &c.kind {
                K::NotNull(col) => (format!("`{col}` not null"), nulls_of(rows, col)?),
                K::Unique(cols) => (format!("`{}` unique", cols.join(", ")), duplicates_of(rows, cols)?),
                K::Check(e) => (
                    "check".to_string(),
                    rows.filter(datafusion::logical_expr::not(lw.lower_expr(e)?))?,
                ),
            };
            let (n, shown) = count_and_show(probe).await?;
            if n == 0 {
                continue;
            }
            let counted = if matches!(c.kind, K::Unique(_)) {
                "value(s) occur more than once"
            } else {
                "row(s) break it"
            };
            diags.push(
                Diagnostic::error(
                    Code::E0408,
                    c.span,
                    format!(
                        "source `{}` declares {what}: {n} {counted} in `{}` at version {}",
                        src.name, src.url, src.version
                    ),
                )
                .label("declared here")
                .help(format!(
                    "nothing was committed; fix the data, or the declaration. First offending rows:\n{shown}"
                )),
            );
        }
    }
    Ok(diags)
}

/// Rows of `from` whose foreign key (all columns set) matches no row of the join's target:
/// an error under `strict`, else a warning.
async fn orphan_keys(
    session: &Session,
    program: &Program,
    claim: &crate::ir::KeyClaim,
    from: usize,
    fks: &[String],
) -> Result<Option<Diagnostic>, Failure> {
    let (src, target) = (&program.sources[from], &program.sources[claim.source]);
    let (Some(left), Some(right)) = (
        session.providers.get(&delta::pinned_name(&src.url, src.version)),
        session.providers.get(&delta::pinned_name(&target.url, target.version)),
    ) else {
        return Ok(None);
    };
    if fks.len() != claim.columns.len() || fks.is_empty() {
        return Ok(None);
    }
    let mut left = session.ctx.read_table(left.clone())?.alias("semc_from")?;
    for fk in fks {
        left = left.filter(col(datafusion::common::Column::new(Some("semc_from"), fk)).is_not_null())?;
    }
    let right = session.ctx.read_table(right.clone())?.alias("semc_target")?;
    let l: Vec<&str> = fks.iter().map(String::as_str).collect();
    let r: Vec<&str> = claim.columns.iter().map(String::as_str).collect();
    let orphans = left.join(right, datafusion::logical_expr::JoinType::LeftAnti, &l, &r, None)?;
    let n = orphans.count().await?;
    if n == 0 {
        return Ok(None);
    }
    let msg = format!(
        "{n} row(s) of `{}` have a `{}` that matches no `{}` in `{}`",
        src.name,
        fks.join(", "),
        claim.columns.join(", "),
        target.name
    );
    Ok(Some(if program.policy.strict {
        Diagnostic::error(Code::E0406, claim.span, msg)
            .label("orphan keys under `strict`")
            .help("nothing was committed; fix the data, or set `strict = false` in the policy to run with a warning (orphans read nulls through the join)")
    } else {
        Diagnostic::warning(Code::E0406, claim.span, msg)
            .label("orphan keys")
            .help("these rows read nulls through the join; `strict = true` in the policy makes this an error")
    }))
}

/// Checks the rows an output would write against its model's contract; nothing is written
/// when a constraint fails.
async fn verify_contract(session: &Session, program: &Program, o: &OutputIr, lp: &LogicalPlan) -> Result<(), Failure> {
    let model = &program.models[o.model];
    let state = session.ctx.state();
    let lw = lower::Lowerer::new(program, &session.providers, &state);
    let mut diags = vec![];
    for c in &model.contract {
        let inferred_nullable = model
            .schema
            .iter()
            .find(|f| f.name == c.field.name)
            .is_some_and(|f| f.nullable);
        let df = DataFrame::new(state.clone(), lp.clone());
        let mut probes: Vec<(&str, DataFrame)> = vec![];
        if !c.field.nullable && inferred_nullable {
            probes.push(("not null", nulls_of(df.clone(), &c.field.name)?));
        }
        if c.unique {
            probes.push((
                "unique",
                duplicates_of(df.clone(), std::slice::from_ref(&c.field.name))?,
            ));
        }
        for chk in &c.checks {
            probes.push((
                "check",
                df.clone().filter(datafusion::logical_expr::not(lw.lower_expr(chk)?))?,
            ));
        }
        for (what, probe) in probes {
            let (n, table) = count_and_show(probe).await?;
            if n == 0 {
                continue;
            }
            diags.push(
                Diagnostic::error(Code::E0402, c.span, violation_message(&o.name, what, &c.field.name, n))
                    .label(format!("{what} violated"))
                    .help(format!(
                        "nothing was committed to `{}`. First offending rows:\n{table}",
                        o.name
                    )),
            );
        }
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Failure::User(diags))
    }
}

/// An incremental run adds rows to rows already written (all of them, or those of the keys
/// it does not replace): a `unique` contract column must be unique across both, not only
/// among the new rows.
async fn verify_unique_with_written(
    session: &Session,
    program: &Program,
    o: &OutputIr,
    lp: &LogicalPlan,
    inc: Option<&Increment>,
) -> Result<(), Failure> {
    let model = &program.models[o.model];
    let kept = match inc {
        Some(Increment::Append { .. }) => None,
        Some(Increment::Replace { key, keys, .. }) => Some(
            col(datafusion::common::Column::from_name(&key.1)).in_list(keys.iter().cloned().map(lit).collect(), true),
        ),
        _ => return Ok(()),
    };
    if !model.contract.iter().any(|c| c.unique) {
        return Ok(());
    }
    let table = delta::open(&o.url, &PinSpec::Latest)
        .await
        .map_err(|e| write_failed(o, e.message()))?;
    let written = engine::provider(&table, &session.ctx.state()).await?;
    let mut diags = vec![];
    for c in model.contract.iter().filter(|c| c.unique) {
        let name = datafusion::common::Column::from_name(&c.field.name);
        let new = DataFrame::new(session.ctx.state(), lp.clone()).select(vec![col(name.clone())])?;
        let mut old = session.ctx.read_table(written.clone())?;
        if let Some(k) = &kept {
            old = old.filter(k.clone())?;
        }
        let old = old.select(vec![col(name)])?;
        let (n, shown) = count_and_show(duplicates_of(new.union(old)?, std::slice::from_ref(&c.field.name))?).await?;
        if n > 0 {
            diags.push(
                Diagnostic::error(
                    Code::E0402,
                    c.span,
                    format!(
                        "output `{}`: {n} value(s) of `{}` occur more than once (`unique`) among the rows written and the rows this run appends",
                        o.name, c.field.name
                    ),
                )
                .label("unique violated")
                .help(format!("nothing was committed to `{}`. Duplicated values:\n{shown}", o.name)),
            );
        }
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Failure::User(diags))
    }
}

/// Checks the rows an output would write against the Delta CHECK constraints its table
/// already declares (`delta.constraints.<name>`), so a violation stops the whole run before
/// any commit (the writer would refuse only that output, after others had committed).
async fn verify_table_constraints(session: &Session, o: &OutputIr, lp: &LogicalPlan) -> Result<(), Failure> {
    let table = match delta::open(&o.url, &PinSpec::Latest).await {
        Ok(t) => t,
        Err(TableError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(write_failed(o, e.message())),
    };
    let Ok(snap) = table.snapshot() else { return Ok(()) };
    let mut constraints: Vec<(String, String)> = snap
        .metadata()
        .configuration()
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("delta.constraints.")?.to_string(), v.clone())))
        .collect();
    constraints.sort();
    let mut diags = vec![];
    for (name, sql) in constraints {
        let df = DataFrame::new(session.ctx.state(), lp.clone());
        let expr = match df.parse_sql_expr(&sql) {
            Ok(e) => e,
            Err(e) => {
                diags.push(
                    Diagnostic::error(
                        Code::E0402,
                        o.span,
                        format!("output `{}`: its table's constraint `{name}` ({sql}) does not apply to the model's rows: {e}", o.name),
                    )
                    .label("the Delta table declares this constraint")
                    .help("nothing was committed; the model must give the columns the constraint reads, or drop the constraint from the table"),
                );
                continue;
            }
        };
        // a row violates a CHECK constraint when it evaluates to false (null passes)
        let (n, shown) = count_and_show(df.filter(expr.is_false())?).await?;
        if n > 0 {
            diags.push(
                Diagnostic::error(
                    Code::E0402,
                    o.span,
                    format!(
                        "output `{}`: {n} row(s) break the table's constraint `{name}` ({sql})",
                        o.name
                    ),
                )
                .label("the Delta table declares this constraint")
                .help(format!("nothing was committed. First offending rows:\n{shown}")),
            );
        }
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Failure::User(diags))
    }
}

/// The Delta application id under which semc records that run `run_id` wrote `output`.
pub fn app_id(output: &str, run_id: &str) -> String {
    format!("semc:{output}:{run_id}")
}

/// Writes one output in one Delta commit that also records the run as a Delta transaction
/// ([`app_id`]). If the table already records this run, nothing is written and the result
/// is `None`.
async fn write_output(
    session: &Session,
    o: &OutputIr,
    lp: LogicalPlan,
    run_id: &str,
    inc: Option<&Increment>,
) -> Result<Option<(u64, u64, i64)>, Failure> {
    use deltalake::protocol::SaveMode;
    let io = |e: String| match data_error(&e) {
        Some(d) => Failure::User(vec![d.at(o.span)]),
        None => write_failed(o, &e),
    };
    let conflict = |what: String| {
        Failure::User(vec![
            Diagnostic::error(Code::E0407, o.span, format!("output `{}`: {what}", o.name))
                .label("another writer committed to this output during the run")
                .help("nothing of this run was committed to this output; run again to compute on its new state"),
        ])
    };
    if o.url.scheme() == "file"
        && let Ok(p) = o.url.to_file_path()
    {
        std::fs::create_dir_all(&p).map_err(|e| io(format!("cannot create `{}`: {e}", p.display())))?;
    }
    let table = DeltaTable::try_from_url(o.url.clone())
        .await
        .map_err(|e| io(e.to_string()))?;
    if let Ok(state) = table.snapshot()
        && let Ok(Some(_)) = state
            .transaction_version(table.log_store().as_ref(), app_id(&o.name, run_id))
            .await
    {
        return Ok(None);
    }
    if let Some(base) = inc.and_then(Increment::base) {
        let now = table.version().map(|v| v as i64).unwrap_or(-1);
        if now != base {
            return Err(conflict(format!(
                "the output moved from version {base} to {now} while this run read its source's changes"
            )));
        }
    }
    let mode = match (inc, o.mode) {
        (Some(Increment::Rebuild { .. } | Increment::Replace { .. }), _) => SaveMode::Overwrite,
        (Some(Increment::Append { .. }), _) => SaveMode::Append,
        (_, crate::ast::WriteMode::Append) => SaveMode::Append,
        (_, crate::ast::WriteMode::Overwrite) => SaveMode::Overwrite,
    };
    let replace = match inc {
        Some(Increment::Replace { key, keys, .. }) => Some(
            col(datafusion::common::Column::from_name(&key.1)).in_list(keys.iter().cloned().map(lit).collect(), false),
        ),
        _ => None,
    };
    // plan here, so the result reaches the writer exactly as planned (in order when sorted)
    let state = session.ctx.state();
    let physical = state.create_physical_plan(&lp).await?;
    let planned = datafusion::logical_expr::LogicalPlanBuilder::scan(
        "semc_result",
        datafusion::datasource::provider_as_source(Arc::new(engine::PlannedTable::new(physical)?)),
        None,
    )?
    .build()?;
    let mut wb = table
        .write(vec![])
        .with_input_plan(planned)
        .with_session_state(Arc::new(state))
        .with_save_mode(mode);
    if !o.partition_by.is_empty() {
        wb = wb.with_partition_columns(o.partition_by.clone());
    }
    if let Some(predicate) = replace {
        // one commit: the rows of the changed keys out, their new rows in
        wb = wb.with_replace_where(predicate);
    } else if mode == SaveMode::Overwrite {
        wb = wb.with_schema_mode(deltalake::operations::write::SchemaMode::Overwrite);
    }
    let mut txns = vec![deltalake::kernel::Transaction::new(app_id(&o.name, run_id), 1)];
    if let Some(inc) = inc {
        txns.extend(
            inc.txns()
                .iter()
                .map(|(app, v)| deltalake::kernel::Transaction::new(app, *v)),
        );
    }
    let props = deltalake::kernel::transaction::CommitProperties::default()
        .with_application_transactions(txns)
        // concurrent blind appenders: each lost race re-reads the log and tries the next
        // version. An overwrite or an incremental append must land right after the state it
        // was computed from: retried on a newer version, an overwrite planned before the
        // table existed would remove nothing (two writers' rows in one version), and two
        // incremental runs would append the same changes twice
        .with_max_retries(
            if mode == SaveMode::Overwrite || inc.and_then(Increment::base).is_some() {
                0
            } else {
                1000
            },
        )
        .with_metadata([("semc.run_id".to_string(), serde_json::json!(run_id))]);
    wb = wb.with_commit_properties(props);
    let table = wb.await.map_err(|e| {
        use deltalake::kernel::transaction::TransactionError as T;
        match &e {
            deltalake::DeltaTableError::Transaction {
                source: T::CommitConflict(_) | T::MaxCommitAttempts(_),
            } => conflict(e.to_string()),
            _ => io(e.to_string()),
        }
    })?;
    let version = table.version().map(|v| v as i64).unwrap_or(-1);
    let (mut rows, mut files) = (0, 0);
    use futures::StreamExt;
    if let Some(Ok(ci)) = table.history(Some(1)).next().await
        && let Some(m) = ci.info.get("operationMetrics")
    {
        rows = m.get("num_added_rows").and_then(|v| v.as_u64()).unwrap_or(0);
        files = m.get("num_added_files").and_then(|v| v.as_u64()).unwrap_or(0);
    }
    Ok(Some((rows, files, version)))
}

/// The optimized physical plan of one output, as DataFusion runs it, and per Delta scan the
/// files read and pruned. With `analyze`, the plan is run (nothing is written) and each scan
/// also reports its parquet row groups pruned by statistics and bloom filters, rows pruned by
/// page indexes, and rows read.
pub async fn explain(path: &Path, output: &str, analyze: bool) -> Result<String, Failure> {
    let c = compile(path).await?;
    let program = c.program()?;
    let session = Session::new(&c).await?;
    let plan = session.plan(program, Some(output))?;
    let roots = session.consume(&plan).await?;
    let lp = roots
        .into_iter()
        .next()
        .ok_or_else(|| Failure::Internal("no root".into()))?;
    let state = session.ctx.state();
    let optimized = state.optimize(&lp)?;
    let physical = state.create_physical_plan(&lp).await?;
    let mut rows_out = None;
    if analyze {
        let batches = datafusion::physical_plan::collect(physical.clone(), session.ctx.task_ctx()).await?;
        rows_out = Some(batches.iter().map(|b| b.num_rows()).sum::<usize>());
    }
    let shown = if analyze {
        datafusion::physical_plan::display::DisplayableExecutionPlan::with_metrics(physical.as_ref())
    } else {
        datafusion::physical_plan::displayable(physical.as_ref())
    };
    let phys = shown.indent(true).to_string();
    let mut scans_found = vec![];
    scans(&physical, &mut scans_found);
    let mut report = String::new();
    for s in &program.sources {
        let name = delta::pinned_name(&s.url, s.version);
        let Some((_, table)) = c.tables.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let total = table.snapshot().map(|sn| sn.log_data().num_files()).unwrap_or(0);
        let prefix = s.url.path().trim_start_matches('/').to_string();
        let mine: Vec<&Scan> = scans_found
            .iter()
            .filter(|sc| sc.files.iter().any(|f| f.starts_with(&prefix)))
            .collect();
        let kept: std::collections::BTreeSet<&String> = mine.iter().flat_map(|sc| &sc.files).collect();
        if kept.is_empty() {
            continue;
        }
        report.push_str(&format!(
            "{} ({} @ version {}): {} of {total} files read, {} pruned\n",
            s.name,
            s.url,
            s.version,
            kept.len(),
            total.saturating_sub(kept.len())
        ));
        if analyze {
            let sum = |name: &str| {
                mine.iter()
                    .map(|sc| sc.metric(name))
                    .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
            };
            let (rg_stats_pruned, rg_stats_matched) = sum("row_groups_pruned_statistics");
            let (rg_bloom_pruned, _) = sum("row_groups_pruned_bloom_filter");
            let (page_rows_pruned, _) = sum("page_index_rows_pruned");
            let (pushdown_pruned, _) = sum("pushdown_rows_pruned");
            let (rows, _) = sum("output_rows");
            report.push_str(&format!(
                "  row groups: {rg_stats_pruned} of {} pruned by statistics, {rg_bloom_pruned} by bloom filters; rows: {page_rows_pruned} pruned by page indexes, {pushdown_pruned} by filter pushdown, {rows} read\n",
                rg_stats_pruned + rg_stats_matched
            ));
        }
    }
    let mut text = format!(
        "== logical plan (optimized) ==\n{}\n\n== physical plan{} ==\n{phys}\n== Delta scans ==\n{report}",
        optimized.display_indent(),
        if analyze { " (run, with metrics)" } else { "" }
    );
    if let Some(n) = rows_out {
        text.push_str(&format!("== result ==\n{n} rows (not written)\n"));
    }
    Ok(text)
}

/// A parquet scan of a physical plan: the files it reads and its metrics (after a run).
struct Scan {
    files: Vec<String>,
    metrics: Option<datafusion::physical_plan::metrics::MetricsSet>,
}

impl Scan {
    /// (pruned, matched) of a pruning metric, or (value, 0) of a counter, summed over partitions.
    fn metric(&self, name: &str) -> (usize, usize) {
        use datafusion::physical_plan::metrics::MetricValue;
        let Some(m) = &self.metrics else { return (0, 0) };
        m.iter()
            .filter(|x| x.value().name() == name)
            .map(|x| match x.value() {
                MetricValue::PruningMetrics { pruning_metrics, .. } => {
                    (pruning_metrics.pruned(), pruning_metrics.matched())
                }
                v => (v.as_usize(), 0),
            })
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    }
}

/// Every parquet scan of the physical plan.
fn scans(plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>, out: &mut Vec<Scan>) {
    use datafusion::datasource::physical_plan::FileScanConfig;
    use datafusion::datasource::source::DataSourceExec;
    let any: &dyn std::any::Any = plan.as_ref();
    if let Some(ds) = any.downcast_ref::<DataSourceExec>() {
        let source: &dyn std::any::Any = ds.data_source().as_ref();
        if let Some(cfg) = source.downcast_ref::<FileScanConfig>() {
            let files = cfg
                .file_groups
                .iter()
                .flat_map(|g| g.iter().map(|f| f.object_meta.location.to_string()))
                .collect();
            out.push(Scan {
                files,
                metrics: plan.metrics(),
            });
        }
    }
    for child in plan.children() {
        scans(child, out);
    }
}

/// The first `limit` rows of a Delta table (latest version), as a text table.
pub async fn read_table(location: &str, limit: usize) -> Result<String, String> {
    let url = url::Url::parse(location).map_err(|e| e.to_string())?;
    let table = delta::open(&url, &PinSpec::Latest)
        .await
        .map_err(|e| e.message().to_string())?;
    // one partition: rows come back in the order the table stores them
    let ctx = engine::session_with_partitions(1);
    let p = engine::provider(&table, &ctx.state())
        .await
        .map_err(|e| e.to_string())?;
    let df = ctx
        .read_table(p)
        .map_err(|e| e.to_string())?
        .limit(0, Some(limit))
        .map_err(|e| e.to_string())?;
    let batches = df.collect().await.map_err(|e| e.to_string())?;
    datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .map(|t| t.to_string())
        .map_err(|e| e.to_string())
}

// ---------------------------------------------------------------- plan bundles

/// The execution spec of a plan bundle (`spec.json` beside `plan.substrait.pb`): everything
/// `semc exec` needs besides the plan — where and how each root is written, the contract
/// columns to verify, and the snapshots the plan pins.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct BundleSpec {
    pub format: u32,
    pub semc_version: String,
    /// The Substrait plan file, relative to the bundle folder.
    pub plan: String,
    pub outputs: Vec<BundleOutput>,
    /// Each source's table, id and pinned version (what `sem.lock` records).
    pub sources: Vec<LockedSource>,
    pub policy: BundlePolicy,
    /// Tables (sources and outputs) under the workspace root, by URI: their path relative
    /// to it. `semc exec DIR --root R` reads and writes them under `R` instead.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub relative: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct BundleOutput {
    pub name: String,
    /// Index of this output's root relation in the plan.
    pub root: usize,
    pub uri: String,
    /// `append` or `overwrite`.
    pub mode: String,
    pub partition_by: Vec<String>,
    /// Contract columns verified before committing.
    pub not_null: Vec<String>,
    pub unique: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct BundlePolicy {
    pub strict: bool,
    pub max_reader_version: Option<i64>,
    pub max_writer_version: Option<i64>,
}

/// Writes `plan.substrait.pb` and `spec.json` into `dir`.
pub async fn write_bundle(c: &Compilation, dir: &Path, only: Option<&str>) -> Result<BundleSpec, Failure> {
    let program = c.program()?;
    let session = Session::new(c).await?;
    let plan = session.plan(program, only)?;
    let outputs: Vec<BundleOutput> = program
        .outputs
        .iter()
        .filter(|o| only.is_none_or(|n| n == o.name))
        .enumerate()
        .map(|(root, o)| {
            let contract = &program.models[o.model].contract;
            BundleOutput {
                name: o.name.clone(),
                root,
                uri: o.url.to_string(),
                // a bundle's plan computes an incremental model in full: it replaces the output
                mode: match o.mode {
                    _ if program.models[o.model].incremental.is_some() => "overwrite".into(),
                    crate::ast::WriteMode::Append => "append".into(),
                    crate::ast::WriteMode::Overwrite => "overwrite".into(),
                },
                partition_by: o.partition_by.clone(),
                not_null: contract
                    .iter()
                    .filter(|k| !k.field.nullable)
                    .map(|k| k.field.name.clone())
                    .collect(),
                unique: contract
                    .iter()
                    .filter(|k| k.unique)
                    .map(|k| k.field.name.clone())
                    .collect(),
            }
        })
        .collect();
    let sources = Lock::of(c).sources;
    let root = std::fs::canonicalize(&c.ws.root)
        .ok()
        .and_then(|r| url::Url::from_directory_path(r).ok());
    let relative = sources
        .iter()
        .map(|s| s.uri.as_str())
        .chain(outputs.iter().map(|o: &BundleOutput| o.uri.as_str()))
        .filter_map(|uri| {
            let rel = uri.strip_prefix(root.as_ref()?.as_str())?;
            (!rel.is_empty() && !rel.split('/').any(|p| p == "..")).then(|| (uri.to_string(), rel.to_string()))
        })
        .collect();
    let spec = BundleSpec {
        format: 1,
        semc_version: env!("CARGO_PKG_VERSION").into(),
        plan: "plan.substrait.pb".into(),
        outputs,
        sources,
        relative,
        policy: BundlePolicy {
            strict: program.policy.strict,
            max_reader_version: program.policy.max_reader_version,
            max_writer_version: program.policy.max_writer_version,
        },
    };
    let bad = |e: std::io::Error| Failure::Internal(format!("cannot write the bundle in `{}`: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(bad)?;
    std::fs::write(dir.join(&spec.plan), prost::Message::encode_to_vec(&plan)).map_err(bad)?;
    let text = serde_json::to_string_pretty(&spec).map_err(|e| Failure::Internal(e.to_string()))?;
    std::fs::write(dir.join("spec.json"), text + "\n").map_err(bad)?;
    Ok(spec)
}

fn bundle_error(msg: String) -> Failure {
    Failure::User(vec![
        Diagnostic::error(Code::E0404, Span::default(), msg).help("write a bundle with `semc plan PATH --bundle DIR`"),
    ])
}

/// Where `semc exec` finds a bundle's tables.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    /// Tables the spec records relative to the workspace root resolve under this folder.
    pub root: Option<std::path::PathBuf>,
    /// `NAME=URI`: the source or output called NAME is the table at URI (a path or a URI).
    pub binds: Vec<(String, String)>,
}

/// The URI each table of the spec is read or written at under `bindings`.
fn rebind(spec: &BundleSpec, bindings: &Bindings) -> Result<std::collections::HashMap<String, url::Url>, Failure> {
    let mut map = std::collections::HashMap::new();
    if let Some(root) = &bindings.root {
        let root =
            std::fs::canonicalize(root).map_err(|e| bundle_error(format!("--root `{}`: {e}", root.display())))?;
        for (uri, rel) in &spec.relative {
            let to = delta::resolve_location(&root, rel).map_err(|e| bundle_error(e.message().to_string()))?;
            map.insert(uri.clone(), to);
        }
    }
    for (name, to) in &bindings.binds {
        let uri = spec
            .sources
            .iter()
            .find(|s| s.name == *name)
            .map(|s| &s.uri)
            .or_else(|| spec.outputs.iter().find(|o| o.name == *name).map(|o| &o.uri))
            .ok_or_else(|| {
                let names: Vec<&str> = spec
                    .sources
                    .iter()
                    .map(|s| s.name.as_str())
                    .chain(spec.outputs.iter().map(|o| o.name.as_str()))
                    .collect();
                bundle_error(format!(
                    "--bind {name}=…: the bundle has no source or output `{name}` (it has {})",
                    names.join(", ")
                ))
            })?;
        let here = std::env::current_dir().unwrap_or_default();
        let to = delta::resolve_location(&here, to).map_err(|e| bundle_error(e.message().to_string()))?;
        map.insert(uri.clone(), to);
    }
    Ok(map)
}

/// Renames every table a plan reads (`<uri>@v<N>…`) whose URI `map` rebinds.
fn rebind_plan(plan: Plan, map: &std::collections::HashMap<String, url::Url>) -> Result<Plan, Failure> {
    fn walk(v: &mut serde_json::Value, map: &std::collections::HashMap<String, url::Url>) {
        match v {
            serde_json::Value::Object(o) => {
                if let Some(names) = o
                    .get_mut("namedTable")
                    .and_then(|t| t.get_mut("names"))
                    .and_then(|n| n.as_array_mut())
                {
                    for n in names {
                        if let Some((url, version, options)) = n.as_str().and_then(delta::parse_pinned_name)
                            && let Some(to) = map.get(url.as_str())
                        {
                            *n = serde_json::Value::String(delta::pinned_name_with(to, version, &options));
                        }
                    }
                }
                o.values_mut().for_each(|x| walk(x, map));
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| walk(x, map)),
            _ => {}
        }
    }
    if map.is_empty() {
        return Ok(plan);
    }
    let mut json = serde_json::to_value(&plan).map_err(|e| Failure::Internal(e.to_string()))?;
    walk(&mut json, map);
    serde_json::from_value(json).map_err(|e| Failure::Internal(e.to_string()))
}

/// Runs a bundle: no `.sem` source needed. Each root is consumed through datafusion-substrait
/// (tables resolve from the plan's pinned names, rebound by `bindings`), verified, and
/// committed like `semc run`. A rebound source must be the same Delta table (same table id).
pub async fn exec_bundle(dir: &Path, opts: &RunOptions, bindings: &Bindings) -> Result<Vec<OutputReport>, Failure> {
    let spec_text = std::fs::read_to_string(dir.join("spec.json"))
        .map_err(|e| bundle_error(format!("cannot read `{}`: {e}", dir.join("spec.json").display())))?;
    let spec: BundleSpec = serde_json::from_str(&spec_text)
        .map_err(|e| bundle_error(format!("`spec.json` is not a semc bundle spec: {e}")))?;
    let bytes = std::fs::read(dir.join(&spec.plan))
        .map_err(|e| bundle_error(format!("cannot read the plan `{}`: {e}", spec.plan)))?;
    let plan: Plan = prost::Message::decode(bytes.as_slice())
        .map_err(|e| bundle_error(format!("the plan is not Substrait: {e}")))?;
    let map = rebind(&spec, bindings)?;
    for s in &spec.sources {
        let Some(to) = map.get(&s.uri) else { continue };
        let t = delta::open(to, &PinSpec::Version(s.version))
            .await
            .map_err(|e| bundle_error(format!("source `{}` bound to `{to}`: {}", s.name, e.message())))?;
        let id = t
            .snapshot()
            .map(|sn| sn.metadata().id().to_string())
            .unwrap_or_default();
        if !s.table_id.is_empty() && id != s.table_id {
            return Err(bundle_error(format!(
                "source `{}` bound to `{to}`: that is another Delta table (id {id}; the bundle was planned against {})",
                s.name, s.table_id
            )));
        }
    }
    let plan = rebind_plan(plan, &map)?;
    let partitions = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let session = Session {
        ctx: engine::session_with(partitions, opts.memory_limit),
        providers: Providers::new(),
    };
    let roots = session.consume(&plan).await.map_err(|f| match f {
        Failure::Internal(m) => bundle_error(format!("the plan cannot be read: {m}")),
        user => user,
    })?;
    let mut staged = vec![];
    let mut violations = vec![];
    for o in &spec.outputs {
        let lp = roots
            .get(o.root)
            .cloned()
            .ok_or_else(|| bundle_error(format!("output `{}` names root {} of {}", o.name, o.root, roots.len())))?;
        let url = match map.get(&o.uri) {
            Some(u) => u.clone(),
            None => url::Url::parse(&o.uri).map_err(|e| bundle_error(format!("output `{}`: bad uri: {e}", o.name)))?,
        };
        let out = OutputIr {
            name: o.name.clone(),
            span: Span::default(),
            model: 0,
            url,
            mode: if o.mode == "append" {
                crate::ast::WriteMode::Append
            } else {
                crate::ast::WriteMode::Overwrite
            },
            partition_by: o.partition_by.clone(),
        };
        for (what, cols) in [("not null", &o.not_null), ("unique", &o.unique)] {
            for c in cols {
                let df = DataFrame::new(session.ctx.state(), lp.clone());
                let probe = if what == "not null" {
                    nulls_of(df, c)?
                } else {
                    duplicates_of(df, std::slice::from_ref(c))?
                };
                let (n, table) = count_and_show(probe).await?;
                if n > 0 {
                    violations.push(
                        Diagnostic::error(Code::E0402, Span::default(), violation_message(&o.name, what, c, n))
                            .help(format!("nothing was committed. First offending rows:\n{table}")),
                    );
                }
            }
        }
        staged.push((out, lp));
    }
    if !violations.is_empty() {
        return Err(Failure::User(violations));
    }
    let run_id = opts.run_id.clone().unwrap_or_else(new_run_id);
    commit_all(
        &session,
        staged.iter().map(|(o, lp)| (o, lp.clone())).collect(),
        &run_id,
        &std::collections::HashMap::new(),
    )
    .await
}

/// Rows where `column` is null.
fn nulls_of(df: DataFrame, column: &str) -> Result<DataFrame, DataFusionError> {
    df.filter(col(datafusion::common::Column::from_name(column)).is_null())
}

/// The values of `columns` that occur more than once, with their count (`rows`).
fn duplicates_of(df: DataFrame, columns: &[String]) -> Result<DataFrame, DataFusionError> {
    let keys = columns
        .iter()
        .map(|c| col(datafusion::common::Column::from_name(c)))
        .collect();
    df.aggregate(
        keys,
        vec![datafusion::functions_aggregate::count::count(lit(1i64)).alias("rows")],
    )?
    .filter(col("rows").gt(lit(1i64)))
}

/// How many rows a probe finds, and the first ten as a text table (never all of them).
async fn count_and_show(probe: DataFrame) -> Result<(usize, String), DataFusionError> {
    let n = probe.clone().count().await?;
    if n == 0 {
        return Ok((0, String::new()));
    }
    let shown = probe.limit(0, Some(10))?.collect().await?;
    let table = datafusion::arrow::util::pretty::pretty_format_batches(&shown)
        .map(|t| t.to_string())
        .unwrap_or_default();
    Ok((n, table))
}

/// "3 row(s) break `not null` on `x`", or for `unique`, how many values repeat.
fn violation_message(output: &str, what: &str, column: &str, n: usize) -> String {
    if what == "unique" {
        format!("output `{output}`: {n} value(s) of `{column}` occur more than once (`unique`)")
    } else {
        format!("output `{output}`: {n} row(s) break `{what}` on `{column}`")
    }
}

fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{nanos}-{}", std::process::id())
}
