//! Writes where it computes: on a cluster, an output's rows are written to its table by the
//! executors that computed them, and only the written files' Delta `Add` actions come back to
//! semc, which commits them in one atomic commit after verification.
//!
//! [`WriteFilesExec`] sits on top of an output's plan: each of its partitions streams the
//! plan's rows of that partition into parquet files under the table's location, in a folder
//! named for the write (`semc-<write id>/`, so the files of a write that is never committed
//! are found and deleted by that name), and yields one row per file: the `Add` action, as
//! JSON. [`SemcCodec`] carries the node from semc to the scheduler and from there to the
//! executors, and Ballista's own nodes as Ballista does.

use ballista_core::serde::BallistaPhysicalExtensionCodec;
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties, ReplaceChildrenOptions,
};
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use deltalake::kernel::Add;
use deltalake::logstore::object_store::prefix::PrefixStore;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The column of [`WriteFilesExec`]'s rows: a written file's `Add` action, as JSON.
const ADD: &str = "add";

/// The schema of [`WriteFilesExec`]'s rows.
fn adds_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(ADD, DataType::Utf8, false)]))
}

/// Where and how a partition's rows are written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FilesSpec {
    /// The table's location.
    pub table: String,
    pub partition_columns: Vec<String>,
    /// Names the folder the files are written in: `semc-<write id>/`.
    pub write_id: String,
    /// The size at which a file is closed and the next one begun.
    pub target_file_size: u64,
}

impl FilesSpec {
    /// The folder, under the table's location, the write's files are in.
    pub fn folder(&self) -> String {
        format!("semc-{}", self.write_id)
    }
}

/// Writes each partition of its input as parquet files of the table, and yields their `Add`
/// actions (one row per file).
#[derive(Debug)]
pub struct WriteFilesExec {
    input: Arc<dyn ExecutionPlan>,
    spec: FilesSpec,
    properties: Arc<PlanProperties>,
}

impl WriteFilesExec {
    pub fn new(input: Arc<dyn ExecutionPlan>, spec: FilesSpec) -> WriteFilesExec {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(adds_schema()),
            input.output_partitioning().clone(),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        WriteFilesExec {
            input,
            spec,
            properties,
        }
    }
}

impl DisplayAs for WriteFilesExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "WriteFilesExec: table={} folder={}",
            self.spec.table,
            self.spec.folder()
        )
    }
}

impl ExecutionPlan for WriteFilesExec {
    fn name(&self) -> &str {
        "WriteFilesExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.with_children(children)
    }

    #[allow(deprecated)]
    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        self.with_children(children)
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let rows = self.input.execute(partition, context)?;
        let written = write_partition(rows, self.spec.clone());
        let schema = self.schema();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            futures::stream::once(written),
        )))
    }
}

impl WriteFilesExec {
    fn with_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(WriteFilesExec::new(input, self.spec.clone()))),
            _ => Err(DataFusionError::Internal("WriteFilesExec has one input".into())),
        }
    }
}

