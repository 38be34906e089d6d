//! semc's own optimizer rewrites (`engine::rewrites`): each changes the plan `semc explain`
//! shows, and not the rows — over data made to catch a rewrite misapplied (orphan keys,
//! null keys, a semi join's key that matches only an orphan).

use crate::fixtures::{column, int_table, semc, table_rows, workspace};
use std::path::Path;

/// The logical plan `semc explain` shows for `output`, one line per node.
fn logical_plan(dir: &Path, output: &str) -> Vec<String> {
    let (code, out, err) = semc(&["explain", dir.to_str().unwrap(), "--output", output]);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .skip_while(|l| !l.starts_with("== logical plan"))
        .skip(1)
        .take_while(|l| !l.starts_with("=="))
        .map(str::to_string)
        .collect()
}

/// Runs the workspace at `dir` with `semc run`.
fn run(dir: &Path) {
    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
}

/// The rows `dir`'s output written to `out/<output>` holds, in stored order.
async fn written(dir: &Path, output: &str) -> Vec<Vec<String>> {
    let location = url::Url::from_directory_path(std::fs::canonicalize(dir.join("out").join(output)).unwrap()).unwrap();
    table_rows(location.as_str()).await.1
}

/// Rows written out as text.
fn rows(rows: &[[&str; 3]]) -> Vec<Vec<String>> {
    rows.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect()
}

/// How deep the first node whose line starts with `node` is in `plan` (its indentation).
fn depth(plan: &[String], node: &str) -> usize {
    plan.iter()
        .find(|l| l.trim_start().starts_with(node))
        .map(|l| l.len() - l.trim_start().len())
        .unwrap_or_else(|| panic!("no `{node}` in\n{}", plan.join("\n")))
}

/// How deep the first join whose line names `keys` (`i_ord =`) is in `plan`.
fn join_depth(plan: &[String], keys: &str) -> usize {
    plan.iter()
        .find(|l| l.contains("Join:") && l.contains(keys))
        .map(|l| l.len() - l.trim_start().len())
        .unwrap_or_else(|| panic!("no join on `{keys}` in\n{}", plan.join("\n")))
}

/// A semi or anti join on the base table's own columns is moved below the left joins of
/// dotted paths: the plan shows it under them, and every row is the one a plain left join
/// then semi (or anti) join gives — orphan rows (their order missing) and null keys kept or
/// dropped exactly as before.
#[tokio::test]
async fn semi_and_anti_joins_move_below_path_joins_and_keep_the_rows() {
    let dir = workspace(
        "rewrite_semi_first",
        &[],
        &[(
            "w.sem",
            r#"
source orders from delta("t/orders") { o_id: int64 key
  o_cust: int64 }
source flagged from delta("t/flagged") { f_order: int64 }
source items from delta("t/items") {
  i_id: int64 key
  i_order: int64
  i_qty: int64
  join orders many_to_one on i_order = orders.o_id
}
model kept from items {
  join flagged as f semi on i_order = f.f_order
  select { i_id, i_qty, o_cust = orders.o_cust }
  sort i_id
}
model dropped from items {
  join flagged as f anti on i_order = f.f_order
  select { i_id, i_qty, o_cust = orders.o_cust }
  sort i_id
}
output kept to delta("out/kept") mode overwrite
output dropped to delta("out/dropped") mode overwrite
"#,
        )],
    );
    // orders 1..=3; items reference them, an orphan order (9) and no order (null);
    // flagged names orders 1 and 9 (the orphan) and a null
    int_table(
        &dir.join("t/orders"),
        &[
            ("o_id", vec![Some(1), Some(2), Some(3)]),
            ("o_cust", vec![Some(10), Some(20), Some(30)]),
        ],
    )
    .await;
    int_table(
        &dir.join("t/flagged"),
        &[("f_order", vec![Some(1), Some(9), None, Some(1)])],
    )
    .await;
    let orders = vec![Some(1), Some(1), Some(2), Some(9), None, Some(3), Some(9)];
    let n = orders.len() as i64;
    int_table(
        &dir.join("t/items"),
        &[
            ("i_id", (1..=n).map(Some).collect()),
            ("i_order", orders),
            ("i_qty", (1..=n).map(|i| Some(i * 100)).collect()),
        ],
    )
    .await;

    for output in ["kept", "dropped"] {
        let plan = logical_plan(&dir, output);
        let semi = if output == "kept" {
            "LeftSemi Join"
        } else {
            "LeftAnti Join"
        };
        assert!(
            depth(&plan, semi) > depth(&plan, "Left Join"),
            "the {semi} is below the path's left join:\n{}",
            plan.join("\n")
        );
    }

    run(&dir);
    // items 1, 2 (order 1) and the orphans 4, 7 (order 9) are flagged; the orphans read no customer
    assert_eq!(
        written(&dir, "kept").await,
        rows(&[
            ["1", "100", "10"],
            ["2", "200", "10"],
            ["4", "400", "NULL"],
            ["7", "700", "NULL"]
        ])
    );
    // an anti join keeps the null key (it equals nothing) and the unflagged orders
    assert_eq!(
        written(&dir, "dropped").await,
        rows(&[["3", "300", "20"], ["5", "500", "NULL"], ["6", "600", "30"]])
    );
}

/// A semi join on a column a path brings (`orders.o_cust`) stays above that path's join:
/// below it the column does not exist yet.
#[tokio::test]
async fn a_semi_join_on_a_path_column_stays_above_the_path() {
    let dir = workspace(
        "rewrite_semi_stays",
        &[("tpch", "tpch")],
        &[(
            "w.sem",
            r#"
source customer from delta("tpch/customer") { c_custkey: int64 key }
source orders from delta("tpch/orders") { o_orderkey: int64 key
  o_custkey: int64 }
source lineitem from delta("tpch/lineitem") {
  l_orderkey: int64
  l_linenumber: int32
  join orders many_to_one on l_orderkey = orders.o_orderkey
}
model few from customer { where c_custkey < 10 }
model lines_of_few from lineitem {
  derive { customer_key = orders.o_custkey }
  join few semi on customer_key = few.c_custkey
  select { l_orderkey, l_linenumber }
}
output lines_of_few to delta("out/lines_of_few") mode overwrite
"#,
        )],
    );
    let plan = logical_plan(&dir, "lines_of_few");
    assert!(
        depth(&plan, "LeftSemi Join") < depth(&plan, "Left Join"),
        "{}",
        plan.join("\n")
    );
}

