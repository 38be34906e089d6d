//! A string column equal to a literal, or to any of a few: each row's view compared whole.
//!
//! The engine reads strings as views: each value is 16 bytes, its length and either the
//! whole string (up to 12 bytes, padded with zeros) or its first 4 bytes and where the rest
//! is. Arrow's `=` of such a column with a literal goes row by row through a general
//! comparison of two views (which array, which buffers, the length, the prefix): TPC-H
//! Q10's `l_returnflag == "R"` took 440 ms of CPU for 60 M lineitems at SF 10. Yet a view
//! equals a literal of up to 12 bytes exactly when its 16 bytes equal the literal's own
//! view — one comparison, 64 rows to a word of the answer, without branches (200 ms) — and
//! a longer literal's only where its length and first 4 bytes (the view's first 8) are the
//! literal's, so only those rows' bytes are compared.
//!
//! [`equal_strings_as_views`] rewrites a filter's `x = "lit"`, `x != "lit"`, `x in [...]`,
//! `x not in [...]` and an `or` of equalities of one column, where `x` is a column of
//! string views and every literal a string, into
//! `semc_equals_any(x, "lit", ...)`, negated for `!=` and `not in`. For a null `x` it is
//! null, as the comparison was; otherwise true exactly when `x` is one of the literals. The
//! filter evaluates it where it evaluated the comparison: after the leading fixed-width
//! comparisons (`all_of.rs`), on the rows they keep when they keep few (TPC-H Q12's date
//! range keeps 15 % of the lineitems; comparing every row's ship mode instead was slower).

use datafusion::arrow::array::{Array, AsArray, BooleanArray, StringViewArray};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Operator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::expressions::{BinaryExpr, Column, InListExpr, Literal, NotExpr};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use std::sync::Arc;

/// The name the plan shows.
const NAME: &str = "semc_equals_any";

/// `semc_equals_any(x, a, b, …)`: whether the string view `x` is one of the literals
/// `a, b, …` (null for a null `x`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EqualsAny {
    signature: Signature,
}

