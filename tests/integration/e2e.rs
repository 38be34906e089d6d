//! End to end: `.sem` workspaces over Delta tables, run through `semc`'s entry points, with
//! result rows compared against DataFusion SQL on the same tables and snapshots of plans.

use crate::fixtures::{self, Rows, run_ok, semc, table_rows, to_rows, workspace};
use datafusion::prelude::SessionContext;
use semc::run;
use std::path::Path;

fn copy_examples(dir: &Path) {
    for (name, text) in semc::demo::examples::TPCH {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

/// Runs SQL over the fixture tables registered by name.
/// The rows DataFusion's SQL (without semc's rewrites, through delta-rs's scan) gives for
/// `sql` over `tables`.
async fn sql_rows(sql: &str, tables: &[(&str, &str)]) -> Rows {
    let ctx = semc::engine::session_without_rewrites(2);
    register(&ctx, tables).await;
    to_rows(&ctx.sql(sql).await.unwrap().collect().await.unwrap())
}

async fn register(ctx: &SessionContext, tables: &[(&str, &str)]) {
    for (name, rel) in tables {
        let url = url::Url::from_directory_path(std::fs::canonicalize(fixtures::root().join(rel)).unwrap()).unwrap();
        let t = semc::delta::open(&url, &semc::delta::PinSpec::Latest).await.unwrap();
        let p = semc::engine::delta_rs_provider(&t, &ctx.state()).await.unwrap();
        ctx.register_table(*name, p).unwrap();
    }
}

/// Selects `names` from rows, in that order.
fn project(rows: &Rows, names: &[String]) -> Vec<Vec<String>> {
    let idx: Vec<usize> = names
        .iter()
        .map(|n| {
            rows.0
                .iter()
                .position(|c| c == n)
                .unwrap_or_else(|| panic!("no column {n} in {:?}", rows.0))
        })
        .collect();
    rows.1
        .iter()
        .map(|r| idx.iter().map(|&i| r[i].clone()).collect())
        .collect()
}

const TPCH: &[(&str, &str)] = &[
    ("region", "tpch/region"),
    ("nation", "tpch/nation"),
    ("supplier", "tpch/supplier"),
    ("customer", "tpch/customer"),
    ("part", "tpch/part"),
    ("partsupp", "tpch/partsupp"),
    ("orders", "tpch/orders"),
    ("lineitem", "tpch/lineitem"),
];

/// Compiles the workspace at `path` (no errors expected) and lowers it to one plan.
async fn plan_of(path: &Path) -> (run::Compilation, run::Session, substrait::proto::Plan) {
    let c = run::compile(path).await.unwrap_or_else(|_| panic!("internal"));
    let s = run::Session::new(&c).await.unwrap_or_else(|_| panic!("session"));
    let plan = {
        let program = c
            .program()
            .unwrap_or_else(|_| panic!("{}", semc::diag::render(&c.ws.map, &c.diags, false)));
        s.plan(program, &[]).unwrap_or_else(|_| panic!("plan"))
    };
    (c, s, plan)
}

/// The official text of a TPC-H query (`q01` … `q22`).
fn tpch_sql(query: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/tpch-queries/{query}.sql")))
        .unwrap()
}

/// Equal cells: the same text, or numbers equal to 1e-9 relative (the reference computes
/// some TPC-H values in float64).
/// Equal, or equal numbers: floats within a relative 1e-9, and decimals of one scale within
/// one unit of their last digit — semc rounds a decimal average half away from zero, where
/// DataFusion SQL truncates it.
fn same_cell(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let scale = |s: &str| s.split_once('.').map(|(_, f)| f.len());
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) if scale(a).is_some() && scale(a) == scale(b) => {
            let ulp = 10f64.powi(-(scale(a).unwrap_or(0) as i32));
            (x - y).abs() <= ulp * 1.000001 || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
        _ => false,
    }
}

fn same_rows(got: &[Vec<String>], want: &[Vec<String>]) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| g.len() == w.len() && g.iter().zip(w).all(|(a, b)| same_cell(a, b)))
}