/// A join to an aggregate grouped by the join key, from rows restricted by a filtered table
/// (`where part.p_kind == 1`): the aggregate's input is semi-joined with that table's keys
/// before it is aggregated (`semc_sideways` under the `Aggregate`), and the sums are those
/// of every row of each kept part — orphan and null keys included in the data.
#[tokio::test]
async fn an_aggregate_is_restricted_to_the_keys_the_other_side_can_match() {
    let dir = workspace(
        "rewrite_sideways",
        &[],
        &[(
            "w.sem",
            r#"
source parts from delta("t/parts") { p_id: int64 key
  p_kind: int64 }
source sales from delta("t/sales") {
  s_id: int64 key
  s_part: int64
  s_qty: int64
  join parts many_to_one on s_part = parts.p_id
}
model per_part from sales {
  group by s_part
  aggregate { total = sum(s_qty) }
}
model chosen from sales {
  where parts.p_kind == 1
  join per_part as p many_to_one on s_part = p.s_part
  select { s_id, s_qty, total = p.total }
  sort s_id
}
output chosen to delta("out/chosen") mode overwrite
"#,
        )],
    );
    int_table(
        &dir.join("t/parts"),
        &[
            ("p_id", vec![Some(1), Some(2), Some(3)]),
            ("p_kind", vec![Some(1), Some(2), Some(1)]),
        ],
    )
    .await;
    // part 9 is an orphan, sale 6 has no part
    let parts = vec![Some(1), Some(1), Some(2), Some(3), Some(9), None, Some(3), Some(2)];
    let qty = vec![10, 20, 30, 40, 50, 60, 80, 5];
    int_table(
        &dir.join("t/sales"),
        &[
            ("s_id", (1..=8).map(Some).collect()),
            ("s_part", parts),
            ("s_qty", qty.into_iter().map(Some).collect()),
        ],
    )
    .await;

    let plan = logical_plan(&dir, "chosen");
    assert!(
        depth(&plan, "SubqueryAlias: semc_sideways") > depth(&plan, "Aggregate:"),
        "the aggregate reads only the filtered parts' keys:\n{}",
        plan.join("\n")
    );
    run(&dir);
    assert_eq!(
        written(&dir, "chosen").await,
        rows(&[
            ["1", "10", "30"],
            ["2", "20", "30"],
            ["4", "40", "120"],
            ["7", "80", "120"]
        ])
    );
}

/// A join to a table on a key the filtered table restricts (`where parts.p_kind == 1`, then
/// `offers.o_cost` on the sale's part and supplier): the table, by row counts larger than
/// the filtered one and smaller than this side's, is semi-joined with the filtered table's
/// keys before it is joined (`semc_sideways` under the offers join), and every sale of a
/// kept part is there with its offer's cost — a sale without an offer, an offer of a part
/// not kept, null keys on both sides and an orphan part included in the data. A semi join
/// of the sales with the sales themselves is left as it is.
#[tokio::test]
async fn a_table_is_restricted_to_the_keys_the_other_side_can_match() {
    let dir = workspace(
        "rewrite_sideways_table",
        &[],
        &[(
            "w.sem",
            r#"
source parts from delta("t/parts") { p_id: int64 key
  p_kind: int64 }
source offers from delta("t/offers") {
  o_part: int64
  o_sup: int64
  o_cost: int64
  key (o_part, o_sup)
}
source sales from delta("t/sales") {
  s_id: int64 key
  s_part: int64
  s_sup: int64
  join parts many_to_one on s_part = parts.p_id
  join offers many_to_one on s_part = offers.o_part and s_sup = offers.o_sup
}
model chosen from sales {
  where parts.p_kind == 1
  select { s_id, s_sup, cost = offers.o_cost }
  sort s_id
}
output chosen to delta("out/chosen") mode overwrite
model twins from sales {
  where parts.p_kind == 1
  join sales as other semi on s_part = other.s_part and other.s_id != s_id
  select { s_id }
  sort s_id
}
output twins to delta("out/twins") mode overwrite
"#,
        )],
    );
    int_table(
        &dir.join("t/parts"),
        &[
            ("p_id", vec![Some(1), Some(2), Some(3)]),
            ("p_kind", vec![Some(1), Some(2), Some(1)]),
        ],
    )
    .await;
    // offers of part 2 (not kept) and of a null part, none for (3, 20)
    int_table(
        &dir.join("t/offers"),
        &[
            ("o_part", vec![Some(1), Some(1), Some(2), Some(2), Some(3), None]),
            (
                "o_sup",
                vec![Some(10), Some(20), Some(10), Some(20), Some(10), Some(10)],
            ),
            (
                "o_cost",
                vec![Some(100), Some(200), Some(300), Some(400), Some(500), Some(600)],
            ),
        ],
    )
    .await;
    // sale 3 is of part 2, 5 of an orphan part, 6 of no part; 7 has no offer, 8 a null supplier
    int_table(
        &dir.join("t/sales"),
        &[
            ("s_id", (1..=10).map(Some).collect()),
            (
                "s_part",
                vec![
                    Some(1),
                    Some(1),
                    Some(2),
                    Some(3),
                    Some(9),
                    None,
                    Some(3),
                    Some(1),
                    Some(3),
                    Some(2),
                ],
            ),
            (
                "s_sup",
                vec![
                    Some(10),
                    Some(20),
                    Some(10),
                    Some(10),
                    Some(10),
                    Some(10),
                    Some(20),
                    None,
                    Some(10),
                    Some(20),
                ],
            ),
        ],
    )
    .await;

    let plan = logical_plan(&dir, "chosen");
    assert!(
        depth(&plan, "SubqueryAlias: semc_sideways") > depth(&plan, "Left Join:"),
        "the offers joined are only the kept parts':\n{}",
        plan.join("\n")
    );
    // the sales semi-joined with sales: not restricted (a pass over the largest table itself)
    let twins = logical_plan(&dir, "twins");
    assert!(
        !twins.iter().any(|l| l.contains("semc_sideways")),
        "{}",
        twins.join("\n")
    );
    run(&dir);
    let ids = |ids: &[&str]| ids.iter().map(|i| vec![i.to_string()]).collect::<Vec<_>>();
    assert_eq!(written(&dir, "twins").await, ids(&["1", "2", "4", "7", "8", "9"]));
    assert_eq!(
        written(&dir, "chosen").await,
        rows(&[
            ["1", "10", "100"],
            ["2", "20", "200"],
            ["4", "10", "500"],
            ["7", "20", "NULL"],
            ["8", "NULL", "NULL"],
            ["9", "10", "500"]
        ])
    );
}

