//! What a command prints: diagnostics (human or JSON lines), reports, and the compile-and-report
//! steps every command that reads a workspace shares.

use crate::DiagFormat;
use crate::cmd::logging::colored;
use semc::diag::{self, Diagnostic};
use semc::run::{self, Failure};
use semc::span::SourceMap;
use std::path::Path;
use std::process::ExitCode;

/// A JSON line of semc's output: `{"kind": …, …}` (diagnostics are `kind: diagnostic`).
#[derive(serde::Serialize)]
pub(crate) struct JsonLine<'a, T: serde::Serialize> {
    kind: &'static str,
    #[serde(flatten)]
    body: &'a T,
}

pub(crate) fn print_json_line<T: serde::Serialize>(kind: &'static str, body: &T) {
    println!(
        "{}",
        serde_json::to_string(&JsonLine { kind, body }).unwrap_or_default()
    );
}

pub(crate) fn print_reports(reports: &[run::OutputReport], map: &SourceMap, format: DiagFormat) {
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
        } else if let Some(why) = r.up_to_date.as_deref().filter(|_| r.skipped) {
            println!(
                "{}: skipped: up to date ({why}) at {} version {}; nothing written",
                r.output, r.location, r.version
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

pub(crate) fn print_diags(map: &SourceMap, diags: &[Diagnostic], format: DiagFormat) {
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

/// A command that fails outside any program (a file it cannot read or write, a value it
/// refuses): one coded diagnostic, in the format asked for; exit 1.
/// The folder `--to` names (a path from the current folder, or a URI), or its diagnostic.
pub(crate) fn to_location(to: &str) -> Result<url::Url, Diagnostic> {
    use semc::codes::Code;
    semc::delta::resolve_location(&std::env::current_dir().unwrap_or_default(), to)
        .map(|u| semc::delta::as_folder(&u))
        .map_err(|e| {
            Diagnostic::error(
                Code::E0306,
                semc::span::Span::default(),
                format!("--to `{to}`: {}", e.message()),
            )
            .label("not a location")
            .help("give a folder (`--to lake`) or a URI (`--to s3://bucket/lake`)")
        })
}

pub(crate) fn refuse(format: DiagFormat, d: Diagnostic) -> ExitCode {
    fail_as(&SourceMap::default(), Failure::User(vec![d]), format)
}

pub(crate) use semc::diag::file_error;

pub(crate) fn fail(map: &SourceMap, f: Failure) -> ExitCode {
    fail_as(map, f, DiagFormat::Human)
}

pub(crate) fn fail_as(map: &SourceMap, f: Failure, format: DiagFormat) -> ExitCode {
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

pub(crate) async fn compile_or_report(path: &Path, format: DiagFormat) -> Result<run::Compilation, ExitCode> {
    compile_or_report_locked(path, format, None).await
}

/// `semc check`: against the tables, or `--offline` from the declarations alone.
pub(crate) async fn compile_checked(
    path: &Path,
    format: DiagFormat,
    offline: bool,
) -> Result<run::Compilation, ExitCode> {
    if !offline {
        return compile_or_report(path, format).await;
    }
    let c = run::compile_offline(path)
        .await
        .map_err(|f| fail(&SourceMap::default(), f))?;
    report(c, format)
}

pub(crate) async fn compile_or_report_locked(
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
pub(crate) fn report(c: run::Compilation, format: DiagFormat) -> Result<run::Compilation, ExitCode> {
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
