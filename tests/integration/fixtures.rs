//! Delta tables the tests read, generated once per test process.

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use semc::run;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

static FIXTURES: OnceLock<PathBuf> = OnceLock::new();

/// The fixture root: `tpch/*` (TPC-H SF 0.01), `corrupt` (a log that is not JSON),
/// `nolog` (a folder without `_delta_log`), `versioned/orders` (4 versions of orders),
/// `cdf/nation` (nation with its Change Data Feed on).
pub fn root() -> &'static Path {
    FIXTURES.get_or_init(|| {
        remove_fixtures_of_ended_runs();
        let dir = std::env::temp_dir().join(format!("semc-fixtures-{}", std::process::id()));
        let d = dir.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(build(&d));
        })
        .join()
        .expect("fixtures");
        dir
    })
}

/// Removes the fixture roots earlier test runs left (each run writes its own, up to 100 MB,
/// and a test binary has no hook at its end): those named by a process that no longer runs.
fn remove_fixtures_of_ended_runs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("semc-fixtures-")) else {
            continue;
        };
        let ended = pid.parse::<u32>().is_ok_and(|pid| {
            pid != std::process::id() && cfg!(target_os = "linux") && !Path::new(&format!("/proc/{pid}")).exists()
        });
        if ended {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

async fn build(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    semc::demo::tpch::generate(&dir.join("tpch"), 0.01).await.expect("tpch");
    // a table whose first commit is not JSON
    semc::demo::tpch::generate(&dir.join("corrupt_src"), 0.01).await.ok();
    let corrupt = dir.join("corrupt");
    copy_dir(&dir.join("corrupt_src/region"), &corrupt);
    std::fs::write(
        corrupt.join("_delta_log/00000000000000000000.json"),
        b"{this is not json\n",
    )
    .unwrap();
    // a table whose second commit requires a reader feature nobody knows
    let future = dir.join("future");
    copy_dir(&dir.join("corrupt_src/region"), &future);
    std::fs::write(
        future.join("_delta_log/00000000000000000001.json"),
        br#"{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["futureFeature"],"writerFeatures":["futureFeature"]}}
{"commitInfo":{"timestamp":1700000000000,"operation":"SET TBLPROPERTIES"}}
"#,
    )
    .unwrap();
    std::fs::remove_dir_all(dir.join("corrupt_src")).ok();
    // a folder of files without a log
    std::fs::create_dir_all(dir.join("nolog")).unwrap();
    std::fs::write(dir.join("nolog/data.parquet"), b"PAR1").unwrap();
    // orders in four versions: each appends a quarter of the rows
    versioned_orders(&dir.join("tpch/orders"), &dir.join("versioned/orders")).await;
    // nation with its Change Data Feed on
    change_feed_nation(&dir.join("tpch/nation"), &dir.join("cdf/nation")).await;
}

async fn change_feed_nation(src: &Path, dst: &Path) {
    let ctx = datafusion::prelude::SessionContext::new();
    let url = url::Url::from_directory_path(std::fs::canonicalize(src).unwrap()).unwrap();
    let table = deltalake::open_table(url).await.unwrap();
    let batches = ctx
        .read_table(table.table_provider().await.unwrap())
        .unwrap()
        .collect()
        .await
        .unwrap();
    std::fs::create_dir_all(dst).unwrap();
    let durl = url::Url::from_directory_path(std::fs::canonicalize(dst).unwrap()).unwrap();
    deltalake::DeltaTable::try_from_url(durl)
        .await
        .unwrap()
        .write(batches)
        .with_configuration([("delta.enableChangeDataFeed", Some("true"))])
        .await
        .unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

async fn versioned_orders(src: &Path, dst: &Path) {
    use deltalake::DeltaTable;
    let ctx = datafusion::prelude::SessionContext::new();
    let url = url::Url::from_directory_path(std::fs::canonicalize(src).unwrap()).unwrap();
    let table = deltalake::open_table(url).await.unwrap();
    let p = table.table_provider().await.unwrap();
    let batches = ctx
        .read_table(p)
        .unwrap()
        .sort(vec![datafusion::prelude::col("o_orderkey").sort(true, false)])
        .unwrap()
        .collect()
        .await
        .unwrap();
    let all = datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    std::fs::create_dir_all(dst).unwrap();
    let durl = url::Url::from_directory_path(std::fs::canonicalize(dst).unwrap()).unwrap();
    let n = all.num_rows();
    for i in 0..4 {
        let part = all.slice(i * n / 4, (i + 1) * n / 4 - i * n / 4);
        let t = DeltaTable::try_from_url(durl.clone()).await.unwrap();
        t.write(vec![part])
            .with_save_mode(deltalake::protocol::SaveMode::Append)
            .await
            .unwrap();
    }
}

/// Replaces the fixture folder in text (paths and URLs) so snapshots are stable.
pub fn redact(text: &str) -> String {
    let root = root();
    let canon = std::fs::canonicalize(root).unwrap_or(root.to_path_buf());
    let mut out = text.replace(env!("CARGO_MANIFEST_DIR"), "[repo]");
    for p in [canon.display().to_string(), root.display().to_string()] {
        out = out
            .replace(&format!("file://{p}"), "file://[fixtures]")
            .replace(&p, "[fixtures]");
    }
    out
}

// ---------------------------------------------------------------- helpers shared by the tests

/// The `semc` binary with `args`, outside any profile (`SEMC_PROFILE` and `RUST_LOG`
/// removed) and with `env` added: (exit code, stdout, stderr).
pub fn semc_with(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_semc"))
        .args(args)
        .env_remove("SEMC_PROFILE")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("run semc");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`semc_with`] without extra environment.
pub fn semc(args: &[&str]) -> (i32, String, String) {
    semc_with(args, &[])
}

/// `semc extract … --format json` run to success: its report (the JSON line of kind
/// `extract`), `semc` being the runner the test uses (with its environment).
pub fn extract_report(semc: impl Fn(&[&str]) -> (i32, String, String), repo: &Path, lake: &str) -> serde_json::Value {
    let (code, out, err) = semc(&["extract", repo.to_str().unwrap(), "--to", lake, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let line = out
        .lines()
        .find(|l| l.contains("\"extract\""))
        .unwrap_or_else(|| panic!("{out}"));
    serde_json::from_str(line).unwrap()
}

/// The `file://` URL of a local table folder.
pub fn url_of(dir: &Path) -> url::Url {
    url::Url::from_directory_path(std::fs::canonicalize(dir).unwrap()).unwrap()
}

/// Writes `batch` to the table at `dir` as one new file (the table is created if absent,
/// else appended to), parquet written with `props`.
pub async fn write_batch(
    dir: &Path,
    batch: datafusion::arrow::record_batch::RecordBatch,
    props: Option<deltalake::parquet::file::properties::WriterProperties>,
) {
    std::fs::create_dir_all(dir).unwrap();
    let mut w = deltalake::DeltaTable::try_from_url(url_of(dir))
        .await
        .unwrap()
        .write(vec![batch]);
    if let Some(p) = props {
        w = w.with_writer_properties(p);
    }
    w.await.unwrap();
}

/// A fresh workspace folder: `links` are symlinks to fixture tables, `files` are written.
pub fn workspace(name: &str, links: &[(&str, &str)], files: &[(&str, &str)]) -> PathBuf {
    let dir = root().join("ws").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (at, target) in links {
        let p = dir.join(at);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(root().join(target), p).unwrap();
    }
    for (f, text) in files {
        std::fs::write(dir.join(f), text).unwrap();
    }
    dir
}

pub type Rows = (Vec<String>, Vec<Vec<String>>);

pub fn to_rows(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> Rows {
    let mut names = vec![];
    let mut rows = vec![];
    for b in batches {
        names = b.schema().fields().iter().map(|f| f.name().clone()).collect();
        let opts = FormatOptions::default().with_null("NULL");
        let fmts: Vec<ArrayFormatter> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).unwrap())
            .collect();
        for i in 0..b.num_rows() {
            rows.push(fmts.iter().map(|f| f.value(i).to_string()).collect());
        }
    }
    (names, rows)
}

/// The rows of a Delta table (latest version) in stored order.
pub async fn table_rows(location: &str) -> Rows {
    let url = url::Url::parse(location).unwrap();
    let table = semc::delta::open(&url, &semc::delta::PinSpec::Latest).await.unwrap();
    let ctx = semc::engine::session_with_partitions(1);
    let p = semc::engine::provider(&table, &ctx.state()).await.unwrap();
    to_rows(&ctx.read_table(p).unwrap().collect().await.unwrap())
}

/// A run of every output, computed even where up to date.
pub async fn run_forced(dir: &Path) -> Vec<run::OutputReport> {
    let c = run::compile(dir).await.unwrap_or_else(|_| panic!("internal failure"));
    let opts = run::RunOptions {
        force: true,
        ..Default::default()
    };
    match run::run_with(&c, &[], &opts).await {
        Ok(r) => r,
        Err(run::Failure::User(d)) => panic!("{}", semc::diag::render(&c.ws.map, &d, false)),
        Err(run::Failure::Internal(m)) => panic!("internal: {m}"),
    }
}

pub async fn run_ok(dir: &Path) -> Vec<run::OutputReport> {
    let c = run::compile(dir).await.unwrap_or_else(|_| panic!("internal failure"));
    if c.has_errors() {
        panic!("{}", semc::diag::render(&c.ws.map, &c.diags, false));
    }
    match run::run_compiled(&c, &[]).await {
        Ok(r) => r,
        Err(run::Failure::User(d)) => panic!("{}", semc::diag::render(&c.ws.map, &d, false)),
        Err(run::Failure::Internal(m)) => panic!("internal: {m}"),
    }
}

/// A fresh folder for one test, with copies of fixture tables (`(fixture path, copy path)`).
pub fn fresh_dir(name: &str, copies: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = root().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (from, to) in copies {
        std::fs::create_dir_all(dir.join(to).parent().unwrap()).unwrap();
        let ok = Command::new("cp")
            .args([
                "-r",
                root().join(from).to_str().unwrap(),
                dir.join(to).to_str().unwrap(),
            ])
            .status()
            .unwrap();
        assert!(ok.success());
    }
    dir
}

/// Appends (the first `limit` of) a Delta table's own rows to it: a new version.
pub async fn append_own_rows(table: &std::path::Path, limit: Option<usize>) {
    let url = url::Url::from_directory_path(std::fs::canonicalize(table).unwrap()).unwrap();
    let t = deltalake::open_table(url).await.unwrap();
    let ctx = datafusion::prelude::SessionContext::new();
    let rows = ctx
        .read_table(t.table_provider().await.unwrap())
        .unwrap()
        .limit(0, limit)
        .unwrap()
        .collect()
        .await
        .unwrap();
    t.write(rows)
        .with_save_mode(deltalake::protocol::SaveMode::Append)
        .await
        .unwrap();
}

/// The Delta table at `dir` (at `version`, or the latest): its version and its rows in
/// stored order.
pub fn read_table(
    dir: &std::path::Path,
    version: Option<i64>,
) -> (i64, Vec<datafusion::arrow::record_batch::RecordBatch>) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let url = url::Url::from_directory_path(std::fs::canonicalize(dir).unwrap()).unwrap();
        let pin = version.map_or(semc::delta::PinSpec::Latest, semc::delta::PinSpec::Version);
        let t = semc::delta::open(&url, &pin).await.unwrap();
        let ctx = semc::engine::session_with_partitions(1);
        let p = semc::engine::provider(&t, &ctx.state()).await.unwrap();
        let batches = ctx.read_table(p).unwrap().collect().await.unwrap();
        (t.version().unwrap() as i64, batches)
    })
}

