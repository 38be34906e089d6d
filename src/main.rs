//! The `semc` command line.

use clap::{Parser, Subcommand, ValueEnum};
use semc::diag::{self, Diagnostic};
use semc::run::{self, Failure};
use semc::span::SourceMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "semc",
    version,
    about = "Compile and run .sem semantic models over Delta tables"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// The profile of semc.toml to use (default: `default`, when the file has one).
    #[arg(long, global = true, env = "SEMC_PROFILE")]
    profile: Option<String>,
    /// Colors in diagnostics: `auto` (on a terminal, unless NO_COLOR is set), `always`, `never`.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    color: ColorChoice,
    /// Log each stage with its time on stderr (-v: stages, -vv: more); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Whether diagnostics on stderr are colored (set once from `--color` and NO_COLOR).
static COLOR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

fn colored() -> bool {
    *COLOR.get().unwrap_or(&false)
}

/// `-v` and RUST_LOG: spans of each stage, closed with their time, on stderr. Without
/// them, a run on a terminal shows its progress (`progress`) instead.
fn init_logging(verbose: u8, color: bool, progress: bool) {
    use tracing_subscriber::fmt::format::FmtSpan;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    let filter = match std::env::var("RUST_LOG") {
        Ok(f) if !f.is_empty() => Some(EnvFilter::new(f)),
        _ if verbose == 0 => None,
        _ if verbose == 1 => Some(EnvFilter::new("semc=info")),
        _ => Some(EnvFilter::new("semc=debug,deltalake=info,datafusion=info")),
    };
    let registry = tracing_subscriber::registry();
    let _ = match filter {
        Some(filter) => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_span_events(FmtSpan::CLOSE)
                    .with_writer(std::io::stderr)
                    .with_ansi(color)
                    .with_target(false)
                    .with_filter(filter),
            )
            .try_init(),
        None if progress => registry
            .with(semc::progress::Progress::new().with_filter(EnvFilter::new("semc=info")))
            .try_init(),
        None => Ok(()),
    };
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum DiagFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum RowsFormat {
    Table,
    Csv,
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum GraphFormat {
    Dot,
    Mermaid,
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum PlanFormat {
    Json,
    Proto,
}

#[derive(Subcommand)]
enum Cmd {
    /// Parse and type-check a workspace (a .sem file or a folder) against its Delta tables.
    Check {
        #[arg(default_value = ".")]
        path: PathBuf,
        #[arg(long, value_enum, default_value = "human")]
        format: DiagFormat,
        /// Check the declarations alone: open no Delta table (nothing is compared with one).
        #[arg(long)]
        offline: bool,
    },
    /// Lower the workspace to ONE Substrait plan (one root per output).
    Plan {
        path: PathBuf,
        /// Only this output.
        #[arg(long)]
        output: Option<String>,
        #[arg(long, value_enum, default_value = "json")]
        format: PlanFormat,
        /// Write the plan to this file instead of standard output.
        #[arg(short = 'o')]
        out: Option<PathBuf>,
        /// Write a runnable bundle (plan + execution spec) into this folder, for `semc exec`.
        #[arg(long)]
        bundle: Option<PathBuf>,
    },
    /// Run a bundle written by `semc plan --bundle` (no .sem files needed).
    Exec {
        dir: PathBuf,
        #[arg(long)]
        run_id: Option<String>,
        #[arg(long, value_parser = parse_memory)]
        memory_limit: Option<usize>,
        /// Resolve the tables the bundle recorded relative to its workspace root under this
        /// folder or URI, e.g. s3://bucket/lake (the same layout elsewhere).
        #[arg(long)]
        root: Option<String>,
        /// NAME=LOCATION: read source NAME from (or write output NAME to) another location;
        /// a source must be the same Delta table (same id) there. Repeatable.
        #[arg(long = "bind", value_parser = parse_bind)]
        binds: Vec<(String, String)>,
        /// `json`: one JSON object per line (each output's report, each diagnostic).
        #[arg(long, value_enum, default_value = "human")]
        format: DiagFormat,
    },
    /// Execute the plan and commit every output (or one) to Delta.
    Run {
        path: PathBuf,
        #[arg(long)]
        output: Option<String>,
        /// Memory the engine may use (e.g. 256M, 2G); beyond it, operators spill to disk.
        #[arg(long, value_parser = parse_memory)]
        memory_limit: Option<usize>,
        /// Read every source at the version recorded in sem.lock (written by each run).
        #[arg(long)]
        locked: bool,
        /// The run's id, recorded in each output's Delta commit; an output that already
        /// records it is not written again (default: a new id).
        #[arg(long)]
        run_id: Option<String>,
        /// `json`: one JSON object per line (each output's report, each diagnostic).
        #[arg(long, value_enum, default_value = "human")]
        format: DiagFormat,
    },
    /// Show the optimized DataFusion plan of one output.
    Explain {
        path: PathBuf,
        #[arg(long)]
        output: String,
        /// Run the plan (nothing is written) and show per-operator metrics, row groups and
        /// pages pruned per scan.
        #[arg(long)]
        analyze: bool,
        /// `json`: the plan text in one JSON object (diagnostics as JSON lines).
        #[arg(long, value_enum, default_value = "human")]
        format: DiagFormat,
    },
    /// Generate TPC-H as Delta tables, then check and run the TPC-H example models.
    Demo {
        #[arg(default_value = "demo-data")]
        dir: PathBuf,
        /// TPC-H scale factor.
        #[arg(long, default_value_t = 0.01)]
        sf: f64,
        /// Write the tables (under `tpch/`) and the outputs (under `out/`) to this folder or
        /// URI (e.g. s3://bucket/lake) instead of DIR; the .sem files in DIR point there.
        #[arg(long)]
        to: Option<String>,
    },
    /// Lay out .sem files canonically (in place), keeping comments; `-` formats stdin to stdout.
    Fmt {
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        /// Change nothing: list the files that are not formatted and fail if there are any.
        #[arg(long)]
        check: bool,
    },
    /// Compute and print the rows of any model (nothing is written).
    Show {
        path: PathBuf,
        #[arg(long)]
        model: String,
        /// At most this many rows.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long, value_enum, default_value = "table")]
        format: RowsFormat,
        /// Print the model's columns (type, nullability, doc, source columns) instead of rows;
        /// reads no table.
        #[arg(long)]
        schema: bool,
    },
    /// Draw sources → models → outputs; with --columns, each model column's source columns.
    Graph {
        #[arg(default_value = ".")]
        path: PathBuf,
        #[arg(long)]
        columns: bool,
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
    },
    /// Write a starter workspace (semc.toml, sources, models and two small tables) in DIR.
    Init {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Serve the Language Server Protocol on stdin/stdout (for editors).
    Lsp,
    /// Explain a diagnostic code (or list them all).
    Codes { code: Option<String> },
    /// List the standard library's functions with their signatures (or those named NAME).
    Functions { name: Option<String> },
}

/// A JSON line of semc's output: `{"kind": …, …}` (diagnostics are `kind: diagnostic`).
#[derive(serde::Serialize)]
struct JsonLine<'a, T: serde::Serialize> {
    kind: &'static str,
    #[serde(flatten)]
    body: &'a T,
}

fn print_json_line<T: serde::Serialize>(kind: &'static str, body: &T) {
    println!(
        "{}",
        serde_json::to_string(&JsonLine { kind, body }).unwrap_or_default()
    );
}

fn print_reports(reports: &[run::OutputReport], map: &SourceMap, format: DiagFormat) {
    for r in reports {
        print_diags(map, &r.warnings, format);
    }
    if format == DiagFormat::Json {
        for r in reports {
            print_json_line("output", r);
        }
        return;
    }
    for r in reports {
        if r.skipped && r.incremental.is_some() {
            println!(
                "{}: {} ({} version {}); nothing written",
                r.output,
                r.incremental.as_deref().unwrap_or_default(),
                r.location,
                r.version
            );
        } else if r.skipped {
            println!(
                "{}: run already committed at {} version {}; nothing written",
                r.output, r.location, r.version
            );
        } else {
            if let Some(why) = &r.incremental {
                println!("{}: {why}", r.output);
            }
            println!(
                "{}: {} rows, {} file(s) → {} version {} ({} ms)",
                r.output, r.rows, r.files, r.location, r.version, r.millis
            );
        }
    }
}

fn parse_bind(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(n, l)| !n.is_empty() && !l.is_empty())
        .map(|(n, l)| (n.to_string(), l.to_string()))
        .ok_or_else(|| format!("`{s}` is not NAME=LOCATION"))
}

fn parse_memory(s: &str) -> Result<usize, String> {
    run::parse_size(s).ok_or_else(|| format!("`{s}` is not a size: write e.g. 256M or 2G"))
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("internal error: semc panicked (this is a bug in semc, not in your program): {info}");
    }));
    // a wrong command line is the user's error (exit 1); 2 is kept for semc's own bugs
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let _ = COLOR.set(color);
    // progress only for commands that run something, and only for a person at a terminal
    let runs = matches!(
        cli.cmd,
        Cmd::Run {
            format: DiagFormat::Human,
            ..
        } | Cmd::Exec {
            format: DiagFormat::Human,
            ..
        }
    );
    init_logging(cli.verbose, color, runs && std::io::stderr().is_terminal());
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("internal error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(dispatch(cli))));
    match result {
        Ok(code) => code,
        Err(_) => ExitCode::from(2),
    }
}

