//! Which side of a join the engine builds its hash table on, from estimates that know the
//! keys its joins rely on (`engine::estimates`): a join to a target unique on its keys keeps
//! each row at most once, however many columns the key has.

use crate::fixtures::{column, int_table, metric, semc, table_rows, url_of, workspace};

/// The lines of the physical plan `semc explain` shows for `output` that hold a hash join.
fn hash_joins(dir: &std::path::Path, output: &str) -> Vec<String> {
    let (code, out, err) = semc(&["explain", dir.to_str().unwrap(), "--output", output]);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .skip_while(|l| !l.starts_with("== physical plan"))
        .filter(|l| l.contains("HashJoinExec"))
        .map(str::to_string)
        .collect()
}

/// 10,000 sales join 2,000 stock rows on a two-column key, then 50,000 orders: DataFusion
/// alone estimated the first join at 200,000 rows (each sale matching the 20 stock rows of
/// its item) and built the second join's table on all the orders; knowing the stock key,
/// the first join keeps at most the 10,000 sales, and the second builds on them. The rows
/// are the same either way (checked against the sums computed here).
#[tokio::test]
async fn a_join_to_a_composite_key_keeps_each_row_once_and_builds_on_the_smaller_side() {
    let dir = workspace(
        "join_sides_composite_key",
        &[],
        &[(
            "w.sem",
            r#"
source stock from delta("t/stock") {
  st_item: int64 not null
  st_store: int64 not null
  st_cost: int64
  key (st_item, st_store)
}
source ord from delta("t/ord") {
  o_id: int64 key
  o_year: int64
}
source sale from delta("t/sale") {
  s_id: int64 key
  s_item: int64
  s_store: int64
  s_ord: int64
  s_qty: int64
  join stock many_to_one on s_item = stock.st_item and s_store = stock.st_store
  join ord many_to_one on s_ord = ord.o_id
}
model spend from sale {
  derive { cost = s_qty * stock.st_cost }
  group by year = ord.o_year
  aggregate { total = sum(cost) }
  sort year
}
output spend to delta("out/spend") mode overwrite
"#,
        )],
    );
    let stock: Vec<(i64, i64)> = (1..=100).flat_map(|i| (1..=20).map(move |s| (i, s))).collect();
    let cost = |i: usize| (i % 7) as i64;
    int_table(
        &dir.join("t/stock"),
        &[
            ("st_item", stock.iter().map(|(i, _)| Some(*i)).collect()),
            ("st_store", stock.iter().map(|(_, s)| Some(*s)).collect()),
            ("st_cost", (0..stock.len()).map(|i| Some(cost(i))).collect()),
        ],
    )
    .await;
    int_table(
        &dir.join("t/ord"),
        &[
            ("o_id", (1..=50_000).map(Some).collect()),
            ("o_year", (0..50_000).map(|i| Some(1990 + i % 10)).collect()),
        ],
    )
    .await;
    let sales = 10_000i64;
    let item = |i: i64| 1 + i % 100;
    let store = |i: i64| 1 + (i / 100) % 20;
    let order = |i: i64| 1 + (i * 7) % 50_000;
    int_table(
        &dir.join("t/sale"),
        &[
            ("s_id", (0..sales).map(Some).collect()),
            ("s_item", (0..sales).map(|i| Some(item(i))).collect()),
            ("s_store", (0..sales).map(|i| Some(store(i))).collect()),
            ("s_ord", (0..sales).map(|i| Some(order(i))).collect()),
            ("s_qty", (0..sales).map(|i| Some(i % 5)).collect()),
        ],
    )
    .await;

    let joins = hash_joins(&dir, "spend");
    let to_orders = joins
        .iter()
        .find(|l| l.contains("o_id@"))
        .expect("a join to the orders");
    assert!(
        to_orders.contains("join_type=Left") && to_orders.contains("(s_ord@"),
        "the join to the orders builds on the sales side:\n{}",
        joins.join("\n")
    );

    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mut want = std::collections::BTreeMap::<i64, i64>::new();
    for i in 0..sales {
        let at = stock.iter().position(|k| *k == (item(i), store(i))).unwrap();
        *want.entry(1990 + (order(i) - 1) % 10).or_default() += (i % 5) * cost(at);
    }
    let want: Vec<Vec<String>> = want.iter().map(|(y, t)| vec![y.to_string(), t.to_string()]).collect();
    let out = url::Url::from_directory_path(std::fs::canonicalize(dir.join("out/spend")).unwrap()).unwrap();
    assert_eq!(table_rows(out.as_str()).await.1, want);
}