/// The int64 values of the first column.
pub fn first_int64s(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Int64Array>()
                .unwrap();
            a.values().to_vec()
        })
        .collect()
}

/// Writes `keys`: every order key of lineitem, repeated as lineitem repeats it.
pub const REPEATED_KEYS: &str = r#"
source lineitem from delta("tpch/lineitem") { l_orderkey: int64 }
model keys from lineitem { select { k = l_orderkey } }
output keys to delta("keys") mode overwrite
"#;

/// Declares `keys.k` a key and joins lineitem to it `many_to_one`: a promise the data of
/// [`REPEATED_KEYS`] breaks (E0405).
pub const JOIN_ON_REPEATED_KEYS: &str = r#"
source keys from delta("keys") { k: int64 key }
source lineitem from delta("tpch/lineitem") {
  l_orderkey: int64
  join keys many_to_one on l_orderkey = keys.k
}
model joined from lineitem {
  where keys.k > 0
  aggregate { n = count() }
}
output joined to delta("out/joined") mode overwrite
"#;

/// A Delta table at `dir` of one batch of `(name, column)`s, every column nullable.
pub async fn table(dir: &Path, columns: Vec<(&str, datafusion::arrow::array::ArrayRef)>) {
    use datafusion::arrow::datatypes::{Field, Schema};
    let schema = Schema::new(
        columns
            .iter()
            .map(|(n, c)| Field::new(*n, c.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    let batch = datafusion::arrow::record_batch::RecordBatch::try_new(
        std::sync::Arc::new(schema),
        columns.into_iter().map(|(_, c)| c).collect(),
    )
    .unwrap();
    write_batch(dir, batch, None).await;
}

/// A column of [`table`].
pub fn column(
    name: &str,
    values: impl datafusion::arrow::array::Array + 'static,
) -> (&str, datafusion::arrow::array::ArrayRef) {
    (name, std::sync::Arc::new(values))
}

/// A Delta table at `dir` of int64 columns (`None` is null).
pub async fn int_table(dir: &Path, columns: &[(&str, Vec<Option<i64>>)]) {
    use datafusion::arrow::array::{ArrayRef, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use std::sync::Arc;
    std::fs::create_dir_all(dir).unwrap();
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, _)| Field::new(*name, DataType::Int64, true))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|(_, values)| Arc::new(Int64Array::from(values.clone())) as ArrayRef)
        .collect();
    let batch = RecordBatch::try_new(schema, arrays).unwrap();
    let url = url::Url::from_directory_path(std::fs::canonicalize(dir).unwrap()).unwrap();
    semc::delta::for_writing(&url)
        .await
        .unwrap()
        .write(vec![batch])
        .await
        .unwrap();
}

/// The number after the first `name=` in the metrics `semc explain --analyze` shows (`1.20 K`
/// is 1,200), if shown.
pub fn metric(metrics: &str, name: &str) -> Option<f64> {
    let rest = &metrics[metrics.find(&format!("{name}="))? + name.len() + 1..];
    let mut words = rest.split([',', ']']).next()?.split_whitespace();
    let number: f64 = words.next()?.parse().ok()?;
    Some(match words.next() {
        Some("K") => number * 1e3,
        Some("M") => number * 1e6,
        _ => number,
    })
}
