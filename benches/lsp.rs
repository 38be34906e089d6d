//! The language server's cost per keystroke: after an edit, the whole workspace of the open
//! file is loaded (the edited buffer over disk), parsed, checked with its names indexed, and
//! its diagnostics turned into the protocol's. The baseline in the same run is
//! `semc check --offline` of the same workspace (parse + check, no index).
//!
//! `cargo bench --bench lsp` prints one line:
//! `lsp lines=… keystroke_ms=… check_ms=… ratio=…` (medians of 30; the target is a
//! keystroke under 50 ms for a 2,000-line workspace).

use semc::syntax::load::Workspace;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

/// About `lines` lines of models over the TPC-H schema.
fn models(lines: usize) -> String {
    let mut s = String::from("import \"schema.sem\"\n");
    let mut i = 0;
    while s.lines().count() < lines {
        s.push_str(&format!(
            "## Model {i}.\nmodel m{i} from lineitem {{\n  where orders.o_orderdate >= date \"1995-01-01\" and l_quantity > {q}\n  group by seg = orders.customer.c_mktsegment, y = ship_year\n  aggregate {{ revenue, n = count_distinct(l_orderkey) }}\n  sort revenue desc\n  limit 10\n}}\noutput m{i} to delta(\"out/m{i}\") mode overwrite\n\n",
            q = i % 50
        ));
        i += 1;
    }
    s
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/lsp");
    std::fs::create_dir_all(&dir).unwrap();
    let schema = semc::demo::examples::TPCH[0].1;
    let text = models(2_000 - schema.lines().count());
    std::fs::write(dir.join("schema.sem"), schema).unwrap();
    std::fs::write(dir.join("models.sem"), &text).unwrap();
    let lines = schema.lines().count() + text.lines().count();
    let root = std::fs::canonicalize(&dir).unwrap();
    let edited = root.join("models.sem");
    let funcs = semc::run::stdlib().unwrap_or_else(|_| panic!("stdlib"));
    let (mut keystroke, mut check) = (vec![], vec![]);
    for round in 0..30 {
        // a keystroke: one literal changes
        let buffer = text.replacen("l_quantity > 0", &format!("l_quantity > {round}"), 1);
        let overlay: HashMap<_, _> = [(edited.clone(), buffer)].into_iter().collect();
        let t = Instant::now();
        let a = semc::lsp::analyze(&root, overlay, &HashMap::new());
        let published = semc::lsp::published_diagnostics(&a);
        keystroke.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(
            published.values().all(Vec::is_empty),
            "{:?}",
            a.diags.first().map(|d| &d.message)
        );

        let t = Instant::now();
        let ws = Workspace::load(&root);
        let (program, _) = semc::check::check(&ws, &vec![], funcs.clone());
        check.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(program.is_some());
    }
    let (k, c) = (median(keystroke), median(check));
    println!(
        "lsp lines={lines} keystroke_ms={k:.1} check_ms={c:.1} ratio={:.2}",
        k / c
    );
}
