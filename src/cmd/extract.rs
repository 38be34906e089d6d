//! `semc extract`.

use crate::DiagFormat;
use crate::cmd::output::*;
use semc::span::SourceMap;
use std::path::PathBuf;
use std::process::ExitCode;

pub(crate) async fn extract(
    paths: &[PathBuf],
    to: &str,
    jobs: Option<usize>,
    exclude: Vec<String>,
    format: DiagFormat,
) -> ExitCode {
    use semc::codes::Code;
    use semc::diag::Diagnostic;
    use semc::span::Span;
    let lake = match to_location(to) {
        Ok(u) => u,
        Err(d) => return refuse(format, d),
    };
    let mut opts = semc::extract::ExtractOptions {
        exclude,
        ..Default::default()
    };
    if let Some(j) = jobs {
        if j == 0 {
            return refuse(
                format,
                Diagnostic::error(Code::E0012, Span::default(), "--jobs 0 extracts nothing")
                    .label("out of range")
                    .help("give at least 1 (the default is the number of cores)"),
            );
        }
        opts.jobs = j;
    }
    let started = std::time::Instant::now();
    match semc::extract::extract(paths, &lake, &opts).await {
        Ok(report) => {
            print_diags(&SourceMap::default(), &report.warnings, format);
            let seconds = started.elapsed().as_secs_f64();
            if format == DiagFormat::Json {
                let tables: Vec<serde_json::Value> = report
                    .tables
                    .iter()
                    .map(|(name, rows, version)| serde_json::json!({"table": name, "rows": rows, "version": version}))
                    .collect();
                print_json_line(
                    "extract",
                    &serde_json::json!({
                        "lake": lake.as_str(), "files": report.files, "extracted": report.extracted,
                        "carried": report.carried, "up_to_date": report.up_to_date, "python": report.python,
                        "tables": tables, "seconds": seconds,
                    }),
                );
            } else if report.up_to_date {
                println!(
                    "up to date: {} files unchanged since {lake} was written ({seconds:.2} s)",
                    report.files
                );
            } else {
                for (name, rows, version) in &report.tables {
                    println!(
                        "{name}: {rows} rows → {} version {version}",
                        lake.join(name).map(|u| u.to_string()).unwrap_or_default()
                    );
                }
                println!(
                    "{} files ({} extracted, {} unchanged) in {seconds:.2} s{}",
                    report.files,
                    report.extracted,
                    report.carried,
                    report
                        .python
                        .as_ref()
                        .map(|p| format!(", Python {p}"))
                        .unwrap_or_default()
                );
            }
            ExitCode::SUCCESS
        }
        Err(f) => fail_as(&SourceMap::default(), f, format),
    }
}