/// Each hash join's `build_input_rows` in `semc explain --analyze` of `output`, with the
/// whole plan text.
fn build_sides(dir: &std::path::Path, output: &str) -> (Vec<f64>, String) {
    let (code, out, err) = semc(&["explain", dir.to_str().unwrap(), "--output", output, "--analyze"]);
    assert_eq!(code, 0, "{err}");
    let plan = out.replace('\n', " ");
    let rows = plan
        .split("HashJoinExec")
        .skip(1)
        .filter_map(|join| metric(join, "build_input_rows"))
        .collect();
    (rows, out)
}

/// A join read on both sides of a scalar threshold (TPC-H Q11's suppliers of one nation) is
/// computed once into the run's cache; the join of 200,000 stock rows to it builds its hash
/// table on the 40 cached suppliers — it built on the stock rows while the cache's size
/// was unknown to the planner.
#[tokio::test]
async fn a_join_to_a_subplan_computed_once_builds_on_the_smaller_side() {
    let dir = workspace(
        "join_sides_shared_subplan",
        &[],
        &[(
            "w.sem",
            r#"
source nation from delta("t/nation") { n_id: int64 key  n_name: int64 }
source supp from delta("t/supp") {
  s_id: int64 key
  s_nation: int64
  join nation many_to_one on s_nation = nation.n_id
}
source stock from delta("t/stock") {
  ps_part: int64
  ps_supp: int64
  ps_qty: int64
  join supp many_to_one on ps_supp = supp.s_id
}
model chosen from stock { where supp.nation.n_name == 7 }
model total from chosen { aggregate { value = sum(ps_qty) } }
model big_parts from chosen {
  group by ps_part
  aggregate { value = sum(ps_qty) }
  where value * 1000 > total.value
  sort value desc, ps_part
}
output big_parts to delta("out/big_parts") mode overwrite
"#,
        )],
    );
    let ids = |n: i64| (0..n).map(Some).collect::<Vec<_>>();
    let of = |n: i64, f: &dyn Fn(i64) -> i64| (0..n).map(|i| Some(f(i))).collect::<Vec<_>>();
    int_table(&dir.join("t/nation"), &[("n_id", ids(25)), ("n_name", ids(25))]).await;
    int_table(
        &dir.join("t/supp"),
        &[("s_id", ids(1_000)), ("s_nation", of(1_000, &|i| i % 25))],
    )
    .await;
    let stock = 200_000;
    int_table(
        &dir.join("t/stock"),
        &[
            ("ps_part", of(stock, &|i| i % 20_000)),
            ("ps_supp", of(stock, &|i| i % 1_000)),
            ("ps_qty", of(stock, &|i| i % 100)),
        ],
    )
    .await;

    let (builds, plan) = build_sides(&dir, "big_parts");
    assert!(
        plan.contains("semc-shared"),
        "the chosen suppliers are computed once:\n{plan}"
    );
    assert!(!builds.is_empty(), "{plan}");
    assert!(builds.iter().all(|&rows| rows <= 1_000.0), "{builds:?}\n{plan}");

    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let chosen: Vec<i64> = (0..stock).filter(|i| (i % 1_000) % 25 == 7).collect();
    let mut by_part = std::collections::BTreeMap::<i64, i64>::new();
    for i in &chosen {
        *by_part.entry(i % 20_000).or_default() += i % 100;
    }
    let total: i64 = by_part.values().sum();
    let mut want: Vec<(i64, i64)> = by_part.into_iter().filter(|(_, v)| v * 1_000 > total).collect();
    want.sort_by_key(|&(part, value)| (-value, part));
    let got = table_rows(url_of(&dir.join("out/big_parts")).as_ref()).await.1;
    let want: Vec<Vec<String>> = want.iter().map(|(p, v)| vec![p.to_string(), v.to_string()]).collect();
    assert_eq!(got, want);
}

