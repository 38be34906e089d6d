//! `semc fmt`.

use crate::DiagFormat;
use crate::cmd::output::*;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `semc fmt`: each file formatted in place (or, with `--check`, listed when it is not).
pub(crate) fn fmt(paths: &[PathBuf], check: bool, diag_format: DiagFormat) -> ExitCode {
    use semc::codes::Code;
    use semc::fmt::{format, sem_files};
    if paths.len() == 1 && paths[0] == Path::new("-") {
        let mut text = String::new();
        if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
            return refuse(diag_format, file_error(Code::E0004, Path::new("<stdin>"), &e));
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
                code = refuse(diag_format, file_error(Code::E0004, path, &e));
                continue;
            }
        };
        for file in files {
            let bytes = match std::fs::read(&file) {
                Ok(b) => b,
                Err(e) => {
                    code = refuse(diag_format, file_error(Code::E0004, &file, &e));
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
                code = refuse(diag_format, file_error(Code::E0010, &file, &e));
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
pub(crate) fn fmt_failed(name: &str, bytes: &[u8], e: semc::fmt::FmtError) -> ExitCode {
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