/// All 22 TPC-H models against DataFusion SQL running the official query text on the same
/// Delta tables: same rows, same order (columns by position).
#[tokio::test]
async fn tpch_examples_equal_datafusion_sql() {
    let dir = workspace("tpch_examples", &[("tpch", "tpch")], &[]);
    copy_examples(&dir);
    let reports = run_ok(&dir).await;
    assert_eq!(reports.len(), 22);
    let mut failures = vec![];
    for r in &reports {
        let sql = tpch_sql(&r.output);
        let want = sql_rows(&sql, TPCH).await;
        let got = table_rows(&r.location).await;
        assert!(!want.1.is_empty(), "{}: the reference returned no rows", r.output);
        assert_eq!(got.1.len() as u64, r.rows, "{}: reported rows", r.output);
        if got.0.len() != want.0.len() || !same_rows(&got.1, &want.1) {
            failures.push(format!(
                "{}: columns {:?} vs {:?}\n  semc: {:?}\n  sql:  {:?}",
                r.output,
                got.0,
                want.0,
                got.1.iter().take(3).collect::<Vec<_>>(),
                want.1.iter().take(3).collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 22 differ from DataFusion SQL:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn tpch_plans_round_trip_through_substrait() {
    let dir = workspace("tpch_plans", &[("tpch", "tpch")], &[]);
    copy_examples(&dir);
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("internal"));
    let program = c.program().unwrap_or_else(|_| panic!("errors"));
    let s = run::Session::new(&c).await.unwrap_or_else(|_| panic!("session"));
    let plan = s.plan(program, &[]).unwrap_or_else(|_| panic!("plan"));
    // ONE plan, one root per output, every scan pinned
    assert_eq!(plan.relations.len(), 22);
    let json = serde_json::to_string(&plan).unwrap();
    assert!(json.contains("/lineitem/@v0"), "scans carry their pinned version");
    let roots = s.consume(&plan).await.unwrap_or_else(|_| panic!("consume"));
    for (o, lp) in program.outputs.iter().zip(roots) {
        let text = fixtures::redact(&lp.display_indent().to_string())
            .replace(&dir.canonicalize().unwrap().display().to_string(), "[ws]");
        insta::with_settings!({ snapshot_path => "snapshots/plans", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(format!("plan_{}", o.name), text);
        });
    }
}

const VERSIONED: &str = r#"
source orders from delta("versioned/orders") at version VERSION {
  o_orderkey: int64 key
  o_totalprice: decimal(15, 2)
}
model counted from orders {
  aggregate { n = count(), total = sum(o_totalprice) }
}
output counted to delta("out/counted") mode overwrite
"#;

#[tokio::test]
async fn pinned_versions_are_read_exactly() {
    let total = sql_rows("select count(*) as n from orders", &[("orders", "versioned/orders")])
        .await
        .1[0][0]
        .parse::<u64>()
        .unwrap();
    for v in 0..4u64 {
        let text = VERSIONED.replace("VERSION", &v.to_string());
        let dir = workspace(
            &format!("pinned_{v}"),
            &[("versioned", "versioned")],
            &[("w.sem", &text)],
        );
        let reports = run_ok(&dir).await;
        let rows = table_rows(&reports[0].location).await;
        let n: u64 = rows.1[0][0].parse().unwrap();
        assert_eq!(n, total * (v + 1) / 4, "version {v}");
    }
}

#[tokio::test]
async fn a_plan_file_alone_reads_its_pinned_snapshots() {
    // a private copy of the versioned table, so this test can append to it
    let src = fixtures::root().join("versioned/orders");
    let mine = fixtures::root().join("ws/plan_alone_table/orders");
    let _ = std::fs::remove_dir_all(&mine);
    copy_tree(&src, &mine);
    let text = VERSIONED
        .replace("VERSION", "1")
        .replace("versioned/orders", "plan_alone_table/orders");
    let dir = fixtures::root().join("ws");
    std::fs::write(dir.join("plan_alone.sem"), text).unwrap();
    let (_c, s, plan) = plan_of(&dir.join("plan_alone.sem")).await;
    let bytes = prost::Message::encode_to_vec(&plan);
    drop(s);
    // the table moves on: two more commits
    let url = url::Url::from_directory_path(std::fs::canonicalize(&mine).unwrap()).unwrap();
    for _ in 0..2 {
        let t = deltalake::open_table(url.clone()).await.unwrap();
        let batches = {
            let ctx = SessionContext::new();
            ctx.read_table(t.table_provider().await.unwrap())
                .unwrap()
                .limit(0, Some(5))
                .unwrap()
                .collect()
                .await
                .unwrap()
        };
        t.write(batches)
            .with_save_mode(deltalake::protocol::SaveMode::Append)
            .await
            .unwrap();
    }
    // a fresh session with nothing registered runs the decoded plan
    let decoded: substrait::proto::Plan = prost::Message::decode(bytes.as_slice()).unwrap();
    let ctx = semc::engine::session();
    let lp = datafusion_substrait::logical_plan::consumer::from_substrait_plan(&ctx.state(), &decoded)
        .await
        .unwrap();
    let got = to_rows(&ctx.execute_logical_plan(lp).await.unwrap().collect().await.unwrap());
    let total = sql_rows("select count(*) as n from orders", &[("orders", "versioned/orders")])
        .await
        .1[0][0]
        .parse::<u64>()
        .unwrap();
    assert_eq!(
        got.1[0][0].parse::<u64>().unwrap(),
        total / 2,
        "the plan read version 1, not the latest"
    );
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[tokio::test]
async fn language_md_example_checks_and_runs() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/run/language_example");
    let links = [
        ("tpch/customer", "tpch/customer"),
        ("tpch/nation", "tpch/nation"),
        ("tpch/lineitem", "tpch/lineitem"),
        ("tpch/orders", "versioned/orders"),
    ];
    let files: Vec<(String, String)> = std::fs::read_dir(&case)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    let file_refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let dir = workspace("language_example", &links, &file_refs);
    let reports = run_ok(&dir).await;
    assert_eq!(reports.len(), 1);
    let got = table_rows(&reports[0].location).await;
    let sql = "select c_mktsegment as segment, sum(l_extendedprice * (1 - l_discount)) as revenue, count(distinct l_orderkey) as n_orders \
               from lineitem left join orders on l_orderkey = o_orderkey left join customer on o_custkey = c_custkey \
               where o_orderdate >= date '1995-01-01' group by c_mktsegment";
    let tables = [
        ("lineitem", "tpch/lineitem"),
        ("orders", "versioned/orders"),
        ("customer", "tpch/customer"),
    ];
    let want = sql_rows(sql, &tables).await;
    let mut a = project(&got, &want.0);
    let mut b = want.1.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert_eq!(b.len(), 5);
}

#[tokio::test]
async fn a_contract_violation_commits_nothing() {
    let ok = r#"
source lineitem from delta("tpch/lineitem") {
  l_orderkey: int64 not null
  l_linenumber: int32 not null
}
model keys from lineitem {
  where l_linenumber == 1
  select { l_orderkey }
  contract { l_orderkey: int64 unique check (l_orderkey > 0) }
}
output keys to delta("out/keys") mode overwrite
"#;
    let dir = workspace("contract", &[("tpch", "tpch")], &[("w.sem", ok)]);
    let first = run_ok(&dir).await;
    assert_eq!(first[0].version, 0);
    // now the same output with duplicates
    std::fs::write(
        dir.join("w.sem"),
        ok.replace("where l_linenumber == 1", "where l_linenumber <= 2"),
    )
    .unwrap();
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("internal"));
    match run::run_compiled(&c, &[]).await {
        Err(run::Failure::User(d)) => {
            assert_eq!(d[0].code.as_str(), "E0402");
            assert!(d[0].message.contains("unique"), "{}", d[0].message);
        }
        Err(run::Failure::Internal(m)) => panic!("internal: {m}"),
        Ok(_) => panic!("a duplicate key was committed"),
    }
    let url = url::Url::parse(&first[0].location).unwrap();
    let t = semc::delta::open(&url, &semc::delta::PinSpec::Latest).await.unwrap();
    assert_eq!(t.version(), Some(0), "the output stays at its last committed version");
}

#[tokio::test]
async fn append_adds_versions_and_overwrite_replaces() {
    let text = r#"
source region from delta("tpch/region") { r_regionkey: int64 key  r_name: string }
model a from region { where r_regionkey < 2 }
model o from region { where r_regionkey < 3 }
output a to delta("out/a") mode append
output o to delta("out/o") mode overwrite partition by (r_name)
"#;
    let dir = workspace("modes", &[("tpch", "tpch")], &[("w.sem", text)]);
    run_ok(&dir).await;
    let second = crate::fixtures::run_forced(&dir).await;
    assert_eq!(second[0].version, 1);
    assert_eq!(table_rows(&second[0].location).await.1.len(), 4, "append doubles");
    assert_eq!(second[1].version, 1);
    assert_eq!(table_rows(&second[1].location).await.1.len(), 3, "overwrite replaces");
    assert_eq!(second[1].files, 3, "one file per partition");
}

/// Every step and expression form, checked against the same query in SQL.
#[tokio::test]
async fn steps_and_expressions_equal_sql() {
    let text = r#"
source nation from delta("tpch/nation") {
  n_nationkey: int64 key
  n_name: string not null
  n_regionkey: int64 not null
  join region many_to_one on n_regionkey = region.r_regionkey
  dimension name_length = length(n_name)
}
source region from delta("tpch/region") {
  r_regionkey: int64 key
  r_name: string not null
}
model big_regions from nation {
  group by r = region.r_name
  aggregate { nations = count() }
  where nations >= 5
}
model shown from nation {
  where (n_nationkey between 2 and 20 or n_name like "C%") and not n_name in ["PERU", "IRAN"]
  derive {
    kind = case when n_regionkey == 0 then "africa" when n_regionkey in [1, 2] then "amer/asia" else "other" end
    key2 = n_nationkey * 2 + 1
    ratio = cast(n_nationkey as float64) / 4.0
    len = name_length
    region_name = upper(coalesce(region.r_name, "none"))
  }
  join big as br many_to_one on region_name = br.r
  select { n_name, kind, key2, ratio, len, region_name, nations = br.nations }
  sort key2 desc, n_name
  limit 12
}
model twice from shown {
  select { n_name }
  union shown_names
  distinct
  sort n_name
}
model shown_names from nation {
  where n_nationkey < 3
  select { n_name }
}
model big from big_regions { }
output shown to delta("out/shown") mode overwrite
output twice to delta("out/twice") mode overwrite
"#;
    let dir = workspace("steps", &[("tpch", "tpch")], &[("w.sem", text)]);
    let reports = run_ok(&dir).await;
    let sql_shown = "with big as (select r_name as r, count(*) as nations from nation left join region on n_regionkey = r_regionkey group by r_name having count(*) >= 5), \
        base as (select n_name, case when n_regionkey = 0 then 'africa' when n_regionkey in (1, 2) then 'amer/asia' else 'other' end as kind, \
        n_nationkey * 2 + 1 as key2, cast(n_nationkey as double) / 4.0 as ratio, character_length(n_name) as len, \
        upper(coalesce(r_name, 'none')) as region_name from nation left join region on n_regionkey = r_regionkey \
        where (n_nationkey between 2 and 20 or n_name like 'C%') and not n_name in ('PERU', 'IRAN')) \
        select base.*, big.nations from base left join big on region_name = big.r order by key2 desc, n_name limit 12";
    let tables = [("nation", "tpch/nation"), ("region", "tpch/region")];
    let want = sql_rows(sql_shown, &tables).await;
    let got = table_rows(&reports[0].location).await;
    assert_eq!(want.1.len(), 12, "the reference query gives a full page");
    assert_eq!(project(&got, &want.0), want.1, "shown");
    let sql_twice = "select n_name from (select n_name from nation where n_nationkey in (0,1,2) union select n_name from nation) t order by n_name";
    let want2 = sql_rows(
        &sql_twice.replace(
            "union select n_name from nation",
            &format!("union select n_name from ({}) s", sql_shown),
        ),
        &tables,
    )
    .await;
    let got2 = table_rows(&reports[1].location).await;
    assert!(want2.1.len() > 3, "the union adds rows");
    assert_eq!(project(&got2, &want2.0), want2.1, "twice");
}

/// Under a small memory pool the models still run (spilling) and give the same rows.
#[tokio::test]
async fn tpch_runs_within_a_small_memory_pool() {
    let dir = workspace("tpch_small_memory", &[("tpch", "tpch")], &[]);
    copy_examples(&dir);
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("internal"));
    let opts = run::RunOptions {
        memory_limit: Some(16 << 20),
        ..Default::default()
    };
    let reports = match run::run_with(&c, &[], &opts).await {
        Ok(r) => r,
        Err(run::Failure::User(d)) => panic!("{}", semc::diag::render(&c.ws.map, &d, false)),
        Err(run::Failure::Internal(m)) => panic!("internal: {m}"),
    };
    assert_eq!(reports.len(), 22);
    for r in &reports {
        let sql = tpch_sql(&r.output);
        let want = sql_rows(&sql, TPCH).await;
        let got = table_rows(&r.location).await;
        assert!(same_rows(&got.1, &want.1), "{} differs under a 16 MiB pool", r.output);
    }
}

/// With several outputs, a contract violation in one commits none of them.
#[tokio::test]
async fn one_violation_commits_no_output() {
    let text = r#"
source region from delta("tpch/region") { r_regionkey: int64 key  r_name: string }
model fine from region { }
model broken from region {
  select { k = r_regionkey % 2 }
  contract { k: int64 unique }
}
output fine to delta("out/fine") mode overwrite
output broken to delta("out/broken") mode overwrite
"#;
    let dir = workspace("all_or_nothing", &[("tpch", "tpch")], &[("w.sem", text)]);
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("internal"));
    match run::run_compiled(&c, &[]).await {
        Err(run::Failure::User(d)) => assert_eq!(d[0].code.as_str(), "E0402"),
        _ => panic!("expected a contract violation"),
    }
    assert!(
        !dir.join("out/fine/_delta_log").exists(),
        "the passing output was not committed either"
    );
}

/// `semc explain` shows per scan the files read out of the snapshot's files: Delta file
/// statistics prune a date filter down to the one file that holds those dates.
#[tokio::test]
async fn explain_shows_pruned_delta_files() {
    let write = r#"
source lineitem from delta("tpch/lineitem") { l_orderkey: int64  l_shipdate: date }
model by_year from lineitem {
  derive { y = year(l_shipdate) }
}
output by_year to delta("by_year") mode overwrite partition by (y)
"#;
    let dir = workspace("pruning", &[("tpch", "tpch")], &[("write.sem", write)]);
    let reports = run_ok(&dir.join("write.sem")).await;
    assert_eq!(reports[0].files, 7, "one file per year");
    let read = r#"
source by_year from delta("by_year") { l_orderkey: int64  l_shipdate: date  y: int32 }
model march from by_year {
  where l_shipdate >= date "1995-03-01" and l_shipdate < date "1995-04-01"
  aggregate { n = count() }
}
output march to delta("out/march") mode overwrite
"#;
    std::fs::write(dir.join("read.sem"), read).unwrap();
    let text = run::explain(&dir.join("read.sem"), "march", false)
        .await
        .unwrap_or_else(|_| panic!("explain"));
    assert!(text.contains("1 of 7 files read, 6 pruned"), "{text}");
}

/// Each commit records the run id as a Delta transaction: the same run id again commits
/// nothing (a retried job cannot append twice); another run id commits.
#[tokio::test]
async fn a_run_id_commits_once() {
    let text = r#"
source region from delta("tpch/region") { r_regionkey: int64 key }
model r from region { }
output r to delta("out/r") mode append
"#;
    let dir = workspace("run_id", &[("tpch", "tpch")], &[("w.sem", text)]);
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("internal"));
    let run = |id: &'static str| {
        let c = &c;
        async move {
            // forced: each run id computes what the first computed (else it is up to date)
            let opts = run::RunOptions {
                run_id: Some(id.to_string()),
                force: true,
                ..Default::default()
            };
            match run::run_with(c, &[], &opts).await {
                Ok(r) => r.into_iter().next().unwrap(),
                Err(_) => panic!("run failed"),
            }
        }
    };
    let first = run("nightly-7").await;
    assert!(!first.skipped);
    let again = run("nightly-7").await;
    assert!(again.skipped, "the same run id is not committed twice");
    assert_eq!(again.version, first.version);
    let next = run("nightly-8").await;
    assert!(!next.skipped);
    assert_eq!(next.version, first.version + 1);
    assert_eq!(
        table_rows(&next.location).await.1.len(),
        10,
        "two appends of five regions"
    );
    let url = url::Url::parse(&next.location).unwrap();
    let t = semc::delta::open(&url, &semc::delta::PinSpec::Latest).await.unwrap();
    let recorded = t
        .snapshot()
        .unwrap()
        .transaction_version(t.log_store().as_ref(), run::app_id("r", "nightly-8"))
        .await
        .unwrap();
    assert_eq!(recorded, Some(1));
}