/// Writes one partition's rows and returns their files' `Add` actions as rows. A write that
/// fails aborts its uploads; files it closed stay in the write's folder, which the client
/// deletes.
async fn write_partition(mut rows: SendableRecordBatchStream, spec: FilesSpec) -> Result<RecordBatch> {
    use delta_kernel::table_properties::DataSkippingNumIndexedCols;
    use deltalake::datafile::writer::{DeltaWriter, WriterConfig};
    use deltalake::kernel::schema::cast::{cast_record_batch, normalize_for_delta};
    let external = |e: deltalake::DeltaTableError| DataFusionError::External(Box::new(e));
    let url = url::Url::parse(&spec.table).map_err(|e| DataFusionError::External(Box::new(e)))?;
    let store = crate::delta::table_store(&url).map_err(external)?;
    let folder = spec.folder();
    let store = Arc::new(PrefixStore::new(store, folder.as_str()));
    let schema = normalize_for_delta(&rows.schema());
    let config = WriterConfig::new(
        schema.clone(),
        spec.partition_columns.clone(),
        None,
        std::num::NonZeroU64::new(spec.target_file_size),
        None,
        DataSkippingNumIndexedCols::NumColumns(32),
        None,
    );
    let mut writer = DeltaWriter::new(store, config);
    while let Some(batch) = rows.next().await {
        let written = match batch {
            Ok(batch) => match cast_record_batch(&batch, schema.clone(), false, true) {
                Ok(batch) => writer.write(&batch).await.map_err(external),
                Err(e) => Err(external(e)),
            },
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            let _ = writer.abort().await;
            return Err(e);
        }
    }
    let adds = writer.close().await.map_err(external)?;
    let json = adds
        .into_iter()
        .map(|mut add| {
            add.path = format!("{folder}/{}", add.path);
            serde_json::to_string(&add).map_err(|e| DataFusionError::External(Box::new(e)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(
        adds_schema(),
        vec![Arc::new(StringArray::from(json))],
    )?)
}

/// The `Add` actions of a write's rows (as [`WriteFilesExec`] yields them).
pub fn adds(batches: &[RecordBatch]) -> Result<Vec<Add>> {
    let mut out = vec![];
    for b in batches {
        let Some(column) = b
            .column_by_name(ADD)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        else {
            return Err(DataFusionError::Internal("a write's rows have no `add` column".into()));
        };
        for json in column.iter().flatten() {
            out.push(serde_json::from_str(json).map_err(|e| DataFusionError::External(Box::new(e)))?);
        }
    }
    Ok(out)
}

/// Ballista's codec, and [`WriteFilesExec`]: on the client, the scheduler and the executors.
#[derive(Debug, Default)]
pub struct SemcCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

/// What begins an encoded [`WriteFilesExec`] (Ballista's nodes are protobuf messages, which
/// never begin with it).
const WRITE_FILES: &[u8] = b"semc.WriteFilesExec:";

impl PhysicalExtensionCodec for SemcCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(spec) = buf.strip_prefix(WRITE_FILES) else {
            return self.ballista.try_decode(buf, inputs, ctx, converter);
        };
        let spec: FilesSpec = serde_json::from_slice(spec).map_err(|e| DataFusionError::External(Box::new(e)))?;
        match inputs {
            [input] => Ok(Arc::new(WriteFilesExec::new(input.clone(), spec))),
            _ => Err(DataFusionError::Internal("WriteFilesExec has one input".into())),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        match node.downcast_ref::<WriteFilesExec>() {
            Some(write) => {
                buf.extend_from_slice(WRITE_FILES);
                serde_json::to_writer(buf, &write.spec).map_err(|e| DataFusionError::External(Box::new(e)))
            }
            None => self.ballista.try_encode(node, buf, converter),
        }
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.ballista.try_decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.ballista.try_decode_udaf(name, buf)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udaf(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.ballista.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udwf(node, buf)
    }
}

/// Deletes the files of the write's folder under the table at `table` that `committed` (the
/// committed `Add` paths) does not name: all of them when nothing was committed. Never a
/// committed file: unless every committed path is found among the folder's files, nothing is
/// deleted. Best effort: what cannot be deleted is logged (a `VACUUM` removes it later).
pub async fn clean_up(table: &url::Url, spec: &FilesSpec, committed: &std::collections::HashSet<String>) {
    use deltalake::logstore::object_store::ObjectStoreExt;
    let store = match crate::delta::table_store(table) {
        Ok(store) => store,
        Err(e) => {
            tracing::warn!("cannot open `{table}` to delete an uncommitted write's files: {e}");
            return;
        }
    };
    // a committed path as the store names it (an `Add` path is URL-encoded)
    let committed: std::collections::HashSet<String> = committed
        .iter()
        .map(|p| {
            deltalake::Path::from_url_path(p)
                .map(|p| p.to_string())
                .unwrap_or_else(|_| p.clone())
        })
        .collect();
    let folder = deltalake::Path::from(spec.folder());
    let listed: Vec<deltalake::Path> = match store.list(Some(&folder)).map_ok(|m| m.location).try_collect().await {
        Ok(listed) => listed,
        Err(e) => {
            tracing::warn!("cannot list `{folder}` of a write: {e}");
            return;
        }
    };
    let found = listed.iter().filter(|l| committed.contains(l.as_ref())).count();
    if found != committed.len() {
        tracing::warn!("`{folder}`: the committed files are not all found; nothing is deleted");
        return;
    }
    for location in listed.iter().filter(|l| !committed.contains(l.as_ref())) {
        if let Err(e) = store.delete(location).await {
            tracing::warn!("cannot delete `{location}` of an uncommitted write: {e}");
        }
    }
}