fn print_diags(map: &SourceMap, diags: &[Diagnostic], format: DiagFormat) {
    if diags.is_empty() {
        return;
    }
    let out = match format {
        DiagFormat::Json => diag::render_json(map, diags),
        DiagFormat::Human => diag::render(map, diags, colored()),
    };
    if format == DiagFormat::Json {
        print!("{out}");
    } else {
        eprint!("{out}");
    }
}

fn fail(map: &SourceMap, f: Failure) -> ExitCode {
    fail_as(map, f, DiagFormat::Human)
}

fn fail_as(map: &SourceMap, f: Failure, format: DiagFormat) -> ExitCode {
    match f {
        Failure::User(d) => {
            print_diags(map, &d, format);
            if format == DiagFormat::Human {
                let n = d.iter().filter(|d| d.is_error()).count();
                eprintln!("error: {n} problem(s) found");
            }
            ExitCode::from(1)
        }
        Failure::Internal(msg) => {
            eprintln!("internal error (a bug in semc, please report it): {msg}");
            ExitCode::from(2)
        }
    }
}

async fn compile_or_report(path: &Path, format: DiagFormat) -> Result<run::Compilation, ExitCode> {
    compile_or_report_locked(path, format, None).await
}

/// `semc check`: against the tables, or `--offline` from the declarations alone.
async fn compile_checked(path: &Path, format: DiagFormat, offline: bool) -> Result<run::Compilation, ExitCode> {
    if !offline {
        return compile_or_report(path, format).await;
    }
    let c = run::compile_offline(path)
        .await
        .map_err(|f| fail(&SourceMap::default(), f))?;
    report(c, format)
}

