//! Grammar errors: what the parser expected, said in the language's words, with help.

use super::*;

use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::span::{FileId, Span};

pub(crate) fn syntax_error(file: FileId, text: &str, e: pest::error::Error<Rule>) -> Diagnostic {
    let pos = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((a, _)) => a,
    };
    let expected = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<&str> = positives.iter().map(|r| rule_name(*r)).collect();
            names.sort();
            names.dedup();
            names
        }
        pest::error::ErrorVariant::CustomError { .. } => vec![],
    };
    let rest = &text[pos.min(text.len())..];
    let found_len = token_len(rest);
    let found = if rest.is_empty() {
        "end of file".to_string()
    } else {
        format!("`{}`", &rest[..found_len])
    };
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", join_or(&expected))
    };
    let mut d =
        Diagnostic::error(Code::E0001, Span::new(file, pos, pos + found_len), message).label(if expected.is_empty() {
            "unexpected here".to_string()
        } else {
            format!("expected {}", join_or(&expected))
        });
    if let Some(h) = syntax_help(&text[..pos.min(text.len())], rest, &expected) {
        d = d.help(h);
    } else {
        d = d.help("see the README's language section for the form of each item and step");
    }
    d
}

/// The words of the language that users write in capitals out of SQL habit.
const KEYWORDS: &[&str] = &[
    "source",
    "model",
    "output",
    "import",
    "policy",
    "from",
    "join",
    "where",
    "select",
    "derive",
    "group",
    "by",
    "aggregate",
    "sort",
    "limit",
    "distinct",
    "union",
    "contract",
    "measure",
    "dimension",
    "and",
    "or",
    "not",
    "in",
    "between",
    "like",
    "is",
    "null",
    "case",
    "when",
    "then",
    "else",
    "end",
    "true",
    "false",
    "cast",
    "as",
    "key",
    "unique",
    "check",
    "asc",
    "desc",
    "mode",
    "append",
    "overwrite",
    "to",
    "delta",
];

/// Help for a grammar error, from what follows the error (`rest`) and what precedes it
/// (`before`): mostly what a SQL habit is written as in semc.
pub(crate) fn syntax_help(before: &str, rest: &str, expected: &[&str]) -> Option<String> {
    if rest.starts_with('=') && !rest.starts_with("==") && expected.iter().any(|e| e.contains("operator")) {
        return Some("comparison is written `==`".into());
    }
    if rest.starts_with('\'') {
        return Some("strings are written in double quotes: \"text\"".into());
    }
    if rest.starts_with("--") || rest.starts_with("//") {
        return Some("comments start with `#`".into());
    }
    if rest.starts_with("&&") {
        return Some("boolean operators are written `and` and `or`".into());
    }
    let word: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let lower = word.to_lowercase();
    let previous: String = before
        .trim_end()
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<Vec<char>>()
        .into_iter()
        .rev()
        .collect::<String>()
        .to_lowercase();
    if previous == "distinct"
        && before
            .trim_end()
            .trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .trim_end()
            .ends_with('(')
    {
        return Some("a distinct count is `count_distinct(x)`".into());
    }
    if lower == "select" {
        return Some(if expected.iter().any(|e| e.contains("model")) {
            "semc is not SQL: a query is a model with steps, `model m from orders { where … select { a, b } }`, and an `output` writes it"
        } else {
            "`select` takes its columns in braces: `select { a, b, total = x + y }`"
        }
        .into());
    }
    if !word.is_empty() && word != lower && KEYWORDS.contains(&lower.as_str()) {
        return Some(format!("keywords are lower case: write `{lower}`"));
    }
    let sql_hint = match lower.as_str() {
        "order" => Some("results are ordered with `sort e [asc|desc], …`"),
        "having" => Some("a `where` after `aggregate { }` filters the aggregated rows"),
        "filter" => Some("rows are filtered with `where`"),
        "groupby" => Some("write `group by k` followed by `aggregate { … }`"),
        "from" => Some("a model names its input once: `model m from source { steps }`"),
        "left" | "inner" | "right" | "outer" => Some(
            "joins are written `join TARGET [as NAME] many_to_one|one_to_one|one_to_many|semi|anti on a = TARGET.b`",
        ),
        _ => None,
    };
    sql_hint.map(String::from)
}

