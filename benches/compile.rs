//! Compile cost: parse + check + lower to Substrait bytes, without reading Delta logs
//! (the snapshots are read once, as a run reads them once).
//!
//! `cargo bench --bench compile` — the TPC-H workspace (22 outputs), and generated
//! workspaces of 100, 1,000 and 10,000 models over the TPC-H schema. Criterion reports
//! the time per workspace; divide by the model count to see that cost grows linearly.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use semc::syntax::load::Workspace;
use std::path::{Path, PathBuf};

/// A workspace to compile: its name, its number of outputs and its files (name, text).
type Case = (String, usize, Vec<(String, String)>);

fn data_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/sf0.01");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(semc::demo::tpch::generate(&dir.join("tpch"), 0.01))
        .expect("generate");
    dir
}

/// `n` models (and outputs) of the shapes users write: filters through joins, groups, measures.
fn generated(n: usize) -> String {
    let mut s = String::from("import \"schema.sem\"\n");
    for i in 0..n {
        s.push_str(&format!(
            "model m{i} from lineitem {{\n  where orders.o_orderdate >= date \"1995-01-01\" and l_quantity > {q}\n  group by seg = orders.customer.c_mktsegment, y = ship_year\n  aggregate {{ revenue, n = count_distinct(l_orderkey) }}\n  sort revenue desc\n  limit 10\n}}\noutput m{i} to delta(\"out/m{i}\") mode overwrite\n",
            q = i % 50
        ));
    }
    s
}

fn compile_all(c: &mut Criterion) {
    let dir = data_dir();
    for (name, text) in semc::demo::examples::TPCH {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    // read the snapshots once
    let base = rt
        .block_on(semc::run::compile(&dir))
        .unwrap_or_else(|_| panic!("compile"));
    let session = rt
        .block_on(semc::run::Session::new(&base))
        .unwrap_or_else(|_| panic!("session"));
    let funcs = semc::run::stdlib().unwrap_or_else(|_| panic!("stdlib"));
    let schema = semc::demo::examples::TPCH[0].1;

    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    let mut cases: Vec<Case> = vec![(
        "tpch22".into(),
        22,
        semc::demo::examples::TPCH
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    )];
    for n in [100, 1_000, 10_000] {
        cases.push((
            format!("generated{n}"),
            n,
            vec![("schema.sem".into(), schema.into()), ("gen.sem".into(), generated(n))],
        ));
    }
    for (name, models, files) in cases {
        let ws_dir = dir.join(format!("compile-{name}"));
        std::fs::create_dir_all(&ws_dir).unwrap();
        for (f, t) in &files {
            std::fs::write(ws_dir.join(f), t).unwrap();
        }
        let tpch = ws_dir.join("tpch");
        if !tpch.exists() {
            std::os::unix::fs::symlink(dir.join("tpch"), &tpch).unwrap();
        }
        group.throughput(Throughput::Elements(models as u64));
        group.bench_function(BenchmarkId::new("parse_check_lower", &name), |b| {
            b.iter(|| {
                let ws = Workspace::load(&ws_dir);
                let (program, diags) = semc::check::check(&ws, &base.infos, funcs.clone());
                let program = program.unwrap_or_else(|| panic!("{}", semc::diag::render(&ws.map, &diags, false)));
                let plan = session.plan(&program, &[]).unwrap_or_else(|_| panic!("plan"));
                prost::Message::encode_to_vec(&plan).len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, compile_all);
criterion_main!(benches);
