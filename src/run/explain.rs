//! `semc explain`: the optimized plans and what each Delta scan reads.

use super::*;
use crate::delta::{self, PinSpec};
use crate::engine;
use std::path::Path;
use std::sync::Arc;

/// The optimized physical plan of one output, as DataFusion runs it, and per Delta scan the
/// files read and pruned. With `analyze`, the plan is run as `semc run` runs it (each shared
/// subplan computed once and read back; nothing is written) and each scan also reports its
/// parquet row groups pruned by statistics and bloom filters, rows pruned by page indexes,
/// and rows read.
pub async fn explain(path: &Path, output: &str, analyze: bool) -> Result<String, Failure> {
    explain_compiled(&compile(path).await?, output, analyze).await
}

/// [`explain`] of a compilation at hand.
pub async fn explain_compiled(c: &Compilation, output: &str, analyze: bool) -> Result<String, Failure> {
    let program = c.program()?;
    let session = Session::new(c).await?;
    let plan = session.plan(program, std::slice::from_ref(&output.to_string()))?;
    let roots = session.consume(&plan).await?;
    let lp = roots
        .into_iter()
        .next()
        .ok_or_else(|| Failure::Internal("no root".into()))?;
    let state = session.ctx.state();
    let optimized = super::share::optimized(&state, &lp)?;
    // what a run computes once: subplans this output reads more than once, as optimized
    let shared = super::share::shared_subplans(std::slice::from_ref(&optimized));
    // analyzed, the plan is the run's: each shared subplan computed once and read from the
    // run's cache (kept until the plan has run)
    let (lp, _cache) = match analyze {
        true => {
            let (mut roots, cache) = super::share::compute_shared_once(&session, vec![lp]).await?;
            let root = roots.pop().ok_or_else(|| Failure::Internal("no root".into()))?;
            (root, Some(cache))
        }
        false => (lp, None),
    };
    let physical = state.create_physical_plan(&lp).await?;
    let mut rows_out = None;
    if analyze {
        let batches = datafusion::physical_plan::collect(physical.clone(), session.ctx.task_ctx()).await?;
        rows_out = Some(batches.iter().map(|b| b.num_rows()).sum::<usize>());
    }
    let shown = if analyze {
        datafusion::physical_plan::display::DisplayableExecutionPlan::with_metrics(physical.as_ref())
    } else {
        datafusion::physical_plan::displayable(physical.as_ref())
    };
    let phys = shown.indent(true).to_string();
    let mut scans_found = vec![];
    scans(&physical, &mut scans_found);
    let mut report = String::new();
    // one line per snapshot read: sources reading the same table at the same version share
    // it, and a scan counts for a snapshot only with files of that snapshot
    let mut snapshots: Vec<(&url::Url, i64, Vec<&str>)> = vec![];
    for s in &program.sources {
        match snapshots.iter_mut().find(|(u, v, _)| **u == s.url && *v == s.version) {
            Some((_, _, names)) => names.push(&s.name),
            None => snapshots.push((&s.url, s.version, vec![&s.name])),
        }
    }
    let file_name = |f: &str| f.rsplit('/').next().unwrap_or(f).to_string();
    for (url, version, names) in snapshots {
        let pinned = delta::pinned_name(url, version);
        let Some((_, table)) = c.tables.iter().find(|(n, _)| *n == pinned) else {
            continue;
        };
        let Ok(snapshot) = table.snapshot() else { continue };
        let in_snapshot: std::collections::BTreeSet<String> = snapshot
            .log_data()
            .iter()
            .map(|f| file_name(f.path().as_ref()))
            .collect();
        let total = in_snapshot.len();
        // the store names files by the table's real path (a linked folder is resolved)
        let real = url
            .to_file_path()
            .ok()
            .and_then(|p| std::fs::canonicalize(p).ok())
            .and_then(|p| url::Url::from_directory_path(p).ok())
            .unwrap_or_else(|| url.clone());
        let prefix = real.path().trim_start_matches('/').to_string();
        let mine: Vec<&Scan> = scans_found
            .iter()
            .filter(|sc| sc.files.iter().any(|f| f.starts_with(&prefix)))
            .collect();
        let kept: std::collections::BTreeSet<String> = mine
            .iter()
            .flat_map(|sc| &sc.files)
            .filter(|f| f.starts_with(&prefix))
            .map(|f| file_name(f))
            .filter(|f| in_snapshot.contains(f))
            .collect();
        if kept.is_empty() {
            continue;
        }
        report.push_str(&format!(
            "{} ({url} @ version {version}): {} of {total} files read, {} pruned\n",
            names.join(", "),
            kept.len(),
            total.saturating_sub(kept.len())
        ));
        if analyze {
            let sum = |name: &str| {
                mine.iter()
                    .map(|sc| sc.metric(name))
                    .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
            };
            let (rg_stats_pruned, rg_stats_matched) = sum("row_groups_pruned_statistics");
            let (rg_bloom_pruned, _) = sum("row_groups_pruned_bloom_filter");
            let (page_rows_pruned, _) = sum("page_index_rows_pruned");
            let (pushdown_pruned, _) = sum("pushdown_rows_pruned");
            let (rows, _) = sum("output_rows");
            report.push_str(&format!(
                "  row groups: {rg_stats_pruned} of {} pruned by statistics, {rg_bloom_pruned} by bloom filters; rows: {page_rows_pruned} pruned by page indexes, {pushdown_pruned} by filter pushdown, {rows} read\n",
                rg_stats_pruned + rg_stats_matched
            ));
        }
    }
    let mut text = format!(
        "== logical plan (optimized) ==\n{}\n\n== physical plan{} ==\n{}\n== Delta scans ==\n{report}",
        fold_long_lines(&optimized.display_indent().to_string()),
        if analyze { " (run, with metrics)" } else { "" },
        fold_long_lines(&phys)
    );
    if !shared.is_empty() {
        text.push_str(&format!(
            "== computed once ==\n{} subplan(s) this output reads more than once: a run computes each once\n",
            shared.len()
        ));
        for plan in &shared {
            let first = plan.display().to_string();
            text.push_str(&format!("  {}\n", fold_long_lines(&first).trim_end()));
        }
    }
    if let Some(n) = rows_out {
        text.push_str(&format!("== result ==\n{n} rows (not written)\n"));
    }
    Ok(text)
}