async fn compile_or_report_locked(
    path: &Path,
    format: DiagFormat,
    lock: Option<&run::Lock>,
) -> Result<run::Compilation, ExitCode> {
    let c = match run::compile_locked(path, lock).await {
        Ok(c) => c,
        Err(f) => return Err(fail(&SourceMap::default(), f)),
    };
    report(c, format)
}

/// Prints a compilation's diagnostics; its errors end the command (exit 1).
fn report(c: run::Compilation, format: DiagFormat) -> Result<run::Compilation, ExitCode> {
    print_diags(&c.ws.map, &c.diags, format);
    if c.has_errors() {
        if format == DiagFormat::Human {
            let n = c.diags.iter().filter(|d| d.is_error()).count();
            eprintln!("error: {n} problem(s) found");
        }
        return Err(ExitCode::from(1));
    }
    Ok(c)
}

/// The folder or file whose semc.toml (if any) a command runs under.
fn workspace_of(cmd: &Cmd) -> Option<&Path> {
    match cmd {
        Cmd::Check { path, .. }
        | Cmd::Plan { path, .. }
        | Cmd::Run { path, .. }
        | Cmd::Explain { path, .. }
        | Cmd::Show { path, .. }
        | Cmd::Graph { path, .. } => Some(path),
        Cmd::Exec { dir, .. } | Cmd::Demo { dir, .. } => Some(dir),
        Cmd::Init { .. } | Cmd::Fmt { .. } | Cmd::Lsp | Cmd::Codes { .. } | Cmd::Functions { .. } => None,
    }
}

