//! TPC-H data as Delta tables, generated with tpchgen (for `semc demo`, tests and benchmarks).

use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use deltalake::protocol::SaveMode;
use std::path::Path;
use tpchgen::generators::*;
use tpchgen_arrow::*;

pub const TABLES: &[&str] = &[
    "region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem",
];

type Batches = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>>>;

fn batches(table: &str, sf: f64) -> Batches {
    const B: usize = 8192;
    match table {
        "region" => Box::new(RegionArrow::new(RegionGenerator::new(sf, 1, 1)).with_batch_size(B)),
        "nation" => Box::new(NationArrow::new(NationGenerator::new(sf, 1, 1)).with_batch_size(B)),
        "supplier" => Box::new(SupplierArrow::new(SupplierGenerator::new(sf, 1, 1)).with_batch_size(B)),
        "customer" => Box::new(CustomerArrow::new(CustomerGenerator::new(sf, 1, 1)).with_batch_size(B)),
        "part" => Box::new(PartArrow::new(PartGenerator::new(sf, 1, 1)).with_batch_size(B)),
        "partsupp" => Box::new(PartSuppArrow::new(PartSuppGenerator::new(sf, 1, 1)).with_batch_size(B)),
        "orders" => Box::new(OrderArrow::new(OrderGenerator::new(sf, 1, 1)).with_batch_size(B)),
        _ => Box::new(LineItemArrow::new(LineItemGenerator::new(sf, 1, 1)).with_batch_size(B)),
    }
}

/// Writes the eight TPC-H tables under `dir/<table>` as Delta tables (skipping tables that
/// already exist). Large tables are committed in chunks of about a million rows.
/// Returns (table, rows written, skipped?).
pub async fn generate(dir: &Path, sf: f64) -> Result<Vec<(String, usize, bool)>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let canonical = std::fs::canonicalize(dir).map_err(|e| e.to_string())?;
    let base = url::Url::from_directory_path(canonical).map_err(|_| "bad path".to_string())?;
    generate_to(&base, sf).await
}

/// Like [`generate`], under a folder URL (`file:///…/`, `s3://bucket/lake/tpch/`, …).
pub async fn generate_to(base: &url::Url, sf: f64) -> Result<Vec<(String, usize, bool)>, String> {
    generate_tables(base, sf, TABLES).await
}

/// Like [`generate_to`], only the tables named.
pub async fn generate_tables(base: &url::Url, sf: f64, tables: &[&str]) -> Result<Vec<(String, usize, bool)>, String> {
    let mut out = vec![];
    let base = crate::delta::as_folder(base);
    for t in tables {
        let url = base.join(&format!("{t}/")).map_err(|e| e.to_string())?;
        if crate::delta::open(&url, &crate::delta::PinSpec::Latest).await.is_ok() {
            out.push((t.to_string(), 0, true));
            continue;
        }
        if let Ok(path) = url.to_file_path() {
            std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let mut rows = 0;
        let mut chunk: Vec<RecordBatch> = vec![];
        let mut chunk_rows = 0;
        let mut first = true;
        let mut it = batches(t, sf).peekable();
        while let Some(b) = it.next() {
            let b = b.map_err(|e| e.to_string())?;
            chunk_rows += b.num_rows();
            rows += b.num_rows();
            chunk.push(b);
            if chunk_rows >= 1_000_000 || it.peek().is_none() {
                let table = crate::delta::for_writing(&url).await.map_err(|e| e.to_string())?;
                let mode = if first { SaveMode::Overwrite } else { SaveMode::Append };
                table
                    .write(std::mem::take(&mut chunk))
                    .with_save_mode(mode)
                    .await
                    .map_err(|e| format!("{t}: {e}"))?;
                first = false;
                chunk_rows = 0;
            }
        }
        out.push((t.to_string(), rows, false));
    }
    Ok(out)
}
