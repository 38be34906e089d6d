//! `semc init`.

use std::path::Path;
use std::process::ExitCode;

/// `semc init`: the starter workspace, refusing to overwrite any file.
pub(crate) async fn init(dir: &Path) -> ExitCode {
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