async fn dispatch(cli: Cli) -> ExitCode {
    if let Some(path) = workspace_of(&cli.cmd) {
        match semc::project::load(path, cli.profile.as_deref()) {
            Ok(profile) => semc::project::activate(profile),
            Err(e) => {
                eprintln!(
                    "error[E0009]: {e}\n  help: `semc codes E0009` explains; `semc init` writes a commented semc.toml"
                );
                return ExitCode::from(1);
            }
        }
    }
    match cli.cmd {
        Cmd::Init { dir } => init(&dir).await,
        Cmd::Check { path, format, offline } => match compile_checked(&path, format, offline).await {
            Ok(c) => {
                if format == DiagFormat::Human
                    && let Some(p) = &c.program
                {
                    eprintln!(
                        "ok: {} source(s), {} model(s), {} output(s)",
                        p.sources.len(),
                        p.models.len(),
                        p.outputs.len()
                    );
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Cmd::Plan {
            path,
            output,
            format,
            out,
            bundle,
        } => {
            let c = match compile_or_report(&path, DiagFormat::Human).await {
                Ok(c) => c,
                Err(code) => return code,
            };
            if let Some(dir) = bundle {
                return match run::write_bundle(&c, &dir, output.as_deref()).await {
                    Ok(spec) => {
                        eprintln!("bundle: {} output(s) → {}", spec.outputs.len(), dir.display());
                        ExitCode::SUCCESS
                    }
                    Err(f) => fail(&c.ws.map, f),
                };
            }
            let plan = async {
                let program = c.program()?;
                let s = run::Session::new(&c).await?;
                s.plan(program, output.as_deref())
            }
            .await;
            let plan = match plan {
                Ok(p) => p,
                Err(f) => return fail(&c.ws.map, f),
            };
            let bytes = match format {
                PlanFormat::Json => match serde_json::to_vec_pretty(&plan) {
                    Ok(mut b) => {
                        b.push(b'\n');
                        b
                    }
                    Err(e) => return fail(&c.ws.map, Failure::Internal(e.to_string())),
                },
                PlanFormat::Proto => prost::Message::encode_to_vec(&plan),
            };
            let written = match &out {
                Some(f) => std::fs::write(f, &bytes).map_err(|e| format!("cannot write {}: {e}", f.display())),
                None => std::io::stdout().write_all(&bytes).map_err(|e| e.to_string()),
            };
            match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Cmd::Run {
            path,
            output,
            memory_limit,
            locked,
            run_id,
            format,
        } => {
            let lock_file = run::lock_path(&path);
            let lock = if locked {
                match run::Lock::read(&lock_file) {
                    Ok(l) => Some(l),
                    Err(e) => {
                        eprintln!("error[E0309]: {e}\n  help: run once without --locked to write sem.lock");
                        return ExitCode::from(1);
                    }
                }
            } else {
                None
            };
            let c = match compile_or_report_locked(&path, format, lock.as_ref()).await {
                Ok(c) => c,
                Err(code) => return code,
            };
            let opts = run::RunOptions { memory_limit, run_id };
            match run::run_with(&c, output.as_deref(), &opts).await {
                Ok(reports) => {
                    if let Err(e) = run::Lock::of(&c).write(&lock_file) {
                        eprintln!("warning: {e}");
                    }
                    print_reports(&reports, &c.ws.map, format);
                    ExitCode::SUCCESS
                }
                Err(f) => fail_as(&c.ws.map, f, format),
            }
        }
        Cmd::Explain {
            path,
            output,
            analyze,
            format,
        } => match run::explain(&path, &output, analyze).await {
            Ok(text) if format == DiagFormat::Json => {
                print_json_line("explain", &serde_json::json!({ "output": output, "text": text }));
                ExitCode::SUCCESS
            }
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(f) => {
                let c = run::compile(&path).await.ok();
                let map = c.map(|c| c.ws.map).unwrap_or_default();
                fail_as(&map, f, format)
            }
        },
        Cmd::Exec {
            dir,
            run_id,
            memory_limit,
            root,
            binds,
            format,
        } => {
            let opts = run::RunOptions { memory_limit, run_id };
            match run::exec_bundle(&dir, &opts, &run::Bindings { root, binds }).await {
                Ok(reports) => {
                    print_reports(&reports, &SourceMap::default(), format);
                    ExitCode::SUCCESS
                }
                Err(f) => fail_as(&SourceMap::default(), f, format),
            }
        }
        Cmd::Demo { dir, sf, to } => demo(&dir, sf, to.as_deref()).await,
        Cmd::Fmt { paths, check } => fmt(&paths, check),
        Cmd::Show {
            path,
            model,
            limit,
            format,
            schema,
        } => show(&path, &model, limit, format, schema).await,
        Cmd::Graph { path, columns, format } => {
            let c = match compile_checked(&path, DiagFormat::Human, true).await {
                Ok(c) => c,
                Err(code) => return code,
            };
            let program = match c.program() {
                Ok(p) => p,
                Err(f) => return fail(&c.ws.map, f),
            };
            let format = match format {
                GraphFormat::Dot => semc::graph::GraphFormat::Dot,
                GraphFormat::Mermaid => semc::graph::GraphFormat::Mermaid,
                GraphFormat::Json => semc::graph::GraphFormat::Json,
            };
            print!("{}", semc::graph::Graph::of(program, &c.ws, columns).render(format));
            ExitCode::SUCCESS
        }
        Cmd::Lsp => match tokio::task::block_in_place(semc::lsp::serve) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: semc lsp: {e}");
                ExitCode::from(1)
            }
        },
        Cmd::Functions { name } => functions(name.as_deref()),
        Cmd::Codes { code } => {
            match code {
                Some(c) => match semc::codes::Code::parse(&c) {
                    Some(c) => println!("{} ({}): {}\n\n{}", c.as_str(), c.name(), c.summary(), c.explanation()),
                    None => {
                        eprintln!("error: no diagnostic code `{c}`");
                        return ExitCode::from(1);
                    }
                },
                None => {
                    for c in semc::codes::Code::ALL {
                        println!("{}  {:<24} {}", c.as_str(), c.name(), c.summary());
                    }
                }
            }
            ExitCode::SUCCESS
        }
    }
}

/// `semc init`: the starter workspace, refusing to overwrite any file.
async fn init(dir: &Path) -> ExitCode {
    let existing: Vec<String> = semc::project::STARTER
        .iter()
        .map(|(name, _)| dir.join(name))
        .chain([dir.join("data")])
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        eprintln!(
            "error: {} already exist(s); semc init writes only into a folder without them",
            existing.join(", ")
        );
        return ExitCode::from(1);
    }
    if let Err(e) = std::fs::create_dir_all(dir.join("data")) {
        eprintln!("error: cannot create {}: {e}", dir.display());
        return ExitCode::from(1);
    }
    for (name, text) in semc::project::STARTER {
        if let Err(e) = std::fs::write(dir.join(name), text) {
            eprintln!("error: cannot write {name}: {e}");
            return ExitCode::from(1);
        }
    }
    let data = match semc::delta::resolve_location(dir, "data") {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: {}", e.message());
            return ExitCode::from(1);
        }
    };
    if let Err(e) = semc::demo::tpch::generate_tables(&data, 0.01, &["region", "nation"]).await {
        eprintln!("error: writing the starter tables failed: {e}");
        return ExitCode::from(2);
    }
    let files: Vec<&str> = semc::project::STARTER.iter().map(|(n, _)| *n).collect();
    let (files, d) = (files.join(", "), dir.display());
    eprintln!(
        "wrote {files} and data/{{region,nation}} in {d}\nnext: semc check {d}, semc show {d} --model nations_per_region, semc run {d}"
    );
    ExitCode::SUCCESS
}