impl Default for EqualsAny {
    fn default() -> Self {
        EqualsAny {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for EqualsAny {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some((value, literals)) = args.args.split_first() else {
            return Err(DataFusionError::Internal(format!("{NAME}: no value to compare")));
        };
        let literals = literals
            .iter()
            .map(|l| match l {
                ColumnarValue::Scalar(s) => literal_bytes(s),
                ColumnarValue::Array(_) => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| DataFusionError::Internal(format!("{NAME}: a literal is not a string")))?;
        let array = value.to_array(args.number_rows)?;
        let equal = match array.data_type() {
            DataType::Utf8View => equals_any(array.as_string_view(), &literals),
            other => {
                return Err(DataFusionError::Internal(format!(
                    "{NAME}: {other} is not a string view"
                )));
            }
        };
        Ok(ColumnarValue::Array(Arc::new(equal)))
    }
}

/// The bytes of a string literal that is not null.
fn literal_bytes(s: &ScalarValue) -> Option<&[u8]> {
    match s {
        ScalarValue::Utf8(Some(v)) | ScalarValue::Utf8View(Some(v)) | ScalarValue::LargeUtf8(Some(v)) => {
            Some(v.as_bytes())
        }
        _ => None,
    }
}

/// For each view of `array`, whether it is one of `literals`; its nulls stay null.
fn equals_any(array: &StringViewArray, literals: &[&[u8]]) -> BooleanArray {
    let views: &[u128] = array.views();
    let words = literals
        .iter()
        .map(|literal| {
            if literal.len() <= 12 {
                let mut inline = [0u8; 16];
                inline[4..4 + literal.len()].copy_from_slice(literal);
                let view = u128::from_le_bytes(inline) | literal.len() as u128;
                words_where(views, |v| v == view)
            } else {
                long_equal(views, array.data_buffers(), literal)
            }
        })
        .reduce(|mut any, more| {
            any.iter_mut().zip(more).for_each(|(word, more)| *word |= more);
            any
        })
        .unwrap_or_else(|| vec![0u64; views.len().div_ceil(64)]);
    let values = BooleanBuffer::new(Buffer::from_vec(words), 0, views.len());
    BooleanArray::new(values, array.nulls().cloned())
}

/// Which views hold `literal`, of more than 12 bytes: those whose length and prefix (their
/// first 8 bytes) are the literal's, then of those, the ones whose bytes are.
fn long_equal(views: &[u128], buffers: &[Buffer], literal: &[u8]) -> Vec<u64> {
    let mut first = [0u8; 8];
    first[4..].copy_from_slice(&literal[..4]);
    let length_and_prefix = u64::from_le_bytes(first) | literal.len() as u64;
    let mut words = words_where(views, |v| v as u64 == length_and_prefix);
    for (at, word) in words.iter_mut().enumerate() {
        let mut candidates = *word;
        while candidates != 0 {
            let bit = candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            let view = views[at * 64 + bit];
            let buffer = (view >> 64) as u32 as usize;
            let offset = (view >> 96) as u32 as usize;
            let bytes = buffers
                .get(buffer)
                .and_then(|b| b.as_slice().get(offset..offset + literal.len()));
            if bytes != Some(literal) {
                *word &= !(1u64 << bit);
            }
        }
    }
    words
}

/// `holds` of each view, 64 to a word: a loop without branches over each word's views.
fn words_where(views: &[u128], holds: impl Fn(u128) -> bool) -> Vec<u64> {
    let word = |chunk: &[u128]| {
        chunk
            .iter()
            .enumerate()
            .fold(0u64, |word, (bit, view)| word | (u64::from(holds(*view)) << bit))
    };
    let chunks = views.chunks_exact(64);
    let rest = chunks.remainder();
    let mut words: Vec<u64> = chunks.map(word).collect();
    if !rest.is_empty() {
        words.push(word(rest));
    }
    words
}

/// `predicate` with its comparisons of string views with literals as `semc_equals_any`, if
/// it has any.
pub fn equal_strings_as_views(
    predicate: &Arc<dyn PhysicalExpr>,
    schema: &Schema,
    config: &Arc<ConfigOptions>,
) -> Result<Option<Arc<dyn PhysicalExpr>>> {
    let rewritten = Arc::clone(predicate).transform_up(|e| {
        Ok(match one_of_literals(&e, schema) {
            Some((column, literals, negated)) => {
                let args = std::iter::once(column)
                    .chain(
                        literals
                            .into_iter()
                            .map(|l| Arc::new(Literal::new(l)) as Arc<dyn PhysicalExpr>),
                    )
                    .collect();
                let equal: Arc<dyn PhysicalExpr> = Arc::new(ScalarFunctionExpr::try_new(
                    Arc::new(ScalarUDF::from(EqualsAny::default())),
                    args,
                    schema,
                    Arc::clone(config),
                )?);
                Transformed::yes(if negated { Arc::new(NotExpr::new(equal)) } else { equal })
            }
            None => Transformed::no(e),
        })
    })?;
    Ok(rewritten.transformed.then_some(rewritten.data))
}

/// A view column, the literals it is compared with, and whether the comparison is negated.
type OneOf = (Arc<dyn PhysicalExpr>, Vec<ScalarValue>, bool);

/// What `e` compares, if it compares a column of string views with literals only:
/// `x = a`, `x != a`, `x in [..]`, `x not in [..]`, or an `or` of two equalities of the same
/// column (each already rewritten, below it).
fn one_of_literals(e: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Option<OneOf> {
    let view_column = |c: &Arc<dyn PhysicalExpr>| {
        c.downcast_ref::<Column>().is_some() && matches!(c.data_type(schema), Ok(DataType::Utf8View))
    };
    let literal = |l: &Arc<dyn PhysicalExpr>| {
        let value = l.downcast_ref::<Literal>()?.value();
        literal_bytes(value).map(|_| value.clone())
    };
    if let Some(list) = e.downcast_ref::<InListExpr>() {
        let literals = list.list().iter().map(literal).collect::<Option<Vec<_>>>()?;
        return (view_column(list.expr()) && !literals.is_empty())
            .then(|| (Arc::clone(list.expr()), literals, list.negated()));
    }
    let b = e.downcast_ref::<BinaryExpr>()?;
    match b.op() {
        Operator::Eq | Operator::NotEq => {
            let (column, value) = if view_column(b.left()) {
                (b.left(), literal(b.right())?)
            } else if view_column(b.right()) {
                (b.right(), literal(b.left())?)
            } else {
                return None;
            };
            Some((Arc::clone(column), vec![value], *b.op() == Operator::NotEq))
        }
        Operator::Or => {
            let (left, mut left_literals) = equals_any_call(b.left())?;
            let (right, right_literals) = equals_any_call(b.right())?;
            if left.downcast_ref::<Column>()? != right.downcast_ref::<Column>()? {
                return None;
            }
            left_literals.extend(right_literals);
            Some((left, left_literals, false))
        }
        _ => None,
    }
}

/// The value and literals of a `semc_equals_any` call (not negated).
fn equals_any_call(e: &Arc<dyn PhysicalExpr>) -> Option<(Arc<dyn PhysicalExpr>, Vec<ScalarValue>)> {
    let call = e.downcast_ref::<ScalarFunctionExpr>()?;
    if call.name() != NAME {
        return None;
    }
    let (value, literals) = call.args().split_first()?;
    let literals = literals
        .iter()
        .map(|l| l.downcast_ref::<Literal>().map(|l| l.value().clone()))
        .collect::<Option<Vec<_>>>()?;
    Some((Arc::clone(value), literals))
}
