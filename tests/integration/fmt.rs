//! `semc fmt`: one layout, comments kept, only whitespace changed, the checked program the same.

use crate::fixtures::{self, workspace};
use proptest::prelude::*;
use semc::fmt::{FmtError, format, sem_files};
use std::path::{Path, PathBuf};
use std::process::Command;

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.sem` file of the check and run corpus and of `examples/`.
fn corpus() -> Vec<PathBuf> {
    let mut files = sem_files(&manifest().join("tests/cases")).unwrap();
    files.extend(sem_files(&manifest().join("examples")).unwrap());
    files
}

/// The codes of a text's diagnostics, checked from its declarations alone, in order.
fn codes(name: &str, text: &str) -> Vec<String> {
    let (_, diags) = semc::run::check_bytes(name, text.as_bytes()).unwrap_or_else(|_| panic!("internal"));
    diags.iter().map(|d| d.code.as_str().to_string()).collect()
}

/// Comments, in order: formatting keeps each one, unchanged.
fn comments(text: &str) -> Vec<&str> {
    semc::syntax::lex::tokens(text)
        .into_iter()
        .filter(|t| t.kind == semc::syntax::lex::TokenKind::Comment)
        .map(|t| t.text)
        .collect()
}

#[test]
fn formatting_the_corpus_is_idempotent_and_keeps_every_check() {
    let mut formatted = 0;
    for file in corpus() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let out = match format(&text) {
            Ok(out) => out,
            Err(FmtError::Syntax) => continue,
            Err(FmtError::Internal(why)) => panic!("{}: {why}", file.display()),
        };
        formatted += 1;
        assert_eq!(format(&out).unwrap(), out, "{} is not stable", file.display());
        assert_eq!(comments(&out), comments(&text), "{}", file.display());
        let name = file.file_name().unwrap().to_string_lossy();
        assert_eq!(codes(&name, &out), codes(&name, &text), "{}", file.display());
    }
    assert!(formatted > 100, "only {formatted} corpus files formatted");
}

#[tokio::test]
async fn formatted_tpch_lowers_to_the_same_plan() {
    let messy = workspace("fmt_plan_messy", &[("tpch", "tpch")], &[]);
    let formatted = workspace("fmt_plan_formatted", &[("tpch", "tpch")], &[]);
    for (name, text) in semc::demo::examples::TPCH {
        // the same program laid out badly: every line flush left, spaces between tokens
        let flush: String = text.lines().map(|l| l.trim_start().to_string() + "\n").collect();
        let bad = respaced(&flush, &[0, 1, 2, 3]);
        let out = format(&bad).unwrap();
        assert_eq!(
            &out, text,
            "examples/tpch/{name} is not formatted (CI runs `semc fmt --check examples`)"
        );
        std::fs::write(messy.join(name), &bad).unwrap();
        std::fs::write(formatted.join(name), &out).unwrap();
    }
    let plan = |dir: PathBuf| async move {
        let c = semc::run::compile(&dir).await.unwrap_or_else(|_| panic!("internal"));
        let p = c
            .program()
            .unwrap_or_else(|_| panic!("{}", semc::diag::render(&c.ws.map, &c.diags, false)));
        let s = semc::run::Session::new(&c).await.unwrap_or_else(|_| panic!("session"));
        serde_json::to_string(&s.plan(p, &[]).unwrap_or_else(|_| panic!("plan"))).unwrap()
    };
    let (messy, formatted) = (plan(messy).await, plan(formatted).await);
    assert_eq!(messy.replace("fmt_plan_messy", "fmt_plan_formatted"), formatted);
}

/// The text with extra spaces and tabs between tokens (never inside one), at line ends and
/// as indents.
fn respaced(text: &str, picks: &[u8]) -> String {
    let toks = semc::syntax::lex::tokens(text);
    let mut out = String::new();
    let mut last = 0;
    for (i, t) in toks.iter().enumerate() {
        let pick = picks[i % picks.len()] as usize;
        let pad = [" ", "  ", "\t", "", "", ""][pick % 6];
        // whitespace at a line's end too, a CRLF file's `\r` among it
        let between = &text[last..t.start];
        match between.find('\n') {
            Some(n) => {
                out.push_str(&between[..n]);
                out.push_str(["", " ", "\t", "\r", " \r"][pick % 5]);
                out.push_str(&between[n..]);
            }
            None => out.push_str(between),
        }
        out.push_str(pad);
        out.push_str(t.text);
        last = t.end();
    }
    out.push_str(&text[last..]);
    out
}

/// The corpus programs that parse (every case generated from them checks something): the
/// formatter's generators draw from these, never from text it would leave alone.
fn parsing_corpus() -> &'static [(PathBuf, String)] {
    static PARSING: std::sync::OnceLock<Vec<(PathBuf, String)>> = std::sync::OnceLock::new();
    PARSING.get_or_init(|| {
        let parsing: Vec<(PathBuf, String)> = corpus()
            .into_iter()
            .filter_map(|f| {
                let text = std::fs::read_to_string(&f).ok()?;
                format(&text).is_ok().then_some((f, text))
            })
            .collect();
        assert!(parsing.len() >= 50, "only {} corpus programs parse", parsing.len());
        parsing
    })
}

/// A program that parses: one to three corpus programs one after the other, with comments
/// put between their lines.
fn parsing_program() -> impl Strategy<Value = String> {
    let n = parsing_corpus().len();
    (
        prop::collection::vec(0..n, 1..4),
        prop::collection::vec((0usize..10_000, 0usize..1000), 0..6),
    )
        .prop_map(|(picks, notes)| {
            let mut lines: Vec<String> = picks
                .iter()
                .flat_map(|&i| parsing_corpus()[i].1.lines().map(str::to_string).collect::<Vec<_>>())
                .collect();
            for (at, note) in notes {
                let at = at % (lines.len() + 1);
                lines.insert(at, format!("# note {note}"));
            }
            lines.join("\n") + "\n"
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Any spacing of a program on the same lines formats to the same text.
    #[test]
    fn spacing_never_changes_the_layout(pick in 0usize..1000, picks in prop::collection::vec(any::<u8>(), 1..64)) {
        let (file, text) = &parsing_corpus()[pick % parsing_corpus().len()];
        let want = format(text).ok();
        prop_assert!(want.is_some(), "{}", file.display());
        let got = format(&respaced(text, &picks));
        prop_assert_eq!(got.ok(), want, "{}", file.display());
    }

    /// Generated programs that parse format stably, every comment kept.
    #[test]
    fn generated_programs_format_stably(text in parsing_program()) {
        let out = format(&text);
        prop_assert!(out.is_ok(), "a generated program did not format:\n{text}");
        let out = out.unwrap_or_default();
        prop_assert_eq!(format(&out).ok(), Some(out.clone()));
        prop_assert_eq!(comments(&out), comments(&text));
    }

    /// Token soup that does not parse is left alone (an error, never a changed text).
    #[test]
    fn text_that_does_not_parse_is_refused(text in crate::props::program()) {
        let parsed = semc::syntax::Workspace::from_bytes("p.sem", text.as_bytes(), std::path::Path::new("."));
        let parses = !parsed.diags.iter().any(|d| d.is_error() && d.code == semc::codes::Code::E0001);
        prop_assert_eq!(format(&text).is_ok(), parses, "{}", text);
    }
}

fn semc(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_semc"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run semc");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default().as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn fmt_cli_writes_checks_and_refuses_broken_files() {
    let dir = fixtures::root().join("fmt_cli");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let messy = "model  m from t{\nwhere a>1 # keep me\n}\n";
    let good = "model m from t {\n  where a > 1 # keep me\n}\n";
    let broken = "model m from t {\n  where a >\n";
    std::fs::write(dir.join("sub/a.sem"), messy).unwrap();
    std::fs::write(dir.join("b.sem"), good).unwrap();
    std::fs::write(dir.join("c.sem"), broken).unwrap();
    let d = dir.to_str().unwrap();

    let (code, out, err) = semc(&["fmt", "--check", d], None);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("a.sem") && !out.contains("b.sem"), "{out}");
    assert!(
        err.contains("c.sem was not formatted") && err.contains("E0001"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("sub/a.sem")).unwrap(),
        messy,
        "--check wrote"
    );

    let (code, _, _) = semc(&["fmt", d], None);
    assert_eq!(code, 1, "a file that does not parse fails the command");
    assert_eq!(std::fs::read_to_string(dir.join("sub/a.sem")).unwrap(), good);
    assert_eq!(
        std::fs::read_to_string(dir.join("c.sem")).unwrap(),
        broken,
        "a broken file is left as it is"
    );

    std::fs::remove_file(dir.join("c.sem")).unwrap();
    let (code, out, err) = semc(&["fmt", "--check", d], None);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");

    let (code, out, _) = semc(&["fmt", "-"], Some(messy));
    assert_eq!((code, out.as_str()), (0, good));

    let examples = manifest().join("examples");
    let (code, out, err) = semc(&["fmt", "--check", examples.to_str().unwrap()], None);
    assert_eq!(code, 0, "examples are not formatted: {out}{err}");
}

#[test]
fn fmt_cli_formats_comments_with_trailing_spaces_and_crlf_lines() {
    // whitespace after a comment is layout, as anywhere else: a trailing space or tab, a
    // CRLF file's `\r`, a comment on the last line without a newline; a byte order mark
    // is not text
    let cases = [
        ("# a note \n", "# a note\n"),
        ("# a note\t", "# a note\n"),
        (
            "\u{feff}# a note\r\nimport \"x.sem\"\r\n",
            "# a note\nimport \"x.sem\"\n",
        ),
        (
            "# heading\r\nmodel m from t {\r\n  where a > 1 # keep me \r\n}\r\n",
            "# heading\nmodel m from t {\n  where a > 1 # keep me\n}\n",
        ),
        (
            "source s from delta(\"t\") {\n  a: int64 # the key  \n  bb: string\n}\n",
            "source s from delta(\"t\") {\n  a:  int64 # the key\n  bb: string\n}\n",
        ),
    ];
    for (text, want) in cases {
        let (code, out, err) = semc(&["fmt", "-"], Some(text));
        assert_eq!((code, out.as_str()), (0, want), "{text:?}: {err}");
        let (code, again, err) = semc(&["fmt", "-"], Some(&out));
        assert_eq!((code, again.as_str()), (0, want), "{out:?} is not stable: {err}");
    }
}
