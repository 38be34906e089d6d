//! `semc._semc`: the native half of the Python package. A thin binding: every call is one
//! of semc's own entry points (the ones the CLI calls), run on a Tokio runtime with the GIL
//! released; results cross as JSON (reports, diagnostics, specs) or as Arrow C streams
//! (rows, zero-copy). The typed API users see is `semc/__init__.py`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule};
use semc::diag::Diagnostic;
use semc::run::{self, Bindings, Compilation as Compiled, ExecutionSpec, Failure, Reference, Rows, RunOptions};
use semc::span::SourceMap;
use semc::syntax::load::Workspace;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use datafusion::arrow::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};
use datafusion::arrow::record_batch::{RecordBatchIterator, RecordBatchReader};

/// The runtime every call runs on: one per process, started on first use.
fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("semc")
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| internal(format!("cannot start the runtime: {e}")))
}

/// Why a call failed, before it becomes a Python exception.
enum Fault {
    /// The user's program, data or spec: diagnostics placed in these files.
    User(Vec<Diagnostic>, Arc<SourceMap>),
    /// semc's own bug.
    Internal(String),
    /// Ctrl-C: the work was dropped before it finished.
    Interrupted(PyErr),
}

impl Fault {
    fn of(f: Failure, map: &Arc<SourceMap>) -> Fault {
        match f {
            Failure::User(d) => Fault::User(d, map.clone()),
            Failure::Internal(m) => Fault::Internal(m),
        }
    }

    fn raise(self, py: Python<'_>) -> PyErr {
        let errors = match py.import("semc._errors") {
            Ok(m) => m,
            Err(e) => return e,
        };
        let made = match self {
            Fault::User(diags, map) => {
                let records = serde_json::to_string(&semc::diag::records(&map, &diags)).unwrap_or_default();
                errors.call_method1("_user_error", (records,))
            }
            Fault::Internal(m) => errors.call_method1("_internal_error", (m,)),
            Fault::Interrupted(e) => return e,
        };
        match made {
            Ok(exc) => PyErr::from_value(exc),
            Err(e) => e,
        }
    }
}

fn internal(m: String) -> PyErr {
    Python::attach(|py| Fault::Internal(m).raise(py))
}

/// Runs `work` to its end with the GIL released, checking for Ctrl-C every 50 ms: on
/// Ctrl-C the work is aborted (its future dropped, so nothing after that point commits)
/// and `KeyboardInterrupt` is raised. A panic in semc is an internal error, never a crash.
fn block<T: Send + 'static>(
    py: Python<'_>,
    work: impl Future<Output = Result<T, Fault>> + Send + 'static,
) -> PyResult<T> {
    let rt = runtime()?;
    let outcome = py.detach(|| {
        let mut task = rt.spawn(work);
        rt.block_on(async {
            loop {
                tokio::select! {
                    done = &mut task => {
                        return match done {
                            Ok(r) => r,
                            Err(e) if e.is_panic() => Err(Fault::Internal(format!("semc panicked: {}", panic_text(e)))),
                            Err(e) => Err(Fault::Internal(format!("the call was cancelled: {e}"))),
                        };
                    }
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {
                        if let Err(e) = Python::attach(|py| py.check_signals()) {
                            task.abort();
                            // wait until the work is dropped: nothing of it runs after we return
                            let _ = (&mut task).await;
                            return Err(Fault::Interrupted(e));
                        }
                    }
                }
            }
        })
    });
    outcome.map_err(|f| f.raise(py))
}

