//! The language for real pipelines, measured as ratios within one run:
//!
//! - a depth-16 ancestor closure written as 16 models joined level by level (the way it had
//!   to be written before `closure`) against one `closure … max 16` step: the time to
//!   compile and lower the workspace to Substrait, the plan's size, and the run's time;
//! - a model (an aggregate over a join) read by 10 outputs, run with each model computed
//!   once (the default) against `SEMC_SHARED_MODELS=off` (recomputed for each output).
//!
//! `cargo bench --bench language` prints one line per comparison.

use std::path::{Path, PathBuf};
use std::time::Instant;

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-data/language")
        .join(name);
    let _ = std::fs::remove_dir_all(d.join("out"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A forest per path: 20,000 nodes in 4 paths, each node's parent up to 16 levels above.
async fn edges(at: &Path) {
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    if at.join("_delta_log").exists() {
        return;
    }
    let (mut paths, mut child, mut parent) = (vec![], vec![], vec![]);
    for p in 0..4i64 {
        for i in 1..5_000i64 {
            paths.push(format!("p{p}"));
            child.push(i);
            // the parent of node i is node i / 2 (at most ⌈log2 5000⌉ = 13 levels up)
            parent.push(i / 2);
        }
    }
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new("path", DataType::Utf8, true),
        Field::new("child", DataType::Int64, true),
        Field::new("parent", DataType::Int64, true),
    ]));
    let batch = datafusion::arrow::record_batch::RecordBatch::try_new(
        schema,
        vec![
            std::sync::Arc::new(StringArray::from(paths)),
            std::sync::Arc::new(Int64Array::from(child)),
            std::sync::Arc::new(Int64Array::from(parent)),
        ],
    )
    .unwrap();
    std::fs::create_dir_all(at).unwrap();
    let url = url::Url::from_directory_path(std::fs::canonicalize(at).unwrap()).unwrap();
    deltalake::DeltaTable::try_from_url(url)
        .await
        .unwrap()
        .write(vec![batch])
        .await
        .unwrap();
}

const EDGES: &str =
    "source edges from delta(\"edges\") {\n  path: string\n  child: int64\n  parent: int64\n  key (path, child)\n}\n";

/// The 16 levels written out: level k+1 joins level k to the edges once more.
fn unrolled() -> String {
    let mut s = String::from(EDGES);
    s.push_str("model lvl1 from edges { select { path, child, ancestor = parent, depth = cast(1 as int32) } }\n");
    for k in 2..=16 {
        s.push_str(&format!(
            "model lvl{k} from lvl{p} {{\n  join edges as e many_to_one on path = e.path and ancestor = e.child\n  where e.parent is not null\n  select {{ path, child, ancestor = e.parent, depth = cast(depth + 1 as int32) }}\n}}\n",
            p = k - 1
        ));
    }
    s.push_str("model ancestors from lvl1 {\n");
    for k in 2..=16 {
        s.push_str(&format!("  union lvl{k}\n"));
    }
    s.push_str("}\noutput ancestors to delta(\"out/ancestors\") mode overwrite\n");
    s
}

fn closure() -> String {
    format!(
        "{EDGES}model ancestors from edges {{ closure child -> parent per path max 16 as (ancestor, depth) truncate }}\noutput ancestors to delta(\"out/ancestors\") mode overwrite\n"
    )
}

/// A model read by 10 outputs.
fn shared() -> String {
    let mut s = format!(
        "{EDGES}model fanout from edges {{\n  join edges as e one_to_many on path = e.path and child = e.parent\n  group by path, child\n  aggregate {{ children = count_distinct(e.child), spread = max(e.child) - min(e.child) }}\n}}\n"
    );
    for i in 0..10 {
        s.push_str(&format!(
            "model reader{i} from fanout {{ where children > {i} % 3 }}\noutput reader{i} to delta(\"out/reader{i}\") mode overwrite\n"
        ));
    }
    s
}

/// (seconds to compile and lower, plan bytes, seconds to run) of the workspace in `d`.
async fn measure(d: &Path) -> (f64, usize, f64) {
    let t = Instant::now();
    let c = semc::run::compile(d).await.unwrap_or_else(|_| panic!("compile"));
    assert!(!c.has_errors(), "{}", semc::diag::render(&c.ws.map, &c.diags, false));
    let session = semc::run::Session::new(&c).await.unwrap_or_else(|_| panic!("session"));
    let plan = session
        .plan(c.program().unwrap_or_else(|_| panic!("program")), &[])
        .unwrap_or_else(|_| panic!("plan"));
    let planning = t.elapsed().as_secs_f64();
    let bytes = prost::Message::encode_to_vec(&plan).len();
    let t = Instant::now();
    semc::run::run_compiled(&c, &[]).await.unwrap_or_else(|_| panic!("run"));
    (planning, bytes, t.elapsed().as_secs_f64())
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let root = dir("");
        edges(&root.join("edges")).await;
        let ws = |name: &str, text: String| {
            let d = dir(name);
            let _ = std::fs::remove_file(d.join("edges"));
            std::os::unix::fs::symlink(root.join("edges"), d.join("edges")).unwrap();
            std::fs::write(d.join("main.sem"), text).unwrap();
            d
        };
        let (u, c) = (ws("unrolled", unrolled()), ws("closure", closure()));
        let (u_plan, u_bytes, u_run) = measure(&u).await;
        let (c_plan, c_bytes, c_run) = measure(&c).await;
        println!(
            "closure16 plan_s={c_plan:.3} unrolled_plan_s={u_plan:.3} plan_ratio={:.3} plan_bytes={c_bytes} unrolled_plan_bytes={u_bytes} bytes_ratio={:.3} run_s={c_run:.3} unrolled_run_s={u_run:.3} run_ratio={:.3}",
            c_plan / u_plan,
            c_bytes as f64 / u_bytes as f64,
            c_run / u_run
        );
        let s = ws("shared", shared());
        // SAFETY: the bench is one thread here, and sets the variable between runs
        unsafe { std::env::set_var("SEMC_SHARED_MODELS", "off") };
        let (_, bytes, each) = measure(&s).await;
        unsafe { std::env::remove_var("SEMC_SHARED_MODELS") };
        let (_, _, once) = measure(&s).await;
        println!(
            "shared10 once_s={once:.3} recomputed_s={each:.3} ratio={:.3} plan_bytes={bytes}",
            once / each
        );
    });
}
