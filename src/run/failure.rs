//! What went wrong, and whose fault it is: the user's program or data (diagnostics with
//! codes), or semc's own (a bug). Engine errors are classified by their type — the
//! `DataFusionError` and `ArrowError` variants anywhere in the error's chain — and by their
//! text only where Arrow gives a data fault no variant of its own (an overflow in a
//! function, `power(0, y)` with `y` below 0, a decimal that does not fit its precision).

use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::span::Span;
use datafusion::arrow::error::ArrowError;
use datafusion::common::DataFusionError;
use std::error::Error;

/// What went wrong, by whose fault: the user's program or data (diagnostics), or semc (a bug).
#[derive(Debug)]
pub enum Failure {
    User(Vec<Diagnostic>),
    Internal(String),
}

impl Failure {
    /// Whether this failure is the run running out of memory (E0410).
    pub fn is_out_of_memory(&self) -> bool {
        matches!(self, Failure::User(d) if d.iter().any(|d| d.code == Code::E0410))
    }
}

impl From<DataFusionError> for Failure {
    fn from(e: DataFusionError) -> Self {
        match data_error(&e) {
            Some(d) => Failure::User(vec![d]),
            None => Failure::Internal(e.to_string()),
        }
    }
}

/// Why the data (or the memory it was given) made a checked plan fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataFault {
    OutOfMemory,
    DivideByZero,
    Overflow,
    Cast,
    /// A data file the snapshot lists is missing or is not whole Parquet.
    UnreadableFile,
    /// A function of values for which it has no result.
    Undefined,
}

impl DataFault {
    fn of_arrow(e: &ArrowError) -> Option<DataFault> {
        match e {
            ArrowError::DivideByZero => Some(DataFault::DivideByZero),
            ArrowError::ArithmeticOverflow(_) => Some(DataFault::Overflow),
            // the engine's functions report theirs so (`abs` of the smallest integer)
            ArrowError::ComputeError(m) if m.contains("overflow") => Some(DataFault::Overflow),
            // `power(0, y)` with `y` below 0, undefined as in PostgreSQL
            ArrowError::ComputeError(m) if m.contains("raised to a negative power") => Some(DataFault::Undefined),
            ArrowError::CastError(_) => Some(DataFault::Cast),
            // a value cast to a decimal of fewer digits than it needs: Arrow's precision
            // check reports it as an invalid argument, with no variant of its own
            ArrowError::InvalidArgumentError(m) if m.contains("to store in a Decimal") => Some(DataFault::Cast),
            ArrowError::MemoryError(_) => Some(DataFault::OutOfMemory),
            ArrowError::ParquetError(_) => Some(DataFault::UnreadableFile),
            _ => None,
        }
    }

    fn of_datafusion(e: &DataFusionError) -> Option<DataFault> {
        match e {
            DataFusionError::ResourcesExhausted(_) => Some(DataFault::OutOfMemory),
            // semc writes its outputs through delta-rs, which reports its own errors: a
            // Parquet error reaching the engine is a data file read
            DataFusionError::ParquetError(_) => Some(DataFault::UnreadableFile),
            DataFusionError::ArrowError(a, _) => DataFault::of_arrow(a),
            DataFusionError::Shared(inner) => DataFault::of_datafusion(inner),
            DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => {
                DataFault::of_datafusion(inner)
            }
            DataFusionError::Collection(all) => all.iter().find_map(DataFault::of_datafusion),
            _ => None,
        }
    }

    /// The first fault anywhere in `e`'s chain of causes.
    fn find(e: &(dyn Error + 'static)) -> Option<DataFault> {
        let mut cause = Some(e);
        while let Some(c) = cause {
            let fault = if let Some(df) = c.downcast_ref::<DataFusionError>() {
                DataFault::of_datafusion(df)
            } else if let Some(a) = c.downcast_ref::<ArrowError>() {
                DataFault::of_arrow(a)
            } else {
                None
            };
            if fault.is_some() {
                return fault;
            }
            cause = c.source();
        }
        None
    }

    /// What the user can do about it (a run that fails so commits nothing: the README says
    /// so, and `semc show` never commits).
    fn fix(self) -> &'static str {
        match self {
            DataFault::OutOfMemory => "raise `--memory-limit`, or narrow what the model reads",
            DataFault::DivideByZero => {
                "guard the division (`case when d == 0 then null else n / d end`), or filter the rows"
            }
            DataFault::Overflow => {
                "the result does not fit its type: compute in a wider one (`cast(x as decimal(38, 0))`), or filter the rows"
            }
            DataFault::Cast => "filter the values that do not fit, or cast to a wider type",
            DataFault::Undefined => {
                "guard the values the function has no result for (`case when … then null else … end`), or filter the rows"
            }
            DataFault::UnreadableFile => {
                "the table's log lists a file that is missing or damaged (deleted or changed outside Delta): restore it, or read an earlier version of the table"
            }
        }
    }