/// Length in bytes of the token that starts `rest` (at least one char, at most 40 bytes).
pub(crate) fn token_len(rest: &str) -> usize {
    let mut chars = rest.char_indices();
    let Some((_, first)) = chars.next() else {
        return 0;
    };
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut end = first.len_utf8();
    if is_word(first) {
        for (i, c) in rest.char_indices().skip(1) {
            if !is_word(c) || i >= 40 {
                break;
            }
            end = i + c.len_utf8();
        }
    }
    end
}

pub(crate) fn join_or(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [a] => a.to_string(),
        _ => {
            let (last, init) = names.split_last().unwrap_or((&"", &[]));
            format!("{} or {}", init.join(", "), last)
        }
    }
}

/// Readable names of grammar rules for "expected …" messages.
pub fn rule_name(r: Rule) -> &'static str {
    use super::Rule::*;
    match r {
        EOI => "end of file",
        item | file => "`policy`, `import`, `source`, `model` or `output`",
        policy => "`policy`",
        import => "`import`",
        source => "`source`",
        model => "`model`",
        output => "`output`",
        ident | plain_ident | quoted_ident => "a name",
        keyword => "a name (not a keyword)",
        int_lit => "an integer",
        number_lit => "a number",
        string_lit => "a string",
        expr | bound | paren | primary | call | path | typed_lit | case_expr | cast_expr => "an expression",
        list_lit => "a list `[…]`",
        op_or | op_and | op_eq | op_ne | op_le | op_ge | op_lt | op_gt | op_add | op_sub | op_mul | op_div | op_mod
        | op_concat | infix | arith => "an operator",
        is_null | in_list | between | like | postfix | negated => "an operator",
        op_not | op_neg | prefix | neg => "an expression",
        type_expr | decimal_type => "a type",
        constraint | c_key | c_unique | c_not_null | c_check => {
            "a constraint (`key`, `unique`, `not null`, `check (…)`)"
        }
        column_decl => "a column declaration `name: type`",
        join_decl | join_step => "`join`",
        measure_decl => "`measure`",
        dimension_decl => "`dimension`",
        cardinality => "`many_to_one`, `one_to_one` or `one_to_many`",
        join_cond | key_pair | join_filter | join_term => "a join condition `a = target.b`",
        join_kind => "`many_to_one`, `one_to_one`, `one_to_many`, `semi` or `anti`",
        cmp_op | join_eq => "a comparison",
        key_decl => "`key (…)`",
        k_semi => "`semi`",
        k_scan | scan_block => "`scan { … }`",
        k_anti => "`anti`",
        delta_ref => "`delta(\"path\")`",
        pin | pin_version | pin_timestamp => "`at version N` or `at timestamp \"…\"`",
        where_step | select_step | derive_step | group_step | aggregate_step | sort_step | limit_step
        | distinct_step | union_step => "a step",
        named_list | named_expr => "`name = expression` or a column",
        sort_key => "a sort key",
        sort_dir => "`asc` or `desc`",
        fn_decl => "`fn`",
        closure_step | k_closure => "`closure`",
        k_max => "`max`",
        k_extern => "`extern`",
        k_shortest => "`shortest`",
        k_truncate => "`truncate`",
        template | k_template => "`template`",
        tparam => "a parameter (`rel`, `name: column`, `name: expr`, `name: type = value`)",
        tparam_kind => "`column`, `expr` or a type",
        instance => "`model name = template(…)`",
        targ => "an argument",
        k_column => "`column`",
        k_expr => "`expr`",
        fn_param => "a parameter `name: type`",
        sort_nulls | k_nulls => "`nulls first` or `nulls last`",
        k_first => "`first`",
        k_last => "`last`",
        contract => "`contract`",
        write_mode => "`append` or `overwrite`",
        partition => "`partition by (…)`",
        when_arm => "`when`",
        else_arm => "`else`",
        policy_entry => "a policy setting `key = value`",
        policy_value => "a value",
        k_policy => "`policy`",
        k_import => "`import`",
        k_source => "`source`",
        k_model => "`model`",
        k_output => "`output`",
        k_from => "`from`",
        k_delta => "`delta`",
        k_at => "`at`",
        k_version => "`version`",
        k_timestamp => "`timestamp`",
        k_date => "`date`",
        k_interval => "`interval`",
        k_key => "`key`",
        k_unique => "`unique`",
        k_not => "`not`",
        k_null => "`null`",
        k_check => "`check`",
        k_join => "`join`",
        k_as => "`as`",
        k_on => "`on`",
        k_and => "`and`",
        k_or => "`or`",
        k_measure => "`measure`",
        k_dimension => "`dimension`",
        k_where => "`where`",
        k_select => "`select`",
        k_derive => "`derive`",
        k_group => "`group`",
        k_by => "`by`",
        k_aggregate => "`aggregate`",
        k_sort => "`sort`",
        k_limit => "`limit`",
        k_distinct => "`distinct`",
        k_union => "`union`",
        k_incremental => "`incremental`",
        k_contract => "`contract`",
        k_to => "`to`",
        k_mode => "`mode`",
        k_partition => "`partition`",
        k_over => "`over`",
        k_keep => "`keep`",
        k_per => "`per`",
        keep_step => "`keep N per k by e`",
        k_order => "`order`",
        k_rows => "`rows`",
        k_row => "`row`",
        k_unbounded => "`unbounded`",
        k_current => "`current`",
        k_preceding => "`preceding`",
        k_following => "`following`",
        over => "`over (…)`",
        window_parts => "`partition by`",
        window_order => "`order by`",
        frame => "`rows between … and …`",
        frame_bound | frame_dir => {
            "`unbounded preceding`, `N preceding`, `current row`, `N following` or `unbounded following`"
        }
        k_in => "`in`",
        k_between => "`between`",
        k_like => "`like`",
        k_is => "`is`",
        k_case => "`case`",
        k_when => "`when`",
        k_then => "`then`",
        k_else => "`else`",
        k_end => "`end`",
        k_true => "`true`",
        k_false => "`false`",
        k_cast => "`cast`",
        k_asc => "`asc`",
        k_desc => "`desc`",
        k_fn | k_aggregate_fn | k_window_fn | stdlib_file | signature | arg_ty | variadic | ret_ty | sig_props
        | sig_prop => "a signature",
        WHITESPACE | COMMENT => "whitespace",
        ident_start | ident_cont => "a name",
        source_member => "a column, `join`, `measure` or `dimension`",
        step => {
            "a step (`where`, `select`, `derive`, `join`, `group by`, `aggregate`, `sort`, `limit`, `distinct`, `union`, `keep`, `closure`, `unnest`)"
        }
        literal => "a literal",
        star_arg => "`*`",
        k_type | type_alias => "`type`",
        k_list | list_type => "`list<T>`",
        k_struct | struct_type => "`struct<name: T, …>`",
        struct_field => "a field `name: type`",
        k_map | map_type => "`map<K, V>`",
        struct_expr => "`struct(name = value, …)`",
        struct_part => "a field `name = value`",
        // postfix like `is null`: one "operator" in what is expected
        index | member | accessor => "an operator",
        call_order => "`order by …`",
        k_unnest | unnest_step => "`unnest`",
        unnest_keep | k_empty => "`keep empty`",
        unnest_position | k_with | k_ordinality => "`with ordinality as name`",
    }
}