/// A `many_to_one` join whose target key is not unique in the data would multiply rows:
/// the run stops before committing, naming the duplicated keys.
#[tokio::test]
async fn a_join_key_that_is_not_unique_commits_nothing() {
    let dir = workspace(
        "join_keys",
        &[("tpch", "tpch")],
        &[("make.sem", fixtures::REPEATED_KEYS)],
    );
    run_ok(&dir.join("make.sem")).await;
    std::fs::write(dir.join("read.sem"), fixtures::JOIN_ON_REPEATED_KEYS).unwrap();
    let c = run::compile(&dir.join("read.sem"))
        .await
        .unwrap_or_else(|_| panic!("internal"));
    match run::run_compiled(&c, &[]).await {
        Err(run::Failure::User(d)) => {
            assert_eq!(d[0].code.as_str(), "E0405", "{}", d[0].message);
            assert!(d[0].help.as_deref().unwrap_or("").contains("Duplicated keys"));
        }
        Err(run::Failure::Internal(m)) => panic!("internal: {m}"),
        Ok(_) => panic!("a join on a duplicated key was committed"),
    }
    assert!(!dir.join("out/joined/_delta_log").exists());
}

/// Mixed-case and quoted names round-trip through Substrait, DataFusion and Delta; every
/// `.sem` type is written and read back with its Delta type.
#[tokio::test]
async fn quoted_names_and_every_type_round_trip() {
    let write = r#"
source orders from delta("tpch/orders") {
  o_orderkey: int64 key
  o_custkey: int64
  o_orderdate: date
  o_totalprice: decimal(15, 2)
  o_shippriority: int32
  o_orderstatus: string
}
model typed from orders {
  where o_orderkey < 100
  select {
    `CustomerID` = o_custkey
    `Order Date` = o_orderdate
    t = cast(o_orderdate as timestamp)
    f = cast(o_totalprice as float64)
    b = o_totalprice > 100000
    i = o_shippriority
    s = o_orderstatus
    dec = o_totalprice
  }
}
output typed to delta("typed") mode overwrite
"#;
    let dir = workspace("types", &[("tpch", "tpch")], &[("write.sem", write)]);
    let first = run_ok(&dir.join("write.sem")).await;
    let read = r#"
policy { identifiers = exact }
source typed from delta("typed") {
  `CustomerID`: int64
  `Order Date`: date
  t: timestamp
  f: float64
  b: bool
  i: int32
  s: string
  dec: decimal(15, 2)
}
model back from typed {
  where t >= timestamp "1995-01-01T00:00:00Z" and b
  select { `CustomerID`, `Order Date`, t, f, b, i, s, dec }
  sort `CustomerID`, t
}
output back to delta("out/back") mode overwrite
"#;
    std::fs::write(dir.join("read.sem"), read).unwrap();
    let second = run_ok(&dir.join("read.sem")).await;
    let rows = table_rows(&second[0].location).await;
    assert_eq!(rows.0, ["CustomerID", "Order Date", "t", "f", "b", "i", "s", "dec"]);
    let sql = "select o_custkey, o_orderdate, o_totalprice from orders where o_orderkey < 100 and o_orderdate >= date '1995-01-01' and o_totalprice > 100000 order by o_custkey, o_orderdate";
    let want = sql_rows(sql, &[("orders", "tpch/orders")]).await;
    assert!(!want.1.is_empty());
    let got: Vec<Vec<String>> = rows
        .1
        .iter()
        .map(|r| vec![r[0].clone(), r[1].clone(), r[7].clone()])
        .collect();
    assert_eq!(got, want.1);
    assert!(first[0].rows > second[0].rows);
}

