//! Engine functions semc adds to DataFusion's: registered in every session, so plans that
//! name them are consumed and run like the engine's own.

use datafusion::arrow::array::{Array, ArrayRef, Int64Builder, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::Arc;

/// Every function semc adds: registered in each session, and on each node of a cluster.
pub fn all() -> Vec<Arc<datafusion::logical_expr::ScalarUDF>> {
    let mut all = vec![
        Arc::new(datafusion::logical_expr::ScalarUDF::from(DateDiff::default())),
        Arc::new(datafusion::logical_expr::ScalarUDF::from(
            super::date_trunc::DateTrunc::default(),
        )),
        Arc::new(datafusion::logical_expr::ScalarUDF::from(
            super::arguments::ArgumentGuard::default(),
        )),
        Arc::new(datafusion::logical_expr::ScalarUDF::from(
            super::like::LikeInPieces::default(),
        )),
        Arc::new(datafusion::logical_expr::ScalarUDF::from(
            super::all_of::AllOf::default(),
        )),
        Arc::new(datafusion::logical_expr::ScalarUDF::from(
            super::equals_any::EqualsAny::default(),
        )),
    ];
    all.extend(super::ids::IdFunction::all().map(|f| Arc::new(datafusion::logical_expr::ScalarUDF::from(f))));
    all.extend(
        super::checked::CheckedArithmetic::all().map(|f| Arc::new(datafusion::logical_expr::ScalarUDF::from(f))),
    );
    all
}

/// Every aggregate function semc adds: registered in each session, and on each node of a
/// cluster.
pub fn aggregates() -> Vec<Arc<datafusion::logical_expr::AggregateUDF>> {
    vec![Arc::new(datafusion::logical_expr::AggregateUDF::from(
        super::checked::CheckedSum::default(),
    ))]
}

/// `date_diff(unit, start, end)`: how many unit boundaries lie between two dates or
/// timestamps (UTC), as DuckDB counts them: `date_diff("month", 2024-01-31, 2024-02-01)` is 1.
/// Weeks are whole 7-day spans between the two days, truncated toward zero (DuckDB 1.4:
/// Friday to the next Thursday is 0 weeks); `tests/cases/date_diff/duckdb.csv` holds
/// DuckDB's own answers for every unit.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateDiff {
    signature: Signature,
}

impl Default for DateDiff {
    fn default() -> Self {
        DateDiff {
            signature: Signature::any(3, Volatility::Immutable),
        }
    }
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// `date_diff` of two timestamps (µs since the epoch, UTC) in `unit`.
fn diff(unit: &str, start: i64, end: i64) -> Option<i64> {
    if unit == "week" {
        // whole weeks between the days, toward zero
        return Some((period("day", end)? - period("day", start)?) / 7);
    }
    Some(period(unit, end)? - period(unit, start)?)
}

/// The index of the unit period a timestamp (µs since the epoch, UTC) falls in.
fn period(unit: &str, micros: i64) -> Option<i64> {
    use chrono::Datelike;
    let days = micros.div_euclid(MICROS_PER_DAY);
    let date = chrono::DateTime::from_timestamp_micros(micros)?.date_naive();
    let months = i64::from(date.year()) * 12 + i64::from(date.month0());
    Some(match unit {
        "year" => i64::from(date.year()),
        "quarter" => months.div_euclid(3),
        "month" => months,
        "day" => days,
        "hour" => micros.div_euclid(3_600_000_000),
        "minute" => micros.div_euclid(60_000_000),
        "second" => micros.div_euclid(1_000_000),
        _ => return None,
    })
}

impl ScalarUDFImpl for DateDiff {
    fn name(&self) -> &str {
        "semc_date_diff"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [unit, start, end] = &arrays[..] else {
            return Err(DataFusionError::Internal("date_diff takes three arguments".into()));
        };
        let micros = |a: &ArrayRef| -> Result<TimestampMicrosecondArray> {
            let t = datafusion::arrow::compute::cast(a, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
            Ok(t.as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .cloned()
                .unwrap_or_else(|| TimestampMicrosecondArray::from(vec![None; a.len()])))
        };
        let unit = datafusion::arrow::compute::cast(unit, &DataType::Utf8)?;
        let unit = unit
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| DataFusionError::Internal("date_diff: the unit is not a string".into()))?;
        let (start, end) = (micros(start)?, micros(end)?);
        let mut out = Int64Builder::with_capacity(start.len());
        for i in 0..start.len() {
            if unit.is_null(i) || start.is_null(i) || end.is_null(i) {
                out.append_null();
                continue;
            }
            let u = unit.value(i).to_ascii_lowercase();
            out.append_option(diff(&u, start.value(i), end.value(i)));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}