/// `semc show`: a model's rows, or with `--schema` its columns.
async fn show(path: &Path, model: &str, limit: usize, format: RowsFormat, schema: bool) -> ExitCode {
    let c = match compile_checked(path, DiagFormat::Human, schema).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    if schema {
        let shown = c.program().and_then(|p| {
            let m = run::model_named(p, model)?;
            let graph = semc::graph::Graph::of(p, &c.ws, true);
            Ok(graph.models.into_iter().nth(m))
        });
        return match shown {
            Ok(Some(node)) => {
                match format {
                    RowsFormat::Json => print_json_line("model", &node),
                    _ => {
                        if let Some(doc) = &node.doc {
                            println!("{doc}\n");
                        }
                        for col in &node.columns {
                            let null = if col.nullable { "null" } else { "not null" };
                            let from = col.from.as_ref().map(|f| f.join(", ")).unwrap_or_default();
                            println!("{:<24} {:<16} {:<9} ← {from}", col.name, col.ty, null);
                            if let Some(d) = &col.doc {
                                println!("{:<24} ## {d}", "");
                            }
                        }
                    }
                }
                ExitCode::SUCCESS
            }
            Ok(None) => ExitCode::SUCCESS,
            Err(f) => fail(&c.ws.map, f),
        };
    }
    let batches = match run::show(&c, model, limit).await {
        Ok(b) => b,
        Err(f) => return fail(&c.ws.map, f),
    };
    let written = match format {
        RowsFormat::Table => datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .map(|t| println!("{t}"))
            .map_err(|e| e.to_string()),
        RowsFormat::Csv => {
            let mut w = datafusion::arrow::csv::Writer::new(std::io::stdout());
            batches.iter().try_for_each(|b| w.write(b)).map_err(|e| e.to_string())
        }
        RowsFormat::Json => {
            // each row as `{"kind": "row", "values": {…}}`, the schema of every JSON line
            let mut buf = vec![];
            let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut buf);
            let written = batches.iter().try_for_each(|b| w.write(b)).and_then(|_| w.finish());
            drop(w);
            written.map_err(|e| e.to_string()).map(|()| {
                for line in String::from_utf8_lossy(&buf).lines() {
                    println!("{{\"kind\":\"row\",\"values\":{line}}}");
                }
            })
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot print the rows: {e}");
            ExitCode::from(1)
        }
    }
}