/// Delta file skipping and parquet pruning never change results: 200 generated predicates
/// over a year-partitioned table, through semc, equal DataFusion SQL over the raw parquet
/// files with every pruning switched off.
#[tokio::test]
async fn pruning_never_changes_results() {
    let write = r#"
source lineitem from delta("tpch/lineitem") { l_orderkey: int64  l_shipdate: date  l_quantity: decimal(15, 2)  l_returnflag: string }
model by_year from lineitem {
  derive { y = year(l_shipdate) }
}
output by_year to delta("by_year") mode overwrite partition by (y)
"#;
    let dir = workspace("pruning_equal", &[("tpch", "tpch")], &[("write.sem", write)]);
    run_ok(&dir.join("write.sem")).await;
    let mut seed = 42u64;
    let mut next = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut sem = String::from(
        "source by_year from delta(\"by_year\") { l_orderkey: int64  l_shipdate: date  l_quantity: decimal(15, 2)  l_returnflag: string  y: int32 }\n",
    );
    let mut sqls = vec![];
    for i in 0..200 {
        let (y1, m1) = (1992 + next(7), 1 + next(12));
        let (y2, m2) = (y1 + next(3), 1 + next(12));
        let (q1, q2) = (next(50), next(50));
        let year = 1992 + next(7);
        let flag = ["A", "N", "R"][next(3) as usize];
        let (p, s) = match next(5) {
            0 => (
                format!("l_shipdate >= date \"{y1}-{m1:02}-01\" and l_shipdate < date \"{y2}-{m2:02}-01\""),
                format!("l_shipdate >= date '{y1}-{m1:02}-01' and l_shipdate < date '{y2}-{m2:02}-01'"),
            ),
            1 => (
                format!("y == {year} and l_quantity between {} and {}", q1.min(q2), q1.max(q2)),
                format!("y = {year} and l_quantity between {} and {}", q1.min(q2), q1.max(q2)),
            ),
            2 => (
                format!("y >= {year} or l_returnflag == \"{flag}\""),
                format!("y >= {year} or l_returnflag = '{flag}'"),
            ),
            3 => (
                format!("l_shipdate < date \"{y1}-{m1:02}-01\" and y != {year}"),
                format!("l_shipdate < date '{y1}-{m1:02}-01' and y <> {year}"),
            ),
            _ => (
                format!("l_returnflag == \"{flag}\" and l_shipdate >= date \"{y1}-{m1:02}-01\""),
                format!("l_returnflag = '{flag}' and l_shipdate >= date '{y1}-{m1:02}-01'"),
            ),
        };
        sem.push_str(&format!("model p{i} from by_year {{\n  where {p}\n  aggregate {{ n = count(), q = sum(l_quantity) }}\n}}\noutput p{i} to delta(\"out/p{i}\") mode overwrite\n"));
        sqls.push(format!(
            "select count(*) as n, sum(l_quantity) as q from by_year where {s}"
        ));
    }
    std::fs::write(dir.join("read.sem"), sem).unwrap();
    let (_c, s, plan) = plan_of(&dir.join("read.sem")).await;
    let roots = s.consume(&plan).await.unwrap_or_else(|_| panic!("consume"));
    // the reference: the raw parquet files, hive-partitioned, no pruning of any kind
    let raw = SessionContext::new();
    {
        let state = raw.state_ref();
        let mut st = state.write();
        let o = st.config_mut().options_mut();
        o.execution.parquet.pruning = false;
        o.execution.parquet.pushdown_filters = false;
        o.execution.parquet.bloom_filter_on_read = false;
    }
    let opts = datafusion::prelude::ParquetReadOptions::default()
        .table_partition_cols(vec![("y".to_string(), datafusion::arrow::datatypes::DataType::Int32)]);
    raw.register_parquet("by_year", dir.join("by_year").to_str().unwrap(), opts)
        .await
        .unwrap();
    let mut nonempty = 0;
    let mut wanted = vec![];
    for (i, (lp, sql)) in roots.into_iter().zip(&sqls).enumerate() {
        let got = to_rows(&s.ctx.execute_logical_plan(lp).await.unwrap().collect().await.unwrap());
        let want = to_rows(&raw.sql(sql).await.unwrap().collect().await.unwrap());
        assert_eq!(got.1, want.1, "predicate {i}: {sql}");
        if want.1[0][0] != "0" {
            nonempty += 1;
        }
        wanted.push(want.1);
    }
    assert!(nonempty > 100, "most predicates select rows ({nonempty})");
    // on a cluster, files are pruned by the log's partition values and statistics instead
    #[cfg(feature = "cluster")]
    {
        let some: Vec<String> = (0..40).map(|i| format!("p{i}")).collect();
        let path = dir.join("read.sem");
        let mut args = vec!["run", path.to_str().unwrap(), "--cluster", "local"];
        for name in &some {
            args.extend(["--output", name.as_str()]);
        }
        let (code, out, err) = fixtures::semc(&args);
        assert_eq!(code, 0, "{out}{err}");
        for (i, want) in wanted.iter().take(some.len()).enumerate() {
            let url = url::Url::from_directory_path(dir.join(format!("out/p{i}"))).unwrap();
            assert_eq!(
                &table_rows(url.as_str()).await.1,
                want,
                "on the cluster, predicate {i}: {}",
                sqls[i]
            );
        }
    }
}

