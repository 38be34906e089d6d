//! TPC-H through semc vs. stock DataFusion SQL on the same Delta tables, in one process.
//!
//! `cargo bench --bench tpch -- [--sf 0.1] [--runs 3]`
//!
//! For each example model (examples/tpch): (a) semc — compile, lower to Substrait,
//! consume, execute, collect; (b) DataFusion SQL — the official query text over the same
//! Delta tables through delta-rs's own provider; (c) DataFusion SQL over the tables' raw parquet files. Interleaved per
//! query, one warm-up, then `--runs` timed runs; prints medians, the ratios a/b and a/c
//! per query, the peak RSS, and a closing line with the totals.

use datafusion::prelude::{ParquetReadOptions, SessionContext};
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
    let c = semc::run::compile(ws).await.unwrap_or_else(|_| panic!("compile"));
    let program = c
        .program()
        .unwrap_or_else(|_| panic!("{}", semc::diag::render(&c.ws.map, &c.diags, false)));
    let s = semc::run::Session::new(&c).await.unwrap_or_else(|_| panic!("session"));
    let plan = s
        .plan(program, &[output.to_string()])
        .unwrap_or_else(|_| panic!("plan"));
    let lp = s.consume(&plan).await.unwrap_or_else(|_| panic!("consume")).remove(0);
    let batches = s.ctx.execute_logical_plan(lp).await.unwrap().collect().await.unwrap();
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
    semc::demo::tpch::generate(&ws.join("tpch"), sf)
        .await
        .expect("generate");
    for (name, text) in semc::demo::examples::TPCH {
        std::fs::write(ws.join(name), text).unwrap();
    }
    // DataFusion SQL over delta-rs's providers of the same tables, same session settings, its
    // own optimizer
    let parallelism = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let ctx = semc::engine::session_without_rewrites(parallelism);
    for t in semc::demo::tpch::TABLES {
        let dir = std::fs::canonicalize(ws.join("tpch").join(t)).unwrap();
        let url = url::Url::from_directory_path(dir).unwrap();
        let table = semc::delta::open(&url, &semc::delta::PinSpec::Latest).await.unwrap();
        let provider = semc::engine::delta_rs_provider(&table, &ctx.state()).await.unwrap();
        ctx.register_table(*t, provider).unwrap();
    }
    // DataFusion SQL over the raw parquet files of the same tables
    let raw = semc::engine::session_without_rewrites(parallelism);
    for t in semc::demo::tpch::TABLES {
        let dir = ws.join("tpch").join(t);
        raw.register_parquet(*t, dir.to_str().unwrap(), ParquetReadOptions::default())
            .await
            .unwrap();
    }
    println!(
        "{:<6} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "query", "semc_ms", "sql_ms", "parquet_ms", "a/b", "a/c"
    );
    let (mut total_a, mut total_b, mut total_c, mut log_sum, mut n) = (0.0, 0.0, 0.0, 0.0, 0);
    let mut medians = serde_json::Map::new();
    for (file, _) in semc::demo::examples::TPCH.iter().filter(|(f, _)| f.starts_with('q')) {
        let q = file.trim_end_matches(".sem");
        let sql = std::fs::read_to_string(root.join(format!("tests/data/tpch-queries/{q}.sql"))).unwrap();
        // warm-up, and the three agree on the row count
        let (_, ra) = semc_once(&ws, q).await;
        let (_, rb) = sql_once(&ctx, &sql).await;
        let (_, rc) = sql_once(&raw, &sql).await;
        assert_eq!(ra, rb, "{q}: row counts differ");
        assert_eq!(rb, rc, "{q}: row counts differ on parquet");
        let (mut a, mut b, mut c) = (vec![], vec![], vec![]);
        for _ in 0..runs {
            a.push(semc_once(&ws, q).await.0);
            b.push(sql_once(&ctx, &sql).await.0);
            c.push(sql_once(&raw, &sql).await.0);
        }
        let (ma, mb, mc) = (median(a), median(b), median(c));
        println!(
            "{q:<6} {:>10.1} {:>10.1} {:>10.1} {:>8.3} {:>8.3}",
            ma * 1e3,
            mb * 1e3,
            mc * 1e3,
            ma / mb,
            ma / mc
        );
        medians.insert(q.to_string(), serde_json::json!(ma));
        total_a += ma;
        total_b += mb;
        total_c += mc;
        log_sum += (ma / mb).ln();
        n += 1;
    }
    // for benches/peers/run.py
    std::fs::write(
        ws.join("semc_medians.json"),
        serde_json::Value::Object(medians).to_string(),
    )
    .unwrap();
    let rss_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    println!(
        "peak_rss_mib={} datafusion_parquet_s={total_c:.3} ratio_to_parquet={:.3}",
        rss_kib / 1024,
        total_a / total_c
    );
    println!(
        "total semc_s={total_a:.3} datafusion_sql_s={total_b:.3} ratio={:.3} geomean_ratio={:.3}",
        total_a / total_b,
        (log_sum / n as f64).exp()
    );
}
