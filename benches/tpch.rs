//! TPC-H through semc vs. stock DataFusion SQL on the same Delta tables, in one process.
//!
//! `cargo bench --bench tpch -- [--sf 0.1] [--runs 3]`
//!
//! For each example model (examples/tpch): (a) semc — compile, lower to Substrait,
//! consume, execute, collect; (b) DataFusion SQL — the official query text over the same
//! Delta providers. Interleaved per query, one warm-up, then `--runs` timed runs; prints
//! medians and the ratio a/b per query, and a closing line with the totals.

use datafusion::prelude::SessionContext;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn semc_once(ws: &Path, output: &str) -> (f64, usize) {
    let start = Instant::now();
    let c = semc::driver::compile(ws)
        .await
        .unwrap_or_else(|_| panic!("compile"));
    let program = c
        .program()
        .unwrap_or_else(|_| panic!("{}", semc::diag::render(&c.ws.map, &c.diags, false)));
    let s = semc::driver::Session::new(&c)
        .await
        .unwrap_or_else(|_| panic!("session"));
    let plan = s
        .plan(program, Some(output))
        .unwrap_or_else(|_| panic!("plan"));
    let lp = s
        .consume(&plan)
        .await
        .unwrap_or_else(|_| panic!("consume"))
        .remove(0);
    let batches = s
        .ctx
        .execute_logical_plan(lp)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    (
        start.elapsed().as_secs_f64(),
        batches.iter().map(|b| b.num_rows()).sum(),
    )
}

async fn sql_once(ctx: &SessionContext, sql: &str) -> (f64, usize) {
    let start = Instant::now();
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    (
        start.elapsed().as_secs_f64(),
        batches.iter().map(|b| b.num_rows()).sum(),
    )
}

#[tokio::main]
async fn main() {
    let sf: f64 = arg("--sf", "0.1").parse().expect("--sf");
    let runs: usize = arg("--runs", "3").parse().expect("--runs");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ws: PathBuf = root.join(format!("target/bench-data/sf{sf}"));
    std::fs::create_dir_all(&ws).unwrap();
    eprintln!("data: {}", ws.display());
    semc::tpch::generate(&ws.join("tpch"), sf)
        .await
        .expect("generate");
    for (name, text) in semc::examples::TPCH {
        std::fs::write(ws.join(name), text).unwrap();
    }
    // DataFusion SQL over the same providers, same session settings
    let ctx = semc::engine::session();
    for t in semc::tpch::TABLES {
        let url =
            url::Url::from_directory_path(std::fs::canonicalize(ws.join("tpch").join(t)).unwrap())
                .unwrap();
        let table = semc::delta::open(&url, &semc::delta::PinSpec::Latest)
            .await
            .unwrap();
        ctx.register_table(
            *t,
            semc::engine::provider(&table, &ctx.state()).await.unwrap(),
        )
        .unwrap();
    }
    println!(
        "{:<6} {:>10} {:>10} {:>8}",
        "query", "semc_ms", "sql_ms", "ratio"
    );
    let (mut total_a, mut total_b, mut log_sum, mut n) = (0.0, 0.0, 0.0, 0);
    for (file, _) in semc::examples::TPCH
        .iter()
        .filter(|(f, _)| f.starts_with('q'))
    {
        let q = file.trim_end_matches(".sem");
        let sql =
            std::fs::read_to_string(root.join(format!("tests/data/tpch-queries/{q}.sql"))).unwrap();
        let (_, ra) = semc_once(&ws, q).await;
        let (_, rb) = sql_once(&ctx, &sql).await;
        assert_eq!(ra, rb, "{q}: row counts differ");
        let (mut a, mut b) = (vec![], vec![]);
        for _ in 0..runs {
            a.push(semc_once(&ws, q).await.0);
            b.push(sql_once(&ctx, &sql).await.0);
        }
        let (ma, mb) = (median(a), median(b));
        println!(
            "{q:<6} {:>10.1} {:>10.1} {:>8.3}",
            ma * 1e3,
            mb * 1e3,
            ma / mb
        );
        total_a += ma;
        total_b += mb;
        log_sum += (ma / mb).ln();
        n += 1;
    }
    println!(
        "total semc_s={total_a:.3} datafusion_sql_s={total_b:.3} ratio={:.3} geomean_ratio={:.3}",
        total_a / total_b,
        (log_sum / n as f64).exp()
    );
}
