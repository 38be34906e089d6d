//! Arithmetic that fails instead of wrapping. DataFusion's `+`, `-` and `*` wrap around on
//! integer overflow (`9223372036854775807 + 1` is `-9223372036854775808`) and let a decimal
//! outgrow its precision: a run would commit a wrong number. semc lowers every `+`, `-`
//! and `*` that can overflow its type to these functions, which compute the engine's result
//! type with arrow's checked kernels and fail instead: the run stops with E0409 and
//! commits nothing.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Decimal256Type};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::{ColumnarValue, Operator, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

/// `semc_checked_add`, `semc_checked_subtract`, `semc_checked_multiply`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CheckedArithmetic {
    op: Operator,
    name: &'static str,
    signature: Signature,
}

impl CheckedArithmetic {
    /// The checked form of `op` (`+`, `-` or `*`).
    pub fn new(op: Operator) -> Option<CheckedArithmetic> {
        let name = match op {
            Operator::Plus => "semc_checked_add",
            Operator::Minus => "semc_checked_subtract",
            Operator::Multiply => "semc_checked_multiply",
            _ => return None,
        };
        Some(CheckedArithmetic {
            op,
            name,
            signature: Signature::any(2, Volatility::Immutable),
        })
    }

    /// The name of `op`'s checked form, if it has one.
    pub fn name_of(op: Operator) -> Option<&'static str> {
        CheckedArithmetic::new(op).map(|f| f.name)
    }

    /// Every checked operator, to register in a session.
    pub fn all() -> impl Iterator<Item = CheckedArithmetic> {
        [Operator::Plus, Operator::Minus, Operator::Multiply]
            .into_iter()
            .filter_map(CheckedArithmetic::new)
    }
}

/// An overflow as arrow reports one, so the run tells it apart from semc's own failures.
fn overflow(what: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::ArrowError(
        Box::new(datafusion::arrow::error::ArrowError::ArithmeticOverflow(
            what.to_string(),
        )),
        None,
    )
}

impl ScalarUDFImpl for CheckedArithmetic {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        let [l, r] = args else {
            return Err(DataFusionError::Internal(format!("{} takes two arguments", self.name)));
        };
        BinaryTypeCoercer::new(l, &self.op, r).get_result_type()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [l, r] = &args.args[..] else {
            return Err(DataFusionError::Internal(format!("{} takes two arguments", self.name)));
        };
        let (l_type, r_type) = (l.data_type(), r.data_type());
        let coercer = BinaryTypeCoercer::new(&l_type, &self.op, &r_type);
        let (lt, rt) = coercer.get_input_types()?;
        let want = coercer.get_result_type()?;
        let rows = args.number_rows;
        let (l, r) = (l.cast_to(&lt, None)?, r.cast_to(&rt, None)?);
        let kernel = match self.op {
            Operator::Plus => numeric::add,
            Operator::Minus => numeric::sub,
            _ => numeric::mul,
        };
        let scalars = matches!((&l, &r), (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_)));
        // a literal operand is spread over the batch: one allocation per batch, never per row
        let (la, ra) = (l.to_array(rows)?, r.to_array(rows)?);
        let out = kernel(&la, &ra)?;
        let out = within_precision(out)?;
        let out = if out.data_type() == &want {
            out
        } else {
            datafusion::arrow::compute::cast(&out, &want)?
        };
        let out = within_precision(out)?;
        Ok(if scalars {
            ColumnarValue::Scalar(datafusion::common::ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}

/// `a` unchanged, if each of its decimals has at most its type's digits.
fn within_precision(a: ArrayRef) -> Result<ArrayRef> {
    let valid = match a.data_type() {
        DataType::Decimal128(p, _) => a.as_primitive::<Decimal128Type>().validate_decimal_precision(*p),
        DataType::Decimal256(p, _) => a.as_primitive::<Decimal256Type>().validate_decimal_precision(*p),
        _ => Ok(()),
    };
    valid.map_err(overflow)?;
    Ok(a)
}
