//! Delta tables the tests read, generated once per test process.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static FIXTURES: OnceLock<PathBuf> = OnceLock::new();

/// The fixture root: `tpch/*` (TPC-H SF 0.01), `corrupt` (a log that is not JSON),
/// `nolog` (a folder without `_delta_log`), `versioned/orders` (4 versions of orders),
/// `cdf/nation` (nation with its Change Data Feed on).
pub fn root() -> &'static Path {
    FIXTURES.get_or_init(|| {
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
