//! `semc demo`.

use crate::DiagFormat;
use crate::cmd::output::*;
use semc::run;
use std::path::Path;
use std::process::ExitCode;

/// The example workspaces `semc demo --example` runs.
#[derive(Clone, Copy, clap::ValueEnum, PartialEq)]
pub(crate) enum Example {
    /// TPC-H generated at `--sf`, its 22 queries as models.
    Tpch,
    /// A small Python repository extracted (`semc extract`) and built into a code property graph.
    Codeanatomy,
}

pub(crate) async fn demo(dir: &Path, example: Example, sf: f64, to: Option<&str>, format: DiagFormat) -> ExitCode {
    use semc::codes::Code;
    use semc::diag::Diagnostic;
    use semc::span::Span;
    if !(sf > 0.0 && sf <= 100.0) {
        return refuse(
            format,
            Diagnostic::error(
                Code::E0012,
                Span::default(),
                format!("--sf {sf} is not a scale factor semc generates"),
            )
            .label("out of range")
            .help("give a scale factor above 0 and at most 100, e.g. `--sf 1`"),
        );
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        return refuse(format, file_error(Code::E0010, dir, &e));
    }
    // where the tables and outputs go: DIR, or the location given (a folder URL)
    let lake = match to {
        None => None,
        Some(to) => match to_location(to) {
            Ok(u) => Some(u),
            Err(d) => return refuse(format, d),
        },
    };
    if example == Example::Codeanatomy {
        return codeanatomy(dir, lake.as_ref(), format).await;
    }
    let tables = match &lake {
        Some(l) => l.join("tpch/").map_err(|e| e.to_string()),
        None => semc::delta::resolve_location(dir, "tpch").map_err(|e| e.message().to_string()),
    };
    let tables = match tables {
        Ok(t) => t,
        Err(e) => {
            return refuse(
                format,
                Diagnostic::error(Code::E0306, Span::default(), format!("the tables' location: {e}"))
                    .label("not a location")
                    .help("give a folder (`--to lake`) or a URI (`--to s3://bucket/lake`)"),
            );
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
            return refuse(format, file_error(Code::E0010, Path::new(tables.as_str()), &e));
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
            return refuse(format, file_error(Code::E0010, &dir.join(name), &e));
        }
    }
    check_and_run(dir, format).await
}

/// Writes the example's files into `dir` (its tables and outputs under `lake` when given),
/// extracts its repository, then checks and runs it.
async fn codeanatomy(dir: &Path, lake: Option<&url::Url>, format: DiagFormat) -> ExitCode {
    use semc::codes::Code;
    for (name, text) in semc::demo::examples::CODEANATOMY_REPO {
        let path = dir.join("repo").join(name);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(&path, text));
        if let Err(e) = written {
            return refuse(format, file_error(Code::E0010, &path, &e));
        }
    }
    for (name, text) in semc::demo::examples::CODEANATOMY {
        let text = match lake {
            Some(l) => text
                .replace("delta(\"lake/", &format!("delta(\"{l}lake/"))
                .replace("delta(\"graph/", &format!("delta(\"{l}graph/")),
            None => text.to_string(),
        };
        if let Err(e) = std::fs::write(dir.join(name), text) {
            return refuse(format, file_error(Code::E0010, &dir.join(name), &e));
        }
    }
    let tables = match lake {
        Some(l) => l.join("lake/").ok(),
        None => semc::delta::resolve_location(dir, "lake").ok(),
    };
    let Some(tables) = tables else {
        return refuse(format, file_error(Code::E0010, &dir.join("lake"), &"not a location"));
    };
    eprintln!("extracting {} into {tables} …", dir.join("repo").display());
    match semc::extract::extract(&[dir.join("repo")], &tables, &Default::default()).await {
        Ok(report) => {
            print_diags(&semc::span::SourceMap::default(), &report.warnings, format);
            for (t, rows, _) in &report.tables {
                eprintln!("  {t:<16} {rows} rows");
            }
        }
        Err(f) => return fail_as(&semc::span::SourceMap::default(), f, format),
    }
    check_and_run(dir, format).await
}

/// Checks the workspace in `dir`, runs it and shows each output's first rows.
async fn check_and_run(dir: &Path, format: DiagFormat) -> ExitCode {
    eprintln!("checking and running {} …", dir.display());
    let c = match compile_or_report(dir, format).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let reports = match run::run_compiled(&c, &[]).await {
        Ok(r) => r,
        Err(f) => return fail_as(&c.ws.map, f, format),
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
