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
    let mut it = s.split('-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&m) || d < 1 || d > mdays[(m - 1) as usize] {
        return None;
    }
    // days from civil (H. Hinnant)
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146097 + doe - 719468) as i32)
}
