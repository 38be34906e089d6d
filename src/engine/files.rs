//! A pinned Delta snapshot read as what it is: a fixed list of parquet files, each with its
//! partition values and row count from the Delta log, scanned by DataFusion's own parquet
//! source. The files are the snapshot's (never a listing of the directory); files the log's
//! statistics exclude from a scan's filters are not read; a snapshot whose rows are not
//! exactly its files' rows — deletion vectors, column mapping — is not read this way
//! ([`Unsupported`]), never read wrong.
//!
//! Locally, semc reads every snapshot it can this way, and the others through delta-rs's
//! scan ([`super::provider_with`]): delta-rs adds a file-id column to every row and splits
//! each batch by it again. On a cluster it is the only way: delta-rs's scan has no physical
//! codec, so a plan holding it cannot be shipped to a Ballista executor, while
//! datafusion-proto serializes DataFusion's parquet source.

use datafusion::arrow::datatypes::{Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::{ColumnStatistics, Result, ScalarValue, Statistics};
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::object_store::ObjectMeta;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use deltalake::DeltaTable;
use std::sync::Arc;
use url::Url;

/// Why a snapshot cannot be read as its files.
#[derive(Debug, Clone)]
pub struct Unsupported(pub String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

/// One data file of the snapshot.
#[derive(Debug, Clone)]
struct DataFile {
    path: datafusion::object_store::path::Path,
    size: u64,
    rows: Option<usize>,
    partition_values: Vec<ScalarValue>,
    /// Per file column (in the file schema's order), what the log's statistics say.
    columns: Vec<ColumnStatistics>,
}

/// A pinned Delta snapshot read as its parquet files.
#[derive(Debug)]
pub struct PinnedFiles {
    /// The table's columns, as the Delta provider of the same snapshot has them (so a plan
    /// reads the same types locally and on a cluster).
    schema: SchemaRef,
    /// The non-partition columns, as the parquet files hold them.
    file_schema: SchemaRef,
    /// The partition columns, in the order of each file's `partition_values`.
    partition_columns: Vec<FieldRef>,
    store: ObjectStoreUrl,
    files: Vec<DataFile>,
    /// Parquet filter pushdown for this source (`scan { pushdown = … }`), else the session's.
    pushdown: Option<bool>,
    /// The column sets the program's joins rely on being unique in this snapshot, as the
    /// scan's constraints: the planner's join estimates read them ([`super::estimates`]).
    unique: datafusion::common::Constraints,
}

impl PinnedFiles {
    /// The snapshot `table` is opened at, with `schema` (its Delta provider's), limited to
    /// `only` files when a source names them (paths as the log has them); `unique`: the
    /// column sets joins rely on being unique in it (a name the table lacks is left out).
    pub fn try_new(
        table: &DeltaTable,
        schema: SchemaRef,
        only: &[String],
        pushdown: Option<bool>,
        unique: &[Vec<String>],
    ) -> std::result::Result<PinnedFiles, Unsupported> {
        let at = |what: &str| Unsupported(format!("{} (version {}): {what}", table.table_url(), version_of(table)));
        let snapshot = table.snapshot().map_err(|e| at(&e.to_string()))?;
        let config = snapshot.metadata().configuration();
        if let Some(mode) = config.get("delta.columnMapping.mode").filter(|m| m.as_str() != "none") {
            return Err(at(&format!(
                "the table uses column mapping (`{mode}`): its parquet files name columns otherwise than the table"
            )));
        }
        let partition_names = snapshot.metadata().partition_columns().to_vec();
        let partition_columns = partition_names
            .iter()
            .map(|n| {
                schema
                    .field_with_name(n)
                    .map(|f| Arc::new(f.clone()))
                    .map_err(|_| at(&format!("partition column `{n}` is not in the table's schema")))
            })
            .collect::<std::result::Result<Vec<FieldRef>, _>>()?;
        let file_fields: Vec<Field> = schema
            .fields()
            .iter()
            .filter(|f| !partition_names.contains(f.name()))
            .map(|f| f.as_ref().clone())
            .collect();
        let root = table.table_url().clone();
        let store = store_of(&root).map_err(|e| at(&e))?;
        let mut files = vec![];
        for f in snapshot.log_data().iter() {
            let logged = f.path().to_string();
            if !only.is_empty() && !only.contains(&logged) {
                continue;
            }
            if f.deletion_vector_descriptor().is_some() {
                return Err(at(&format!(
                    "data file `{logged}` has a deletion vector: some of its rows are deleted"
                )));
            }
            let url = file_url(&root, &logged).map_err(|e| at(&e))?;
            let raw = f.partition_values_map();
            let partition_values = partition_columns
                .iter()
                // Delta: "an empty string for any type translates to a null partition value"
                .map(
                    |c| match raw.get(c.name()).cloned().flatten().filter(|v| !v.is_empty()) {
                        Some(v) => ScalarValue::try_from_string(v.clone(), c.data_type())
                            .map_err(|e| at(&format!("partition value `{v}` of `{}` in `{logged}`: {e}", c.name()))),
                        None => ScalarValue::try_from(c.data_type()).map_err(|e| at(&e.to_string())),
                    },
                )
                .collect::<std::result::Result<Vec<_>, _>>()?;
            files.push(DataFile {
                path: datafusion::object_store::path::Path::from_url_path(url.path())
                    .map_err(|e| at(&e.to_string()))?,
                size: u64::try_from(f.size()).unwrap_or(0),
                rows: f.num_records(),
                partition_values,
                columns: column_statistics(&file_fields, f.stats().as_deref()),
            });
        }
        let mut pinned = PinnedFiles {
            schema,
            file_schema: Arc::new(Schema::new(file_fields)),
            partition_columns,
            store,
            files,
            pushdown,
            unique: Default::default(),
        };
        pinned.unique = pinned.constraints_of(unique);
        Ok(pinned)
    }

    /// `unique` column sets as constraints on the scan's columns ([`Self::scan_schema`]'s
    /// order); a set naming a column the table does not have is left out.
    fn constraints_of(&self, unique: &[Vec<String>]) -> datafusion::common::Constraints {
        use datafusion::common::{Constraint, Constraints};
        let schema = self.scan_schema();
        let sets = unique
            .iter()
            .filter(|set| !set.is_empty())
            .filter_map(|set| {
                set.iter()
                    .map(|c| schema.index_of(c).ok())
                    .collect::<Option<Vec<usize>>>()
                    .map(Constraint::Unique)
            })
            .collect();
        Constraints::new_unverified(sets)
    }

    /// `files` in `groups` groups of about equal bytes (largest first), each group a
    /// partition of the scan.
    fn file_groups(&self, mut files: Vec<&DataFile>, groups: usize) -> Vec<FileGroup> {
        files.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
        let mut out: Vec<(u64, Vec<PartitionedFile>)> = vec![(0, vec![]); groups.max(1).min(files.len().max(1))];
        for f in files {
            let Some(smallest) = out.iter_mut().min_by_key(|(bytes, _)| *bytes) else {
                break;
            };
            smallest.0 += f.size;
            // the path as parsed: `PartitionedFile::new` would encode a `%` in it again (a
            // partition directory `city=a%2Fb` would be looked for as `city=a%252Fb`)
            let mut pf = PartitionedFile::new_from_meta(ObjectMeta {
                location: f.path.clone(),
                last_modified: Default::default(),
                size: f.size,
                e_tag: None,
                version: None,
            });
            pf.partition_values = f.partition_values.clone();
            // the log's row count and bounds, so a file the dynamic filters exclude is never
            // opened (the partition columns' exact values are added from `partition_values`)
            let mut stats = Statistics::new_unknown(&self.file_schema);
            stats.num_rows = f.rows.map(Precision::Exact).unwrap_or(Precision::Absent);
            stats.total_byte_size = Precision::Inexact(f.size as usize);
            stats.column_statistics = f.columns.clone();
            pf = pf.with_statistics(Arc::new(stats));
            smallest.1.push(pf);
        }
        out.into_iter()
            .filter(|(_, f)| !f.is_empty())
            .map(|(_, f)| FileGroup::new(f))
            .collect()
    }

    /// The files `filters` may hold rows of: those the log's statistics (and partition
    /// values) do not exclude. Filters that cannot be judged on statistics keep every file.
    fn files_for(&self, state: &dyn Session, filters: &[Expr]) -> Vec<&DataFile> {
        let all = || self.files.iter().collect();
        let Some(filter) = datafusion::logical_expr::utils::conjunction(filters.to_vec()) else {
            return all();
        };
        let schema = self.scan_schema();
        let predicate = datafusion::common::DFSchema::try_from(schema.as_ref().clone())
            .and_then(|df| state.create_physical_expr(filter, &df))
            .and_then(|expr| {
                datafusion::physical_optimizer::pruning::PruningPredicateBuilder::new()
                    .with_file_schema(schema.clone())
                    .try_build(expr)
            });
        let Ok(predicate) = predicate else { return all() };
        let per_file = self
            .files
            .iter()
            .map(|f| Arc::new(self.pruning_statistics(f, &schema)))
            .collect();
        let stats = datafusion::common::pruning::PrunableStatistics::new(per_file, schema);
        match predicate.prune(&stats) {
            Ok(keep) => self
                .files
                .iter()
                .zip(keep)
                .filter(|(_, k)| *k)
                .map(|(f, _)| f)
                .collect(),
            Err(_) => all(),
        }
    }

    /// The columns a scan reads them in: the files' columns, then the partition columns.
    fn scan_schema(&self) -> SchemaRef {
        let mut fields: Vec<FieldRef> = self.file_schema.fields().iter().cloned().collect();
        fields.extend(self.partition_columns.iter().cloned());
        Arc::new(Schema::new(fields))
    }

    /// What the log says of a file, its columns in [`Self::scan_schema`]'s order: its row
    /// count, size, and each column's bounds and null count (a partition column's are its
    /// value's).
    fn scan_statistics(&self, f: &DataFile) -> Statistics {
        let mut columns = f.columns.clone();
        columns.truncate(self.file_schema.fields().len());
        columns.extend(f.partition_values.iter().map(|v| {
            let mut c = ColumnStatistics::new_unknown();
            c.min_value = Precision::Exact(v.clone());
            c.max_value = Precision::Exact(v.clone());
            c.null_count = match (v.is_null(), f.rows) {
                (false, _) => Precision::Exact(0),
                (true, Some(rows)) => Precision::Exact(rows),
                (true, None) => Precision::Absent,
            };
            c
        }));
        Statistics {
            num_rows: f.rows.map(Precision::Exact).unwrap_or(Precision::Absent),
            total_byte_size: Precision::Inexact(f.size as usize),
            column_statistics: columns,
        }
    }

    /// [`Self::scan_statistics`] for pruning (`scan_schema` is [`Self::scan_schema`], built
    /// once per scan): each unknown bound a null of its column's type
    /// (a null bound keeps the file). DataFusion's pruning reads the column's bounds of all
    /// files as one array: an untyped unknown among typed bounds fails to build it, and then
    /// no file is pruned on that column — a file without statistics (or an all-null column)
    /// would keep every other file from being pruned.
    fn pruning_statistics(&self, f: &DataFile, scan_schema: &Schema) -> Statistics {
        let mut stats = self.scan_statistics(f);
        for (column, field) in stats.column_statistics.iter_mut().zip(scan_schema.fields()) {
            for bound in [&mut column.min_value, &mut column.max_value] {
                if !matches!(bound, Precision::Exact(_))
                    && let Ok(null) = ScalarValue::try_from(field.data_type())
                {
                    *bound = Precision::Exact(null);
                }
            }
        }
        stats
    }

    /// What the log says of `files` together, in [`Self::scan_schema`]'s order: the row
    /// count and bounds the planner estimates filters and joins from (which side of a hash
    /// join to build, whether to broadcast it).
    fn merged_statistics(&self, files: &[&DataFile]) -> Statistics {
        let schema = self.scan_schema();
        let each: Vec<Statistics> = files.iter().map(|f| self.scan_statistics(f)).collect();
        Statistics::try_merge_iter(&each, &schema).unwrap_or_else(|_| Statistics::new_unknown(&schema))
    }

    /// Index in the scan's table schema (file columns, then partition columns) of column
    /// `i` of the table.
    fn scan_index(&self, i: usize) -> Option<usize> {
        let name = self.schema.field(i).name();
        self.file_schema.index_of(name).ok().or_else(|| {
            self.partition_columns
                .iter()
                .position(|c| c.name() == name)
                .map(|p| self.file_schema.fields().len() + p)
        })
    }
}

/// The most significant digits a decimal bound keeps exactly through an `f64`: delta-rs
/// writes decimal statistics through `f64`, and a JSON number is read back as one, so
/// `0.30000000000000001` (17 digits) is logged and read as `0.3` — a maximum below the
/// file's real one, which would prune a file holding matching rows.
const F64_EXACT_DIGITS: u8 = 15;

/// A file's column bounds and null counts from its `stats` in the log, for the types whose
/// Delta statistics are exact (integers, dates, decimals of at most [`F64_EXACT_DIGITS`]
/// digits); strings (truncated to a prefix), timestamps (truncated to milliseconds), floats
/// (NaN) and wider decimals are left unknown.
fn column_statistics(fields: &[Field], stats: Option<&str>) -> Vec<ColumnStatistics> {
    use datafusion::arrow::datatypes::DataType as T;
    let json: Option<serde_json::Value> = stats.and_then(|s| serde_json::from_str(s).ok());
    let of = |kind: &str, name: &str| json.as_ref()?.get(kind)?.get(name).cloned();
    fields
        .iter()
        .map(|f| {
            let exact = match f.data_type() {
                T::Int8 | T::Int16 | T::Int32 | T::Int64 | T::Date32 => true,
                T::Decimal128(digits, _) | T::Decimal256(digits, _) => *digits <= F64_EXACT_DIGITS,
                _ => false,
            };
            let bound = |kind: &str| {
                let text = match of(kind, f.name())? {
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::String(s) => s,
                    _ => return None,
                };
                ScalarValue::try_from_string(text, f.data_type()).ok()
            };
            let mut c = ColumnStatistics::new_unknown();
            if exact && let (Some(min), Some(max)) = (bound("minValues"), bound("maxValues")) {
                c.min_value = Precision::Exact(min);
                c.max_value = Precision::Exact(max);
            }
            if let Some(n) = of("nullCount", f.name()).and_then(|v| v.as_u64()) {
                c.null_count = Precision::Exact(n as usize);
            }
            c
        })
        .collect()
}

fn version_of(table: &DeltaTable) -> i64 {
    table.version().map(|v| v as i64).unwrap_or(-1)
}

/// The object store a table's files are read from: its URL's scheme and authority.
fn store_of(root: &Url) -> std::result::Result<ObjectStoreUrl, String> {
    let authority = &root[url::Position::BeforeHost..url::Position::AfterPort];
    ObjectStoreUrl::parse(format!("{}://{authority}", root.scheme())).map_err(|e| e.to_string())
}

/// A data file's URL: the log names it relative to the table's root, or absolutely.
fn file_url(root: &Url, logged: &str) -> std::result::Result<Url, String> {
    if let Ok(absolute) = Url::parse(logged) {
        return Ok(absolute);
    }
    let mut base = root.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    // the file's path (the log's, decoded by delta-rs), encoded segment by segment
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|_| format!("`{root}` cannot hold a file path"))?
        .pop_if_empty()
        .extend(logged.split('/'));
    Ok(url)
}

#[async_trait::async_trait]
impl TableProvider for PinnedFiles {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        // kept above the scan, and pushed into it by the physical planner for pruning
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    fn statistics(&self) -> Option<Statistics> {
        let files: Vec<&DataFile> = self.files.iter().collect();
        let mut merged = self.merged_statistics(&files);
        let by_scan_index = std::mem::take(&mut merged.column_statistics);
        merged.column_statistics = (0..self.schema.fields().len())
            .map(|i| {
                self.scan_index(i)
                    .and_then(|j| by_scan_index.get(j).cloned())
                    .unwrap_or_else(ColumnStatistics::new_unknown)
            })
            .collect();
        Some(merged)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let columns: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let files = self.files_for(state, filters);
        if files.is_empty() {
            return Ok(Arc::new(EmptyExec::new(Arc::new(self.schema.project(&columns)?))));
        }
        let indices = columns
            .iter()
            .map(|i| {
                self.scan_index(*i).ok_or_else(|| {
                    datafusion::common::DataFusionError::Internal(format!("column {i} of a pinned scan"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut options = datafusion::config::TableParquetOptions {
            global: state.config_options().execution.parquet.clone(),
            ..Default::default()
        };
        if let Some(p) = self.pushdown {
            options.global.pushdown_filters = p;
        }
        let format = ParquetFormat::default().with_options(options);
        let source = format.file_source(
            TableSchema::builder(self.file_schema.clone())
                .with_table_partition_cols(self.partition_columns.clone())
                .build(),
        );
        let config = FileScanConfigBuilder::new(self.store.clone(), source)
            .with_file_groups(self.file_groups(files.clone(), state.config().target_partitions()))
            .with_statistics(self.merged_statistics(&files))
            .with_constraints(self.unique.clone())
            .with_projection_indices(Some(indices))?
            .with_limit(limit)
            .build();
        format.create_physical_plan(state, config).await
    }
}
