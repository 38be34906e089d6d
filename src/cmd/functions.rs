//! `semc functions`.

use crate::cmd::output::*;
use semc::run;
use semc::span::SourceMap;
use std::process::ExitCode;

/// `semc functions [NAME]`: each signature with its one line of documentation.
pub(crate) fn functions(name: Option<&str>) -> ExitCode {
    let sigs = match run::stdlib() {
        Ok(s) => s,
        Err(f) => return fail(&SourceMap::default(), f),
    };
    let wanted: Vec<&semc::syntax::Signature> = sigs
        .iter()
        .filter(|s| name.is_none_or(|n| s.name.eq_ignore_ascii_case(n)))
        .collect();
    if let (Some(n), true) = (name, wanted.is_empty()) {
        let help = semc::diag::did_you_mean(n, sigs.iter().map(|s| s.name.as_str()))
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