/// A filtered later hop of a dotted path (`ord.cust.c_seg == 1`) joins its parent first
/// (orders to the chosen customers), and the base table joins that: the plan shows the
/// customer join below the item-to-order join, and the rows are those of the path's
/// joins as written — orphan and null keys on both hops dropped by the filter alike.
#[tokio::test]
async fn a_filtered_later_hop_joins_its_parent_first() {
    let dir = workspace(
        "rewrite_filtered_hop",
        &[],
        &[(
            "w.sem",
            r#"
source cust from delta("t/cust") { c_id: int64 key
  c_seg: int64 }
source ord from delta("t/ord") {
  o_id: int64 key
  o_cust: int64
  o_val: int64
  join cust many_to_one on o_cust = cust.c_id
}
source item from delta("t/item") {
  i_id: int64 key
  i_ord: int64
  i_qty: int64
  join ord many_to_one on i_ord = ord.o_id
}
model chosen from item {
  where ord.cust.c_seg == 1
  select { i_id, i_qty, o_val = ord.o_val }
  sort i_id
}
output chosen to delta("out/chosen") mode overwrite
"#,
        )],
    );
    int_table(
        &dir.join("t/cust"),
        &[("c_id", vec![Some(1), Some(2)]), ("c_seg", vec![Some(1), Some(2)])],
    )
    .await;
    // order 12's customer is an orphan, order 13 has none
    int_table(
        &dir.join("t/ord"),
        &[
            ("o_id", vec![Some(10), Some(11), Some(12), Some(13)]),
            ("o_cust", vec![Some(1), Some(2), Some(9), None]),
            ("o_val", vec![Some(100), Some(110), Some(120), Some(130)]),
        ],
    )
    .await;
    // item 5's order is an orphan, item 6 has none
    int_table(
        &dir.join("t/item"),
        &[
            ("i_id", (1..=7).map(Some).collect()),
            (
                "i_ord",
                vec![Some(10), Some(11), Some(12), Some(13), Some(99), None, Some(10)],
            ),
            (
                "i_qty",
                vec![Some(5), Some(6), Some(7), Some(8), Some(9), Some(10), Some(11)],
            ),
        ],
    )
    .await;

    let plan = logical_plan(&dir, "chosen");
    assert!(
        join_depth(&plan, "o_cust =") > join_depth(&plan, "i_ord ="),
        "orders join the chosen customers first:\n{}",
        plan.join("\n")
    );
    run(&dir);
    assert_eq!(
        written(&dir, "chosen").await,
        rows(&[["1", "5", "100"], ["7", "11", "100"]])
    );
}

/// Of two filtered hops from the base table, the one to a table the Delta log counts 1 % of
/// the other's rows in joins first, whichever the model names first: the plan shows the
/// join on the small table below the join on the large one, and the rows are those of both joins as
/// written — orphan and null keys on both hops, and rows each filter drops, dropped alike.
#[tokio::test]
async fn the_hop_to_the_smaller_table_joins_first() {
    let dir = workspace(
        "rewrite_smaller_hop",
        &[],
        &[(
            "w.sem",
            r#"
source ord from delta("t/ord") { o_id: int64 key
  o_flag: int64
  o_val: int64 }
source sup from delta("t/sup") { s_id: int64 key
  s_flag: int64 }
source item from delta("t/item") {
  i_id: int64 key
  i_ord: int64
  i_sup: int64
  i_qty: int64
  join ord many_to_one on i_ord = ord.o_id
  join sup many_to_one on i_sup = sup.s_id
}
model chosen from item {
  where ord.o_flag == 1 and sup.s_flag == 1
  select { i_id, i_qty, o_val = ord.o_val }
  sort i_id
}
output chosen to delta("out/chosen") mode overwrite
"#,
        )],
    );
    // 200 orders (flags 1, 0, 1, null, 1, 1, then 0), two suppliers: 1 %
    let flags = [Some(1), Some(0), Some(1), None, Some(1), Some(1)];
    int_table(
        &dir.join("t/ord"),
        &[
            ("o_id", (10..210).map(Some).collect()),
            (
                "o_flag",
                (0..200).map(|i| flags.get(i).copied().unwrap_or(Some(0))).collect(),
            ),
            ("o_val", (10..210).map(|i| Some(i * 10)).collect()),
        ],
    )
    .await;
    int_table(
        &dir.join("t/sup"),
        &[("s_id", vec![Some(1), Some(2)]), ("s_flag", vec![Some(1), Some(0)])],
    )
    .await;
    // items 1 and 9 pass both; the others fail a filter, or have an orphan (99, 9) or a null
    // key on one hop
    int_table(
        &dir.join("t/item"),
        &[
            ("i_id", (1..=9).map(Some).collect()),
            (
                "i_ord",
                vec![
                    Some(10),
                    Some(11),
                    Some(12),
                    Some(13),
                    Some(99),
                    None,
                    Some(14),
                    Some(15),
                    Some(12),
                ],
            ),
            (
                "i_sup",
                vec![
                    Some(1),
                    Some(1),
                    Some(2),
                    Some(1),
                    Some(1),
                    Some(1),
                    Some(9),
                    None,
                    Some(1),
                ],
            ),
            ("i_qty", (1..=9).map(|i| Some(i * 5)).collect()),
        ],
    )
    .await;

    let plan = logical_plan(&dir, "chosen");
    assert!(
        join_depth(&plan, "i_sup =") > join_depth(&plan, "i_ord ="),
        "the two suppliers join first:\n{}",
        plan.join("\n")
    );
    run(&dir);
    assert_eq!(
        written(&dir, "chosen").await,
        rows(&[["1", "5", "100"], ["9", "45", "120"]])
    );
}

/// A filter's conditions that cannot fail are evaluated cheapest first — a column against a
/// literal, then two columns, fixed-width values before strings — and every other condition
/// after them, in its written order (`engine/conditions.rs`); the rows are the same.
#[tokio::test]
async fn a_filters_cheap_conditions_are_evaluated_first() {
    use datafusion::arrow::array::{Int64Array, StringArray};
    let dir = workspace(
        "rewrite_conditions",
        &[],
        &[(
            "w.sem",
            r#"
source item from delta("t/item") {
  id: int64 key
  kind: string
  qty: int64
  cap: int64
}
model picked from item {
  where kind in ["a", "b"] and 100 / qty > 10 and qty < cap and id >= 3 and kind != "zz"
  select { id, kind, qty }
  sort id
}
output picked to delta("out/picked") mode overwrite
"#,
        )],
    );
    crate::fixtures::table(
        &dir.join("t/item"),
        vec![
            column("id", Int64Array::from_iter_values(1..=8)),
            column(
                "kind",
                StringArray::from(vec![
                    Some("a"),
                    Some("b"),
                    Some("a"),
                    Some("c"),
                    None,
                    Some("b"),
                    Some("a"),
                    Some("b"),
                ]),
            ),
            column(
                "qty",
                Int64Array::from(vec![
                    Some(5),
                    Some(5),
                    Some(5),
                    Some(5),
                    Some(5),
                    Some(9),
                    Some(20),
                    None,
                ]),
            ),
            column(
                "cap",
                Int64Array::from(vec![
                    Some(9),
                    Some(9),
                    Some(9),
                    Some(9),
                    Some(9),
                    Some(9),
                    Some(99),
                    Some(9),
                ]),
            ),
        ],
    )
    .await;

    let plan = logical_plan(&dir, "picked").join(" ");
    let at = |needle: &str| plan.find(needle).unwrap_or_else(|| panic!("no `{needle}` in {plan}"));
    let order = [".id >= Int64(3)", ".qty < ", ".kind != Utf8", ".kind = Utf8", "/ "];
    for pair in order.windows(2) {
        assert!(
            at(pair[0]) < at(pair[1]),
            "`{}` is not before `{}`: {plan}",
            pair[0],
            pair[1]
        );
    }

    run(&dir);
    // 1, 2: id below 3; 4: kind c; 5: no kind; 6: qty 9 is not below its cap 9; 7: 100 / 20
    // is 5; 8: no qty
    assert_eq!(written(&dir, "picked").await, rows(&[["3", "a", "5"]]));
}

