//! The check corpus: `tests/cases/check/*.sem` (and folders). Each expected diagnostic is
//! marked on its line: `# error: E0102` (or `# warning: E0008`). Each case's rendered
//! diagnostics are snapshotted.

use crate::fixtures;
use semc::diag::{self, Diagnostic};
use semc::syntax::load::Workspace;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/check")
}

/// (file name, line, code) expected from the markers.
fn expected(ws: &Workspace) -> BTreeSet<(String, usize, String)> {
    let mut out = BTreeSet::new();
    for f in ws.map.files.iter().skip(1) {
        for (i, line) in f.text.lines().enumerate() {
            for kw in ["# error:", "# warning:"] {
                if let Some(pos) = line.find(kw) {
                    for code in line[pos + kw.len()..].split_whitespace() {
                        out.insert((f.name.clone(), i + 1, code.to_string()));
                    }
                }
            }
        }
    }
    out
}

fn actual(ws: &Workspace, diags: &[Diagnostic]) -> BTreeSet<(String, usize, String)> {
    diags
        .iter()
        .map(|d| {
            let f = ws.map.get(d.primary.span.file);
            let mut at = d.primary.span.start as usize;
            // a diagnostic at the end of the file counts on the last line with text
            if at >= f.text.trim_end().len() {
                at = f.text.trim_end().len().saturating_sub(1);
            }
            let (line, _) = ws.map.line_col(d.primary.span.file, at);
            (f.name.clone(), line, d.code.as_str().to_string())
        })
        .collect()
}

async fn check_path(path: &Path) -> (Workspace, Vec<Diagnostic>) {
    let p = path.to_path_buf();
    let root = fixtures::root().to_path_buf();
    let ws = Workspace::load_with_root(&p, Some(&root));
    let c = semc::run::compile_workspace(ws)
        .await
        .unwrap_or_else(|_| panic!("internal failure on {}", p.display()));
    (c.ws, c.diags)
}

