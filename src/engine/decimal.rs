//! Decimal `+`, `-` and `*` without a check per value, where a batch's values prove that
//! none is needed.
//!
//! Arrow computes every decimal operation with checked 128-bit arithmetic, value by value
//! (and rescales each value with another checked multiplication when the scales differ): on
//! TPC-H's Q1 these checks took about a quarter of the run. A batch whose largest magnitudes
//! leave the exact result below 10^38 cannot overflow, so [`exact`] computes it with plain
//! (vectorized) arithmetic instead. The proof is made from the values themselves, never
//! from the declared precision, which nothing forces a table's files to respect; a batch it
//! cannot prove falls back to the checked kernels.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array};
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, Operator};
use std::sync::Arc;

/// The largest number of digits an exact result may have: 10^38 - 1 fits 128 bits.
const MAX_DIGITS: u8 = 38;

/// The result of an operation that needed no check.
pub struct Exact {
    /// The result, of arrow's type for the operation (Hive's decimal rules).
    pub values: ArrayRef,
    /// Whether every value is proven to fit the result type's precision.
    pub within_precision: bool,
}

/// One side of an operation: a batch of decimals, or one decimal for the whole batch.
enum Operand<'a> {
    Values(&'a Decimal128Array),
    Constant(i128),
}

impl Operand<'_> {
    /// The digits a bound on the operand's magnitudes needs: each `|v|` is below 10^digits.
    fn digits(&self) -> u8 {
        match self {
            // the bits of every value's magnitude (less one, for a negative value) ORed
            // together (a loop the compiler vectorizes, unlike a maximum of 128-bit values)
            // bound each |v| by 2^bits; null slots count too, as their values are computed
            // (and dropped) with the rest
            Operand::Values(a) => {
                let bits = a.values().iter().fold(0u128, |m, v| m | (v ^ (v >> 127)) as u128);
                match 128 - bits.leading_zeros() {
                    b @ 0..=126 => digits(1u128 << b),
                    _ => MAX_DIGITS + 1,
                }
            }
            Operand::Constant(v) => digits(v.unsigned_abs()),
        }
    }
}

/// The digits of `m`: the least `d` with `m < 10^d` (39 for what no decimal holds).
fn digits(m: u128) -> u8 {
    let mut bound = 1u128;
    for d in 0..=MAX_DIGITS {
        if m < bound {
            return d;
        }
        bound = bound.saturating_mul(10);
    }
    MAX_DIGITS + 1
}

/// `l op r` for two `Decimal128` operands (`+`, `-` or `*`), when the values prove the
/// exact result fits 38 digits; `None` when they do not (or an operand is not a non-null
/// decimal, or both are constants), for the checked kernels to compute.
pub fn exact(op: Operator, l: &ColumnarValue, r: &ColumnarValue) -> Result<Option<Exact>> {
    let (Some((lo, p1, s1)), Some((ro, p2, s2))) = (operand(l), operand(r)) else {
        return Ok(None);
    };
    if matches!((&lo, &ro), (Operand::Constant(_), Operand::Constant(_))) {
        return Ok(None);
    }
    let (d1, d2) = (lo.digits(), ro.digits());
    let (precision, scale, needed, values) = match op {
        Operator::Plus | Operator::Minus => {
            let scale = s1.max(s2);
            let precision = (scale as i16 + (p1 as i16 - s1 as i16).max(p2 as i16 - s2 as i16) + 1)
                .clamp(1, MAX_DIGITS as i16) as u8;
            let (k1, k2) = ((scale - s1) as u32, (scale - s2) as u32);
            // |l·10^k1 ± r·10^k2| < 2·10^max(d1 + k1, d2 + k2) ≤ 10^(that + 1)
            let needed = (u32::from(d1) + k1).max(u32::from(d2) + k2) + 1;
            if needed > u32::from(MAX_DIGITS) {
                return Ok(None);
            }
            let (m1, m2) = (10i128.pow(k1), 10i128.pow(k2));
            let values = match op {
                Operator::Plus => apply(&lo, &ro, move |a, b| {
                    a.wrapping_mul(m1).wrapping_add(b.wrapping_mul(m2))
                })?,
                _ => apply(&lo, &ro, move |a, b| {
                    a.wrapping_mul(m1).wrapping_sub(b.wrapping_mul(m2))
                })?,
            };
            (precision, scale, needed, values)
        }
        Operator::Multiply => {
            let scale = s1 as i16 + s2 as i16;
            if scale > MAX_DIGITS as i16 || scale < -(MAX_DIGITS as i16) {
                return Ok(None);
            }
            let precision = (p1 + p2 + 1).min(MAX_DIGITS);
            // |l·r| < 10^(d1 + d2)
            let needed = u32::from(d1) + u32::from(d2);
            if needed > u32::from(MAX_DIGITS) {
                return Ok(None);
            }
            (precision, scale as i8, needed, apply(&lo, &ro, i128::wrapping_mul)?)
        }
        _ => return Ok(None),
    };
    let values = values.with_precision_and_scale(precision, scale)?;
    Ok(Some(Exact {
        values: Arc::new(values),
        within_precision: needed <= u32::from(precision),
    }))
}

/// `v` as an operand with its precision and scale, if it is a non-null `Decimal128` whose
/// scale is at least 0.
fn operand(v: &ColumnarValue) -> Option<(Operand<'_>, u8, i8)> {
    let (operand, data_type) = match v {
        ColumnarValue::Array(a) => (Operand::Values(a.as_primitive_opt::<Decimal128Type>()?), a.data_type()),
        ColumnarValue::Scalar(ScalarValue::Decimal128(Some(x), p, s)) => {
            return (*s >= 0).then_some((Operand::Constant(*x), *p, *s));
        }
        ColumnarValue::Scalar(_) => return None,
    };
    match data_type {
        DataType::Decimal128(p, s) if *s >= 0 => Some((operand, *p, *s)),
        _ => None,
    }
}

/// `f` over the operands' values (a batch's nulls stay null); at least one is a batch.
fn apply(l: &Operand, r: &Operand, f: impl Fn(i128, i128) -> i128) -> Result<Decimal128Array> {
    Ok(match (l, r) {
        (Operand::Values(a), Operand::Values(b)) => datafusion::arrow::compute::binary(*a, *b, f)?,
        (Operand::Values(a), Operand::Constant(c)) => a.unary(|v| f(v, *c)),
        (Operand::Constant(c), Operand::Values(b)) => b.unary(|v| f(*c, v)),
        // one value would not be a batch's: [`exact`] leaves two constants to the checked kernels
        (Operand::Constant(_), Operand::Constant(_)) => {
            return Err(datafusion::common::DataFusionError::Internal(
                "decimal kernels compute batches, not two constants".into(),
            ));
        }
    })
}