fn panic_text(e: tokio::task::JoinError) -> String {
    let p = e.into_panic();
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, Fault> {
    serde_json::to_string(v).map_err(|e| Fault::Internal(e.to_string()))
}

/// Activates the profile of `semc.toml` for `path`, as the CLI does before each command.
fn activate_profile(path: &std::path::Path, profile: Option<&str>) -> Result<(), Fault> {
    let profile = semc::project::load(path, profile).map_err(|e| {
        Fault::User(
            vec![
                Diagnostic::error(semc::codes::Code::E0009, semc::span::Span::default(), e.to_string())
                    .help("`semc init` writes a commented semc.toml; profiles are under [profile.NAME]"),
            ],
            Arc::new(SourceMap::default()),
        )
    })?;
    semc::project::activate(profile);
    Ok(())
}

/// A checked workspace and the snapshots it was checked against.
#[pyclass(frozen, module = "semc._semc")]
struct Compilation {
    inner: Arc<Compiled>,
    map: Arc<SourceMap>,
    input: Input,
}

/// What to compile: a path, or `.sem` text held in memory (a `semc.Workspace`, read by
/// its attributes).
#[derive(Clone, FromPyObject)]
enum Input {
    Path(PathBuf),
    Text { name: String, text: String, root: PathBuf },
}

/// How the tables of a compilation are read.
#[derive(Clone, Copy, PartialEq)]
enum Pins {
    /// Each source at its pin in the `.sem` files (the latest version when it has none).
    Declared,
    /// Each source at the version `sem.lock` records.
    Locked,
    /// No table is read: the declarations alone are checked.
    Offline,
}

async fn compile_input(input: Input, pins: Pins) -> Result<Compiled, Failure> {
    let ws = match input {
        Input::Path(p) => semc::run::load(&p)?,
        Input::Text { name, text, root } => Workspace::from_text(&name, &text, &root),
    };
    match pins {
        Pins::Offline => run::compile_workspace_offline(ws).await,
        Pins::Declared => run::compile_workspace(ws).await,
        Pins::Locked => {
            let file = run::lock_path(&ws.root);
            let lock = run::Lock::read(&file).map_err(|e| {
                Failure::User(vec![
                    Diagnostic::error(semc::codes::Code::E0309, semc::span::Span::default(), e.to_string())
                        .help("run once without locked=True to write sem.lock"),
                ])
            })?;
            run::compile_workspace_locked(ws, Some(&lock)).await
        }
    }
}

/// Checks a workspace: its diagnostics as a JSON list (empty when it is sound).
#[pyfunction]
#[pyo3(signature = (workspace, *, profile=None, offline=false))]
fn check(py: Python<'_>, workspace: Input, profile: Option<String>, offline: bool) -> PyResult<String> {
    block(py, async move {
        let none = Arc::new(SourceMap::default());
        activate_profile(workspace.folder(), profile.as_deref())?;
        let pins = if offline { Pins::Offline } else { Pins::Declared };
        let c = compile_input(workspace, pins).await.map_err(|f| Fault::of(f, &none))?;
        json(&semc::diag::records(&c.ws.map, &c.diags))
    })
}

/// Compiles a workspace; raises with its diagnostics if it has errors.
#[pyfunction]
#[pyo3(signature = (workspace, *, profile=None, locked=false))]
fn compile(py: Python<'_>, workspace: Input, profile: Option<String>, locked: bool) -> PyResult<Compilation> {
    let pins = if locked { Pins::Locked } else { Pins::Declared };
    block(py, async move {
        activate_profile(workspace.folder(), profile.as_deref())?;
        compiled(workspace, pins).await
    })
}

async fn compiled(input: Input, pins: Pins) -> Result<Compilation, Fault> {
    let none = Arc::new(SourceMap::default());
    let c = compile_input(input.clone(), pins)
        .await
        .map_err(|f| Fault::of(f, &none))?;
    let map = Arc::new(c.ws.map.clone());
    c.program().map_err(|f| Fault::of(f, &map))?;
    Ok(Compilation {
        inner: Arc::new(c),
        map,
        input,
    })
}

impl Input {
    /// Where its `semc.toml` is looked for.
    fn folder(&self) -> &std::path::Path {
        match self {
            Input::Path(p) => p,
            Input::Text { root, .. } => root,
        }
    }
}

fn options(memory_limit: Option<usize>, run_id: Option<String>, force: bool) -> RunOptions {
    RunOptions {
        memory_limit,
        run_id,
        force,
        ..RunOptions::default()
    }
}

#[pymethods]
impl Compilation {
    /// The ONE Substrait plan of the outputs (all, or those named), as protobuf bytes.
    #[pyo3(signature = (outputs=None))]
    fn plan<'py>(&self, py: Python<'py>, outputs: Option<Vec<String>>) -> PyResult<Bound<'py, PyBytes>> {
        let (c, map) = (self.inner.clone(), self.map.clone());
        let bytes = block(py, async move {
            let plan = run::plan_and_spec(&c, &outputs.unwrap_or_default())
                .await
                .map_err(|f| Fault::of(f, &map))?
                .0;
            Ok(prost::Message::encode_to_vec(&plan))
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The execution spec of the outputs (all, or those named), as JSON.
    #[pyo3(signature = (outputs=None))]
    fn spec(&self, py: Python<'_>, outputs: Option<Vec<String>>) -> PyResult<String> {
        let (c, map) = (self.inner.clone(), self.map.clone());
        block(py, async move {
            let (_, spec) = run::plan_and_spec(&c, &outputs.unwrap_or_default())
                .await
                .map_err(|f| Fault::of(f, &map))?;
            spec.to_json().map_err(|f| Fault::of(f, &map))
        })
    }

    /// The optimized engine plan of one output (with `analyze`, run and measured).
    #[pyo3(signature = (output, analyze=false))]
    fn explain(&self, py: Python<'_>, output: String, analyze: bool) -> PyResult<String> {
        let (c, map) = (self.inner.clone(), self.map.clone());
        block(py, async move {
            run::explain_compiled(&c, &output, analyze)
                .await
                .map_err(|f| Fault::of(f, &map))
        })
    }

    /// The first `limit` rows of a model, as an Arrow C stream.
    fn show(&self, py: Python<'_>, model: String, limit: usize) -> PyResult<ArrowStream> {
        let (c, map) = (self.inner.clone(), self.map.clone());
        let rows = block(py, async move {
            run::show(&c, &model, limit).await.map_err(|f| Fault::of(f, &map))
        })?;
        Ok(ArrowStream::new(rows))
    }

    /// Compares an output's rows (computed, not written) with a reference: an object with
    /// `__arrow_c_stream__` (a pyarrow Table, …) or a Delta table's location. Returns the
    /// counts as JSON and the first differing rows of each kind as Arrow streams.
    #[pyo3(signature = (output, reference, limit=10))]
    fn parity(
        &self,
        py: Python<'_>,
        output: String,
        reference: Bound<'_, PyAny>,
        limit: usize,
    ) -> PyResult<(String, ArrowStream, ArrowStream)> {
        let reference = match reference.extract::<String>() {
            Ok(location) => Reference::Table(location),
            Err(_) => Reference::Rows(import_stream(&reference)?),
        };
        let (c, map) = (self.inner.clone(), self.map.clone());
        let p = block(py, async move {
            run::parity(&c, &output, reference, limit)
                .await
                .map_err(|f| Fault::of(f, &map))
        })?;
        let counts = serde_json::json!({
            "output": p.output,
            "rows": p.rows,
            "reference_rows": p.reference_rows,
            "extra_count": p.extra_count,
            "missing_count": p.missing_count,
            "columns_differ": p.columns_differ,
        });
        Ok((
            counts.to_string(),
            ArrowStream::new(p.extra),
            ArrowStream::new(p.missing),
        ))
    }

    /// Runs the outputs (all, or those named): verified, then committed; reports as JSON.
    /// `locked` reads every source at the version `sem.lock` records.
    #[pyo3(signature = (outputs=None, locked=false, run_id=None, memory_limit=None, force=false))]
    fn run(
        &self,
        py: Python<'_>,
        outputs: Option<Vec<String>>,
        locked: bool,
        run_id: Option<String>,
        memory_limit: Option<usize>,
        force: bool,
    ) -> PyResult<String> {
        let (c, map, input) = (self.inner.clone(), self.map.clone(), self.input.clone());
        block(py, async move {
            let (c, map) = if locked {
                let at_lock = compiled(input, Pins::Locked).await?;
                (at_lock.inner, at_lock.map)
            } else {
                (c, map)
            };
            let only = outputs.unwrap_or_default();
            let reports = run::run_with(&c, &only, &options(memory_limit, run_id, force))
                .await
                .map_err(|f| Fault::of(f, &map))?;
            if let Err(e) = run::Lock::of(&c).write(&run::lock_path(&c.ws.root)) {
                tracing::warn!("{e}");
            }
            reports_json(&reports, &map)
        })
    }

    /// The compilation's diagnostics (warnings; errors raise at compile) as JSON.
    fn diagnostics(&self) -> PyResult<String> {
        serde_json::to_string(&semc::diag::records(&self.map, &self.inner.diags)).map_err(|e| internal(e.to_string()))
    }

    /// The names of the workspace's outputs and models, as JSON `{"outputs": [...], "models": [...]}`.
    fn names(&self) -> PyResult<String> {
        let p = self.inner.program().map_err(|_| internal("no program".into()))?;
        let v = serde_json::json!({
            "outputs": p.outputs.iter().map(|o| &o.name).collect::<Vec<_>>(),
            "models": p.models.iter().map(|m| &m.name).collect::<Vec<_>>(),
        });
        Ok(v.to_string())
    }
}

/// Reports as JSON, each with its warnings as diagnostics.
fn reports_json(reports: &[run::OutputReport], map: &SourceMap) -> Result<String, Fault> {
    let v: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            v["warnings"] = serde_json::to_value(semc::diag::records(map, &r.warnings)).unwrap_or_default();
            v
        })
        .collect();
    json(&v)
}

