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
];

fn program() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..120).prop_map(|v| v.concat())
}

/// A plausible program with one mutation somewhere.
fn mutated() -> impl Strategy<Value = String> {
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
    let Ok((ws, diags)) = semc::driver::check_bytes("p.sem", text.as_bytes()) else {
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
