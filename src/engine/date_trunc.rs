//! `date_trunc(unit, t)`: a timestamp truncated to the start of its year, quarter, month,
//! week (Monday), day, hour, minute or second, in UTC.
//!
//! The engine's own truncates through nanoseconds since the epoch, which end in 2262: a
//! date as far as 9999-12-31 — the "valid until further notice" of many tables — failed the
//! run. Here every timestamp semc reads (microseconds) is truncated, as the engine does
//! within its range.

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, AsArray, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::Arc;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// `semc_date_trunc(unit, timestamp)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateTrunc {
    signature: Signature,
}

impl DateTrunc {
    pub const NAME: &'static str = "semc_date_trunc";
}

impl Default for DateTrunc {
    fn default() -> Self {
        DateTrunc {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

/// The start (µs since the epoch, UTC) of the `unit` period holding `micros`; `None` for an
/// unknown unit.
fn truncate(unit: &str, micros: i64) -> Option<i64> {
    let within = |period: i64| Some(micros - micros.rem_euclid(period));
    let date = || chrono::DateTime::from_timestamp_micros(micros).map(|t| t.date_naive());
    let first_day = |d: Option<NaiveDate>| {
        d.and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_micros())
    };
    match unit {
        "second" => within(MICROS_PER_SECOND),
        "minute" => within(60 * MICROS_PER_SECOND),
        "hour" => within(3_600 * MICROS_PER_SECOND),
        "day" => within(MICROS_PER_DAY),
        "week" => {
            let d = date()?;
            first_day(d.checked_sub_days(chrono::Days::new(u64::from(d.weekday().num_days_from_monday()))))
        }
        "month" => first_day(date().and_then(|d| d.with_day(1))),
        "quarter" => first_day(date().and_then(|d| NaiveDate::from_ymd_opt(d.year(), d.month0() / 3 * 3 + 1, 1))),
        "year" => first_day(date().and_then(|d| NaiveDate::from_ymd_opt(d.year(), 1, 1))),
        _ => None,
    }
}

impl ScalarUDFImpl for DateTrunc {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [unit, at] = &arrays[..] else {
            return Err(DataFusionError::Internal(format!("{} takes two arguments", Self::NAME)));
        };
        let unit = datafusion::arrow::compute::cast(unit, &DataType::Utf8)?;
        let unit = unit
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| DataFusionError::Internal(format!("{}: the unit is not a string", Self::NAME)))?;
        let at = datafusion::arrow::compute::cast(at, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
        let at = at.as_primitive::<TimestampMicrosecondType>();
        let truncated: TimestampMicrosecondArray = (0..at.len())
            .map(|i| {
                if unit.is_null(i) || at.is_null(i) {
                    return None;
                }
                truncate(&unit.value(i).to_ascii_lowercase(), at.value(i))
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(truncated.with_timezone("UTC"))))
    }
}

#[cfg(test)]
mod tests {
    use super::truncate;

    fn micros(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_micros()
    }

    #[test]
    fn each_unit_starts_its_period() {
        let t = micros("2024-05-16T13:45:30.250Z");
        for (unit, start) in [
            ("second", "2024-05-16T13:45:30Z"),
            ("minute", "2024-05-16T13:45:00Z"),
            ("hour", "2024-05-16T13:00:00Z"),
            ("day", "2024-05-16T00:00:00Z"),
            ("week", "2024-05-13T00:00:00Z"),
            ("month", "2024-05-01T00:00:00Z"),
            ("quarter", "2024-04-01T00:00:00Z"),
            ("year", "2024-01-01T00:00:00Z"),
        ] {
            assert_eq!(truncate(unit, t), Some(micros(start)), "{unit}");
        }
        // before the epoch, and past the engine's 2262
        assert_eq!(
            truncate("day", micros("1969-12-31T23:59:59Z")),
            Some(micros("1969-12-31T00:00:00Z"))
        );
        assert_eq!(
            truncate("month", micros("9999-12-31T00:00:00Z")),
            Some(micros("9999-12-01T00:00:00Z"))
        );
        assert_eq!(truncate("fortnight", t), None);
    }
}
