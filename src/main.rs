//! The `semc` command line.

mod cmd;

use clap::{Parser, Subcommand, ValueEnum};
use cmd::logging::{COLOR, init_logging};
use cmd::output::*;
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
        /// Only this output (repeatable).
        #[arg(long)]
        output: Vec<String>,
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
        /// Compute on a Ballista cluster: `df://HOST:PORT`, or `local` (a scheduler and two
        /// executors in this process); semc still verifies and commits.
        #[arg(long, value_parser = parse_cluster)]
        cluster: Option<semc::cluster::Target>,
        /// Compute and write every output, even one already up to date.
        #[arg(long)]
        force: bool,
        /// `json`: one JSON object per line (each output's report, each diagnostic).
        #[arg(long, value_enum, default_value = "human")]
        format: DiagFormat,
    },
    /// Execute the plan and commit every output (or those named) to Delta.
    Run {
        path: PathBuf,
        /// Only this output (repeatable).
        #[arg(long)]
        output: Vec<String>,
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
        /// Compute on a Ballista cluster: `df://HOST:PORT`, or `local` (a scheduler and two
        /// executors in this process); semc still verifies and commits.
        #[arg(long, value_parser = parse_cluster)]
        cluster: Option<semc::cluster::Target>,
        /// Compute and write every output, even one whose last commit was computed by the same
        /// plan from the same snapshots (which is otherwise skipped as up to date).
        #[arg(long)]
        force: bool,
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
    /// Generate TPC-H as Delta tables (or extract a small Python repository), then check and
    /// run the example's models.
    Demo {
        #[arg(default_value = "demo-data")]
        dir: PathBuf,
        /// The example: TPC-H, or a Python repository made a code property graph.
        #[arg(long, value_enum, default_value = "tpch")]
        example: cmd::demo::Example,
        /// TPC-H scale factor.
        #[arg(long, default_value_t = 0.01)]
        sf: f64,
        /// Write the tables (under `tpch/`) and the outputs (under `out/`) to this folder or
        /// URI (e.g. s3://bucket/lake) instead of DIR; the .sem files in DIR point there.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, value_enum, default_value = "human")]
        format: DiagFormat,
    },
    /// Extract repositories' code anatomy (files, lines, Python AST, tokens, symbol tables,
    /// bytecode, imports) as Delta tables, in parallel; a rerun extracts only changed files.
    Extract {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The folder or URI the tables are written under (`repo_files/`, `py_defs/`, …).
        #[arg(long)]
        to: String,
        /// Files extracted at once (default: the number of cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Leave out paths, as `.gitignore` lines (`site-packages/`); repeatable.
        #[arg(long)]
        exclude: Vec<String>,
        #[arg(long, value_enum, default_value = "human")]
        format: DiagFormat,
    },
    /// Lay out .sem files canonically (in place), keeping comments; `-` formats stdin to stdout.
    Fmt {
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        /// Change nothing: list the files that are not formatted and fail if there are any.
        #[arg(long)]
        check: bool,
        #[arg(long, value_enum, default_value = "human")]
        format: DiagFormat,
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
        #[arg(long, value_enum, default_value = "human")]
        format: DiagFormat,
    },
    /// Serve the Language Server Protocol on stdin/stdout (for editors).
    Lsp,
    /// Explain a diagnostic code (or list them all).
    Codes { code: Option<String> },
    /// List the standard library's functions with their signatures (or those named NAME).
    Functions { name: Option<String> },
    /// Print the JSON Schema of a bundle's `spec.json` (the execution spec).
    SpecSchema,
    /// Run a Ballista cluster for `semc run --cluster` (scheduler, executors, or both).
    Cluster {
        #[command(subcommand)]
        cmd: cmd::cluster::ClusterCmd,
    },
}

fn parse_cluster(s: &str) -> Result<semc::cluster::Target, String> {
    semc::cluster::Target::parse(s)
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

/// glibc gives threads that allocate at once arenas of their own, up to 8 per core, and
/// memory freed in an arena stays with it: a run's engine workers and blocking readers held
/// more memory at peak than with one arena per core, for no gain in speed (`benches/race.py`
/// reports the peak RSS of `semc run`). `MALLOC_ARENA_MAX` in the environment still decides,
/// when set.
fn one_malloc_arena_per_core() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        // SAFETY: called first in `main`, before any other thread exists; mallopt only sets
        // an allocator parameter
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, i32::try_from(cores).unwrap_or(i32::MAX));
        }
    }
}

fn main() -> ExitCode {
    one_malloc_arena_per_core();
    std::panic::set_hook(Box::new(|info| {
        // a closed pipe (`semc spec-schema | head`) ends the process quietly, as it ends any
        // Unix tool. SIGPIPE itself stays ignored (Rust's default): a socket whose peer went
        // away (a cluster's executor, an object store) must fail a write, not kill the run
        if let Some(text) = info.payload().downcast_ref::<String>()
            && text.starts_with("failed printing to stdout")
            && text.contains("Broken pipe")
        {
            std::process::exit(141);
        }
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
    // The runtime is left to the process's end, not shut down: a run that failed early can
    // leave a blocking thread waiting on a task of this runtime (delta-kernel replaying a
    // table's log, which an output no longer needs), and a shut-down runtime drops that task,
    // which delta-kernel's executor reports as a panic. The command's result is known here,
    // and what it wrote was committed or not before `dispatch` returned.
    std::mem::forget(rt);
    match result {
        Ok(code) => code,
        Err(_) => ExitCode::from(2),
    }
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
        Cmd::Init { .. }
        | Cmd::Extract { .. }
        | Cmd::Fmt { .. }
        | Cmd::Lsp
        | Cmd::Codes { .. }
        | Cmd::Functions { .. }
        | Cmd::SpecSchema
        | Cmd::Cluster { .. } => None,
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
        Cmd::Init { dir, format } => cmd::init::init(&dir, format).await,
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
                return match run::write_bundle(&c, &dir, &output).await {
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
                s.plan(program, &output)
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
            cluster,
            force,
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
            let opts = run::RunOptions {
                memory_limit,
                run_id,
                cluster,
                force,
            };
            match run::run_with(&c, &output, &opts).await {
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
            cluster,
            force,
            format,
        } => {
            let opts = run::RunOptions {
                memory_limit,
                run_id,
                cluster,
                force,
            };
            match run::exec_bundle(&dir, &opts, &run::Bindings { root, binds }).await {
                Ok(reports) => {
                    print_reports(&reports, &SourceMap::default(), format);
                    ExitCode::SUCCESS
                }
                Err(f) => fail_as(&SourceMap::default(), f, format),
            }
        }
        Cmd::Cluster { cmd } => cmd::cluster::cluster(cmd).await,
        Cmd::Demo {
            dir,
            example,
            sf,
            to,
            format,
        } => cmd::demo::demo(&dir, example, sf, to.as_deref(), format).await,
        Cmd::Extract {
            paths,
            to,
            jobs,
            exclude,
            format,
        } => cmd::extract::extract(&paths, &to, jobs, exclude, format).await,
        Cmd::Fmt { paths, check, format } => cmd::fmt::fmt(&paths, check, format),
        Cmd::Show {
            path,
            model,
            limit,
            format,
            schema,
        } => cmd::show::show(&path, &model, limit, format, schema).await,
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
        Cmd::Functions { name } => cmd::functions::functions(name.as_deref()),
        Cmd::SpecSchema => match serde_json::to_string_pretty(&run::ExecutionSpec::json_schema()) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("internal error: the spec's schema does not serialize: {e}");
                ExitCode::from(2)
            }
        },
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