/// A parquet scan of a physical plan: the files it reads and its metrics (after a run).
pub(crate) struct Scan {
    files: Vec<String>,
    metrics: Option<datafusion::physical_plan::metrics::MetricsSet>,
}

impl Scan {
    /// (pruned, matched) of a pruning metric, or (value, 0) of a counter, summed over partitions.
    fn metric(&self, name: &str) -> (usize, usize) {
        use datafusion::physical_plan::metrics::MetricValue;
        let Some(m) = &self.metrics else { return (0, 0) };
        m.iter()
            .filter(|x| x.value().name() == name)
            .map(|x| match x.value() {
                MetricValue::PruningMetrics { pruning_metrics, .. } => {
                    (pruning_metrics.pruned(), pruning_metrics.matched())
                }
                v => (v.as_usize(), 0),
            })
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    }
}

/// Every parquet scan of the physical plan.
pub(crate) fn scans(plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>, out: &mut Vec<Scan>) {
    use datafusion::datasource::physical_plan::FileScanConfig;
    use datafusion::datasource::source::DataSourceExec;
    let any: &dyn std::any::Any = plan.as_ref();
    if let Some(ds) = any.downcast_ref::<DataSourceExec>() {
        let source: &dyn std::any::Any = ds.data_source().as_ref();
        if let Some(cfg) = source.downcast_ref::<FileScanConfig>() {
            let files = cfg
                .file_groups
                .iter()
                .flat_map(|g| g.iter().map(|f| f.object_meta.location.to_string()))
                .collect();
            out.push(Scan {
                files,
                metrics: plan.metrics(),
            });
        }
    }
    for child in plan.children() {
        scans(child, out);
    }
}

/// The first `limit` rows of a Delta table (latest version), as a text table.
pub async fn read_table(location: &str, limit: usize) -> Result<String, String> {
    let url = url::Url::parse(location).map_err(|e| e.to_string())?;
    let table = delta::open(&url, &PinSpec::Latest)
        .await
        .map_err(|e| e.message().to_string())?;
    // one partition: rows come back in the order the table stores them
    let ctx = engine::session_with_partitions(1);
    let p = engine::provider(&table, &ctx.state())
        .await
        .map_err(|e| e.to_string())?;
    let df = ctx
        .read_table(p)
        .map_err(|e| e.to_string())?
        .limit(0, Some(limit))
        .map_err(|e| e.to_string())?;
    let batches = df.collect().await.map_err(|e| e.to_string())?;
    datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .map(|t| t.to_string())
        .map_err(|e| e.to_string())
}

/// The widest line a plan is shown with: a longer one (a window's expressions, a long
/// projection) continues on lines of its own, indented under it, broken after a `, `.
const PLAN_WIDTH: usize = 160;

/// `text` with each line over [`PLAN_WIDTH`] characters broken at spaces (after a `, `
/// where one is near), its continuations indented under it.
fn fold_long_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let mut width = 0;
        for (i, word) in line.split_inclusive(' ').enumerate() {
            let len = word.chars().count();
            // break before a word that would pass the width, or after a list item near it
            let after_comma = out.ends_with(", ") && width + len > PLAN_WIDTH - 40;
            if i > 0 && width > indent + 4 && (width + len > PLAN_WIDTH || after_comma) {
                if out.ends_with(' ') {
                    out.pop();
                }
                out.push('\n');
                out.push_str(&" ".repeat(indent + 4));
                width = indent + 4;
            }
            out.push_str(word);
            width += len;
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_long_line_folds_after_commas_and_keeps_its_text() {
        let line = format!(
            "  Projection: {}",
            (0..100).map(|i| format!("column_{i}")).collect::<Vec<_>>().join(", ")
        );
        let folded = super::fold_long_lines(&line);
        assert!(folded.lines().count() > 1);
        assert!(
            folded.lines().all(|l| l.chars().count() <= super::PLAN_WIDTH + 12),
            "{folded}"
        );
        let joined: String = folded.lines().map(str::trim).collect::<Vec<_>>().join(" ");
        assert_eq!(joined, line.trim());
    }
}