/// `scan { file_column, pushdown, files }`: the file column names each row's file, and a
/// narrowed file list reads only those files — also from the plan alone.
#[tokio::test]
async fn scan_options_narrow_files_and_name_them() {
    let write = r#"
source lineitem from delta("tpch/lineitem") { l_orderkey: int64  l_shipdate: date }
model by_year from lineitem { derive { y = year(l_shipdate) } }
output by_year to delta("by_year") mode overwrite partition by (y)
"#;
    let dir = workspace("scan_options", &[("tpch", "tpch")], &[("write.sem", write)]);
    run_ok(&dir.join("write.sem")).await;
    let file = std::fs::read_dir(dir.join("by_year/y=1995"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    let file = format!("y=1995/{}", file.to_string_lossy());
    let read = format!(
        "source by_year from delta(\"by_year\") {{\n  l_orderkey: int64\n  y: int32\n  scan {{ file_column = \"_file\", pushdown = true, files = [\"{file}\"] }}\n}}\nmodel files from by_year {{\n  group by _file, y\n  aggregate {{ n = count() }}\n}}\noutput files to delta(\"out/files\") mode overwrite\n"
    );
    std::fs::write(dir.join("read.sem"), read).unwrap();
    let reports = run_ok(&dir.join("read.sem")).await;
    let rows = table_rows(&reports[0].location).await;
    assert_eq!(rows.1.len(), 1, "one file read");
    assert!(rows.1[0][0].ends_with(&file), "{:?}", rows.1);
    assert_eq!(rows.1[0][1], "1995");
    let want = sql_rows(
        "select count(*) from lineitem where extract(year from l_shipdate) = 1995",
        TPCH,
    )
    .await;
    assert_eq!(rows.1[0][2], want.1[0][0]);
    // without a file column, semc reads the snapshot as its files itself: the same narrowing
    let narrow = format!(
        "source by_year from delta(\"by_year\") {{\n  l_orderkey: int64\n  y: int32\n  scan {{ files = [\"{file}\"] }}\n}}\nmodel counted from by_year {{\n  group by y\n  aggregate {{ n = count() }}\n}}\noutput counted to delta(\"out/counted\") mode overwrite\n"
    );
    std::fs::write(dir.join("narrow.sem"), narrow).unwrap();
    let reports = run_ok(&dir.join("narrow.sem")).await;
    let rows = table_rows(&reports[0].location).await;
    assert_eq!(rows.1, [["1995".to_string(), want.1[0][0].clone()]]);
}

/// Orders whose customer is missing from the joined table: a warning by default, an error
/// (nothing committed) under `strict = true`.
#[tokio::test]
async fn orphan_join_keys_warn_or_fail_under_strict() {
    let make = r#"
source customer from delta("tpch/customer") { c_custkey: int64 key }
model few from customer { where c_custkey <= 100 }
output few to delta("few") mode overwrite
"#;
    let dir = workspace("orphans", &[("tpch", "tpch")], &[("make.sem", make)]);
    run_ok(&dir.join("make.sem")).await;
    let read = r#"
source few from delta("few") { c_custkey: int64 key }
source orders from delta("tpch/orders") {
  o_orderkey: int64 key
  o_custkey: int64
  join few many_to_one on o_custkey = few.c_custkey
}
model known from orders {
  aggregate { n = count(), with_customer = count(few.c_custkey) }
}
output known to delta("out/known") mode overwrite
"#;
    std::fs::write(dir.join("read.sem"), read).unwrap();
    let reports = run_ok(&dir.join("read.sem")).await;
    let w = &reports[0].warnings;
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].code.as_str(), "E0406");
    let orphans: u64 = w[0].message.split_whitespace().next().unwrap().parse().unwrap();
    let rows = table_rows(&reports[0].location).await;
    let (n, with): (u64, u64) = (rows.1[0][0].parse().unwrap(), rows.1[0][1].parse().unwrap());
    assert_eq!(orphans, n - with, "the warning counts the orders without a customer");
    std::fs::write(
        dir.join("read.sem"),
        format!("policy {{ strict = true }}\n{read}").replace("out/known", "out/known_strict"),
    )
    .unwrap();
    let c = run::compile(&dir.join("read.sem"))
        .await
        .unwrap_or_else(|_| panic!("internal"));
    match run::run_compiled(&c, &[]).await {
        Err(run::Failure::User(d)) => assert_eq!(d[0].code.as_str(), "E0406"),
        _ => panic!("strict lets orphan keys through"),
    }
    assert!(!dir.join("out/known_strict/_delta_log").exists());
}