/// `%` alone, as SQL's LIKE reads it: a reference that backtracks, unlike semc's search.
fn like(s: &[char], p: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('%', rest)) => (0..=s.len()).any(|skip| like(&s[skip..], rest)),
        Some((c, rest)) => s.first() == Some(c) && like(&s[1..], rest),
    }
}

/// A LIKE whose pattern is literal pieces between `%`s runs without a regular expression
/// (`engine/like.rs`): the plan calls `semc_like_in_pieces` for patterns of several pieces
/// (one piece stays the engine's own), and every pattern keeps the rows LIKE keeps.
#[tokio::test]
async fn a_like_of_several_pieces_keeps_the_rows_like_keeps() {
    use datafusion::arrow::array::{Int64Array, StringArray};
    let patterns = [
        "%special%requests%",
        "%ab%ba%",
        "a%b",
        "ab%ba",
        "a%b%c",
        "%a%%b",
        "%é%ü",
        "%ab%",
    ];
    let texts = [
        Some("xx special yy requests zz"),
        Some("requests then special"),
        Some("specialrequests"),
        Some("aba"),
        Some("abba"),
        Some("ab"),
        Some("a"),
        Some("a-b-c"),
        Some("a-c-b"),
        Some("xaxb"),
        Some(""),
        None,
        Some("ééü"),
        Some("üé"),
        Some("a long text, then ab and ba and c; then b"),
    ];
    let mut program = String::from("source text from delta(\"t/text\") {\n  id: int64 key\n  s: string\n}\n");
    for (i, p) in patterns.iter().enumerate() {
        program.push_str(&format!(
            "model like{i} from text {{\n  where s like \"{p}\"\n  select {{ id }}\n  sort id\n}}\n\
             output like{i} to delta(\"out/like{i}\") mode overwrite\n\
             model unlike{i} from text {{\n  where not (s like \"{p}\")\n  select {{ id }}\n  sort id\n}}\n\
             output unlike{i} to delta(\"out/unlike{i}\") mode overwrite\n"
        ));
    }
    let dir = workspace("rewrite_like", &[], &[("w.sem", &program)]);
    crate::fixtures::table(
        &dir.join("t/text"),
        vec![
            column("id", Int64Array::from_iter_values(0..texts.len() as i64)),
            column("s", StringArray::from(texts.to_vec())),
        ],
    )
    .await;

    for (i, p) in patterns.iter().enumerate() {
        let plan = logical_plan(&dir, &format!("like{i}")).join(" ");
        let several = p.split('%').filter(|piece| !piece.is_empty()).count() > 1;
        assert_eq!(plan.contains("semc_like_in_pieces"), several, "{p}: {plan}");
    }
    run(&dir);
    for (i, p) in patterns.iter().enumerate() {
        let p: Vec<char> = p.chars().collect();
        let ids = |keep: bool| -> Vec<Vec<String>> {
            texts
                .iter()
                .enumerate()
                .filter(|(_, s)| s.is_some_and(|s| like(&s.chars().collect::<Vec<_>>(), &p) == keep))
                .map(|(id, _)| vec![id.to_string()])
                .collect()
        };
        assert_eq!(written(&dir, &format!("like{i}")).await, ids(true), "like {p:?}");
        assert_eq!(written(&dir, &format!("unlike{i}")).await, ids(false), "not like {p:?}");
    }
}

/// A filter's leading comparisons of numbers and dates (with a column or a literal) are
/// evaluated on every row and combined at once (`engine/all_of.rs`): the physical plan calls
/// `semc_all_of` with them, the string condition after it. The rows are those every
/// condition holds for — a null in any comparison drops its row — over 5,000 rows, enough
/// that the comparisons so far keep under a fifth of a batch, where the engine's `and`
/// would go on with the rows kept only.
#[tokio::test]
async fn a_filters_comparisons_of_fixed_width_values_are_evaluated_together() {
    use datafusion::arrow::array::{Date32Array, Float64Array, Int64Array, StringArray};
    let dir = workspace(
        "rewrite_all_of",
        &[],
        &[(
            "w.sem",
            r#"
source item from delta("t/item") {
  id: int64 key
  day: date
  qty: int64
  price: float64
  cap: float64
  kind: string
}
model picked from item {
  where day >= date "2024-02-01" and day < date "2024-03-01" and qty <= 7 and price < cap and kind != "z"
  select { id }
  sort id
}
output picked to delta("out/picked") mode overwrite
"#,
        )],
    );
    let n = 5_000i64;
    // days 19700.. (2023-12-09 on); a null every 11th qty, 13th price, 17th kind
    let day = |i: i64| 19_700 + (i * 7) % 120;
    let qty = |i: i64| (i % 11 != 0).then_some(i % 20);
    let price = |i: i64| (i % 13 != 0).then_some((i % 50) as f64);
    let cap = |i: i64| (i % 37) as f64;
    let kind = |i: i64| (i % 17 != 0).then_some(if i % 5 == 0 { "z" } else { "a" });
    crate::fixtures::table(
        &dir.join("t/item"),
        vec![
            column("id", Int64Array::from_iter_values(0..n)),
            column("day", Date32Array::from_iter_values((0..n).map(|i| day(i) as i32))),
            column("qty", Int64Array::from_iter((0..n).map(qty))),
            column("price", Float64Array::from_iter((0..n).map(price))),
            column("cap", Float64Array::from_iter_values((0..n).map(cap))),
            column("kind", StringArray::from_iter((0..n).map(kind))),
        ],
    )
    .await;

    let (code, out, err) = semc(&["explain", dir.to_str().unwrap(), "--output", "picked"]);
    assert_eq!(code, 0, "{err}");
    let physical = out
        .split("== physical plan")
        .nth(1)
        .unwrap_or_default()
        .replace('\n', " ");
    let all_of = physical
        .split("semc_all_of(")
        .nth(1)
        .unwrap_or_else(|| panic!("no semc_all_of in {physical}"));
    let (inside, after) = all_of.split_once(')').unwrap_or((all_of, ""));
    for comparison in ["day@", "qty@", "price@"] {
        assert!(
            inside.contains(comparison),
            "`{comparison}` not in semc_all_of: {physical}"
        );
    }
    assert!(!inside.contains("kind@") && after.contains("kind@"), "{physical}");

    run(&dir);
    // 2024-02-01 is day 19754, 2024-03-01 day 19783
    let want: Vec<Vec<String>> = (0..n)
        .filter(|&i| {
            (19_754..19_783).contains(&day(i))
                && qty(i).is_some_and(|q| q <= 7)
                && price(i).is_some_and(|p| p < cap(i))
                && kind(i).is_some_and(|k| k != "z")
        })
        .map(|i| vec![i.to_string()])
        .collect();
    assert!(want.len() > 10 && (want.len() as i64) < n / 20, "{}", want.len());
    assert_eq!(written(&dir, "picked").await, want);
}