/// Customers above the average balance (a total compared with each row: a join without
/// keys to one row) with no order (an anti join to 300,000 orders): the planner knew
/// nothing of the rows left of the anti join and built its hash table on every order;
/// knowing a join to one row keeps at most the other side's rows, it builds on the
/// customers (TPC-H Q22's shape).
#[tokio::test]
async fn a_join_to_a_total_keeps_at_most_the_other_sides_rows() {
    let dir = workspace(
        "join_sides_total",
        &[],
        &[(
            "w.sem",
            r#"
source customer from delta("t/customer") { c_id: int64 key  c_bal: int64  c_group: int64 }
source orders from delta("t/orders") { o_id: int64 key  o_cust: int64 }
model average from customer { aggregate { bal = avg(c_bal) } }
model idle from customer {
  where cast(c_bal as float64) > average.bal
  join orders as placed anti on c_id = placed.o_cust
  group by c_group
  aggregate { n = count() }
  sort c_group
}
output idle to delta("out/idle") mode overwrite
"#,
        )],
    );
    let of = |n: i64, f: &dyn Fn(i64) -> i64| (0..n).map(|i| Some(f(i))).collect::<Vec<_>>();
    let customers = 20_000;
    let bal = |i: i64| (i * 37) % 1_000;
    let group = |i: i64| i % 7;
    // every order is placed by one of the first 10,000 customers
    let cust = |i: i64| (i * 13) % 10_000;
    int_table(
        &dir.join("t/customer"),
        &[
            ("c_id", of(customers, &|i| i)),
            ("c_bal", of(customers, &bal)),
            ("c_group", of(customers, &group)),
        ],
    )
    .await;
    int_table(
        &dir.join("t/orders"),
        &[("o_id", of(300_000, &|i| i)), ("o_cust", of(300_000, &cust))],
    )
    .await;

    let (builds, plan) = build_sides(&dir, "idle");
    assert_eq!(builds.len(), 1, "{plan}");
    assert!(builds[0] <= customers as f64, "{builds:?}\n{plan}");

    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let average = (0..customers).map(bal).sum::<i64>() as f64 / customers as f64;
    let placed: std::collections::HashSet<i64> = (0..300_000).map(cust).collect();
    let mut want = std::collections::BTreeMap::<i64, i64>::new();
    for i in (0..customers).filter(|i| bal(*i) as f64 > average && !placed.contains(i)) {
        *want.entry(group(i)).or_default() += 1;
    }
    let want: Vec<Vec<String>> = want.iter().map(|(g, n)| vec![g.to_string(), n.to_string()]).collect();
    assert_eq!(table_rows(url_of(&dir.join("out/idle")).as_ref()).await.1, want);
}

/// A join whose smaller side has 200,000 rows (over DataFusion's 128 K default) builds its
/// hash table once for all partitions: repartitioning both sides on the keys would move
/// every row of the larger side too (`engine::single_build_limits`).
#[tokio::test]
async fn a_join_with_a_build_side_of_a_few_hundred_thousand_rows_builds_it_once() {
    let dir = workspace(
        "join_sides_single_build",
        &[],
        &[(
            "w.sem",
            r#"
source ord from delta("t/ord") { o_id: int64 key  o_year: int64 }
source item from delta("t/item") {
  l_ord: int64
  l_price: int64
  join ord many_to_one on l_ord = ord.o_id
}
model by_year from item {
  group by year = ord.o_year
  aggregate { total = sum(l_price) }
  sort year
}
output by_year to delta("out/by_year") mode overwrite
"#,
        )],
    );
    let of = |n: i64, f: &dyn Fn(i64) -> i64| (0..n).map(|i| Some(f(i))).collect::<Vec<_>>();
    let (orders, items) = (200_000, 600_000);
    let year = |o: i64| 1990 + o % 9;
    let order = |i: i64| (i * 7) % orders;
    int_table(
        &dir.join("t/ord"),
        &[("o_id", of(orders, &|i| i)), ("o_year", of(orders, &year))],
    )
    .await;
    int_table(
        &dir.join("t/item"),
        &[("l_ord", of(items, &order)), ("l_price", of(items, &|i| i % 100))],
    )
    .await;

    let joins = hash_joins(&dir, "by_year");
    assert!(
        joins.len() == 1 && joins[0].contains("mode=CollectLeft") && joins[0].contains("(o_id@"),
        "one build, on the orders:\n{}",
        joins.join("\n")
    );

    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mut want = std::collections::BTreeMap::<i64, i64>::new();
    for i in 0..items {
        *want.entry(year(order(i))).or_default() += i % 100;
    }
    let want: Vec<Vec<String>> = want.iter().map(|(y, t)| vec![y.to_string(), t.to_string()]).collect();
    assert_eq!(table_rows(url_of(&dir.join("out/by_year")).as_ref()).await.1, want);
}