/// Contract verdicts against a plain-Rust oracle: 40 tables of 250 generated batches each
/// (10,000 batches), with nulls, duplicate keys and failing checks injected at random.
/// Every violation is found with its exact count, and clean data is never rejected.
#[tokio::test]
async fn contract_verdicts_equal_an_oracle() {
    use datafusion::arrow::array::{ArrayRef, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use std::sync::Arc;
    let dir = workspace("contract_oracle", &[], &[]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("v", DataType::Int64, true),
        Field::new("w", DataType::Int64, true),
    ]));
    let mut seed = 7u64;
    let mut rnd = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let (mut batches_total, mut clean_tables) = (0, 0);
    for t in 0..40 {
        // per table: which kinds of violation to inject (some tables get none)
        let (p_null, p_dup, p_neg) = (rnd(3) == 0, rnd(3) == 0, rnd(3) == 0);
        let (mut nulls, mut negs) = (0usize, 0usize);
        let mut counts: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
        let mut batches = vec![];
        let mut next_id = 0i64;
        for _ in 0..250 {
            let rows = 1 + rnd(6) as usize;
            let (mut ids, mut vs, mut ws) = (vec![], vec![], vec![]);
            for _ in 0..rows {
                let id = if p_dup && next_id > 0 && rnd(40) == 0 {
                    rnd(next_id as u64) as i64
                } else {
                    next_id
                };
                next_id += 1;
                *counts.entry(id).or_default() += 1;
                let v = if p_null && rnd(50) == 0 {
                    None
                } else {
                    Some(rnd(1000) as i64)
                };
                let w = if p_neg && rnd(60) == 0 {
                    -1 - rnd(10) as i64
                } else {
                    rnd(100) as i64
                };
                nulls += usize::from(v.is_none());
                negs += usize::from(w < 0);
                ids.push(Some(id));
                vs.push(v);
                ws.push(Some(w));
            }
            let cols: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(Int64Array::from(vs)),
                Arc::new(Int64Array::from(ws)),
            ];
            batches.push(RecordBatch::try_new(schema.clone(), cols).unwrap());
        }
        batches_total += batches.len();
        let dups = counts.values().filter(|c| **c > 1).count();
        let path = dir.join(format!("t{t}"));
        std::fs::create_dir_all(&path).unwrap();
        let url = url::Url::from_directory_path(&path).unwrap();
        let table = deltalake::DeltaTable::try_from_url(url).await.unwrap();
        table.write(batches).await.unwrap();
        let text = format!(
            "source t from delta(\"t{t}\") {{ id: int64  v: int64  w: int64 }}\nmodel m from t {{\n  contract {{\n    id: int64 unique\n    v: int64 not null\n    w: int64 check (w >= 0)\n  }}\n}}\noutput m to delta(\"out/m{t}\") mode overwrite\n"
        );
        std::fs::write(dir.join(format!("w{t}.sem")), text).unwrap();
        let c = run::compile(&dir.join(format!("w{t}.sem")))
            .await
            .unwrap_or_else(|_| panic!("internal"));
        let mut want: Vec<String> = vec![];
        if dups > 0 {
            want.push(format!(
                "output `m`: {dups} value(s) of `id` occur more than once (`unique`)"
            ));
        }
        if nulls > 0 {
            want.push(format!("output `m`: {nulls} row(s) break `not null` on `v`"));
        }
        if negs > 0 {
            want.push(format!("output `m`: {negs} row(s) break `check` on `w`"));
        }
        match run::run_compiled(&c, &[]).await {
            Ok(_) => {
                assert!(want.is_empty(), "table {t}: violations missed: {want:?}");
                clean_tables += 1;
            }
            Err(run::Failure::User(d)) => {
                let mut got: Vec<String> = d.iter().map(|d| d.message.clone()).collect();
                got.sort();
                want.sort();
                assert_eq!(got, want, "table {t}");
                assert!(
                    !dir.join(format!("out/m{t}/_delta_log")).exists(),
                    "table {t}: committed despite violations"
                );
            }
            Err(run::Failure::Internal(m)) => panic!("internal: {m}"),
        }
    }
    assert_eq!(batches_total, 10_000);
    assert!(
        clean_tables > 2 && clean_tables < 38,
        "both verdicts occur ({clean_tables} clean tables)"
    );
}

/// A join to a unique target (a `many_to_one` key, verified on the data before a run
/// commits) keeps each row once: when nothing reads its columns the plan drops it. A
/// `one_to_many` join multiplies rows: it stays even when its columns go unread.
#[tokio::test]
async fn unused_joins_to_unique_keys_are_dropped() {
    let text = r#"
source nation from delta("tpch/nation") { n_nationkey: int64 key  n_name: string }
source customer from delta("tpch/customer") {
  c_custkey: int64 key
  c_nationkey: int64
  join nation many_to_one on c_nationkey = nation.n_nationkey
}
model ids from customer {
  join nation as n many_to_one on c_nationkey = n.n_nationkey
  derive { nation_name = nation.n_name }
  select { c_custkey }
}
model fanned from nation {
  join customer one_to_many on n_nationkey = customer.c_nationkey
  select { n_name }
}
model named from customer {
  select { c_custkey, nation_name = nation.n_name }
}
output ids to delta("out/ids") mode overwrite
output fanned to delta("out/fanned") mode overwrite
output named to delta("out/named") mode overwrite
"#;
    let dir = workspace("join_elimination", &[("tpch", "tpch")], &[("w.sem", text)]);
    let (_, session, plan) = plan_of(&dir.join("w.sem")).await;
    let roots = session.consume(&plan).await.unwrap_or_else(|_| panic!("consume"));
    let shown: Vec<String> = roots.iter().map(|r| r.display_indent().to_string()).collect();
    assert!(
        !shown[0].contains("Join"),
        "the unused many_to_one join and path are dropped:\n{}",
        shown[0]
    );
    assert!(
        shown[1].contains("Join"),
        "a one_to_many join multiplies rows:\n{}",
        shown[1]
    );
    assert!(shown[2].contains("Join"), "a used join stays:\n{}", shown[2]);
    let reports = run_ok(&dir.join("w.sem")).await;
    let rows = |n: &str| reports.iter().find(|r| r.output == n).unwrap().rows;
    assert_eq!(rows("ids"), 1500);
    assert_eq!(rows("fanned"), 1500);
    assert_eq!(rows("named"), 1500);
}

/// A decimal average rounds half away from zero at its scale, as DuckDB and Spark do:
/// (0 + 1 + 4) / 3 = 1.666666… is 1.666667 at scale 6, not the engine's truncated 1.666666.
#[tokio::test]
async fn decimal_averages_round_half_away_from_zero() {
    let text = "import \"schema.sem\"\nmodel m from nation {\n  where n_nationkey in [0, 1, 4]\n  aggregate { a = avg(cast(n_nationkey as decimal(10, 2))), b = avg(cast(0 - n_nationkey as decimal(10, 2))) }\n}\noutput m to delta(\"out/m\") mode overwrite\n";
    let schema = semc::demo::examples::TPCH
        .iter()
        .find(|(n, _)| *n == "schema.sem")
        .map(|(_, t)| *t)
        .unwrap();
    let dir = workspace(
        "avg_rounding",
        &[("tpch", "tpch")],
        &[("schema.sem", schema), ("w.sem", text)],
    );
    let c = run::compile(&dir.join("w.sem"))
        .await
        .unwrap_or_else(|_| panic!("compile"));
    assert!(!c.has_errors(), "{}", semc::diag::render(&c.ws.map, &c.diags, false));
    let reports = match run::run_compiled(&c, &[]).await {
        Ok(r) => r,
        Err(run::Failure::User(d)) => panic!("{}", semc::diag::render(&c.ws.map, &d, false)),
        Err(run::Failure::Internal(m)) => panic!("internal: {m}"),
    };
    let rows = table_rows(&reports[0].location).await;
    assert_eq!(
        rows.1,
        vec![vec!["1.666667".to_string(), "-1.666667".to_string()]],
        "{rows:?}"
    );
}

