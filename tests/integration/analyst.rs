//! What an analyst hit with windows and functions (issue 22), each through the CLI: results
//! equal DuckDB's, literal arguments checked before a run, data that a function does not
//! take a coded run error, and the messages around them.

use crate::fixtures::{semc, table, table_rows, url_of, workspace};
use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};
use std::path::Path;
use std::sync::Arc;

fn strings(v: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

fn ints(v: &[Option<i64>]) -> ArrayRef {
    Arc::new(Int64Array::from(v.to_vec()))
}

/// `semc check --format json` of `program` (tables `events` and `people` beside it): each
/// diagnostic as (code, severity, line, message, help).
async fn check(name: &str, program: &str) -> Vec<(String, String, u64, String, String)> {
    let dir = events_workspace(name, program).await;
    let (_, out, _) = semc(&["check", dir.to_str().unwrap(), "--format", "json"]);
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|d| d["code"].is_string())
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["severity"].as_str().unwrap_or_default().to_string(),
                d["line"].as_u64().unwrap_or_default(),
                d["message"].as_str().unwrap_or_default().to_string(),
                d["help"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

const EVENTS: &str = r#"
source events from delta("events") {
  user_id: int64
  country: string
  amount: int64
  url: string
  pattern: string
  part: int64
  name: string
}
"#;

/// A workspace with an `events` table (nulls in `amount`, a tab in a `name`) and `program`.
async fn events_workspace(name: &str, program: &str) -> std::path::PathBuf {
    let dir = workspace(name, &[], &[("main.sem", &format!("{EVENTS}{program}"))]);
    table(
        &dir.join("events"),
        vec![
            ("user_id", ints(&[Some(1), Some(1), Some(2), Some(2), Some(3), Some(3)])),
            (
                "country",
                strings(&[Some("de"), Some("de"), Some("fr"), Some("fr"), Some("it"), Some("it")]),
            ),
            ("amount", ints(&[Some(10), None, None, Some(5), Some(7), Some(8)])),
            (
                "url",
                strings(&[Some("a/b/c"), Some("x/y"), Some("p"), Some("q/r"), Some("s"), Some("t")]),
            ),
            (
                "pattern",
                strings(&[Some("^a"), Some("y$"), Some("p"), Some("q"), Some("s"), Some("t")]),
            ),
            ("part", ints(&[Some(1), Some(2), Some(1), Some(-1), Some(1), Some(1)])),
            (
                "name",
                strings(&[
                    Some("tab\there"),
                    Some("line\nbreak"),
                    Some("Straße"),
                    Some("İlker"),
                    Some("x"),
                    Some("y"),
                ]),
            ),
        ],
    )
    .await;
    dir
}

/// Runs the workspace; the output `name`'s rows.
fn run_rows(dir: &Path, output: &str) -> Vec<Vec<String>> {
    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let location = url_of(&dir.join("out").join(output)).to_string();
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(async { table_rows(&location).await.1 }))
}

/// Every unit of `date_diff` over 300 generated pairs of dates and timestamps equals
/// DuckDB 1.4.4's answer (`tests/cases/date_diff/duckdb.csv`, written by `generate.py`
/// beside it): weeks are whole 7-day spans, not Monday boundaries.
#[tokio::test(flavor = "multi_thread")]
async fn date_diff_counts_every_unit_as_duckdb_does() {
    let csv = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/date_diff/duckdb.csv"))
        .unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert!(rows.len() > 2000);
    let dir = workspace("date_diff_duckdb", &[], &[("main.sem", MODEL)]);
    let micros = |k: usize| -> ArrayRef {
        Arc::new(
            TimestampMicrosecondArray::from(rows.iter().map(|r| r[k].parse::<i64>().unwrap()).collect::<Vec<_>>())
                .with_timezone("UTC"),
        )
    };
    table(
        &dir.join("pairs"),
        vec![
            ("n", Arc::new(Int64Array::from_iter_values(0..rows.len() as i64))),
            (
                "kind",
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r[0]))),
            ),
            ("start_at", micros(1)),
            ("end_at", micros(2)),
            (
                "unit",
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r[3]))),
            ),
            (
                "expected",
                Arc::new(Int64Array::from_iter_values(
                    rows.iter().map(|r| r[4].parse::<i64>().unwrap()),
                )),
            ),
        ],
    )
    .await;
    let got = run_rows(&dir, "diffs");
    assert_eq!(got.len(), rows.len());
    let wrong: Vec<String> = got
        .iter()
        .filter(|r| r[3] != r[4])
        .map(|r| {
            let n: usize = r[0].parse().unwrap();
            format!(
                "{} {} {}..{}: DuckDB {}, semc {}",
                r[1], r[2], rows[n][1], rows[n][2], r[3], r[4]
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n{}",
        wrong.len(),
        got.len(),
        wrong.join("\n")
    );
    // the issue's own case
    assert!(got.iter().any(|r| r[1] == "date" && r[2] == "week" && r[3] == "0"));
}

const MODEL: &str = r#"
source pairs from delta("pairs") {
  n: int64
  kind: string
  start_at: timestamp
  end_at: timestamp
  unit: string
  expected: int64
}
model diffs from pairs {
  derive { start_day = cast(start_at as date), end_day = cast(end_at as date) }
  derive {
    on_dates = case
      when unit == "year" then date_diff("year", start_day, end_day)
      when unit == "quarter" then date_diff("quarter", start_day, end_day)
      when unit == "month" then date_diff("month", start_day, end_day)
      when unit == "week" then date_diff("week", start_day, end_day)
      when unit == "day" then date_diff("day", start_day, end_day)
      when unit == "hour" then date_diff("hour", start_day, end_day)
      when unit == "minute" then date_diff("minute", start_day, end_day)
      else date_diff("second", start_day, end_day)
    end
    on_times = case
      when unit == "year" then date_diff("year", start_at, end_at)
      when unit == "quarter" then date_diff("quarter", start_at, end_at)
      when unit == "month" then date_diff("month", start_at, end_at)
      when unit == "week" then date_diff("week", start_at, end_at)
      when unit == "day" then date_diff("day", start_at, end_at)
      when unit == "hour" then date_diff("hour", start_at, end_at)
      when unit == "minute" then date_diff("minute", start_at, end_at)
      else date_diff("second", start_at, end_at)
    end
  }
  select { n, kind, unit, expected, got = case when kind == "date" then on_dates else on_times end }
}
output diffs to delta("out/diffs") mode overwrite
"#;

/// `floor`, `ceil` and `round(x)` of a decimal keep every digit: a `decimal(p, 0)`, as
/// DuckDB types them (before: a float64 that lost the last digits).
#[tokio::test(flavor = "multi_thread")]
async fn floor_ceil_and_round_of_a_decimal_stay_decimal() {
    let dir = events_workspace(
        "decimal_rounding",
        r#"
model whole from events {
  aggregate { x = max(cast(12345678901234567.89 as decimal(38, 2))), y = max(cast(-9.99 as decimal(3, 2))) }
  select { f = floor(x), c = ceil(x), r = round(x), fy = floor(y), cy = ceil(y), ry = round(y) }
}
output whole to delta("out/whole") mode overwrite
"#,
    )
    .await;
    let (code, out, err) = semc(&["show", dir.to_str().unwrap(), "--model", "whole", "--schema"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("decimal(38, 0)") && out.contains("decimal(3, 0)"), "{out}");
    assert!(!out.contains("float64"), "{out}");
    assert_eq!(
        run_rows(&dir, "whole"),
        [[
            "12345678901234567",
            "12345678901234568",
            "12345678901234568",
            "-10",
            "-9",
            "-10"
        ]]
    );
}

/// Arguments the engine takes only as literals, or only with some values, are refused by
/// `semc check` with the literal marked (before: internal errors, exit 2, at run time).
#[tokio::test(flavor = "multi_thread")]
async fn arguments_a_function_does_not_take_are_refused_when_checking() {
    let found = check(
        "bad_arguments",
        r#"
model m from events {
  derive {
    a = ntile(0) over (order by amount)
    b = regexp_like(url, "([a-z]+")
    c = split_part(url, "/", 0)
    d = lag(amount, 1, amount) over (order by user_id)
    e = ntile(user_id) over (order by amount)
    f = digest(name, "sha1")
  }
}
"#,
    )
    .await;
    let lines: Vec<u64> = found.iter().filter(|d| d.0 == "E0203").map(|d| d.2).collect();
    // EVENTS takes 10 lines, the model starts on line 12
    assert_eq!(lines, [14, 15, 16, 17, 18, 19], "{found:#?}");
    let text = |line: u64| {
        found
            .iter()
            .find(|d| d.2 == line)
            .map(|d| format!("{} {}", d.3, d.4))
            .unwrap()
    };
    assert!(text(14).contains("at least 1"), "{}", text(14));
    assert!(text(15).contains("not a valid regular expression"), "{}", text(15));
    assert!(text(16).contains("never 0"), "{}", text(16));
    assert!(
        text(17).contains("only as a literal") && text(17).contains("case when row_number()"),
        "{}",
        text(17)
    );
    assert!(
        text(19).contains("\"sha1\"") && text(19).contains("blake3"),
        "{}",
        text(19)
    );
}

/// The same rules when the value comes from the data: a coded run error (E0409, exit 1),
/// nothing committed; values they take run as before.
#[tokio::test(flavor = "multi_thread")]
async fn values_from_the_data_a_function_does_not_take_fail_the_run_with_a_code() {
    let dir = events_workspace(
        "bad_argument_values",
        r#"
model parts from events { select { user_id, p = split_part(url, "/", part), m = regexp_like(url, pattern) } }
output parts to delta("out/parts") mode overwrite
"#,
    )
    .await;
    let rows = run_rows(&dir, "parts");
    assert_eq!(rows.len(), 6);
    assert!(rows.contains(&vec!["2".into(), "r".into(), "true".into()]), "{rows:?}");
    for (name, bad) in [("zero", "part - 1"), ("regex", "")] {
        let program = match name {
            "zero" => format!("model parts from events {{ select {{ p = split_part(url, \"/\", {bad}) }} }}\noutput parts to delta(\"out/bad\") mode overwrite\n"),
            _ => "model parts from events { select { m = regexp_like(url, pattern || \"(\") } }\noutput parts to delta(\"out/bad\") mode overwrite\n".into(),
        };
        let dir = events_workspace(&format!("bad_argument_{name}"), &program).await;
        let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("E0409") && !err.contains("internal error"), "{err}");
        assert!(err.contains("split_part") || err.contains("regexp_like"), "{err}");
        let commits = std::fs::read_dir(dir.join("out/bad/_delta_log"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(commits, 0, "nothing committed");
    }
}

/// Values a function has no result for: `sqrt` and `substring`'s count take none below 0 —
/// a literal is refused by the checker (E0203), one from the data fails the run with E0409
/// naming the function — and `power(0, y)` with `y` below 0 fails the run with E0409 (the
/// engine's own errors were internal errors); values they take run.
#[tokio::test(flavor = "multi_thread")]
async fn values_a_function_has_no_result_for_are_the_programs_fault() {
    for (name, call) in [("sqrt", "sqrt(-4.0)"), ("substring", "substring(url, 1, -1)")] {
        let found = check(
            &format!("below_zero_literal_{name}"),
            &format!("model r from events {{ select {{ r = {call} }} }}\n"),
        )
        .await;
        assert!(found.iter().any(|d| d.0 == "E0203" && d.3.contains(name)), "{found:?}");
    }
    let dir = events_workspace(
        "below_zero_values",
        r#"
model roots from events { where part == 1  select { user_id, r = sqrt(cast(part * 4 as float64)), s = substring(url, 1, part) } }
model negative_root from events { select { r = sqrt(cast(part as float64)) } }
model negative_count from events { select { s = substring(url, 1, part) } }
model zero_to_negative from events { select { p = power(cast(part - 1 as float64), -1.0) } }
output roots to delta("out/roots") mode overwrite
"#,
    )
    .await;
    let rows = run_rows(&dir, "roots");
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows.iter().all(|r| r[1] == "2.0" && r[2].len() == 1), "{rows:?}");
    for (model, says) in [
        ("negative_root", "sqrt"),
        ("negative_count", "substring"),
        ("zero_to_negative", "zero raised"),
    ] {
        let (code, _, err) = semc(&["show", dir.to_str().unwrap(), "--model", model]);
        assert_eq!(code, 1, "{model}: {err}");
        assert!(
            err.contains("E0409") && err.contains(says) && !err.contains("internal error"),
            "{model}: {err}"
        );
    }
}

/// Messages: a positional window without an order is warned about; `keep` without `by`
/// keeps rows in the order of all columns; an overflow's help is about the overflow, and
/// `show` does not speak of commits; a type error names the cast.
#[tokio::test(flavor = "multi_thread")]
async fn the_messages_around_windows_and_functions_say_what_to_do() {
    let found = check(
        "window_messages",
        r#"
model m from events {
  derive { prev = lag(amount) over (partition by user_id), month = date_trunc("month", date "2024-03-05") }
}
"#,
    )
    .await;
    let warning = found.iter().find(|d| d.0 == "E0224").expect("a warning");
    assert_eq!(warning.1, "warning");
    assert!(warning.3.contains("no `order by`"), "{warning:?}");
    let cast = found.iter().find(|d| d.0 == "E0203").expect("a type error");
    assert!(cast.4.contains("cast(date \"2024-03-05\" as timestamp)"), "{cast:?}");

    let dir = events_workspace(
        "keep_without_by",
        r#"
model any_per_user from events { keep 1 per user_id }
model overflow from events { aggregate { s = sum(amount * 4611686018427387904) } }
output any_per_user to delta("out/any") mode overwrite
"#,
    )
    .await;
    let rows = run_rows(&dir, "any");
    assert_eq!(rows.len(), 3, "{rows:?}");
    let (code, _, err) = semc(&["show", dir.to_str().unwrap(), "--model", "overflow"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0409") && err.contains("does not fit"), "{err}");
    assert!(!err.contains("committed") && !err.contains("division"), "{err}");
}

/// One rule for fan-out: a derived copy of a `many_to_one` target's column is that column
/// (E0206 both ways); a value per row (`amount * p.factor`) is summed per row.
#[tokio::test(flavor = "multi_thread")]
async fn a_derived_copy_of_a_joined_column_is_under_the_fan_out_rule() {
    let program = r#"
source people from delta("people") {
  id: int64 key
  factor: int64
}
model direct from events { join people many_to_one on user_id = people.id  aggregate { s = sum(people.factor) } }
model copied from events {
  join people many_to_one on user_id = people.id
  derive { f = people.factor }
  aggregate { s = sum(f) }
}
model per_row from events {
  join people many_to_one on user_id = people.id
  aggregate { s = sum(amount * people.factor) }
}
"#;
    let dir = events_workspace("fan_out_copies", program).await;
    table(
        &dir.join("people"),
        vec![
            ("id", ints(&[Some(1), Some(2), Some(3)])),
            ("factor", ints(&[Some(2), Some(3), Some(4)])),
        ],
    )
    .await;
    let (_, out, _) = semc(&["check", dir.to_str().unwrap(), "--format", "json"]);
    let lines: Vec<u64> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|d| d["code"] == "E0206")
        .map(|d| d["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [16, 20], "{out}");
}

/// Identifiers are read in NFC: a decomposed `größe` is the composed one.
#[tokio::test(flavor = "multi_thread")]
async fn an_identifier_is_the_same_name_however_its_letters_are_composed() {
    let composed = "gr\u{f6}\u{df}e";
    let decomposed = "gro\u{308}\u{df}e";
    let program = format!(
        "model sized from events {{\n  derive {{ {composed} = amount * 2 }}\n  select {{ user_id, {decomposed} }}\n}}\noutput sized to delta(\"out/sized\") mode overwrite\n"
    );
    let dir = events_workspace("nfc_names", &program).await;
    let (code, _, err) = semc(&["check", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = semc(&["show", dir.to_str().unwrap(), "--model", "sized", "--schema"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(composed), "{out}");
}

/// Nulls come last in every order unless a key says `nulls first`: `keep 1 per country by
/// amount desc` keeps the largest amount, never a null.
#[tokio::test(flavor = "multi_thread")]
async fn nulls_come_last_unless_the_order_says_first() {
    let dir = events_workspace(
        "nulls_order",
        r#"
model best from events { keep 1 per country by amount desc  select { country, amount } sort country }
model nulls_ahead from events { keep 1 per country by amount desc nulls first  select { country, amount } sort country }
model ranked from events {
  derive { rn = row_number() over (partition by country order by amount desc) }
  where rn == 1
  select { country, amount }
  sort country
}
model sorted from events { select { amount } sort amount desc }
model sorted_first from events { select { amount } sort amount asc nulls first }
output best to delta("out/best") mode overwrite
output nulls_ahead to delta("out/nulls_ahead") mode overwrite
output ranked to delta("out/ranked") mode overwrite
output sorted to delta("out/sorted") mode overwrite
output sorted_first to delta("out/sorted_first") mode overwrite
"#,
    )
    .await;
    let best = run_rows(&dir, "best");
    assert_eq!(best, [["de", "10"], ["fr", "5"], ["it", "8"]]);
    let read = |o: &str| {
        let location = url_of(&dir.join("out").join(o)).to_string();
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async { table_rows(&location).await.1 })
        })
    };
    assert_eq!(read("nulls_ahead"), [["de", "NULL"], ["fr", "NULL"], ["it", "8"]]);
    assert_eq!(read("ranked"), best);
    let flat = |rows: Vec<Vec<String>>| rows.into_iter().map(|r| r[0].clone()).collect::<Vec<_>>();
    assert_eq!(flat(read("sorted")), ["10", "8", "7", "5", "NULL", "NULL"]);
    assert_eq!(flat(read("sorted_first")), ["NULL", "NULL", "5", "7", "8", "10"]);
}

/// `upper` and `lower` follow Unicode's full case mapping (as Rust and Python; the README
/// says so); `show` writes a tab or a line break in a cell as an escape; `explain` keeps
/// its lines readable; `fmt` aligns a name of wide characters by its width.
#[tokio::test(flavor = "multi_thread")]
async fn text_is_cased_shown_explained_and_formatted_as_documented() {
    let dir = events_workspace(
        "text_shown",
        r#"
model cased from events {
  select { name, up = upper(name), low = lower(name) }
  derive { running = count() over (partition by low order by up rows between 3 preceding and current row), r2 = sum(length(name)) over (partition by up, low, name order by name desc, up, low) }
}
output cased to delta("out/cased") mode overwrite
"#,
    )
    .await;
    let (code, out, err) = semc(&["show", dir.to_str().unwrap(), "--model", "cased"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("STRASSE") && out.contains("i\u{307}lker"), "{out}");
    assert!(out.contains("tab\\there") && out.contains("line\\nbreak"), "{out}");
    assert!(!out.contains('\t'), "{out}");
    let widths: std::collections::BTreeSet<usize> = out.lines().map(unicode_width::UnicodeWidthStr::width).collect();
    assert_eq!(widths.len(), 1, "every line of the table is as wide: {out}");
    let (code, out, err) = semc(&["explain", dir.to_str().unwrap(), "--output", "cased"]);
    assert_eq!(code, 0, "{err}");
    let longest = out.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(longest <= 200, "a line of {longest} characters:\n{out}");

    let (code, out, err) = semc_stdin(
        &["fmt", "-"],
        "source 名前 from delta(\"t\") {\n  名前の列: int64\n  id: int64\n}\n",
    );
    assert_eq!(code, 0, "{err}");
    // the types line up as they are seen: a CJK character is two columns wide
    let types: Vec<usize> = out
        .lines()
        .filter(|l| l.ends_with("int64"))
        .map(|l| unicode_width::UnicodeWidthStr::width(&l[..l.find("int64").unwrap()]))
        .collect();
    assert_eq!(types.len(), 2, "{out}");
    assert_eq!(types[0], types[1], "{out}");
}

/// `semc` with `input` on its standard input.
fn semc_stdin(args: &[&str], input: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_semc"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Tables written by deltalake mark every column nullable: the columns declared not null
/// over them are one short warning for the whole workspace, the fix named once.
#[tokio::test(flavor = "multi_thread")]
async fn columns_declared_not_null_are_one_warning_per_workspace() {
    let program = r#"
source a from delta("events") { user_id: int64 not null
  amount: int64 not null }
source b from delta("people") { id: int64 key }
"#;
    let dir = events_workspace("one_nullability_warning", program).await;
    table(&dir.join("people"), vec![("id", ints(&[Some(1)]))]).await;
    let (code, out, _) = semc(&["check", dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{out}");
    let found: Vec<serde_json::Value> = out.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let warnings: Vec<_> = found.iter().filter(|d| d["code"] == "E0307").collect();
    assert_eq!(warnings.len(), 1, "{found:#?}");
    let message = warnings[0]["message"].as_str().unwrap();
    assert!(message.contains("3 columns") && message.contains("`b.id`"), "{message}");
    let (_, _, human) = semc(&["check", dir.to_str().unwrap()]);
    assert_eq!(human.matches("E0307").count(), 1, "{human}");
}