/// `semc fmt`: each file formatted in place (or, with `--check`, listed when it is not).
fn fmt(paths: &[PathBuf], check: bool) -> ExitCode {
    use semc::fmt::{format, sem_files};
    if paths.len() == 1 && paths[0] == Path::new("-") {
        let mut text = String::new();
        if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
            eprintln!("error: cannot read standard input: {e}");
            return ExitCode::from(1);
        }
        return match format(&text) {
            Ok(out) => {
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => fmt_failed("<stdin>", text.as_bytes(), e),
        };
    }
    let mut code = ExitCode::SUCCESS;
    let mut unformatted = 0;
    for path in paths {
        let files = match sem_files(path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                code = ExitCode::from(1);
                continue;
            }
        };
        for file in files {
            let bytes = match std::fs::read(&file) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("error: cannot read {}: {e}", file.display());
                    code = ExitCode::from(1);
                    continue;
                }
            };
            let text = String::from_utf8_lossy(&bytes);
            let out = match format(&text) {
                Ok(out) => out,
                Err(e) => {
                    let failed = fmt_failed(&file.display().to_string(), &bytes, e);
                    if failed != ExitCode::SUCCESS {
                        code = failed;
                    }
                    continue;
                }
            };
            if out.as_bytes() == bytes.as_slice() {
                continue;
            }
            unformatted += 1;
            if check {
                println!("{}", file.display());
            } else if let Err(e) = std::fs::write(&file, out) {
                eprintln!("error: cannot write {}: {e}", file.display());
                code = ExitCode::from(1);
            }
        }
    }
    if check && unformatted > 0 {
        eprintln!("{unformatted} file(s) not formatted; `semc fmt` formats them");
        return ExitCode::from(1);
    }
    code
}