/// The functions users reach for first (times, strings, regular expressions, hashes as hex,
/// `||`, greatest/least, round to digits, `date_trunc` to every unit) equal DataFusion SQL
/// on the same rows; `date_trunc` also past 2262, where the engine's own ends.
#[tokio::test]
async fn functions_equal_sql() {
    let text = r#"source orders from delta("tpch/orders") {
  o_orderkey: int64 key
  o_custkey: int64 not null
  o_orderstatus: string not null
  o_orderpriority: string not null
  o_orderdate: date not null
  o_totalprice: decimal(15, 2) not null
  o_comment: string not null
}
model f from orders {
  where o_orderkey < 200
  derive { ts = cast(o_orderdate as timestamp) + interval "5 hours" + interval "7 minutes" }
  select {
    o_orderkey
    h = hour(ts), mi = minute(ts), se = second(ts), tr = date_trunc("month", ts)
    cw = concat_ws("-", o_orderstatus, o_orderpriority), rp = replace(o_orderpriority, "-", "_")
    sp = split_part(o_orderpriority, "-", 2), rl = regexp_like(o_comment, "^[a-f]")
    rr = regexp_replace(o_comment, "[aeiou]", "*", "g"), r1 = regexp_replace(o_comment, "[aeiou]", "*")
    m5 = md5(o_comment), s2 = sha256(o_comment), dg = digest(o_comment, "blake3"), hx = to_hex(o_orderkey)
    rd = round(cast(o_totalprice as float64), 1), gr = greatest(o_custkey, o_orderkey), le = least(o_custkey, o_orderkey)
    round1 = round(o_totalprice, 1), round_hundreds = round(o_totalprice, -2)
    cc = o_orderstatus || o_orderpriority, nu = nullif(o_orderstatus, "F")
    t_second = date_trunc("second", ts), t_minute = date_trunc("minute", ts), t_hour = date_trunc("hour", ts)
    t_day = date_trunc("day", ts), t_week = date_trunc("week", ts), t_quarter = date_trunc("quarter", ts)
    t_year = date_trunc("year", ts)
  }
  sort o_orderkey
}
output f to delta("out/f") mode overwrite
model far from orders {
  where o_orderkey == 1
  select { t = date_trunc("month", cast(date "9999-12-31" as timestamp)), w = date_trunc("week", cast(date "9999-12-31" as timestamp)) }
}
"#;
    let dir = workspace("functions", &[("tpch", "tpch")], &[("w.sem", text)]);
    let reports = run_ok(&dir).await;
    let got = table_rows(&reports[0].location).await;
    let sql = "with t as (select *, cast(o_orderdate as timestamp) + interval '5 hours' + interval '7 minutes' as ts from orders where o_orderkey < 200) \
        select o_orderkey, date_part('hour', ts) as h, date_part('minute', ts) as mi, date_part('second', ts) as se, date_trunc('month', ts) as tr, \
        concat_ws('-', o_orderstatus, o_orderpriority) as cw, replace(o_orderpriority, '-', '_') as rp, split_part(o_orderpriority, '-', 2) as sp, \
        regexp_like(o_comment, '^[a-f]') as rl, regexp_replace(o_comment, '[aeiou]', '*', 'g') as rr, regexp_replace(o_comment, '[aeiou]', '*') as r1, \
        md5(o_comment) as m5, encode(sha256(o_comment), 'hex') as s2, encode(digest(o_comment, 'blake3'), 'hex') as dg, to_hex(o_orderkey) as hx, \
        round(cast(o_totalprice as double), 1) as rd, greatest(o_custkey, o_orderkey) as gr, least(o_custkey, o_orderkey) as le, \
        round(o_totalprice, 1) as round1, round(o_totalprice, -2) as round_hundreds, \
        o_orderstatus || o_orderpriority as cc, nullif(o_orderstatus, 'F') as nu, \
        date_trunc('second', ts) as t_second, date_trunc('minute', ts) as t_minute, date_trunc('hour', ts) as t_hour, \
        date_trunc('day', ts) as t_day, date_trunc('week', ts) as t_week, date_trunc('quarter', ts) as t_quarter, \
        date_trunc('year', ts) as t_year from t order by o_orderkey";
    let want = sql_rows(sql, &[("orders", "tpch/orders")]).await;
    assert_eq!(got.1.len(), 55);
    assert_eq!(got.0, want.0);
    for (g, w) in got.1.iter().zip(&want.1) {
        // (semc's timestamps are UTC: its `tr` ends in Z, the SQL's local timestamp does not)
        assert!(
            g.iter().zip(w).all(|(a, b)| same_cell(a.trim_end_matches('Z'), b)),
            "semc {g:?}\nsql  {w:?}"
        );
    }
    // the hashes are hex text, as other engines print them
    assert!(got.1[0][12].len() == 64 && got.1[0][12].chars().all(|c| c.is_ascii_hexdigit()));
    // past the engine's own date_trunc, which ends in 2262: 9999-12-31 is a common "until
    // further notice"
    let (code, out, err) = semc(&["show", dir.to_str().unwrap(), "--model", "far", "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "t,w\n9999-12-01T00:00:00Z,9999-12-27T00:00:00Z\n");
}

/// String literals take escapes — `\\t`, `\\n`, `\\x1f`, `\\u{e9}`, `\\\\`, `\\"` — and keep any
/// other backslash as written (a regular expression's `\\d` stays `\\d`).
#[tokio::test]
async fn string_escapes_reach_the_data() {
    let text = r##"
source region from delta("tpch/region") { r_regionkey: int64 key }
model m from region {
  where r_regionkey == 0
  select { s = "tab\tnl\nus\x1f\u{e9}\u{1F600}\\\"\d", n = regexp_replace("a1b22", "\d+", "#", "g") }
}
output m to delta("out/m") mode overwrite
"##;
    let dir = workspace("escapes", &[("tpch", "tpch")], &[("w.sem", text)]);
    let reports = run_ok(&dir).await;
    let rows = table_rows(&reports[0].location).await;
    assert_eq!(rows.1[0][0], "tab\tnl\nus\u{1f}\u{e9}\u{1F600}\\\"\\d");
    assert_eq!(rows.1[0][1], "a#b#");
}

/// Window functions — ranks, ntile, lag/lead with defaults, first_value, running and moving
/// aggregates, whole-partition aggregates — and a `where` on their result equal DataFusion
/// SQL on the same rows (the SQL spells out the tie-breaker semc adds to `row_number`).
#[tokio::test]
async fn window_functions_equal_sql() {
    let text = r#"source orders from delta("tpch/orders") {
  o_orderkey: int64 key
  o_custkey: int64 not null
  o_orderdate: date not null
  o_totalprice: decimal(15, 2) not null
}
model w from orders {
  where o_custkey < 20
  derive {
    rn = row_number() over (partition by o_custkey order by o_orderdate desc)
    rk = rank() over (partition by o_custkey order by o_orderdate)
    dr = dense_rank() over (order by o_custkey)
    nt = ntile(3) over (partition by o_custkey order by o_orderkey)
    prev = lag(o_totalprice) over (partition by o_custkey order by o_orderdate, o_orderkey)
    nxt = lead(o_totalprice, 2, 0) over (partition by o_custkey order by o_orderdate, o_orderkey)
    fv = first_value(o_orderkey) over (partition by o_custkey order by o_orderdate, o_orderkey)
    running = sum(o_totalprice) over (partition by o_custkey order by o_orderdate, o_orderkey)
    moving = avg(o_totalprice) over (partition by o_custkey order by o_orderdate, o_orderkey rows between 2 preceding and current row)
    cnt = count() over (partition by o_custkey)
    mx = max(o_totalprice) over (partition by o_custkey)
  }
  where rn <= 3
  sort o_custkey, rn
}
output w to delta("out/w") mode overwrite
"#;
    // the windows survive the round trip through Substrait: the consumed plan is a snapshot
    // (of windows with one order each: the consumer lists windows that share an order in
    // hash order)
    let shape = "source orders from delta(\"tpch/orders\") { o_orderkey: int64 key  o_custkey: int64 not null  o_orderdate: date not null }\nmodel w from orders {\n  derive {\n    rn = row_number() over (partition by o_custkey order by o_orderdate desc)\n    n = count() over (partition by o_custkey)\n    moving = max(o_orderkey) over (order by o_orderdate rows between 2 preceding and current row)\n  }\n  where rn == 1\n}\noutput w to delta(\"out/w\") mode overwrite\n";
    let dir = workspace("windows_plan", &[("tpch", "tpch")], &[("w.sem", shape)]);
    let c = run::compile(&dir).await.unwrap_or_else(|_| panic!("internal"));
    let program = c.program().unwrap_or_else(|_| panic!("errors"));
    let s = run::Session::new(&c).await.unwrap_or_else(|_| panic!("session"));
    let plan = s.plan(program, &[]).unwrap_or_else(|_| panic!("plan"));
    let root = s.consume(&plan).await.unwrap_or_else(|_| panic!("consume")).remove(0);
    let text_plan = fixtures::redact(&root.display_indent().to_string());
    assert!(text_plan.contains("WindowAggr"), "{text_plan}");
    insta::with_settings!({ snapshot_path => "snapshots/plans", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("plan_windows", text_plan);
    });
    let dir = workspace("windows", &[("tpch", "tpch")], &[("w.sem", text)]);
    let reports = run_ok(&dir).await;
    let got = table_rows(&reports[0].location).await;
    let sql = "with t as (select o_orderkey, o_custkey, o_orderdate, o_totalprice, \
        row_number() over (partition by o_custkey order by o_orderdate desc, o_orderkey) as rn, \
        rank() over (partition by o_custkey order by o_orderdate) as rk, \
        dense_rank() over (order by o_custkey) as dr, \
        ntile(3) over (partition by o_custkey order by o_orderkey) as nt, \
        lag(o_totalprice) over (partition by o_custkey order by o_orderdate, o_orderkey) as prev, \
        lead(o_totalprice, 2, 0) over (partition by o_custkey order by o_orderdate, o_orderkey) as nxt, \
        first_value(o_orderkey) over (partition by o_custkey order by o_orderdate, o_orderkey) as fv, \
        sum(o_totalprice) over (partition by o_custkey order by o_orderdate, o_orderkey) as running, \
        avg(o_totalprice) over (partition by o_custkey order by o_orderdate, o_orderkey rows between 2 preceding and current row) as moving, \
        count(*) over (partition by o_custkey) as cnt, \
        max(o_totalprice) over (partition by o_custkey) as mx \
        from orders where o_custkey < 20) select * from t where rn <= 3 order by o_custkey, rn";
    let want = sql_rows(sql, &[("orders", "tpch/orders")]).await;
    assert_eq!(got.1.len(), 39);
    assert_eq!(got.0, want.0);
    for (g, w) in got.1.iter().zip(&want.1) {
        assert!(g.iter().zip(w).all(|(a, b)| same_cell(a, b)), "semc {g:?}\nsql  {w:?}");
    }
}