/// Parts 1 to `parts` (`p_id`, `p_name`), every twentieth of them green.
async fn green_parts(table: &std::path::Path, parts: i64) {
    use datafusion::arrow::array::{Int64Array, StringArray};
    crate::fixtures::table(
        table,
        vec![
            column("p_id", Int64Array::from_iter_values(1..=parts)),
            column(
                "p_name",
                StringArray::from_iter_values(
                    (1..=parts).map(|p| format!("{} part {p}", if green(p) { "pale green" } else { "navy blue" })),
                ),
            ),
        ],
    )
    .await;
}

/// Whether part `p` of [`green_parts`] is green.
fn green(p: i64) -> bool {
    p % 20 == 0
}

/// 50,000 sales join their parts, of which a twentieth are green, and then 8,000 stock rows
/// on a two-column key. DataFusion keeps 20 % of the rows of a filter it cannot analyze
/// (`like`): the green sales looked like 10,000 rows, more than the stock, and the join to
/// the stock built its hash table on all of it. A pattern of five letters keeps far fewer
/// (`engine::estimates::pattern_selectivity`), and the join builds on the 2,500 green sales.
#[tokio::test]
async fn a_join_to_the_rows_a_like_keeps_builds_on_them_when_they_are_fewer() {
    let dir = workspace(
        "join_sides_like",
        &[],
        &[(
            "w.sem",
            r#"
source part from delta("t/part") { p_id: int64 key  p_name: string }
source stock from delta("t/stock") {
  st_part: int64 not null
  st_store: int64 not null
  st_cost: int64
  key (st_part, st_store)
}
source sale from delta("t/sale") {
  s_id: int64 key
  s_part: int64
  s_store: int64
  s_qty: int64
  join part many_to_one on s_part = part.p_id
  join stock many_to_one on s_part = stock.st_part and s_store = stock.st_store
}
model green_cost from sale {
  where part.p_name like "%green%"
  derive { cost = s_qty * stock.st_cost }
  group by store = s_store
  aggregate { cost = sum(cost) }
  sort store
}
output green_cost to delta("out/green_cost") mode overwrite
"#,
        )],
    );
    let (parts, stocked, sales) = (20_000i64, 4_000i64, 50_000i64);
    green_parts(&dir.join("t/part"), parts).await;
    let stock: Vec<(i64, i64)> = (1..=stocked).flat_map(|p| [(p, 1), (p, 2)]).collect();
    let cost = |p: i64, s: i64| p % 7 + s;
    int_table(
        &dir.join("t/stock"),
        &[
            ("st_part", stock.iter().map(|(p, _)| Some(*p)).collect()),
            ("st_store", stock.iter().map(|(_, s)| Some(*s)).collect()),
            ("st_cost", stock.iter().map(|(p, s)| Some(cost(*p, *s))).collect()),
        ],
    )
    .await;
    let part = |i: i64| 1 + i % stocked;
    let store = |i: i64| 1 + (i / stocked) % 2;
    let qty = |i: i64| i % 5;
    int_table(
        &dir.join("t/sale"),
        &[
            ("s_id", (0..sales).map(Some).collect()),
            ("s_part", (0..sales).map(|i| Some(part(i))).collect()),
            ("s_store", (0..sales).map(|i| Some(store(i))).collect()),
            ("s_qty", (0..sales).map(|i| Some(qty(i))).collect()),
        ],
    )
    .await;

    let green_sales = (0..sales).filter(|i| green(part(*i))).count() as f64;
    let (builds, plan) = build_sides(&dir, "green_cost");
    assert!(
        builds.contains(&green_sales) && !builds.contains(&(stock.len() as f64)),
        "the join to the stock builds on the {green_sales} green sales, not on the stock: {builds:?}\n{plan}"
    );

    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mut want = std::collections::BTreeMap::<i64, i64>::new();
    for i in (0..sales).filter(|i| green(part(*i))) {
        *want.entry(store(i)).or_default() += qty(i) * cost(part(i), store(i));
    }
    let want: Vec<Vec<String>> = want.iter().map(|(s, c)| vec![s.to_string(), c.to_string()]).collect();
    assert_eq!(table_rows(url_of(&dir.join("out/green_cost")).as_ref()).await.1, want);
}

