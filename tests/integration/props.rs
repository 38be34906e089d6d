//! Properties of the front end over generated input: whatever the text, parse + check
//! finish, every span lies in its file on char boundaries, and rendering never panics.

use proptest::prelude::*;

/// Fragments of the language, so generated text gets deep into the grammar and checker.
const TOKENS: &[&str] = &[
    "source ",
    "model ",
    "output ",
    "policy ",
    "import ",
    "from ",
    "delta(\"t\") ",
    "at version 1 ",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    ".",
    "=",
    "==",
    "!=",
    "<",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "and ",
    "or ",
    "not ",
    "in ",
    "between ",
    "like ",
    "is null ",
    "case when ",
    "then ",
    "else ",
    "end ",
    "cast(",
    " as ",
    "int64 ",
    "string ",
    "decimal(10, 2) ",
    "date ",
    "key ",
    "unique ",
    "not null ",
    "check (",
    "join ",
    "many_to_one ",
    "one_to_many ",
    "semi ",
    "anti ",
    "on ",
    "measure ",
    "dimension ",
    "where ",
    "select ",
    "derive ",
    "group by ",
    "aggregate ",
    "sort ",
    "desc ",
    "limit 3 ",
    "distinct ",
    "union ",
    "contract ",
    "mode overwrite ",
    "partition by (a) ",
    "to ",
    "sum(",
    "count()",
    "year(",
    "a ",
    "b ",
    "c.d ",
    "m ",
    "s ",
    "1 ",
    "2.5 ",
    "\"x\" ",
    "date \"1995-01-01\" ",
    "interval \"3 days\" ",
    "true ",
    "null ",
    "\n",
    "# note\n",
    "`Q` ",
    "é",
    "😀",
    "\t",
    // the language for pipelines: functions, templates, closures, orders
    "fn ",
    "extern ",
    "template ",
    " -> ",
    "closure ",
    "max 3 ",
    "shortest ",
    "truncate ",
    "nulls first ",
    "nulls last ",
    ": column",
    ": expr",
    "model t = ",
    "keep 1 per ",
    "stable_id(",
];

pub(crate) fn program() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..120).prop_map(|v| v.concat())
}

/// A plausible program with one mutation somewhere.
pub(crate) fn mutated() -> impl Strategy<Value = String> {
    let base = "source s from delta(\"t\") {\n  a: int64 key\n  b: string\n  join s as s2 many_to_one on a = s2.a\n  measure n = count()\n}\nmodel m from s {\n  where b like \"x%\" and a between 1 and 3\n  group by b\n  aggregate { n, t = sum(a) }\n  sort t desc\n}\noutput m to delta(\"out/m\") mode overwrite\n";
    (0..base.len(), prop::sample::select(TOKENS), 0..4usize).prop_map(move |(at, tok, cut)| {
        let mut at = at;
        while !base.is_char_boundary(at) {
            at -= 1;
        }
        let end = (at + cut).min(base.len());
        format!("{}{}{}", &base[..at], tok, &base[end..])
    })
}

fn holds(text: &str) -> Result<(), TestCaseError> {
    let Ok((ws, diags)) = semc::run::check_bytes("p.sem", text.as_bytes()) else {
        return Err(TestCaseError::fail("internal failure"));
    };
    semc::diag::well_formed(&ws.map, &diags).map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn token_soup_never_breaks_the_front_end(text in program()) {
        holds(&text)?;
    }

    #[test]
    fn mutated_programs_never_break_the_front_end(text in mutated()) {
        holds(&text)?;
    }

    #[test]
    fn arbitrary_text_never_breaks_the_front_end(text in "\\PC{0,300}") {
        holds(&text)?;
    }
}

/// Line and column (in characters) by a scan of the text: what `SourceMap::line_col`, which
/// searches an index, must agree with.
fn naive_line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map(|p| p + 1).unwrap_or(0);
    (line, before[start..].chars().count() + 1)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn line_col_agrees_with_a_scan(text in "(\\PC|\n){0,12000}", picks in prop::collection::vec(any::<prop::sample::Index>(), 1..20)) {
        let mut map = semc::span::SourceMap::default();
        let f = map.add("x.sem".into(), "x.sem".into(), text.clone());
        let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
        for p in picks {
            let at = bounds[p.index(bounds.len())];
            prop_assert_eq!(map.line_col(f, at), naive_line_col(&text, at));
        }
    }
}

/// Thousands of errors on one line of megabytes: the text rendering shows the first
/// `MAX_RENDERED` (each as a location, not a snippet of the line) and counts the rest;
/// JSON gives every one with its column.
#[test]
fn many_errors_on_a_huge_line_are_summarized() {
    let names: Vec<String> = (0..20_000).map(|i| format!("x{i}")).collect();
    let text = format!(
        "source s from delta(\"t\") {{ a: int64 }}\nmodel m from s {{ select {{ {} }} }}\n",
        names.join(", ")
    );
    let (ws, diags) = semc::run::check_bytes("wide.sem", text.as_bytes()).unwrap_or_else(|_| panic!("internal"));
    assert_eq!(diags.len(), 20_000);
    let shown = semc::diag::render(&ws.map, &diags, false);
    assert_eq!(shown.matches("error[E0102]").count(), semc::diag::MAX_RENDERED);
    assert!(shown.contains(&format!(
        "… and {} more diagnostic(s) not shown",
        20_000 - semc::diag::MAX_RENDERED
    )));
    assert!(shown.contains("--> wide.sem:2:27 (a line of"), "{}", &shown[..600]);
    let json = semc::diag::render_json(&ws.map, &diags);
    assert_eq!(json.lines().count(), 20_000);
    let last: serde_json::Value = serde_json::from_str(json.lines().last().unwrap()).unwrap();
    let col = text.lines().nth(1).unwrap().find("x19999").unwrap() + 1;
    assert_eq!(
        (last["line"].as_u64(), last["column"].as_u64()),
        (Some(2), Some(col as u64))
    );
}
