//! Reads of a table's Change Data Feed: the rows inserted, and the keys changed, since a version.

use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use std::sync::Arc;

/// The Change Data Feed of the commits after version `since`, up to the table's version.
pub(crate) fn changes_since(
    table: &DeltaTable,
    since: i64,
) -> Result<deltalake::delta_datafusion::DeltaCdfTableProvider> {
    let version = table
        .version()
        .ok_or_else(|| DataFusionError::Plan("the table has no version".into()))? as i64;
    if since < 0 || since >= version {
        return Err(DataFusionError::Plan(format!(
            "changes after version {since} up to version {version}: an empty range"
        )));
    }
    let builder = table
        .clone()
        .scan_cdf()
        .with_starting_version((since + 1) as _)
        .with_ending_version(version as _);
    deltalake::delta_datafusion::DeltaCdfTableProvider::try_new(builder)
        .map_err(|e| DataFusionError::External(Box::new(e)))
}

/// The rows that the commits after version `since`, up to the table's version, inserted: the
/// table's Change Data Feed, kept to inserts (and update post-images), in the table's columns.
pub(crate) fn inserted_since(table: &DeltaTable, since: i64) -> Result<Arc<dyn TableProvider>> {
    let ext = |e: deltalake::DeltaTableError| DataFusionError::External(Box::new(e));
    let cdf = changes_since(table, since)?;
    let all = cdf.schema();
    let snapshot = table.snapshot().map_err(ext)?;
    let mut fields = vec![];
    let mut map = vec![];
    for f in snapshot.schema().fields() {
        let i = all.index_of(f.name())?;
        fields.push(all.field(i).clone());
        map.push(i);
    }
    Ok(Arc::new(InsertedRows {
        cdf: Arc::new(cdf),
        schema: Arc::new(datafusion::arrow::datatypes::Schema::new(fields)),
        map,
    }))
}

/// The distinct values of `column` in every row that the commits after version `since`, up
/// to the table's version, inserted, updated or deleted (from the Change Data Feed). None
/// when there are more than `limit` or one is null (a key list cannot name those rows).
pub async fn changed_keys(
    table: &DeltaTable,
    since: i64,
    column: &str,
    limit: usize,
) -> Result<Option<Vec<datafusion::common::ScalarValue>>> {
    use datafusion::logical_expr::col;
    let cdf = changes_since(table, since)?;
    let ctx = SessionContext::new();
    let keys = ctx
        .read_table(Arc::new(cdf))?
        .select(vec![col(datafusion::common::Column::from_name(column))])?
        .distinct()?
        .limit(0, Some(limit + 1))?
        .collect()
        .await?;
    let mut out = vec![];
    for b in &keys {
        for i in 0..b.num_rows() {
            let v = datafusion::common::ScalarValue::try_from_array(b.column(0), i)?;
            if v.is_null() {
                return Ok(None);
            }
            out.push(v);
        }
    }
    if out.len() > limit {
        return Ok(None);
    }
    out.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    Ok(Some(out))
}

/// A table's Change Data Feed seen as the rows it inserted, in the table's own columns.
#[derive(Debug)]
pub(crate) struct InsertedRows {
    cdf: Arc<deltalake::delta_datafusion::DeltaCdfTableProvider>,
    schema: datafusion::arrow::datatypes::SchemaRef,
    /// For each column here, its index in the feed's schema.
    map: Vec<usize>,
}

#[async_trait::async_trait]
impl TableProvider for InsertedRows {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        self.schema.clone()
    }
    fn table_type(&self) -> datafusion::logical_expr::TableType {
        datafusion::logical_expr::TableType::Base
    }
    async fn scan(
        &self,
        state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        _filters: &[datafusion::logical_expr::Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        use datafusion::logical_expr::{col, lit};
        let wanted: Vec<usize> = match projection {
            Some(p) => p.iter().map(|i| self.map[*i]).collect(),
            None => self.map.clone(),
        };
        let inserts = col("_change_type").in_list(vec![lit("insert"), lit("update_postimage")], false);
        self.cdf.scan(state, Some(&wanted), &[inserts], limit).await
    }
}