    fn what(self) -> &'static str {
        match self {
            DataFault::OutOfMemory => "out of memory",
            DataFault::DivideByZero => "a division by zero",
            DataFault::Overflow => "an arithmetic overflow",
            DataFault::Cast => "a value that does not fit the cast",
            DataFault::UnreadableFile => "a data file that cannot be read",
            DataFault::Undefined => "a value the function has no result for",
        }
    }
}

/// An engine error caused by the values of the data (division by zero, overflow, a cast
/// that does not fit: E0409) or by the memory the run was given (E0410), not by semc: a
/// diagnostic without a place in the source — callers that know the output give it its span.
pub(super) fn data_error(e: &(dyn Error + 'static)) -> Option<Diagnostic> {
    if let Some(d) = cluster_error(e) {
        return Some(d);
    }
    if let Some(failed) = in_chain::<crate::host::HostFunctionFailed>(e) {
        return Some(
            Diagnostic::error(
                Code::E0415,
                Span::default(),
                format!("a host function failed: {failed}"),
            )
            .label("while computing these rows")
            .help("the error is the host function's own: fix it there, or the rows it is given"),
        );
    }
    if let Some(long) = in_chain::<crate::engine::closure::ChainTooLong>(e) {
        return Some(
            Diagnostic::error(
                Code::E0414,
                Span::default(),
                format!("a closure's walk is too long: {long}"),
            )
            .label("a walk past `max` while computing these rows")
            .help("raise `max`, keep `shortest` walks, or write `truncate` to cut them at `max` on purpose"),
        );
    }
    if let Some(refused) = in_chain::<crate::engine::arguments::ArgumentRefused>(e) {
        return Some(
            Diagnostic::error(
                Code::E0409,
                Span::default(),
                format!("evaluating the plan failed on the data: {refused}"),
            )
            .label("a value a function does not take, while computing these rows")
            .help("filter those rows, or map the value first (e.g. `case when n == 0 then 1 else n end`)"),
        );
    }
    let fault = DataFault::find(e)?;
    let text = crate::delta::without_backtrace(&e.to_string());
    Some(match fault {
        DataFault::OutOfMemory => Diagnostic::error(
            Code::E0410,
            Span::default(),
            format!("the run ran out of memory: {text}"),
        )
        .label("out of memory while computing these rows")
        .help(fault.fix()),
        DataFault::UnreadableFile => Diagnostic::error(
            Code::E0418,
            Span::default(),
            format!("a data file cannot be read: {text}"),
        )
        .label(format!("{} while computing these rows", fault.what()))
        .help(fault.fix()),
        _ => Diagnostic::error(
            Code::E0409,
            Span::default(),
            format!("evaluating the plan failed on the data: {text}"),
        )
        .label(format!("{} while computing these rows", fault.what()))
        .help(fault.fix()),
    })
}

/// The first error of type `T` in `e`'s chain of causes (DataFusion keeps an external
/// error's cause in its own chain).
fn in_chain<'a, T: Error + 'static>(e: &'a (dyn Error + 'static)) -> Option<&'a T> {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(t) = c.downcast_ref::<T>() {
            return Some(t);
        }
        cause = match c.downcast_ref::<DataFusionError>() {
            Some(DataFusionError::External(inner)) => Some(inner.as_ref()),
            Some(DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner)) => Some(inner.as_ref()),
            Some(DataFusionError::Shared(inner)) => Some(inner.as_ref()),
            _ => c.source(),
        };
    }
    None
}

/// A query the cluster failed (E0413), or a table it cannot read (E0412).
fn cluster_error(e: &(dyn Error + 'static)) -> Option<Diagnostic> {
    if let Some(f) = in_chain::<crate::cluster::ClusterFault>(e) {
        return Some(
            Diagnostic::error(Code::E0413, Span::default(), f.to_string())
                .label("the cluster failed while computing this output")
                .help("nothing was committed; outputs keep their last committed version. Check the executors (`semc cluster …` logs) and run again"),
        );
    }
    #[cfg(feature = "cluster")]
    if let Some(u) = in_chain::<crate::cluster::job::Unvouched>(e) {
        return Some(
            Diagnostic::error(Code::E0416, Span::default(), u.to_string())
                .label("the cluster computed this output")
                .help("nothing was committed; outputs keep their last committed version. Run again; keep `--executor-timeout` above any pause an executor may have"),
        );
    }
    let u = in_chain::<crate::engine::files::Unsupported>(e)?;
    Some(
        Diagnostic::error(
            Code::E0412,
            Span::default(),
            format!("this table cannot be read on a cluster: {u}"),
        )
        .label("read on the cluster")
        .help("run without `--cluster`; nothing was committed"),
    )
}