/// 20,000 parts of which a twentieth are green, and 80 sales: the parts a lone `like`
/// keeps are estimated at its pattern's share of all the parts (200 for five letters), more
/// than the sales, so the join builds on the sales. The estimate of a filter of patterns
/// alone once took DataFusion's fifth of the rows on top of the patterns' share (40 parts,
/// fewer than the sales), and the join built its table on the 1,000 green parts.
#[tokio::test]
async fn the_rows_a_lone_like_keeps_are_its_share_of_all_the_rows() {
    let dir = workspace(
        "join_sides_lone_like",
        &[],
        &[(
            "w.sem",
            r#"
source part from delta("t/part") { p_id: int64 key  p_name: string }
source sale from delta("t/sale") {
  s_id: int64 key
  s_part: int64
  s_qty: int64
  join part many_to_one on s_part = part.p_id
}
model green_qty from sale {
  where part.p_name like "%green%"
  group by s_part
  aggregate { qty = sum(s_qty) }
  sort s_part
}
output green_qty to delta("out/green_qty") mode overwrite
"#,
        )],
    );
    let (parts, sales) = (20_000i64, 80i64);
    green_parts(&dir.join("t/part"), parts).await;
    let part = |i: i64| 1 + (i * 7) % parts;
    int_table(
        &dir.join("t/sale"),
        &[
            ("s_id", (0..sales).map(Some).collect()),
            ("s_part", (0..sales).map(|i| Some(part(i))).collect()),
            ("s_qty", (0..sales).map(|i| Some(i % 5)).collect()),
        ],
    )
    .await;

    let (builds, plan) = build_sides(&dir, "green_qty");
    assert_eq!(builds, [sales as f64], "the join builds on the {sales} sales\n{plan}");

    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mut want = std::collections::BTreeMap::<i64, i64>::new();
    for i in (0..sales).filter(|i| green(part(*i))) {
        *want.entry(part(i)).or_default() += i % 5;
    }
    let want: Vec<Vec<String>> = want.iter().map(|(p, q)| vec![p.to_string(), q.to_string()]).collect();
    assert!(!want.is_empty());
    assert_eq!(table_rows(url_of(&dir.join("out/green_qty")).as_ref()).await.1, want);
}

/// A join on one integer key whose sides both spread over a million key values (5,000
/// promoted items, 0.5 % dense; 50,000 sales, 5 %) looks the probe side's keys up in an
/// array indexed by key, not a hash table (`engine::config`: up to 4 Mi values;
/// DataFusion's default takes the array only below 1,024 values or above 15 % density).
/// The rows are the same either way.
#[tokio::test]
async fn a_join_on_a_key_of_a_few_million_values_looks_keys_up_by_array() {
    let dir = workspace(
        "join_sides_key_array",
        &[],
        &[(
            "w.sem",
            r#"
source item from delta("t/item") {
  i_id: int64 key
  i_promoted: int64
}
source sale from delta("t/sale") {
  s_id: int64 key
  s_item: int64
  s_qty: int64
  join item many_to_one on s_item = item.i_id
}
model promoted from sale {
  where item.i_promoted == 1
  aggregate { sold = sum(s_qty), sales = count() }
}
output promoted to delta("out/promoted") mode overwrite
"#,
        )],
    );
    let items = 200_000i64;
    int_table(
        &dir.join("t/item"),
        &[
            ("i_id", (0..items).map(|i| Some(i * 5)).collect()),
            ("i_promoted", (0..items).map(|i| Some(i64::from(i % 40 == 0))).collect()),
        ],
    )
    .await;
    let sales = 50_000i64;
    let item = |i: i64| ((i * 37) % items) * 5;
    int_table(
        &dir.join("t/sale"),
        &[
            ("s_id", (0..sales).map(Some).collect()),
            ("s_item", (0..sales).map(|i| Some(item(i))).collect()),
            ("s_qty", (0..sales).map(|i| Some(i % 3)).collect()),
        ],
    )
    .await;

    let (code, out, err) = semc(&["explain", dir.to_str().unwrap(), "--output", "promoted", "--analyze"]);
    assert_eq!(code, 0, "{err}");
    let plan = out.replace('\n', " ");
    let join = plan.split("HashJoinExec").nth(1).expect("a hash join");
    assert_eq!(metric(join, "array_map_created_count"), Some(1.0), "{out}");

    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let kept: Vec<i64> = (0..sales).filter(|i| (item(*i) / 5) % 40 == 0).collect();
    let want = vec![vec![
        kept.iter().map(|i| i % 3).sum::<i64>().to_string(),
        kept.len().to_string(),
    ]];
    assert_eq!(table_rows(url_of(&dir.join("out/promoted")).as_str()).await.1, want);
}