/// A filter's conditions are evaluated in turn (`engine/in_turn.rs`), each on the rows the
/// ones before kept once those are a fifth of a batch or fewer, copying only the columns it
/// reads: the physical plan shows `semc_in_turn`, and each model keeps the rows every
/// condition holds for — a null in any drops its row. `few` keeps a tenth of the rows with
/// its first condition (the later ones see the kept rows, of columns in another order than
/// the batch's: two columns compared, a string, a LIKE, arithmetic); `most` keeps four fifths
/// with its first (the next ones see the whole batch).
#[tokio::test]
async fn a_filters_later_conditions_see_the_rows_the_earlier_ones_kept() {
    use datafusion::arrow::array::{Float64Array, Int64Array, StringArray};
    let dir = workspace(
        "rewrite_in_turn",
        &[],
        &[(
            "w.sem",
            r#"
source item from delta("t/item") {
  id: int64 key
  grp: int64
  qty: int64
  price: float64
  cap: float64
  kind: string
  name: string
}
model few from item {
  where grp == 3 and kind != "z" and name like "%b%" and qty * 2 + 1 > 9 and price < cap
  select { id }
  sort id
}
model most from item {
  where qty <= 15 and kind != "z" and name like "%b%"
  select { id }
  sort id
}
output few to delta("out/few") mode overwrite
output most to delta("out/most") mode overwrite
"#,
        )],
    );
    let n = 5_000i64;
    // a null every 23rd grp, 11th qty, 13th price, 17th kind, 19th name
    let grp = |i: i64| (i % 23 != 0).then_some(i % 10);
    let qty = |i: i64| (i % 11 != 0).then_some(i % 20);
    let price = |i: i64| (i % 13 != 0).then_some((i % 50) as f64);
    let cap = |i: i64| (i % 37) as f64;
    let kind = |i: i64| (i % 17 != 0).then_some(if i % 5 == 0 { "z" } else { "a" });
    let name = |i: i64| (i % 19 != 0).then(|| if i % 3 == 0 { format!("abc{i}") } else { format!("a{i}") });
    crate::fixtures::table(
        &dir.join("t/item"),
        vec![
            column("id", Int64Array::from_iter_values(0..n)),
            column("grp", Int64Array::from_iter((0..n).map(grp))),
            column("qty", Int64Array::from_iter((0..n).map(qty))),
            column("price", Float64Array::from_iter((0..n).map(price))),
            column("cap", Float64Array::from_iter_values((0..n).map(cap))),
            column("kind", StringArray::from_iter((0..n).map(kind))),
            column("name", StringArray::from_iter((0..n).map(name))),
        ],
    )
    .await;

    for output in ["few", "most"] {
        let (code, out, err) = semc(&["explain", dir.to_str().unwrap(), "--output", output]);
        assert_eq!(code, 0, "{err}");
        let physical = out.split("== physical plan").nth(1).unwrap_or_default();
        assert!(physical.contains("semc_in_turn("), "{physical}");
    }
    run(&dir);
    let ids = |keep: &dyn Fn(i64) -> bool| -> Vec<Vec<String>> {
        (0..n).filter(|&i| keep(i)).map(|i| vec![i.to_string()]).collect()
    };
    let kind_ok = |i: i64| kind(i).is_some_and(|k| k != "z");
    let name_ok = |i: i64| name(i).is_some_and(|s| s.contains('b'));
    let few = ids(&|i| {
        grp(i) == Some(3)
            && kind_ok(i)
            && name_ok(i)
            && qty(i).is_some_and(|q| q * 2 + 1 > 9)
            && price(i).is_some_and(|p| p < cap(i))
    });
    let most = ids(&|i| qty(i).is_some_and(|q| q <= 15) && kind_ok(i) && name_ok(i));
    assert!(few.len() > 10 && most.len() > 500, "{} {}", few.len(), most.len());
    assert_eq!(written(&dir, "few").await, few);
    assert_eq!(written(&dir, "most").await, most);
}

