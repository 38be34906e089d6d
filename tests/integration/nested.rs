//! Nested data (issue 23): lists, structs and maps in a Delta table written by another tool
//! (`tests/cases/nested/files`, written by pyarrow and delta-rs's Python writer), read,
//! taken apart, unnested, collected and written back — all through the CLI.

use crate::fixtures::{semc, table_rows, url_of, workspace};
use std::path::{Path, PathBuf};

/// A workspace with `main.sem` beside a copy of the nested table (`files`).
fn nested_workspace(name: &str, text: &str) -> PathBuf {
    let dir = workspace(name, &[], &[("main.sem", text)]);
    let table = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/nested/files");
    let status = std::process::Command::new("cp")
        .args(["-r", table.to_str().unwrap(), dir.join("files").to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    dir
}

/// The rows of output `name`, as text, in stored order.
async fn output_rows(dir: &Path, name: &str) -> Vec<Vec<String>> {
    table_rows(url_of(&dir.join("out").join(name)).as_ref()).await.1
}

fn rows(lines: &[&str]) -> Vec<Vec<String>> {
    lines
        .iter()
        .map(|l| l.split(" | ").map(str::to_string).collect())
        .collect()
}

const SOURCE: &str = r#"
type span = struct<bstart: int64, bend: int64>
type qname = struct<name: string, source: string>

source files from delta("files") {
  file_id: string
  path: string
  loc: span
  defs: list<struct<name: string, kind: string, span: span, qnames: list<qname>>>
  attrs: map<string, string>
  tags: list<string>
  # the table stores list<int32>: read widened
  sizes: list<int64>
}
"#;

/// Fields, elements (from 1, null past the end), a map's values, `size` and `contains`, on
/// rows whose nested values are full, empty, null or hold nulls.
#[tokio::test]
async fn fields_elements_and_map_values_are_read() {
    let text = format!(
        "{SOURCE}
model access from files {{
  select {{
    file_id
    start = loc.bstart
    stop = loc.bend
    lang = attrs[\"lang\"]
    owner = attrs[\"owner\"]
    n_tags = size(tags)
    tag2 = tags[2]
    tag9 = tags[9]
    has_y = contains(tags, \"y\")
    first_def = defs[1].name
    first_end = defs[1].span.bend
    n_attrs = size(attrs)
    big = sizes[1] * 1000000000000
  }}
}}
output access to delta(\"out/access\") mode overwrite
"
    );
    let dir = nested_workspace("nested_access", &text);
    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        output_rows(&dir, "access").await,
        rows(&[
            "f1 | 0 | 100 | py | NULL | 4 | y | NULL | true | f | 10 | 2 | 3000000000000",
            "f2 | 0 | 5 | py | NULL | 0 | NULL | NULL | false | NULL | NULL | 2 | 7000000000000",
            "f3 | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL",
            "f4 | 5 | NULL | NULL | NULL | 1 | NULL | NULL | true | h | NULL | 0 | NULL",
        ])
    );
}

const UNNESTED: &str = r#"
model def_names from files {
  unnest defs as d with ordinality as i
  unnest d.qnames as q keep empty
  select { file_id, i, name = d.name, qname = q.name, source = q.source }
}
model attr_rows from files {
  unnest attrs as a with ordinality as k
  select { file_id, k, key = a.key, value = a.value }
}
model collected from def_names {
  group by file_id
  aggregate {
    names = collect(name order by i desc, qname)
    qnames = collect(qname)
    pairs = collect(struct(i, name, qname) order by i, qname)
  }
}
output def_names to delta("out/def_names") mode overwrite
output attr_rows to delta("out/attr_rows") mode overwrite
output collected to delta("out/collected") mode overwrite
"#;

/// `unnest` gives one row per element (an empty or null list none, or one with `keep
/// empty`), positions from 1, a map's entries in their order; `collect` gathers them back in
/// the order it is given, else in the order of the values (nulls last).
#[tokio::test]
async fn unnest_and_collect_take_lists_apart_and_back() {
    let dir = nested_workspace("nested_unnest", &format!("{SOURCE}{UNNESTED}"));
    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        output_rows(&dir, "def_names").await,
        rows(&[
            "f1 | 1 | f | a.f | def",
            "f1 | 1 | f | f | import",
            "f1 | 2 | C | NULL | NULL",
            "f1 | 3 | g | NULL | NULL",
            "f4 | 1 | h | d.h | def",
        ])
    );
    assert_eq!(
        output_rows(&dir, "attr_rows").await,
        rows(&[
            "f1 | 1 | lang | py",
            "f1 | 2 | enc | utf-8",
            "f2 | 1 | lang | py",
            "f2 | 2 | owner | NULL",
        ])
    );
    assert_eq!(
        output_rows(&dir, "collected").await,
        rows(&[
            "f1 | [g, C, f, f] | [a.f, f, NULL, NULL] | [{i: 1, name: f, qname: a.f}, {i: 1, name: f, qname: f}, {i: 2, name: C, qname: NULL}, {i: 3, name: g, qname: NULL}]",
            "f4 | [h] | [d.h] | [{i: 1, name: h, qname: d.h}]",
        ])
    );

    // the one Substrait plan carries the unnest: a bundle executed later writes the same rows
    let bundle = dir.join("bundle");
    let (code, _, err) = semc(&["plan", dir.to_str().unwrap(), "--bundle", bundle.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let before = output_rows(&dir, "collected").await;
    let (code, _, err) = semc(&["exec", bundle.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(output_rows(&dir, "collected").await, before);
    assert_eq!(output_rows(&dir, "def_names").await.len(), 5);

    // what semc wrote is a source like any other: its nested columns read back
    let again = workspace(
        "nested_read_back",
        &[],
        &[(
            "main.sem",
            &format!(
                r#"
source collected from delta("{}") {{
  file_id: string
  names: list<string>
  pairs: list<struct<i: int64, name: string, qname: string>>
}}
model pairs from collected {{
  unnest pairs as p
  where p.i > 1
  select {{ file_id, i = p.i, name = p.name, first = names[1] }}
}}
output pairs to delta("out/pairs") mode overwrite
"#,
                url_of(&dir.join("out/collected"))
            ),
        )],
    );
    let (code, _, err) = semc(&["run", again.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        output_rows(&again, "pairs").await,
        rows(&["f1 | 2 | C | g", "f1 | 3 | g | g"])
    );
}

/// `semc explain` shows the unnest as one step of the plan, and the checker's errors on
/// nested values carry codes (more in `tests/cases/check/nested_*.sem`).
#[tokio::test]
async fn explain_shows_the_unnest() {
    let dir = nested_workspace("nested_explain", &format!("{SOURCE}{UNNESTED}"));
    let (code, out, err) = semc(&["explain", dir.to_str().unwrap(), "--output", "attr_rows"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Unnest"), "{out}");
}
