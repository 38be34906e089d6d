//! Literals: numbers, strings, dates, timestamps, intervals.

use super::*;
use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::span::Span;
use crate::syntax::ast::{Lit, TypedLitKind};
use crate::types::Type;

impl<'a> Checker<'a> {
    pub(super) fn literal(&mut self, l: &Lit, span: Span) -> TExpr {
        let bad = |this: &mut Self, msg: String, help: &str| {
            this.err(
                Diagnostic::error(Code::E0212, span, msg)
                    .label("invalid literal")
                    .help(help.to_string()),
            );
            ty_err()
        };
        let lit = |v: Value, t: Type| texpr(TExprKind::Lit(v), t, false);
        match l {
            Lit::Int(s) => match s.parse::<i64>() {
                Ok(v) => lit(Value::Int(v), Type::Int64),
                Err(_) => bad(
                    self,
                    format!("`{s}` does not fit in 64 bits"),
                    "integers are at most 9223372036854775807; write a decimal with a point",
                ),
            },
            Lit::Number(s) => {
                if s.contains(['e', 'E']) {
                    return match s.parse::<f64>() {
                        Ok(v) if v.is_finite() => lit(Value::Float(v), Type::Float64),
                        _ => bad(self, format!("`{s}` is not a finite number"), "write a smaller number"),
                    };
                }
                let (int, frac) = s.split_once('.').unwrap_or((s, ""));
                let digits = format!("{int}{frac}");
                let trimmed = digits.trim_start_matches('0');
                let precision = trimmed.len().max(frac.len()).max(1);
                if precision > 38 {
                    return bad(
                        self,
                        format!("`{s}` has more than 38 digits"),
                        "decimals have at most 38 digits",
                    );
                }
                let v: i128 = trimmed.parse().unwrap_or(0);
                lit(
                    Value::Decimal(v, precision as u8, frac.len() as i8),
                    Type::Decimal(precision as u8, frac.len() as i8),
                )
            }
            Lit::Str(s) => lit(Value::Str(s.clone()), Type::String),
            Lit::Bool(b) => lit(Value::Bool(*b), Type::Bool),
            Lit::Null => texpr(TExprKind::Lit(Value::Null), Type::Null, true),
            Lit::Typed(TypedLitKind::Date, s) => match parse_date(s) {
                Some(d) => lit(Value::Date(d), Type::Date),
                None => bad(
                    self,
                    format!("`{s}` is not a date"),
                    "dates are written date \"YYYY-MM-DD\"",
                ),
            },
            Lit::Typed(TypedLitKind::Timestamp, s) => {
                match datafusion::arrow::compute::kernels::cast_utils::string_to_timestamp_nanos(s) {
                    Ok(ns) => lit(Value::Timestamp(ns / 1000), Type::Timestamp),
                    Err(_) => bad(
                        self,
                        format!("`{s}` is not a timestamp"),
                        "timestamps are RFC 3339: timestamp \"2024-01-31T10:00:00Z\"",
                    ),
                }
            }
            Lit::Typed(TypedLitKind::Interval, s) => {
                match datafusion::arrow::compute::kernels::cast_utils::parse_interval_month_day_nano(s) {
                    Ok(i) => lit(
                        Value::Interval {
                            months: i.months,
                            days: i.days,
                            nanos: i.nanoseconds,
                        },
                        Type::Interval,
                    ),
                    Err(_) => bad(
                        self,
                        format!("`{s}` is not an interval"),
                        "intervals read like interval \"3 months\" or \"1 year 2 days\"",
                    ),
                }
            }
        }
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Option<i32> {
    if s.len() != 10 {
        return None;
    }
    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    i32::try_from(date.signed_duration_since(chrono::NaiveDate::default()).num_days()).ok()
}
