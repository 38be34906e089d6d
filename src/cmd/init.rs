//! `semc init`.

use crate::DiagFormat;
use crate::cmd::output::{file_error, refuse};
use semc::codes::Code;
use semc::diag::Diagnostic;
use std::path::Path;
use std::process::ExitCode;

/// `semc init`: the starter workspace, refusing to overwrite any file.
pub(crate) async fn init(dir: &Path, format: DiagFormat) -> ExitCode {
    let existing: Vec<String> = semc::project::STARTER
        .iter()
        .map(|(name, _)| dir.join(name))
        .chain([dir.join("data")])
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return refuse(
            format,
            Diagnostic::error(
                Code::E0011,
                semc::span::Span::default(),
                format!("{} already exist(s)", existing.join(", ")),
            )
            .label("would be overwritten")
            .help("semc init writes only into a folder without its files: choose another folder (`semc init DIR`), or remove them"),
        );
    }
    if let Err(e) = std::fs::create_dir_all(dir.join("data")) {
        return refuse(format, file_error(Code::E0010, &dir.join("data"), &e));
    }
    for (name, text) in semc::project::STARTER {
        if let Err(e) = std::fs::write(dir.join(name), text) {
            return refuse(format, file_error(Code::E0010, &dir.join(name), &e));
        }
    }
    let data = match semc::delta::resolve_location(dir, "data") {
        Ok(u) => u,
        Err(e) => return refuse(format, file_error(Code::E0010, &dir.join("data"), &e.message())),
    };
    if let Err(e) = semc::demo::tpch::generate_tables(&data, 0.01, &["region", "nation"]).await {
        return refuse(format, file_error(Code::E0010, &dir.join("data"), &e));
    }
    let files: Vec<&str> = semc::project::STARTER.iter().map(|(n, _)| *n).collect();
    let (files, d) = (files.join(", "), dir.display());
    eprintln!(
        "wrote {files} and data/{{region,nation}} in {d}\nnext: semc check {d}, semc show {d} --model nations_per_region, semc run {d}"
    );
    ExitCode::SUCCESS
}