/// A filter's comparisons of a string column with literals — `==`, `!=`, `in`, `not in`,
/// an `or` of equalities, a literal on either side — compare each row's view whole
/// (`engine/equals_any.rs`): the physical plan calls `semc_equals_any` for each, and every
/// model keeps the rows its written condition keeps, nulls none. The strings are made to
/// catch a view compared wrongly: the empty string, one of exactly 12 bytes (the longest
/// held in the view), longer ones that share the literal's length and first 4 bytes (all
/// a view holds of them) or its first 17 bytes, non-ASCII text, over 20,000 rows.
#[tokio::test]
async fn a_filters_comparisons_of_strings_with_literals_keep_the_rows_they_keep() {
    use datafusion::arrow::array::{Int64Array, StringArray};
    let values: [Option<&str>; 12] = [
        Some(""),
        Some("R"),
        Some("AIR"),
        Some("AIR REG"),
        Some("TWELVE BYTES"),
        Some("TWELVE BYTES!"),
        Some("DELIVER IN PERSON"),
        Some("DELIVER IN PERSOM"),
        Some("DELIVER IN PERSONS"),
        Some("DELI"),
        Some("ünïcödé, über zwölf"),
        None,
    ];
    // (model, condition, which values it keeps)
    type Keeps = fn(&str) -> bool;
    let models: [(&str, &str, Keeps); 11] = [
        ("short", r#"s == "AIR""#, |s| s == "AIR"),
        ("empty", r#"s == """#, |s| s.is_empty()),
        ("twelve", r#"s == "TWELVE BYTES""#, |s| s == "TWELVE BYTES"),
        ("long", r#"s == "DELIVER IN PERSON""#, |s| s == "DELIVER IN PERSON"),
        ("left", r#""DELIVER IN PERSONS" == s"#, |s| s == "DELIVER IN PERSONS"),
        ("unequal", r#"s != "DELIVER IN PERSON""#, |s| s != "DELIVER IN PERSON"),
        (
            "listed",
            r#"s in ["AIR", "DELIVER IN PERSOM", "ünïcödé, über zwölf", "NOT THERE AT ALL"]"#,
            |s| ["AIR", "DELIVER IN PERSOM", "ünïcödé, über zwölf"].contains(&s),
        ),
        ("unlisted", r#"s not in ["R", "TWELVE BYTES!"]"#, |s| {
            !["R", "TWELVE BYTES!"].contains(&s)
        }),
        ("either", r#"s == "R" or s == "AIR REG" or s == "DELI""#, |s| {
            ["R", "AIR REG", "DELI"].contains(&s)
        }),
        ("neither", r#"not (s == "R" or s == "AIR REG")"#, |s| {
            !["R", "AIR REG"].contains(&s)
        }),
        ("short_unequal", r#"s != """#, |s| !s.is_empty()),
    ];
    let mut program = String::from("source text from delta(\"t/text\") {\n  id: int64 key\n  s: string\n}\n");
    for (name, condition, _) in &models {
        program.push_str(&format!(
            "model {name} from text {{\n  where {condition}\n  select {{ id }}\n  sort id\n}}\n\
             output {name} to delta(\"out/{name}\") mode overwrite\n"
        ));
    }
    let dir = workspace("rewrite_equals_any", &[], &[("w.sem", &program)]);
    let n = 20_011i64;
    let value = |i: i64| values[((i * 5 + i / 12) % values.len() as i64) as usize];
    crate::fixtures::table(
        &dir.join("t/text"),
        vec![
            column("id", Int64Array::from_iter_values(0..n)),
            column("s", StringArray::from_iter((0..n).map(value))),
        ],
    )
    .await;

    for (name, condition, _) in &models {
        let (code, out, err) = semc(&["explain", dir.to_str().unwrap(), "--output", name]);
        assert_eq!(code, 0, "{err}");
        let physical = out.split("== physical plan").nth(1).unwrap_or_default();
        assert!(physical.contains("semc_equals_any(s@"), "{condition}: {physical}");
    }
    run(&dir);
    for (name, condition, keeps) in &models {
        let want: Vec<Vec<String>> = (0..n)
            .filter(|&i| value(i).is_some_and(keeps))
            .map(|i| vec![i.to_string()])
            .collect();
        assert!(!want.is_empty() && (want.len() as i64) < n, "{condition}");
        assert_eq!(written(&dir, name).await, want, "{condition}");
    }
}

/// Ranges of one column joined by `or` that overlap or touch are evaluated as one range,
/// first and on every row at once (`engine/ranges.rs`: TPC-H Q19's three quantity ranges);
/// ranges with a gap between them, or whose union is every value, stay as written. Every
/// model keeps the rows its written condition keeps, nulls none.
#[tokio::test]
async fn ranges_of_one_column_joined_by_or_are_one_range() {
    use datafusion::arrow::array::Int64Array;
    // (model, condition, the filter the physical plan shows, the condition in Rust)
    type Keeps = fn(i64) -> bool;
    let models: [(&str, &str, &str, Keeps); 7] = [
        (
            "overlapping",
            "x between 1 and 11 or x between 10 and 20 or x between 20 and 30",
            "semc_all_of(x@1 >= 1, x@1 <= 30)",
            |x| (1..=30).contains(&x),
        ),
        (
            "touching",
            "x >= 5 and x < 10 or x >= 10 and x < 12",
            "semc_all_of(x@1 >= 5, x@1 < 12)",
            |x| (5..12).contains(&x),
        ),
        (
            "open_at_the_meeting_point",
            "x > 5 and x < 10 or x > 10 and x < 12",
            "x@1 > 5 AND x@1 < 10 OR x@1 > 10 AND x@1 < 12",
            |x| (x > 5 && x < 10) || (x > 10 && x < 12),
        ),
        (
            "with_a_gap",
            "x < 0 or x == 0 or x > 30",
            "x@1 < 0 OR x@1 = 0 OR x@1 > 30",
            |x| x <= 0 || x > 30,
        ),
        ("every_value", "x < 3 or x >= 2", "x@1 < 3 OR x@1 >= 2", |_| true),
        (
            "unbounded_above",
            "x > 35 or x == 35 or (x >= 30 and x < 36)",
            "x@1 >= 30",
            |x| x >= 30,
        ),
        (
            "first_among_other_conditions",
            "id % 2 == 0 and (x between 1 and 11 or x between 10 and 20) and id != 4",
            "semc_in_turn(semc_all_of(x@1 >= 1, x@1 <= 20, id@0 != 4), id@0 % 2 = 0)",
            |x| (1..=20).contains(&x),
        ),
    ];
    let mut program = String::from("source item from delta(\"t/item\") { id: int64 key  x: int64 }\n");
    for (name, condition, _, _) in &models {
        program.push_str(&format!(
            "model {name} from item {{\n  where {condition}\n  select {{ id }}\n  sort id\n}}\noutput {name} to delta(\"out/{name}\") mode overwrite\n"
        ));
    }
    let dir = workspace("rewrite_ranges", &[], &[("w.sem", &program)]);
    // x from -20 to 40, null for every seventh id
    let x = |id: i64| (id % 7 != 0).then_some(id - 21);
    crate::fixtures::table(
        &dir.join("t/item"),
        vec![
            column("id", Int64Array::from_iter_values(1..=61)),
            column("x", Int64Array::from_iter((1..=61).map(x))),
        ],
    )
    .await;

    for (name, condition, shown, _) in &models {
        let (code, out, err) = semc(&["explain", dir.to_str().unwrap(), "--output", name]);
        assert_eq!(code, 0, "{err}");
        let filter = out
            .split("FilterExec: ")
            .nth(1)
            .and_then(|f| f.split(", projection=").next())
            .unwrap_or_else(|| panic!("no filter in {out}"));
        assert_eq!(filter, *shown, "`{condition}`");
    }
    run(&dir);
    for (name, condition, _, keeps) in &models {
        let also = |id: i64| !name.starts_with("first") || (id % 2 == 0 && id != 4);
        let want: Vec<Vec<String>> = (1..=61)
            .filter(|id| x(*id).is_some_and(keeps) && also(*id))
            .map(|id| vec![id.to_string()])
            .collect();
        assert_eq!(written(&dir, name).await, want, "`{condition}`");
    }
}

/// A partial aggregate first merges runs of equal keys (`engine/runs.rs`). Over a table
/// written in its key's order, each run becomes one row of partial state and no partition
/// is handed to the hash aggregate; over keys in no order, the rows past each partition's
/// first 100,000 are. Both give the rows computed here: runs of 1 to 7 rows, runs cut by
/// batch boundaries, a key whose rows come in two runs far apart, runs of null keys, a
/// second key that cuts runs in two, null values; 300,000 rows.
#[tokio::test]
async fn a_partial_aggregate_merges_runs_of_equal_keys_first() {
    use datafusion::arrow::array::{Decimal128Array, Float64Array, Int64Array, StringArray};
    use std::collections::BTreeMap;
    let dir = workspace(
        "rewrite_runs",
        &[],
        &[(
            "w.sem",
            r#"
source line from delta("t/line") {
  id: int64 key
  k: int64
  g: string
  v: int64
  f: float64
  p: decimal(30, 2)
}
model by_key from line {
  group by k
  aggregate { n = count(), total = sum(v), most = max(f), least = min(g), mean = avg(v), paid = sum(p * 3) }
  sort k
}
model by_two from line {
  group by k, g
  aggregate { n = count(v), total = sum(v) }
  sort k, g
}
model by_scattered from line {
  group by s = id * 7919 % 13
  aggregate { n = count(), total = sum(v) }
  sort s
}
output by_key to delta("out/by_key") mode overwrite
output by_two to delta("out/by_two") mode overwrite
output by_scattered to delta("out/by_scattered") mode overwrite
"#,
        )],
    );
    let n = 300_000i64;
    // runs of 1 to 7 rows; every 101st run's key is null; the last 500 rows are key 7 again
    let mut key = Vec::with_capacity(n as usize);
    let (mut current, mut left) = (0i64, 1i64);
    for _ in 0..n - 500 {
        if left == 0 {
            current += 1;
            left = current % 7 + 1;
        }
        left -= 1;
        key.push((current % 101 != 50).then_some(current));
    }
    key.extend(std::iter::repeat_n(Some(7), 500));
    // a second key that changes every 5 rows: some runs of `k` are two runs of `k, g`
    let g = |i: i64| if (i / 5) % 2 == 0 { "a" } else { "b" };
    let v = |i: i64| (i % 9 != 0).then_some(i % 1000);
    let f = |i: i64| (i % 11 != 0).then_some((i % 97) as f64 * 0.5);
    // in cents
    let p = |i: i64| (i % 7 != 0).then_some(i128::from(i % 10_000 - 5_000));
    crate::fixtures::table(
        &dir.join("t/line"),
        vec![
            column("id", Int64Array::from_iter_values(0..n)),
            column("k", Int64Array::from(key.clone())),
            column("g", StringArray::from_iter_values((0..n).map(g))),
            column("v", Int64Array::from_iter((0..n).map(v))),
            column("f", Float64Array::from_iter((0..n).map(f))),
            column(
                "p",
                Decimal128Array::from_iter((0..n).map(p))
                    .with_precision_and_scale(30, 2)
                    .unwrap(),
            ),
        ],
    )
    .await;

    for (output, handed_over) in [("by_key", false), ("by_two", false), ("by_scattered", true)] {
        let (code, out, err) = semc(&["explain", dir.to_str().unwrap(), "--analyze", "--output", output]);
        assert_eq!(code, 0, "{err}");
        let physical = out.split("== physical plan").nth(1).unwrap_or_default();
        // the partitions the node handed to the hash aggregate, from its metrics
        let hashed: String = physical
            .split("RunsFirstExec")
            .nth(1)
            .and_then(|node| node.split("hashed_partitions=").nth(1))
            .unwrap_or_default()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        assert_eq!(hashed != "0", handed_over, "{output}: {physical}");
        // a sum of decimals that may reach 29 digits is semc's checked sum, its own accumulator
        if output == "by_key" {
            assert!(physical.contains("semc_checked_sum"), "{physical}");
        }
    }
    run(&dir);

    let text = |x: Option<i64>| x.map_or("NULL".to_string(), |x| x.to_string());
    let mut by_key: BTreeMap<Option<i64>, Group> = BTreeMap::new();
    let mut by_two: BTreeMap<(Option<i64>, &str), Group> = BTreeMap::new();
    let mut by_scattered: BTreeMap<i64, Group> = BTreeMap::new();
    for i in 0..n {
        let k = key[i as usize];
        by_key.entry(k).or_default().add(v(i), f(i), g(i), p(i));
        by_two.entry((k, g(i))).or_default().add(v(i), f(i), g(i), p(i));
        by_scattered
            .entry(i * 7919 % 13)
            .or_default()
            .add(v(i), f(i), g(i), p(i));
    }
    // `sort k` puts the null key last
    let expected_by_key = rows_by_key(&by_key);
    let mut expected_by_two: Vec<Vec<String>> = by_two
        .iter()
        .map(|((k, g), e)| vec![text(*k), g.to_string(), e.values.to_string(), text(e.total)])
        .collect();
    expected_by_two.rotate_left(2);
    let expected_by_scattered: Vec<Vec<String>> = by_scattered
        .iter()
        .map(|(s, e)| vec![s.to_string(), e.rows.to_string(), text(e.total)])
        .collect();
    assert!(expected_by_key.len() > 60_000, "{}", expected_by_key.len());
    assert_eq!(written(&dir, "by_key").await, expected_by_key);
    assert_eq!(written(&dir, "by_two").await, expected_by_two);
    assert_eq!(written(&dir, "by_scattered").await, expected_by_scattered);
}

/// The rows of `group by k aggregate { n = count(), total = sum(v), most = max(f), least =
/// min(g), mean = avg(v), paid = sum(p * 3) } sort k` as semc writes them: the null key last.
fn rows_by_key(groups: &std::collections::BTreeMap<Option<i64>, Group>) -> Vec<Vec<String>> {
    let text = |x: Option<i64>| x.map_or("NULL".to_string(), |x| x.to_string());
    let mut rows: Vec<Vec<String>> = groups
        .iter()
        .map(|(k, e)| {
            let mean = e
                .total
                .map_or("NULL".to_string(), |t| format!("{:?}", t as f64 / e.values as f64));
            let most = e.most.map_or("NULL".to_string(), |m| format!("{m:?}"));
            let paid = e.paid.map_or("NULL".to_string(), |c| {
                let sign = if c < 0 { "-" } else { "" };
                format!("{sign}{}.{:02}", c.abs() / 100, c.abs() % 100)
            });
            vec![
                text(*k),
                e.rows.to_string(),
                text(e.total),
                most,
                e.least.clone(),
                mean,
                paid,
            ]
        })
        .collect();
    if groups.contains_key(&None) {
        rows.rotate_left(1);
    }
    rows
}

/// A final aggregate whose partition receives over a million rows of partial state (here
/// 2.5 M rows in about two rows a key, so the partial aggregates pass them on) computes its
/// groups one bucket of them at a time, the buckets split by a hash of the keys: the rows
/// are those of one hash table of every group, for one key or two, nulls included. A final
/// aggregate of few groups, or of over a million rows that are more than 4 a group, stays
/// the aggregate as planned.
#[tokio::test]
async fn a_final_aggregate_of_many_groups_is_computed_bucket_by_bucket() {
    use datafusion::arrow::array::{Decimal128Array, Float64Array, Int64Array, StringArray};
    use std::collections::BTreeMap;
    let dir = workspace(
        "rewrite_buckets",
        &[],
        &[
            // two partitions, as on the 2-core machines the sizes here assume
            ("semc.toml", "[profile.default]\npartitions = 2\n"),
            (
                "w.sem",
                r#"
source line from delta("t/line") {
  id: int64 key
  k: int64
  g: string
  v: int64
  f: float64
  p: decimal(30, 2)
}
model by_key from line {
  group by k
  aggregate { n = count(), total = sum(v), most = max(f), least = min(g), mean = avg(v), paid = sum(p * 3) }
  sort k
}
model by_two from line {
  group by k, g
  aggregate { n = count(), total = sum(v) }
  sort k, g
}
model by_few from line {
  group by s = id % 13
  aggregate { n = count(), total = sum(v) }
  sort s
}
model by_eighth from line {
  group by e = id % 312500
  aggregate { n = count(), total = sum(v) }
  sort e
}
output by_key to delta("out/by_key") mode overwrite
output by_two to delta("out/by_two") mode overwrite
output by_few to delta("out/by_few") mode overwrite
output by_eighth to delta("out/by_eighth") mode overwrite
"#,
            ),
        ],
    );
    let n = 2_500_000i64;
    // keys scattered over 1.25 M values (one row a key in 13 is null), so no run forms
    let k = |i: i64| (i % 13 != 6).then_some(i * 7919 % 1_250_003);
    let g = |i: i64| if i % 3 == 0 { "a" } else { "b" };
    let v = |i: i64| (i % 9 != 0).then_some(i % 1000);
    let f = |i: i64| (i % 11 != 0).then_some((i % 97) as f64 * 0.5);
    let p = |i: i64| (i % 7 != 0).then_some(i128::from(i % 10_000 - 5_000));
    crate::fixtures::table(
        &dir.join("t/line"),
        vec![
            column("id", Int64Array::from_iter_values(0..n)),
            column("k", Int64Array::from_iter((0..n).map(k))),
            column("g", StringArray::from_iter_values((0..n).map(g))),
            column("v", Int64Array::from_iter((0..n).map(v))),
            column("f", Float64Array::from_iter((0..n).map(f))),
            column(
                "p",
                Decimal128Array::from_iter((0..n).map(p))
                    .with_precision_and_scale(30, 2)
                    .unwrap(),
            ),
        ],
    )
    .await;

    // by_eighth: 8 rows a key, none side by side, pass the partial aggregates too, but the
    // probe finds more than 4 rows a group and leaves them to the aggregate as planned
    for (output, bucketed) in [
        ("by_key", true),
        ("by_two", true),
        ("by_few", false),
        ("by_eighth", false),
    ] {
        let (code, out, err) = semc(&["explain", dir.to_str().unwrap(), "--analyze", "--output", output]);
        assert_eq!(code, 0, "{err}");
        let physical = out.split("== physical plan").nth(1).unwrap_or_default();
        // the partitions computed bucket by bucket, from the node's metrics
        let partitions: String = physical
            .split("BucketsFirstExec")
            .nth(1)
            .and_then(|node| node.split("bucketed_partitions=").nth(1))
            .unwrap_or("0")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        assert_eq!(partitions == "2", bucketed, "{output}: {physical}");
    }
    run(&dir);

    let text = |x: Option<i64>| x.map_or("NULL".to_string(), |x| x.to_string());
    let mut by_key: BTreeMap<Option<i64>, Group> = BTreeMap::new();
    let mut by_two: BTreeMap<(Option<i64>, &str), Group> = BTreeMap::new();
    let mut by_few: BTreeMap<i64, Group> = BTreeMap::new();
    let mut by_eighth: BTreeMap<i64, Group> = BTreeMap::new();
    for i in 0..n {
        by_key.entry(k(i)).or_default().add(v(i), f(i), g(i), p(i));
        by_two.entry((k(i), g(i))).or_default().add(v(i), f(i), g(i), p(i));
        by_few.entry(i % 13).or_default().add(v(i), f(i), g(i), p(i));
        by_eighth.entry(i % 312_500).or_default().add(v(i), f(i), g(i), p(i));
    }
    let mut expected_by_two: Vec<Vec<String>> = by_two
        .iter()
        .map(|((k, g), e)| vec![text(*k), g.to_string(), e.rows.to_string(), text(e.total)])
        .collect();
    // `sort k, g` puts the null key's two rows last
    expected_by_two.rotate_left(2);
    let counted = |groups: &BTreeMap<i64, Group>| -> Vec<Vec<String>> {
        groups
            .iter()
            .map(|(s, e)| vec![s.to_string(), e.rows.to_string(), text(e.total)])
            .collect()
    };
    assert!(by_key.len() > 1_000_000, "{}", by_key.len());
    assert_eq!(written(&dir, "by_key").await, rows_by_key(&by_key));
    assert_eq!(written(&dir, "by_two").await, expected_by_two);
    assert_eq!(written(&dir, "by_few").await, counted(&by_few));
    assert_eq!(written(&dir, "by_eighth").await, counted(&by_eighth));
}

/// A group's aggregates, computed one row at a time.
#[derive(Default)]
struct Group {
    rows: i64,
    values: i64,
    total: Option<i64>,
    most: Option<f64>,
    least: String,
    /// `sum(p * 3)`, in cents
    paid: Option<i128>,
}

impl Group {
    fn add(&mut self, v: Option<i64>, f: Option<f64>, g: &str, p: Option<i128>) {
        self.rows += 1;
        if let Some(p) = p {
            self.paid = Some(self.paid.unwrap_or(0) + p * 3);
        }
        if let Some(v) = v {
            self.values += 1;
            self.total = Some(self.total.unwrap_or(0) + v);
        }
        if let Some(f) = f {
            self.most = Some(self.most.map_or(f, |m| m.max(f)));
        }
        if self.least.is_empty() || g < self.least.as_str() {
            self.least = g.to_string();
        }
    }
}
