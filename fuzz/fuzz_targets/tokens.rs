//! Bytes as a sequence of language fragments (each byte picks one), so the input gets past
//! the grammar and deep into name resolution, typing, joins and contracts.
#![no_main]

mod common;

const TOKENS: &[&str] = &[
    "source ", "model ", "output ", "policy ", "import \"x.sem\"\n", "from ", "delta(\"t\") ",
    "at version 1 ", "at timestamp \"2024-01-01T00:00:00Z\" ", "{", "}", "(", ")", "[", "]", ",",
    ":", ".", "=", "==", "!=", "<", ">=", "+", "-", "*", "/", "%", "and ", "or ", "not ", "in ",
    "between ", "like ", "is null ", "is not null ", "case when ", "then ", "else ", "end ",
    "cast(", " as ", "int64 ", "int32 ", "string ", "decimal(10, 2) ", "date ", "timestamp ",
    "bool ", "float64 ", "key ", "key (a, b) ", "unique ", "not null ", "check (", "join ",
    "many_to_one ", "one_to_many ", "one_to_one ", "semi ", "anti ", "on ", "measure ",
    "dimension ", "where ", "select ", "derive ", "group by ", "aggregate ", "sort ", "desc ",
    "limit 3 ", "distinct ", "union ", "contract ", "mode overwrite ", "mode append ",
    "partition by (a) ", "to ", "sum(", "count()", "count_distinct(", "avg(", "min(", "max(",
    "year(", "substring(", "coalesce(", "scan { file_column = \"_f\" } ", "incremental ",
    "strict = true ", "identifiers = \"lower\" ", "a ", "b ", "c.d ", "m ", "s ", "s.a ", "x ",
    "1 ", "0 ", "2.5 ", "-7 ", "99999999999999999999999 ", "\"x\" ", "\"%a_\" ",
    "date \"1995-01-01\" ", "interval \"3 days\" ", "true ", "null ", "\n", "# note\n", "`Q` ",
    "é", "😀", "\t",
    "source s from delta(\"t\") {\n  a: int64 key\n  b: string\n  measure n = count()\n}\n",
    "model m from s {\n", "output m to delta(\"o\") mode overwrite\n",
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text: String = data.iter().map(|b| TOKENS[*b as usize % TOKENS.len()]).collect();
    common::front_end(text.as_bytes());
});