/// Runs a Substrait plan under an execution spec (its JSON), as `semc exec` runs a bundle.
#[pyfunction]
#[pyo3(signature = (spec, plan, *, root=None, bind=None, run_id=None, memory_limit=None, force=false))]
#[allow(clippy::too_many_arguments)]
fn execute(
    py: Python<'_>,
    spec: String,
    plan: Vec<u8>,
    root: Option<String>,
    bind: Option<Vec<(String, String)>>,
    run_id: Option<String>,
    memory_limit: Option<usize>,
    force: bool,
) -> PyResult<String> {
    block(py, async move {
        let none = Arc::new(SourceMap::default());
        let spec = ExecutionSpec::from_json(&spec).map_err(|f| Fault::of(f, &none))?;
        let bindings = Bindings {
            root,
            binds: bind.unwrap_or_default(),
        };
        let reports = run::exec_spec(&spec, &plan, &options(memory_limit, run_id, force), &bindings)
            .await
            .map_err(|f| Fault::of(f, &none))?;
        reports_json(&reports, &none)
    })
}

/// Bytes in a size such as `256M` or `2GiB` (as `--memory-limit` reads it).
#[pyfunction]
fn parse_size(size: &str) -> PyResult<usize> {
    run::parse_size(size).ok_or_else(|| PyValueError::new_err(format!("`{size}` is not a size: write e.g. 256M or 2G")))
}

