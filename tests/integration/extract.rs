//! `semc extract` and the code-graph example (issue 24), through the CLI: the tables' rows
//! against Python's own `ast`, `symtable`, `tokenize` and `compile` walked directly
//! (`tests/cases/extract/reference.py`) — ruff's syntax and tree-sitter's tokens and nodes
//! included —, a rerun that extracts only what changed, a machine without Python, and the
//! graph's edges against the same independent walk.

use crate::fixtures::{extract_report, root, semc, semc_with, table_rows, url_of};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const TABLES: [&str; 16] = [
    "repo_files",
    "file_lines",
    "py_defs",
    "py_decorators",
    "py_calls",
    "py_call_args",
    "py_imports",
    "py_names",
    "py_scopes",
    "py_symbols",
    "py_code_objects",
    "py_instructions",
    "py_errors",
    "ts_nodes",
    "ts_tokens",
    "ts_errors",
];

/// A copy of `examples/codeanatomy/repo` in a fresh folder named `name`, with a file
/// `.gitignore` leaves out and a file that is not UTF-8.
fn repo_copy(name: &str) -> PathBuf {
    let dir = root().join("extract").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let repo = dir.join("repo");
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/codeanatomy/repo");
    assert!(
        std::process::Command::new("cp")
            .args(["-r", from.to_str().unwrap(), repo.to_str().unwrap()])
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(repo.join(".gitignore"), "build/\n").unwrap();
    std::fs::create_dir_all(repo.join("build")).unwrap();
    std::fs::write(repo.join("build/generated.py"), "x = 1\n").unwrap();
    std::fs::write(repo.join("logo.bin"), [0xff, 0xfe, 0x00, 0x01]).unwrap();
    std::fs::write(repo.join("shapes_of_python.py"), SHAPES).unwrap();
    dir
}

/// Python whose spans CPython draws its own way: `*args` from its name, a lone generator
/// argument with the call's parentheses, a def ending at a `;`, decorators before a def's
/// keyword, names in f-strings, lambdas, comprehensions, a walrus, `del`.
const SHAPES: &str = r#""""Shapes of Python whose spans CPython draws its own way."""
import os.path as osp, sys
from . import main as _main


def star(*args: int, **kwargs) -> int:
    return sum(x for x in args) + len(kwargs)


@staticmethod
@sys.intern  # a comment between decorators
async def decorated(a, /, b=1, *, c: str = ""):
    del a
    (n := 3); pass;


class Outer:
    class Inner:
        def method(self): x = 1; return x;

    square = lambda v, *rest: v * v
    values = [y for y in range(3) if y]
    text = f"{square(2)!r:>{len(values)}}"


def ends_with_semicolon(): pass;
"#;

/// Python's own modules over `repo`, walked by the reference script.
fn reference(repo: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/extract/reference.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(repo)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn rows(lake: &Path, table: &str) -> Vec<Vec<String>> {
    table_rows(url_of(&lake.join(table)).as_ref()).await.1
}

fn extract(repo: &Path, lake: &Path) -> serde_json::Value {
    extract_report(semc, repo, lake.to_str().unwrap())
}

/// Every table's row count equals what Python's modules report of the same files; a file
/// `.gitignore` names is not read, a binary one is a file without lines, a file that does
/// not parse is a row of `py_errors`; rows are in path order, deterministic.
#[tokio::test]
async fn extracted_tables_equal_pythons_own_modules() {
    let dir = repo_copy("parity");
    let (repo, lake) = (dir.join("repo"), dir.join("lake"));
    let report = extract(&repo, &lake);
    let want = reference(&repo);
    for (table, n) in want["counts"].as_object().unwrap() {
        if table == "py_errors" {
            continue;
        }
        assert_eq!(
            rows(&lake, table).await.len() as u64,
            n.as_u64().unwrap(),
            "{table}: {report}"
        );
    }
    syntax_equals_reference(&lake, &want).await;
    let errors = rows(&lake, "py_errors").await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    let broken = trees_hold_pythons_tokens(&lake, &repo, &want).await;
    assert_eq!(broken, BTreeSet::from(["broken.py".to_string()]));
    let files = rows(&lake, "repo_files").await;
    let paths: Vec<&str> = files.iter().map(|r| r[2].as_str()).collect();
    assert!(!paths.iter().any(|p| p.starts_with("build/")), "{paths:?}");
    assert!(paths.windows(2).all(|w| w[0] < w[1]), "{paths:?}");
    let logo = files.iter().find(|r| r[2] == "logo.bin").unwrap();
    assert_eq!((logo[5].as_str(), logo[6].as_str()), ("binary", "NULL"));
    // the lines of a Python file, with the byte each starts at
    let lines = rows(&lake, "file_lines").await;
    let main = std::fs::read_to_string(repo.join("main.py")).unwrap();
    let main_id = files.iter().find(|r| r[2] == "main.py").unwrap()[0].clone();
    let main_lines: Vec<&Vec<String>> = lines.iter().filter(|r| r[0] == main_id).collect();
    assert_eq!(main_lines.len(), main.lines().count());
    for r in &main_lines {
        let start: usize = r[2].parse().unwrap();
        assert!(main[start..].starts_with(&r[3]), "{r:?}");
    }
    // the same files give the same tables
    let again = dir.join("again");
    extract(&repo, &again);
    for t in TABLES {
        assert!(
            rows(&lake, t).await == rows(&again, t).await,
            "{t} differs between two extractions"
        );
    }
}

/// A rerun extracts only files whose sha256 changed (the rest carried over), in one commit
/// per table, and equals a fresh extraction; nothing changed, nothing is written.
#[tokio::test]
async fn a_rerun_extracts_only_what_changed() {
    let dir = repo_copy("rerun");
    let (repo, lake) = (dir.join("repo"), dir.join("lake"));
    extract(&repo, &lake);
    let unchanged = extract(&repo, &lake);
    assert_eq!(unchanged["up_to_date"], true, "{unchanged}");
    assert_eq!(unchanged["tables"].as_array().unwrap().len(), 0);

    let report_py = repo.join("shapes/report.py");
    let text = std::fs::read_to_string(&report_py).unwrap();
    std::fs::write(
        &report_py,
        text.replace(
            "def unit_circle():",
            "def unit_square():\n    return 1\n\n\ndef unit_circle():",
        ),
    )
    .unwrap();
    std::fs::remove_file(repo.join("broken.py")).unwrap();
    let changed = extract(&repo, &lake);
    assert_eq!(
        (changed["extracted"].as_u64(), changed["carried"].as_u64()),
        (Some(1), Some(5)),
        "{changed}"
    );
    for t in changed["tables"].as_array().unwrap() {
        assert_eq!(t["version"], 1, "one commit per table: {t}");
    }
    let fresh = dir.join("fresh");
    extract(&repo, &fresh);
    for t in TABLES {
        assert!(
            rows(&lake, t).await == rows(&fresh, t).await,
            "{t} differs from a fresh extraction"
        );
    }
    assert!(rows(&lake, "py_defs").await.iter().any(|r| r[2] == "unit_square"));
    assert!(rows(&lake, "py_errors").await.is_empty());
}

/// A lake that cannot be written is said before any file is extracted (E0306), with nothing
/// written; a repository that does not exist is E0004.
#[test]
fn a_lake_that_cannot_be_written_and_a_missing_repository_are_errors() {
    let dir = repo_copy("unwritable");
    let repo = dir.join("repo");
    let (code, _, err) = semc(&["extract", repo.to_str().unwrap(), "--to", "ftp://host/lake"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0306") && err.contains("ftp://host/lake"), "{err}");
    assert!(!err.contains("internal error"), "{err}");
    let (code, _, err) = semc(&[
        "extract",
        dir.join("nothing here").to_str().unwrap(),
        "--to",
        dir.join("lake").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0004"), "{err}");
    assert!(
        !dir.join("lake").exists(),
        "nothing made for a repository that is not there"
    );
}

/// Without Python everything but CPython's own four tables (`symtable`'s and `dis`'s) is
/// extracted — the syntax and tree-sitter tables as with Python —; the warning says what was
/// not (E0013).
#[tokio::test]
async fn without_python_only_cpythons_own_tables_are_missing() {
    let dir = repo_copy("no_python");
    let (repo, lake) = (dir.join("repo"), dir.join("lake"));
    let (code, out, err) = semc_with(
        &["extract", repo.to_str().unwrap(), "--to", lake.to_str().unwrap()],
        &[("SEMC_PYTHON", "/nonexistent/python3")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("E0013"), "{err}");
    assert!(out.contains("py_defs") && !out.contains("py_scopes"), "{out}");
    for table in ["py_scopes", "py_symbols", "py_code_objects", "py_instructions"] {
        assert!(!lake.join(table).exists(), "{table} written without Python");
    }
    let with_python = dir.join("with_python");
    extract(&repo, &with_python);
    for table in TABLES
        .iter()
        .filter(|t| !["py_scopes", "py_symbols", "py_code_objects", "py_instructions"].contains(t))
    {
        let rows_without = rows(&lake, table).await;
        assert!(!rows_without.is_empty(), "{table} is empty without Python");
        assert!(
            rows_without == rows(&with_python, table).await,
            "{table} differs without Python"
        );
    }
}

/// The example workspace over the extracted tables: the graph's `contains` edges are the
/// definitions' nesting, and a call of a module-level definition's name in its own file goes
/// to that definition — both as Python's `ast` says (the reference walk).
#[tokio::test]
async fn the_code_graph_equals_an_independent_walk() {
    let dir = root().join("extract").join("graph");
    let _ = std::fs::remove_dir_all(&dir);
    let (code, _, err) = semc(&["demo", "--example", "codeanatomy", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    graph_equals_reference(&dir).await;
    // and across files: `report(...)` in main.py is shapes/report.py's `report`
    let (nodes, edges) = (
        rows(&dir.join("graph"), "cpg_nodes").await,
        rows(&dir.join("graph"), "cpg_edges").await,
    );
    let name: BTreeMap<&str, &str> = nodes.iter().map(|r| (r[0].as_str(), r[3].as_str())).collect();
    let file_of_node: BTreeMap<&str, &str> = nodes.iter().map(|r| (r[0].as_str(), r[2].as_str())).collect();
    let report_py = nodes
        .iter()
        .find(|r| r[1] == "file" && r[3].ends_with("shapes/report.py"))
        .unwrap()[2]
        .clone();
    assert!(
        edges
            .iter()
            .any(|e| e[2] == "calls" && name[e[0].as_str()] == "report" && file_of_node[e[1].as_str()] == report_py)
    );
}

/// The same on real code: packages of the machine's Python standard library (`json`,
/// `email`, `http`, `logging`): every table's rows as Python's modules count them, and the
/// graph's nesting and direct calls as the reference walk finds them.
#[tokio::test]
async fn the_standard_library_equals_pythons_own_modules() {
    let stdlib = std::process::Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"])
        .output()
        .unwrap();
    let stdlib = PathBuf::from(String::from_utf8(stdlib.stdout).unwrap().trim());
    let dir = root().join("extract").join("stdlib");
    let _ = std::fs::remove_dir_all(&dir);
    let repo = dir.join("stdlib");
    std::fs::create_dir_all(&repo).unwrap();
    for package in ["json", "email", "http", "logging"] {
        let status = std::process::Command::new("cp")
            .args(["-r", stdlib.join(package).to_str().unwrap(), repo.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success());
    }
    // compiled files are not sources
    let _ = std::process::Command::new("find")
        .args([
            repo.to_str().unwrap(),
            "-name",
            "__pycache__",
            "-prune",
            "-exec",
            "rm",
            "-rf",
            "{}",
            ";",
        ])
        .status();
    let lake = dir.join("lake");
    let report = extract(&repo, &lake);
    let want = reference(&repo);
    for (table, n) in want["counts"].as_object().unwrap() {
        assert_eq!(
            rows(&lake, table).await.len() as u64,
            n.as_u64().unwrap(),
            "{table}: {report}"
        );
    }
    syntax_equals_reference(&lake, &want).await;
    let broken = trees_hold_pythons_tokens(&lake, &repo, &want).await;
    assert!(broken.is_empty(), "tree-sitter cannot parse {broken:?}");
    for (name, text) in semc::demo::examples::CODEANATOMY {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    graph_equals_reference_of(&dir, &repo).await;
}

/// The syntax tables against CPython's `ast`, row for row: each def's, call's, argument's
/// and name's span (and kind, qualified name, lines, callee, context) as the reference walk
/// gives them.
async fn syntax_equals_reference(lake: &Path, want: &serde_json::Value) {
    let files = rows(lake, "repo_files").await;
    let path_of: BTreeMap<&str, &str> = files.iter().map(|r| (r[0].as_str(), r[2].as_str())).collect();
    for (table, columns) in want["span_columns"].as_object().unwrap() {
        let (names, got) = table_rows(url_of(&lake.join(table)).as_ref()).await;
        let picks: Vec<usize> = columns
            .as_array()
            .unwrap()
            .iter()
            .map(|c| names.iter().position(|n| n == c.as_str().unwrap()).unwrap())
            .collect();
        let mut got: Vec<Vec<String>> = got
            .iter()
            .map(|r| {
                let mut row = vec![path_of[r[0].as_str()].to_string()];
                row.extend(picks.iter().map(|&i| r[i].clone()));
                row
            })
            .collect();
        let mut expected: Vec<Vec<String>> = serde_json::from_value(want["spans"][table].clone()).unwrap();
        got.sort();
        expected.sort();
        if got != expected {
            let (got, expected): (BTreeSet<_>, BTreeSet<_>) = (got.iter().collect(), expected.iter().collect());
            let missing: Vec<_> = expected.difference(&got).take(5).collect();
            let extra: Vec<_> = got.difference(&expected).take(5).collect();
            panic!("{table}: CPython's rows not written {missing:?}; rows written CPython has not {extra:?}");
        }
    }
}

/// tree-sitter's tables against CPython: each NAME, NUMBER, OP and COMMENT token `tokenize`
/// gives is a leaf of `ts_tokens` at the same byte with the same text; the leaves are the
/// file's bytes (only whitespace and line continuations between them); where the tree has no
/// error, its definitions and calls are as many as `ast` finds. Returns the files whose tree
/// has errors (`ts_errors`).
async fn trees_hold_pythons_tokens(lake: &Path, repo: &Path, want: &serde_json::Value) -> BTreeSet<String> {
    let files = rows(lake, "repo_files").await;
    let path_of: BTreeMap<&str, &str> = files.iter().map(|r| (r[0].as_str(), r[2].as_str())).collect();
    let tokens = rows(lake, "ts_tokens").await;
    let leaves: BTreeSet<(&str, usize, &str)> = tokens
        .iter()
        .map(|r| (path_of[r[0].as_str()], r[6].parse().unwrap(), r[5].as_str()))
        .collect();
    let missing: Vec<&serde_json::Value> = want["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            let key = (
                t[0].as_str().unwrap(),
                t[1].as_u64().unwrap() as usize,
                t[2].as_str().unwrap(),
            );
            !leaves.contains(&key)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "tokenize's tokens not in ts_tokens: {:?}",
        &missing[..missing.len().min(20)]
    );
    // in each file, the leaves in order, and only whitespace between them
    let mut by_file: BTreeMap<&str, Vec<(usize, usize, &str)>> = BTreeMap::new();
    for r in &tokens {
        let (start, end) = (r[6].parse().unwrap(), r[7].parse().unwrap());
        by_file
            .entry(path_of[r[0].as_str()])
            .or_default()
            .push((start, end, r[5].as_str()));
    }
    for (path, leaves) in &by_file {
        let source = std::fs::read(repo.join(path)).unwrap();
        let mut at = 0;
        for &(start, end, text) in leaves {
            assert!(start >= at, "{path}: leaves overlap at byte {start}");
            let gap = String::from_utf8_lossy(&source[at..start]).replace("\\\n", "");
            assert!(gap.trim().is_empty(), "{path}: {gap:?} between leaves at byte {start}");
            assert_eq!(
                String::from_utf8_lossy(&source[start..end]),
                text,
                "{path} at byte {start}"
            );
            at = end;
        }
        assert!(
            String::from_utf8_lossy(&source[at..]).trim().is_empty(),
            "{path}: text after its last leaf"
        );
    }
    let broken: BTreeSet<String> = rows(lake, "ts_errors")
        .await
        .iter()
        .map(|r| path_of[r[0].as_str()].to_string())
        .collect();
    // definitions and calls of the files that parse, as `ast` counts them
    let nodes = rows(lake, "ts_nodes").await;
    let count = |kinds: &[&str]| {
        nodes
            .iter()
            .filter(|r| kinds.contains(&r[3].as_str()) && !broken.contains(path_of[r[0].as_str()]))
            .count() as u64
    };
    assert_eq!(
        count(&["function_definition", "class_definition"]),
        want["counts"]["py_defs"].as_u64().unwrap()
    );
    assert_eq!(count(&["call"]), want["counts"]["py_calls"].as_u64().unwrap());
    broken
}

async fn graph_equals_reference(dir: &Path) {
    graph_equals_reference_of(dir, &dir.join("repo")).await
}

/// The graph under `dir/graph` against the reference walk of `repo`.
async fn graph_equals_reference_of(dir: &Path, repo: &Path) {
    let want = reference(repo);
    let graph = dir.join("graph");
    let nodes = rows(&graph, "cpg_nodes").await;
    let name: BTreeMap<&str, (&str, &str)> = nodes
        .iter()
        .map(|r| (r[0].as_str(), (r[1].as_str(), r[3].as_str())))
        .collect();
    let file_of: BTreeMap<&str, &str> = nodes
        .iter()
        .filter(|r| r[1] == "file")
        .map(|r| (r[2].as_str(), r[3].as_str()))
        .collect();
    let node_file: BTreeMap<&str, &str> = nodes.iter().map(|r| (r[0].as_str(), file_of[r[2].as_str()])).collect();
    let edges = rows(&graph, "cpg_edges").await;
    let contains: BTreeSet<Vec<String>> = edges
        .iter()
        .filter(|e| e[2] == "contains")
        .map(|e| vec![name[e[0].as_str()].1.to_string(), name[e[1].as_str()].1.to_string()])
        .collect();
    let want_contains: BTreeSet<Vec<String>> = serde_json::from_value(want["contains"].clone()).unwrap();
    assert_eq!(contains, want_contains);
    // calls of a plain name a module-level definition of the file has
    let direct: Vec<Vec<String>> = edges
        .iter()
        .filter(|e| e[2] == "calls")
        .filter_map(|e| {
            let (call, def) = (name[e[0].as_str()], name[e[1].as_str()]);
            let same_file = node_file[e[0].as_str()] == node_file[e[1].as_str()];
            (same_file && !call.1.contains('.') && !def.1.contains('.')).then(|| {
                vec![
                    node_file[e[0].as_str()].to_string(),
                    call.1.to_string(),
                    def.1.to_string(),
                ]
            })
        })
        .collect();
    let mut direct = direct;
    direct.sort();
    let want_direct: Vec<Vec<String>> = serde_json::from_value(want["direct_calls"].clone()).unwrap();
    let only = |a: &[Vec<String>], b: &[Vec<String>]| {
        let mut rest = b.to_vec();
        a.iter()
            .filter(|x| match rest.iter().position(|y| y == *x) {
                Some(i) => {
                    rest.remove(i);
                    false
                }
                None => true,
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(
        direct == want_direct,
        "only in the graph: {:?}\nonly in the reference: {:?}",
        only(&direct, &want_direct),
        only(&want_direct, &direct)
    );
}