#[tokio::test]
async fn check_corpus() {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut failures = vec![];
    let mut n = 0;
    for path in entries {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name.starts_with('_') || (path.is_file() && path.extension().is_none_or(|e| e != "sem")) {
            continue;
        }
        n += 1;
        let (ws, diags) = check_path(&path).await;
        let want = expected(&ws);
        let got = actual(&ws, &diags);
        if want != got {
            failures.push(format!(
                "{name}:\n  expected {want:?}\n  got      {got:?}\n{}",
                diag::render(&ws.map, &diags, false)
            ));
        }
        if let Err(e) = diag::well_formed(&ws.map, &diags) {
            failures.push(format!("{name}: {e}"));
        }
        let rendered = fixtures::redact(&diag::render(&ws.map, &diags, false));
        insta::with_settings!({ snapshot_path => "snapshots/check", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name, rendered);
        });
    }
    assert!(n >= 60, "the corpus has {n} cases");
    assert!(
        failures.is_empty(),
        "{} case(s) differ:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Inputs that cannot be written as marked files: each gives its diagnostic, no panic.
#[tokio::test]
async fn hostile_inputs() {
    let root = fixtures::root();
    let deep_parens = format!(
        "source s from delta(\"tpch/region\") {{\n r_regionkey: int64 check ({}1{})\n}}\n",
        "(".repeat(20_000),
        ")".repeat(20_000)
    );
    let deep_brackets = format!("model m from s {{ where x in {} }}", "[".repeat(20_000));
    let deep_not = format!("model m from s {{ where {} true }}", "not ".repeat(20_000));
    let deep_neg = format!("model m from s {{ derive {{ x = {}1 }} }}", "- ".repeat(20_000));
    let long_sum = format!(
        "source s from delta(\"tpch/region\") {{\n r_regionkey: int64 check (r_regionkey > {}1)\n}}\n",
        "1 + ".repeat(250_000)
    );
    let long_garbage = format!("model m from s {{ where {} }}", "@".repeat(1 << 20));
    let long_string = format!("source s from delta(\"{}\") {{ x: int64 }}", "a".repeat(1 << 20));
    let mut bad_utf8 = b"source s from delta(\"tpch/region\") {\n r_name: string # caf".to_vec();
    bad_utf8.extend([0xC3, 0x28, b'\n', b'}']);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("deep_parens", deep_parens.into_bytes(), "E0003"),
        ("deep_brackets", deep_brackets.into_bytes(), "E0003"),
        ("deep_not", deep_not.into_bytes(), "E0003"),
        ("deep_neg", deep_neg.into_bytes(), "E0003"),
        ("long_sum_1mb", long_sum.into_bytes(), "E0003"),
        ("long_garbage_1mb", long_garbage.into_bytes(), "E0001"),
        ("long_string_1mb", long_string.into_bytes(), "E0301"),
        ("nul_bytes", b"source s from delta(\"x\") {\0}".to_vec(), "E0006"),
        ("too_large_16mib", vec![b'#'; (16 << 20) + 1], "E0007"),
        ("invalid_utf8", bad_utf8, "E0002"),
        // a UTF-8 byte order mark first (as some editors save) is not text: the program is
        // checked, and its table found missing
        (
            "byte_order_mark",
            b"\xef\xbb\xbfsource s from delta(\"missing\") { x: int64 }\n".to_vec(),
            "E0301",
        ),
        ("empty", vec![], "E0008"),
        ("only_whitespace", b"  \n\t\n".to_vec(), "E0008"),
        (
            "binary_noise",
            (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect(),
            "E0002",
        ),
    ];
    let dir = root.join("hostile");
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = vec![];
    for (name, bytes, code) in cases {
        let path = dir.join(format!("{name}.sem"));
        std::fs::write(&path, &bytes).unwrap();
        let (ws, diags) = check_path(&path).await;
        if !diags.iter().any(|d| d.code.as_str() == code) {
            let codes: Vec<&str> = diags.iter().map(|d| d.code.as_str()).collect();
            failures.push(format!("{name}: expected {code}, got {codes:?}"));
        }
        if let Err(e) = diag::well_formed(&ws.map, &diags) {
            failures.push(format!("{name}: {e}"));
        }
        let text = diag::render(&ws.map, &diags, false);
        if text.len() > 100_000 {
            failures.push(format!("{name}: rendering is {} bytes", text.len()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Codes a marked case in `tests/cases/check/` cannot show, with where they are tested:
/// decode errors are generated in code ([`hostile_inputs`]); the others happen only at run
/// time, on data or files, and are asserted by the CLI and end-to-end tests.
const NOT_IN_CORPUS: &[(&str, &str)] = &[
    ("E0002", "invalid UTF-8: hostile_inputs"),
    ("E0003", "nesting too deep: hostile_inputs"),
    ("E0006", "NUL bytes: hostile_inputs"),
    ("E0007", "a file over 16 MiB: hostile_inputs"),
    ("E0009", "a semc.toml that cannot be used: cli.rs"),
    ("E0010", "a file a command cannot write: cli.rs"),
    ("E0011", "`semc init` over existing files: cli.rs"),
    ("E0012", "a command-line value out of range: cli.rs"),
    ("E0013", "no Python for `semc extract`: extract.rs"),
    ("E0307", "a nullable table column declared not null: features.rs"),
    ("E0309", "a missing sem.lock under --locked: cli.rs"),
    ("E0310", "an unreachable object store: s3.rs"),
    ("E0401", "a write that fails: cli.rs"),
    ("E0402", "a contract the data breaks: cli.rs, e2e.rs, features.rs"),
    ("E0403", "--output naming no output: cli.rs"),
    ("E0404", "a bundle that cannot be read: cli.rs"),
    ("E0405", "a join key the data repeats: cli.rs, e2e.rs"),
    ("E0406", "orphan keys: e2e.rs, features.rs"),
    ("E0407", "a concurrent writer: cli.rs"),
    ("E0408", "a source constraint the data breaks: features.rs"),
    ("E0409", "a division by zero in the data: cli.rs"),
    ("E0410", "a memory limit too small: cli.rs"),
    ("E0411", "an unreachable cluster scheduler: cluster.rs, cli.rs"),
    ("E0412", "a deletion vector or column mapping on a cluster: cluster.rs"),
    ("E0413", "every executor of a cluster lost: cluster.rs"),
    ("E0414", "a closure's walk past its max: language.rs"),
    ("E0416", "a cluster job with a partition published twice: cluster.rs"),
    ("E0417", "a TMPDIR the run's cache cannot be written to: language.rs"),
    (
        "E0418",
        "a data file damaged or removed after its commit: data_files.rs",
    ),
    (
        "E0415",
        "an extern fn not registered, or failing: python/tests and language.rs",
    ),
];

/// Every code in the registry is shown by a marked corpus case, or is on the short list
/// above and asserted by a test there; nothing on the list is also in the corpus.
#[test]
fn every_code_has_a_case() {
    let mut corpus = String::new();
    let mut stack = vec![cases_dir()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                corpus.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    let tests: String = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && !p.ends_with("corpus.rs"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let mut missing = vec![];
    for code in semc::codes::Code::ALL {
        let c = code.as_str();
        let marked = corpus.contains(&format!("error: {c}")) || corpus.contains(&format!("warning: {c}"));
        match NOT_IN_CORPUS.iter().find(|(k, _)| *k == c) {
            Some(_) if marked => missing.push(format!("{c} is in the corpus: take it off NOT_IN_CORPUS")),
            Some((_, why)) if why.contains("hostile_inputs") => {}
            Some(_) if !tests.contains(c) => missing.push(format!("{c}: no test asserts it")),
            Some(_) => {}
            None if !marked => missing.push(format!("{c}: no corpus case marks it")),
            None => {}
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