/// The JSON Schema of the execution spec, generated from semc's own types.
#[pyfunction]
fn spec_schema() -> PyResult<String> {
    serde_json::to_string_pretty(&ExecutionSpec::json_schema()).map_err(|e| internal(e.to_string()))
}

/// Rows from Python: anything with `__arrow_c_stream__` (the Arrow PyCapsule interface),
/// moved out of its capsule without a copy.
fn import_stream(obj: &Bound<'_, PyAny>) -> PyResult<Rows> {
    let capsule = obj.call_method0("__arrow_c_stream__").map_err(|_| {
        PyValueError::new_err("the reference is neither a location nor Arrow data (no __arrow_c_stream__)")
    })?;
    let capsule = capsule.cast::<PyCapsule>()?;
    let pointer = capsule.pointer_checked(Some(c"arrow_array_stream"))?;
    // SAFETY: the capsule is an `ArrowArrayStream` by its name (the PyCapsule interface);
    // `from_raw` moves the stream out and leaves it released, as the interface asks
    let reader = unsafe { ArrowArrayStreamReader::from_raw(pointer.as_ptr().cast::<FFI_ArrowArrayStream>()) }
        .map_err(|e| PyValueError::new_err(format!("the reference's Arrow stream: {e}")))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PyValueError::new_err(format!("the reference's Arrow stream: {e}")))?;
    Ok(Rows { schema, batches })
}

/// Record batches handed to Python through the Arrow PyCapsule interface
/// (`__arrow_c_stream__`): pyarrow, polars and others import them without a copy.
#[pyclass(module = "semc._semc")]
struct ArrowStream {
    rows: Option<Rows>,
}

impl ArrowStream {
    fn new(rows: Rows) -> ArrowStream {
        ArrowStream { rows: Some(rows) }
    }
}

#[pymethods]
impl ArrowStream {
    /// The stream, once: a second call raises (the batches have moved to the consumer).
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &mut self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        // the schema is the model's own; a consumer that asks for another casts itself
        let _ = requested_schema;
        let rows = self
            .rows
            .take()
            .ok_or_else(|| PyValueError::new_err("this Arrow stream was already consumed"))?;
        let reader = RecordBatchIterator::new(rows.batches.into_iter().map(Ok), rows.schema);
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }
}

/// A Python callable as an engine function (an `extern fn` of a workspace): called, with the
/// GIL, with the arguments as one Arrow stream of a batch (columns `a0`, `a1`, …); what it
/// gives back (anything with `__arrow_c_stream__`) is read as the result's one column.
#[derive(Debug)]
struct PythonFunction {
    name: String,
    callable: Py<PyAny>,
    returns: datafusion::arrow::datatypes::DataType,
    signature: datafusion::logical_expr::Signature,
}

