//! Shadow parity: an output's rows, computed from the plan exactly as a run computes them
//! (nothing is written), compared as multisets with a reference — another pipeline's rows
//! or a Delta table. The gate before a cutover: the new lane runs beside the old one.

use super::*;
use crate::codes::Code;
use crate::delta::{self, PinSpec};
use crate::engine;
use crate::span::Span;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::MemTable;
use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::logical_expr::{cast, ident, lit};
use std::sync::Arc;

/// What an output is compared with.
pub enum Reference {
    /// Rows in memory (e.g. an Arrow table an old pipeline produced).
    Rows(Rows),
    /// A Delta table at its latest version: a path (relative to the working folder) or a URI.
    Table(String),
}

/// How an output's rows compare with its reference, as multisets (row order is ignored,
/// repeats count).
pub struct Parity {
    pub output: String,
    pub rows: u64,
    pub reference_rows: u64,
    /// Rows the output has more often than the reference: how many, and the first few (each
    /// distinct row once).
    pub extra_count: u64,
    pub extra: Rows,
    /// Rows the reference has more often than the output: how many, and the first few (each
    /// distinct row once).
    pub missing_count: u64,
    pub missing: Rows,
    /// Why the rows could not be compared (their columns differ), if so.
    pub columns_differ: Option<String>,
}

impl Parity {
    pub fn equal(&self) -> bool {
        self.columns_differ.is_none() && self.extra_count == 0 && self.missing_count == 0
    }
}

/// Compares the rows of `output` with `reference`; `limit` bounds the rows of each
/// difference kept. The reference's columns are matched by name and cast to the output's
/// types.
pub async fn parity(c: &Compilation, output: &str, reference: Reference, limit: usize) -> Result<Parity, Failure> {
    let program = c.program()?;
    let only = [output.to_string()];
    let session = Session::new(c).await?;
    let (plan, _) = session.plan_with_roots(program, &only)?;
    let root = session
        .consume(&plan)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Failure::Internal("the plan has no root".into()))?;
    let ours = session.ctx.execute_logical_plan(root).await?.cache().await?;
    let theirs = match reference {
        Reference::Rows(rows) => {
            let table = MemTable::try_new(rows.schema, vec![rows.batches])?;
            session.ctx.read_table(Arc::new(table))?
        }
        Reference::Table(location) => {
            let here = std::env::current_dir().unwrap_or_default();
            let refused = |m: String| {
                Failure::User(vec![
                    Diagnostic::error(Code::E0301, Span::default(), format!("the reference `{location}`: {m}"))
                        .help("give the reference as a Delta table's path or URI, or as rows"),
                ])
            };
            let url = delta::resolve_location(&here, &location).map_err(|e| refused(e.message().to_string()))?;
            let table = delta::open(&url, &PinSpec::Latest)
                .await
                .map_err(|e| refused(e.message().to_string()))?;
            let provider = engine::provider(&table, &session.ctx.state()).await?;
            // read once: it is counted, then compared
            session.ctx.read_table(provider)?.cache().await?
        }
    };
    let rows = ours.clone().count().await? as u64;
    let reference_rows = theirs.clone().count().await? as u64;
    let names = |df: &DataFrame| -> Vec<String> { df.schema().fields().iter().map(|f| f.name().clone()).collect() };
    let (ours_names, theirs_names) = (names(&ours), names(&theirs));
    let empty = || Rows {
        schema: Arc::new(ours.schema().as_arrow().clone()),
        batches: vec![],
    };
    let lacking: Vec<&String> = ours_names.iter().filter(|n| !theirs_names.contains(n)).collect();
    let unknown: Vec<&String> = theirs_names.iter().filter(|n| !ours_names.contains(n)).collect();
    if !lacking.is_empty() || !unknown.is_empty() {
        let list = |v: &[&String]| v.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        let mut why = vec![];
        if !lacking.is_empty() {
            why.push(format!("the reference lacks {}", list(&lacking)));
        }
        if !unknown.is_empty() {
            why.push(format!("the output has no {}", list(&unknown)));
        }
        return Ok(Parity {
            output: output.to_string(),
            rows,
            reference_rows,
            extra_count: 0,
            extra: empty(),
            missing_count: 0,
            missing: empty(),
            columns_differ: Some(why.join("; ")),
        });
    }
    // the reference's columns in the output's order and types; each row tagged with its
    // side, then counted per distinct row (GROUP BY equates nulls, as a multiset must;
    // DataFusion's EXCEPT ALL does not count repeats)
    let fields: Vec<_> = ours.schema().fields().iter().cloned().collect();
    let tagged = |df: DataFrame, mine: i64, convert: bool| {
        let mut cols: Vec<_> = fields
            .iter()
            .map(|f| {
                let c = ident(f.name());
                if convert {
                    cast(c, f.data_type().clone()).alias(f.name())
                } else {
                    c
                }
            })
            .collect();
        cols.push(lit(mine).alias(OURS));
        cols.push(lit(1 - mine).alias(THEIRS));
        df.select(cols)
    };
    let both = tagged(ours, 1, false)?.union(tagged(theirs, 0, true)?)?;
    let counted = both
        .aggregate(
            fields.iter().map(|f| ident(f.name())).collect(),
            vec![sum(ident(OURS)).alias(OURS), sum(ident(THEIRS)).alias(THEIRS)],
        )?
        .filter(ident(OURS).not_eq(ident(THEIRS)))?
        .cache()
        .await?;
    let side = |more: &str, less: &str| -> Result<(DataFrame, DataFrame), Failure> {
        let rows = counted.clone().filter(ident(more).gt(ident(less)))?;
        let count = rows
            .clone()
            .aggregate(vec![], vec![sum(ident(more) - ident(less)).alias("n")])?;
        let shown = rows.select(fields.iter().map(|f| ident(f.name())).collect::<Vec<_>>())?;
        Ok((count, shown))
    };
    let (extra_count, extra) = side(OURS, THEIRS)?;
    let (missing_count, missing) = side(THEIRS, OURS)?;
    Ok(Parity {
        output: output.to_string(),
        rows,
        reference_rows,
        extra_count: single_count(extra_count).await?,
        extra: Rows::of(extra.limit(0, Some(limit))?).await?,
        missing_count: single_count(missing_count).await?,
        missing: Rows::of(missing.limit(0, Some(limit))?).await?,
        columns_differ: None,
    })
}

/// The columns that tag each row with its side while rows are counted.
const OURS: &str = "__semc_parity_ours";
const THEIRS: &str = "__semc_parity_theirs";

/// The one value of a one-row sum (none summed: 0).
async fn single_count(df: DataFrame) -> Result<u64, Failure> {
    let batches = df.collect().await?;
    let value = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| b.column(0).as_primitive::<Int64Type>())
        .filter(|a| a.is_valid(0))
        .map(|a| a.value(0))
        .unwrap_or(0);
    Ok(value.max(0) as u64)
}
