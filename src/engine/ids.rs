//! Stable ids: the hashes a code graph names its entities by, computed the way the
//! pipelines they come from compute them (BLAKE2b of the UTF-8 text, Python's
//! `hashlib.blake2b(digest_size=…)`), so ids written by semc and by them match.
//!
//! - `stable_id(prefix, value)`: `prefix:` then the hex of BLAKE2b-128 of `value` (the prefix
//!   is not hashed);
//! - `stable_id_parts(prefix, part, …)`: the same over the parts joined by U+001F, a null
//!   part written as `__NULL__`;
//! - `stable_hash64(value)`: BLAKE2b-64 of `value` read as a big-endian integer, its top bit
//!   cleared (a non-negative int64);
//! - `blake2b(value, bytes)`: the hex of BLAKE2b with a digest of `bytes` (1 to 64).
//!
//! A null `value` gives null (a null part of `stable_id_parts` does not).

use blake2::Blake2bVar;
use blake2::digest::{Update, VariableOutput};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Builder, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::fmt::Write;
use std::sync::Arc;

/// What a part is joined with in `stable_id_parts`.
pub const PART_SEPARATOR: char = '\u{1f}';
/// How a null part reads in `stable_id_parts`.
pub const NULL_PART: &str = "__NULL__";

/// BLAKE2b of `bytes` with a digest of `size` bytes (1 to 64).
pub fn blake2b(bytes: &[u8], size: usize) -> Option<Vec<u8>> {
    let mut h = Blake2bVar::new(size).ok()?;
    h.update(bytes);
    let mut out = vec![0; size];
    h.finalize_variable(&mut out).ok()?;
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `prefix:` and the hex of BLAKE2b-128 of `value`.
pub fn stable_id(prefix: &str, value: &str) -> String {
    let digest = blake2b(value.as_bytes(), 16).unwrap_or_default();
    format!("{prefix}:{}", hex(&digest))
}

/// BLAKE2b-64 of `value`, big-endian, top bit cleared.
pub fn stable_hash64(value: &str) -> i64 {
    let digest = blake2b(value.as_bytes(), 8).unwrap_or_default();
    let mut word = [0u8; 8];
    word.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(word) & (u64::MAX >> 1)) as i64
}

/// Which id function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    StableId,
    StableIdParts,
    StableHash64,
    Blake2b,
}

/// One of the id functions, as an engine function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IdFunction {
    kind: Kind,
    signature: Signature,
}

impl IdFunction {
    pub fn all() -> impl Iterator<Item = IdFunction> {
        [Kind::StableId, Kind::StableIdParts, Kind::StableHash64, Kind::Blake2b]
            .into_iter()
            .map(|kind| IdFunction {
                kind,
                signature: Signature::variadic_any(Volatility::Immutable),
            })
    }
}

/// Each argument as text, one value per row (a scalar repeated).
fn texts(args: &[ColumnarValue], rows: usize) -> Result<Vec<ArrayRef>> {
    args.iter()
        .map(|a| {
            let array = a.to_array(rows)?;
            Ok(datafusion::arrow::compute::cast(&array, &DataType::Utf8)?)
        })
        .collect()
}

impl ScalarUDFImpl for IdFunction {
    fn name(&self) -> &str {
        match self.kind {
            Kind::StableId => "semc_stable_id",
            Kind::StableIdParts => "semc_stable_id_parts",
            Kind::StableHash64 => "semc_stable_hash64",
            Kind::Blake2b => "semc_blake2b",
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::StableHash64 => DataType::Int64,
            _ => DataType::Utf8,
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = texts(&args.args, rows)?;
        let text = |i: usize| arrays.get(i).map(|a| a.as_string::<i32>());
        let wrong = || DataFusionError::Internal(format!("{}: wrong arguments", self.name()));
        let out: ArrayRef = match self.kind {
            Kind::StableHash64 => {
                let values = text(0).ok_or_else(wrong)?;
                let mut b = Int64Builder::with_capacity(rows);
                for v in values.iter() {
                    b.append_option(v.map(stable_hash64));
                }
                Arc::new(b.finish())
            }
            Kind::StableId => {
                let (prefix, values) = (text(0).ok_or_else(wrong)?, text(1).ok_or_else(wrong)?);
                let mut b = StringBuilder::with_capacity(rows, rows * 40);
                for i in 0..rows {
                    match (prefix.is_null(i), values.is_null(i)) {
                        (false, false) => b.append_value(stable_id(prefix.value(i), values.value(i))),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            Kind::StableIdParts => {
                let prefix = text(0).ok_or_else(wrong)?;
                let parts: Vec<_> = (1..arrays.len()).filter_map(text).collect();
                let mut b = StringBuilder::with_capacity(rows, rows * 40);
                let mut joined = String::new();
                for i in 0..rows {
                    if prefix.is_null(i) {
                        b.append_null();
                        continue;
                    }
                    joined.clear();
                    for (k, p) in parts.iter().enumerate() {
                        if k > 0 {
                            joined.push(PART_SEPARATOR);
                        }
                        joined.push_str(if p.is_null(i) { NULL_PART } else { p.value(i) });
                    }
                    b.append_value(stable_id(prefix.value(i), &joined));
                }
                Arc::new(b.finish())
            }
            Kind::Blake2b => {
                let values = text(0).ok_or_else(wrong)?;
                let size = match args.args.get(1) {
                    Some(ColumnarValue::Scalar(s)) => s.cast_to(&DataType::Int64).ok().and_then(|v| match v {
                        ScalarValue::Int64(Some(n)) => usize::try_from(n).ok(),
                        _ => None,
                    }),
                    _ => None,
                }
                .filter(|n| (1..=64).contains(n))
                .ok_or_else(|| {
                    DataFusionError::Internal("blake2b: the size is a literal of 1 to 64 (checked)".into())
                })?;
                let mut b = StringBuilder::with_capacity(rows, rows * size * 2);
                for v in values.iter() {
                    b.append_option(v.and_then(|v| blake2b(v.as_bytes(), size)).map(|d| hex(&d)));
                }
                Arc::new(b.finish())
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[cfg(test)]
mod tests {
    /// Python: `hashlib.blake2b(b"abc", digest_size=16).hexdigest()`.
    #[test]
    fn blake2b_128_of_abc_is_pythons() {
        assert_eq!(super::stable_id("p", "abc"), "p:cf4ab791c62b8d2b2109c90275287816");
    }
}