impl PartialEq for PythonFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.returns == other.returns && self.callable.as_ptr() == other.callable.as_ptr()
    }
}

impl Eq for PythonFunction {}

impl std::hash::Hash for PythonFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl PythonFunction {
    fn call(
        &self,
        args: &[datafusion::logical_expr::ColumnarValue],
        rows: usize,
    ) -> Result<datafusion::arrow::array::ArrayRef, String> {
        use datafusion::arrow::datatypes::{Field, Schema};
        let arrays = datafusion::logical_expr::ColumnarValue::values_to_arrays(args).map_err(|e| e.to_string())?;
        // text and bytes as their plain Arrow types, which every Python library takes
        let arrays = arrays
            .into_iter()
            .map(|a| {
                use datafusion::arrow::datatypes::DataType;
                let plain = match a.data_type() {
                    DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
                    DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
                    _ => return Ok(a),
                };
                datafusion::arrow::compute::cast(&a, &plain).map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, String>>()?;
        let arrays = if arrays.is_empty() {
            vec![Arc::new(datafusion::arrow::array::NullArray::new(rows)) as datafusion::arrow::array::ArrayRef]
        } else {
            arrays
        };
        let fields: Vec<Field> = arrays
            .iter()
            .enumerate()
            .map(|(i, a)| Field::new(format!("a{i}"), a.data_type().clone(), true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let batch =
            datafusion::arrow::record_batch::RecordBatch::try_new(schema.clone(), arrays).map_err(|e| e.to_string())?;
        let result = Python::attach(|py| -> PyResult<Rows> {
            let stream = Py::new(
                py,
                ArrowStream::new(Rows {
                    schema,
                    batches: vec![batch],
                }),
            )?;
            let out = self.callable.call1(py, (stream,))?;
            import_stream(out.bind(py))
        })
        .map_err(|e| e.to_string())?;
        let columns: Vec<datafusion::arrow::array::ArrayRef> = result
            .batches
            .iter()
            .filter_map(|b| b.columns().first().cloned())
            .collect();
        let refs: Vec<&dyn datafusion::arrow::array::Array> = columns.iter().map(|c| c.as_ref()).collect();
        let column = if refs.is_empty() {
            datafusion::arrow::array::new_empty_array(&self.returns)
        } else {
            datafusion::arrow::compute::concat(&refs).map_err(|e| e.to_string())?
        };
        if column.len() != rows {
            return Err(format!("`{}` gave {} values for {rows} rows", self.name, column.len()));
        }
        datafusion::arrow::compute::cast(&column, &self.returns)
            .map_err(|e| format!("`{}` gave {}: {e}", self.name, column.data_type()))
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for PythonFunction {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }
    fn return_type(
        &self,
        _: &[datafusion::arrow::datatypes::DataType],
    ) -> datafusion::error::Result<datafusion::arrow::datatypes::DataType> {
        Ok(self.returns.clone())
    }
    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::error::Result<datafusion::logical_expr::ColumnarValue> {
        self.call(&args.args, args.number_rows)
            .map(datafusion::logical_expr::ColumnarValue::Array)
            .map_err(|e| {
                datafusion::error::DataFusionError::External(Box::new(semc::host::HostFunctionFailed(format!(
                    "`{}`: {e}",
                    self.name
                ))))
            })
    }
}

/// Registers `callable` as the host function `name` (an `extern fn` of a workspace) giving
/// values of the `.sem` type `returns`, for every run in this process.
#[pyfunction]
fn register_function(name: String, callable: Py<PyAny>, returns: String) -> PyResult<()> {
    let ty = semc::types::Type::from_name(&returns.to_lowercase()).ok_or_else(|| {
        PyValueError::new_err(format!(
            "`{returns}` is not a .sem type (int64, float64, string, bool, date, timestamp, …)"
        ))
    })?;
    let f = PythonFunction {
        name: name.to_lowercase(),
        callable,
        returns: ty.to_arrow(),
        signature: datafusion::logical_expr::Signature::variadic_any(datafusion::logical_expr::Volatility::Immutable),
    };
    semc::host::register(datafusion::logical_expr::ScalarUDF::from(f));
    Ok(())
}

#[pymodule]
fn _semc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(register_function, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(execute, m)?)?;
    m.add_function(wrap_pyfunction!(spec_schema, m)?)?;
    m.add_function(wrap_pyfunction!(parse_size, m)?)?;
    m.add_class::<Compilation>()?;
    m.add_class::<ArrowStream>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
