//! `x like "%special%requests%"` without a regular expression.
//!
//! Arrow's LIKE finds a pattern of one literal piece (`"abc"`, `"abc%"`, `"%abc"`,
//! `"%abc%"`) directly, and turns every other pattern into a regular expression: TPC-H
//! Q13's `o_comment not like "%special%requests%"` spent about 125 ns on each order. A
//! pattern of literal pieces between `%`s (no `_`, no escape) matches a string that starts
//! with its first piece (unless the pattern starts with `%`), ends with its last (unless it
//! ends with `%`), and holds the pieces between them in order without overlapping: each
//! piece found with `memchr::memmem` after the end of the previous one, the leftmost
//! occurrence being the one that leaves the most room for the rest. `LikeInPieces`
//! rewrites such a condition of a filter into `semc_like_in_pieces(x, pattern)`.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr::{Like, ScalarFunction};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, Filter, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};
use memchr::memmem::Finder;
use std::sync::Arc;

/// A LIKE pattern of literal pieces between `%`s.
struct Pieces<'p> {
    /// What the string starts with (`None`: the pattern starts with `%`).
    first: Option<&'p [u8]>,
    /// What it ends with (`None`: the pattern ends with `%`).
    last: Option<&'p [u8]>,
    /// What it holds between them, in order.
    between: Vec<Finder<'p>>,
}

impl<'p> Pieces<'p> {
    /// The pieces of `pattern`, if it is only literal text and `%`s.
    fn of(pattern: &'p str) -> Option<Self> {
        if pattern.contains(['_', '\\']) || !pattern.contains('%') {
            return None;
        }
        let pieces: Vec<&str> = pattern.split('%').collect();
        let (first, rest) = pieces.split_first()?;
        let (last, between) = rest.split_last()?;
        let some = |p: &&'p str| (!p.is_empty()).then_some(p.as_bytes());
        Some(Pieces {
            first: some(first),
            last: some(last),
            between: between
                .iter()
                .filter(|p| !p.is_empty())
                .map(|p| Finder::new(p.as_bytes()))
                .collect(),
        })
    }

    /// Whether arrow's LIKE would need a regular expression for this pattern: more than
    /// one literal piece.
    fn needs_a_regex(&self) -> bool {
        usize::from(self.first.is_some()) + usize::from(self.last.is_some()) + self.between.len() > 1
    }

    fn matches(&self, s: &[u8]) -> bool {
        let start = self.first.map_or(0, <[u8]>::len);
        let Some(end) = s.len().checked_sub(self.last.map_or(0, <[u8]>::len)) else {
            return false;
        };
        if end < start || self.first.is_some_and(|f| !s.starts_with(f)) || self.last.is_some_and(|l| !s.ends_with(l)) {
            return false;
        }
        let mut from = start;
        for piece in &self.between {
            match piece.find(&s[from..end]) {
                Some(at) => from += at + piece.needle().len(),
                None => return false,
            }
        }
        true
    }
}

/// The name of [`LikeInPieces`]'s function.
pub(super) const IN_PIECES: &str = "semc_like_in_pieces";

/// `semc_like_in_pieces(x, pattern)`: `x like pattern` for a literal pattern of pieces
/// between `%`s ([`Pieces`]); null where `x` is null.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LikeInPieces {
    signature: Signature,
}

impl Default for LikeInPieces {
    fn default() -> Self {
        LikeInPieces {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for LikeInPieces {
    fn name(&self) -> &str {
        IN_PIECES
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let internal = |what: &str| DataFusionError::Internal(format!("semc_like_in_pieces: {what}"));
        let [value, ColumnarValue::Scalar(pattern)] = args.args.as_slice() else {
            return Err(internal("the pattern is not a literal"));
        };
        let pattern = match pattern {
            ScalarValue::Utf8(Some(p)) | ScalarValue::LargeUtf8(Some(p)) | ScalarValue::Utf8View(Some(p)) => p,
            _ => return Err(internal("the pattern is not a string")),
        };
        let pieces = Pieces::of(pattern).ok_or_else(|| internal("the pattern is not pieces between `%`s"))?;
        let array = value.to_array(args.number_rows)?;
        let matched = like(&array, &pieces).ok_or_else(|| internal("the value is not a string"))?;
        Ok(ColumnarValue::Array(Arc::new(matched)))
    }
}

/// `array like pieces`, row by row, keeping the array's nulls.
fn like(array: &ArrayRef, pieces: &Pieces) -> Option<BooleanArray> {
    let each = |s: &str| pieces.matches(s.as_bytes());
    let values: Vec<bool> = match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().map(|s| s.is_some_and(each)).collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().map(|s| s.is_some_and(each)).collect(),
        DataType::Utf8View => array.as_string_view().iter().map(|s| s.is_some_and(each)).collect(),
        _ => return None,
    };
    Some(BooleanArray::new(values.into(), array.logical_nulls()))
}

/// Rewrites each `x like pattern` (or `not like`) of a filter whose pattern needs a regular
/// expression only for holding several literal pieces into [`LikeInPieces`].
#[derive(Debug, Default)]
pub struct LikeWithoutRegex;

impl OptimizerRule for LikeWithoutRegex {
    fn name(&self) -> &str {
        "semc_like_without_regex"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Filter(filter) = &plan else {
            return Ok(Transformed::no(plan));
        };
        let schema = filter.input.schema().clone();
        let predicate = filter
            .predicate
            .clone()
            .transform_up(|e| Ok(in_pieces(&e, &schema).map_or(Transformed::no(e), Transformed::yes)))?;
        if !predicate.transformed {
            return Ok(Transformed::no(plan));
        }
        let filter = Filter::try_new(predicate.data, filter.input.clone())?;
        Ok(Transformed::yes(LogicalPlan::Filter(filter)))
    }
}

/// `e` as a call of [`LikeInPieces`], if it is a LIKE that function computes.
fn in_pieces(e: &Expr, schema: &DFSchema) -> Option<Expr> {
    let Expr::Like(Like {
        negated,
        expr,
        pattern,
        escape_char: None,
        case_insensitive: false,
    }) = e
    else {
        return None;
    };
    let Expr::Literal(ScalarValue::Utf8(Some(p)) | ScalarValue::LargeUtf8(Some(p)) | ScalarValue::Utf8View(Some(p)), _) =
        pattern.as_ref()
    else {
        return None;
    };
    if !Pieces::of(p).is_some_and(|pieces| pieces.needs_a_regex()) {
        return None;
    }
    if !matches!(
        expr.get_type(schema).ok()?,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) {
        return None;
    }
    let call = Expr::ScalarFunction(ScalarFunction::new_udf(
        Arc::new(ScalarUDF::from(LikeInPieces::default())),
        vec![expr.as_ref().clone(), pattern.as_ref().clone()],
    ));
    Some(if *negated { Expr::Not(Box::new(call)) } else { call })
}