/// `keep N per k by e` keeps, per group, the first N rows in the order, ties broken by every
/// other column — SQL's `QUALIFY row_number() over (…) <= N`; with `keep 1` the group key
/// is unique, so a `many_to_one` join to the model is proven by the checker.
#[tokio::test]
async fn keep_the_best_rows_per_key_equals_sql() {
    let text = r#"
source orders from delta("tpch/orders") {
  o_orderkey: int64 key
  o_custkey: int64 not null
  o_orderdate: date not null
  o_totalprice: decimal(15, 2) not null
}
source customer from delta("tpch/customer") {
  c_custkey: int64 key
  c_name: string not null
}
model latest from orders {
  keep 1 per o_custkey by o_orderdate desc
  select { o_custkey, o_orderkey, o_orderdate }
}
model top2 from orders {
  where o_custkey < 50
  keep 2 per o_custkey by o_totalprice desc
  sort o_custkey, o_totalprice desc
}
model named from customer {
  join latest many_to_one on c_custkey = latest.o_custkey
  where c_custkey < 30
  select { c_name, last_order = latest.o_orderkey }
  sort c_name
}
output top2 to delta("out/top2") mode overwrite
output named to delta("out/named") mode overwrite
"#;
    let dir = workspace("keep", &[("tpch", "tpch")], &[("w.sem", text)]);
    let reports = run_ok(&dir).await;
    let top2 = table_rows(&reports.iter().find(|r| r.output == "top2").unwrap().location).await;
    let named = table_rows(&reports.iter().find(|r| r.output == "named").unwrap().location).await;
    let want = sql_rows(
        "select o_orderkey, o_custkey, o_orderdate, o_totalprice from (select *, row_number() over (partition by o_custkey order by o_totalprice desc, o_orderkey, o_orderdate) as rn from orders where o_custkey < 50) where rn <= 2 order by o_custkey, o_totalprice desc",
        &[("orders", "tpch/orders")],
    )
    .await;
    assert!(!top2.1.is_empty());
    assert!(same_rows(&top2.1, &want.1), "{:?}\n{:?}", top2.1, want.1);
    let want = sql_rows(
        "select c_name, o_orderkey as last_order from customer left join (select * from (select *, row_number() over (partition by o_custkey order by o_orderdate desc, o_orderkey) as rn from orders) where rn = 1) on c_custkey = o_custkey where c_custkey < 30 order by c_name",
        &[("orders", "tpch/orders"), ("customer", "tpch/customer")],
    )
    .await;
    assert!(same_rows(&named.1, &want.1), "{:?}\n{:?}", named.1, want.1);
}

/// `date_diff(unit, a, b)` counts the unit boundaries between two dates or timestamps, as
/// DuckDB does (weeks are whole 7-day spans; negative when b is before a). Every unit over
/// generated dates: `analyst::date_diff_counts_every_unit_as_duckdb_does`.
#[tokio::test]
async fn date_diff_counts_unit_boundaries() {
    let text = r#"
source region from delta("tpch/region") { r_regionkey: int64 key }
model d from region {
  where r_regionkey == 0
  select {
    months = date_diff("month", date "2024-01-31", date "2024-02-01")
    years = date_diff("year", date "2023-12-31", date "2024-01-01")
    days = date_diff("day", date "2024-03-01", date "2024-02-28")
    weeks = date_diff("week", date "2024-01-07", date "2024-01-14")
    same_week = date_diff("week", date "2024-03-01", date "2024-03-07")
    quarters = date_diff("quarter", date "2024-03-31", timestamp "2024-04-01T00:00:00Z")
    hours = date_diff("hour", timestamp "2024-01-01T10:59:59Z", timestamp "2024-01-01T11:00:00Z")
  }
}
output d to delta("out/d") mode overwrite
"#;
    let dir = workspace("date_diff", &[("tpch", "tpch")], &[("w.sem", text)]);
    let reports = run_ok(&dir).await;
    let rows = table_rows(&reports[0].location).await;
    assert_eq!(
        rows.1,
        vec![["1", "1", "-2", "1", "0", "1", "1"].map(String::from).to_vec()]
    );
}