/// A file `semc fmt` cannot lay out: its syntax errors (exit 1), or semc's bug (exit 2).
fn fmt_failed(name: &str, bytes: &[u8], e: semc::fmt::FmtError) -> ExitCode {
    match e {
        semc::fmt::FmtError::Syntax => {
            let ws = semc::syntax::Workspace::from_bytes(name, bytes, Path::new("."));
            print_diags(&ws.map, &ws.diags, DiagFormat::Human);
            eprintln!("error: {name} was not formatted: it does not parse");
            ExitCode::from(1)
        }
        semc::fmt::FmtError::Internal(why) => {
            eprintln!("internal error (a bug in semc, please report it): formatting {name}: {why}");
            ExitCode::from(2)
        }
    }
}

/// `semc functions [NAME]`: each signature with its one line of documentation.
fn functions(name: Option<&str>) -> ExitCode {
    let sigs = match run::stdlib() {
        Ok(s) => s,
        Err(f) => return fail(&SourceMap::default(), f),
    };
    let wanted: Vec<&semc::syntax::Signature> = sigs
        .iter()
        .filter(|s| name.is_none_or(|n| s.name.eq_ignore_ascii_case(n)))
        .collect();
    if let (Some(n), true) = (name, wanted.is_empty()) {
        let help = diag::did_you_mean(n, sigs.iter().map(|s| s.name.as_str()))
            .unwrap_or_else(|| "`semc functions` lists them all".into());
        eprintln!("error: no function `{n}`\n  help: {help}");
        return ExitCode::from(1);
    }
    for s in wanted {
        let kind = if s.aggregate { "aggregate " } else { "" };
        println!("{kind}{} -> {}\n    {}", s.display(), s.ret, s.doc);
    }
    ExitCode::SUCCESS
}

async fn demo(dir: &Path, sf: f64, to: Option<&str>) -> ExitCode {
    if !(sf > 0.0 && sf <= 100.0) {
        eprintln!("error: --sf must be in (0, 100]");
        return ExitCode::from(1);
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("error: cannot create {}: {e}", dir.display());
        return ExitCode::from(1);
    }
    // where the tables and outputs go: DIR, or the location given (a folder URL)
    let lake = match to {
        None => None,
        Some(to) => match semc::delta::resolve_location(&std::env::current_dir().unwrap_or_default(), to) {
            Ok(u) => Some(semc::delta::as_folder(&u)),
            Err(e) => {
                eprintln!("error[E0306]: --to: {}", e.message());
                return ExitCode::from(1);
            }
        },
    };
    let tables = match &lake {
        Some(l) => l.join("tpch/").map_err(|e| e.to_string()),
        None => semc::delta::resolve_location(dir, "tpch").map_err(|e| e.message().to_string()),
    };
    let tables = match tables {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    eprintln!("generating TPC-H SF {sf} as Delta tables in {tables} …");
    match semc::demo::tpch::generate_to(&tables, sf).await {
        Ok(tables) => {
            for (t, rows, skipped) in tables {
                if skipped {
                    eprintln!("  {t:<9} exists, kept");
                } else {
                    eprintln!("  {t:<9} {rows} rows");
                }
            }
        }
        Err(e) => {
            eprintln!("error: generating TPC-H failed: {e}");
            return ExitCode::from(2);
        }
    }
    for (name, text) in semc::demo::examples::TPCH {
        let text = match &lake {
            Some(l) => text
                .replace("delta(\"tpch/", &format!("delta(\"{l}tpch/"))
                .replace("delta(\"out/", &format!("delta(\"{l}out/")),
            None => text.to_string(),
        };
        if let Err(e) = std::fs::write(dir.join(name), text) {
            eprintln!("error: cannot write {name}: {e}");
            return ExitCode::from(1);
        }
    }
    eprintln!("checking and running {} …", dir.display());
    let c = match compile_or_report(dir, DiagFormat::Human).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let reports = match run::run_compiled(&c, None).await {
        Ok(r) => r,
        Err(f) => return fail(&c.ws.map, f),
    };
    for r in &reports {
        println!(
            "\n== {} ({} rows, {} file(s), version {}, {} ms)",
            r.output, r.rows, r.files, r.version, r.millis
        );
        match run::read_table(&r.location, 20).await {
            Ok(t) => println!("{t}"),
            Err(e) => println!("(cannot read back: {e})"),
        }
    }
    ExitCode::SUCCESS
}
