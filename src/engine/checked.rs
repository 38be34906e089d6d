//! Arithmetic that fails instead of wrapping. DataFusion's `+`, `-` and `*` wrap around on
//! integer overflow (`9223372036854775807 + 1` is `-9223372036854775808`) and let a decimal
//! outgrow its precision: a run would commit a wrong number. semc lowers every `+`, `-`
//! and `*` that can overflow its type to these functions, which compute the engine's result
//! type with arrow's checked kernels and fail instead: the run stops with E0409 and
//! commits nothing. Every decimal `+`, `-` and `*` is lowered to them: where a batch's
//! values prove that nothing can overflow, [`super::decimal`] computes it without the
//! checks (faster than the engine's own operators, which check every value).

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Decimal256Type, DecimalType, Field, FieldRef};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    ColumnarValue, EmitTo, GroupsAccumulator, Operator, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_functions_aggregate_common::aggregate::groups_accumulator::prim_op::PrimitiveGroupsAccumulator;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

    /// Null where an operand is null, as the engine's operators (an overflow fails the
    /// run, it never becomes a null).
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let types = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect::<Vec<_>>();
        let nullable = args.arg_fields.iter().any(|f| f.is_nullable());
        Ok(Arc::new(Field::new(self.name, self.return_type(&types)?, nullable)))
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
        if let Some(exact) = super::decimal::exact(self.op, &l, &r)?
            && exact.values.data_type() == &want
        {
            return Ok(ColumnarValue::Array(match exact.within_precision {
                true => exact.values,
                false => within_precision(exact.values)?,
            }));
        }
        let kernel = match self.op {
            Operator::Plus => numeric::add,
            Operator::Minus => numeric::sub,
            _ => numeric::mul,
        };
        let scalars = matches!((&l, &r), (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_)));
        // a literal operand is spread over the batch: one allocation per batch, never per row
        let (la, ra) = (l.to_array(rows)?, r.to_array(rows)?);
        let out = kernel(&la, &ra)?;
        let out = if out.data_type() == &want {
            out
        } else {
            // a value that does not fit fails the cast, never becomes a null
            let strict = datafusion::arrow::compute::CastOptions {
                safe: false,
                ..Default::default()
            };
            datafusion::arrow::compute::cast_with_options(&out, &want, &strict)?
        };
        let out = within_precision(out)?;
        Ok(if scalars {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
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

/// `semc_checked_sum(x)` over a decimal: the engine's sum (the same result type, 10 more
/// digits up to 38) with every addition checked and the result within its precision. The
/// engine's own sum wraps its 128-bit accumulator around and lets the result outgrow the
/// precision; summing in 256-bit decimals instead cost TPC-H's Q1 a tenth of its time.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CheckedSum {
    signature: Signature,
}

impl Default for CheckedSum {
    fn default() -> Self {
        CheckedSum {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl CheckedSum {
    pub const NAME: &'static str = "semc_checked_sum";
}

/// The sum's type: the argument's decimal with 10 more digits, up to 38.
fn sum_type(arg: &DataType) -> Result<(u8, i8)> {
    match arg {
        DataType::Decimal128(p, s) => Ok(((*p + 10).min(38), *s)),
        other => Err(DataFusionError::Internal(format!(
            "{} sums decimals, not {other}",
            CheckedSum::NAME
        ))),
    }
}

/// `sum` if it has at most `digits` digits.
fn checked_total(sum: Option<i128>, digits: u8) -> Result<Option<i128>> {
    match sum {
        Some(v) if !Decimal128Type::is_valid_decimal_precision(v, digits) => {
            Err(overflow(format!("a sum needs more than {digits} digits")))
        }
        _ => Ok(sum),
    }
}

impl datafusion::logical_expr::AggregateUDFImpl for CheckedSum {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        let arg = args
            .first()
            .ok_or_else(|| DataFusionError::Internal(format!("{} takes one argument", Self::NAME)))?;
        let (p, s) = sum_type(arg)?;
        Ok(DataType::Decimal128(p, s))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn datafusion::logical_expr::Accumulator>> {
        if args.is_distinct {
            return Err(DataFusionError::Internal(format!("{} sums every value", Self::NAME)));
        }
        let DataType::Decimal128(digits, scale) = *args.return_field.data_type() else {
            return Err(DataFusionError::Internal(format!("{} sums decimals", Self::NAME)));
        };
        Ok(Box::new(SumAccumulator {
            sum: None,
            digits,
            scale,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "sum"),
            args.return_type().clone(),
            true,
        ))])
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !args.is_distinct
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        let data_type = args.return_field.data_type().clone();
        let DataType::Decimal128(digits, _) = data_type else {
            return Err(DataFusionError::Internal(format!("{} sums decimals", Self::NAME)));
        };
        let overflowed = Arc::new(AtomicBool::new(false));
        let flag = overflowed.clone();
        let inner =
            PrimitiveGroupsAccumulator::<Decimal128Type, _>::new(&data_type, move |sum: &mut i128, v: i128| match sum
                .checked_add(v)
            {
                Some(total) => *sum = total,
                None => flag.store(true, Ordering::Relaxed),
            });
        Ok(Box::new(GroupsSum {
            inner,
            overflowed,
            digits,
        }))
    }

    fn reverse_expr(&self) -> datafusion::logical_expr::ReversedUDAF {
        datafusion::logical_expr::ReversedUDAF::Identical
    }
}

/// The sum of one group.
#[derive(Debug)]
struct SumAccumulator {
    sum: Option<i128>,
    digits: u8,
    scale: i8,
}

impl datafusion::logical_expr::Accumulator for SumAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(values) = values.first() else {
            return Ok(());
        };
        if let Some(part) = datafusion::arrow::compute::sum_checked(values.as_primitive::<Decimal128Type>())? {
            let total = self.sum.unwrap_or(0).checked_add(part);
            self.sum = Some(total.ok_or_else(|| overflow("a sum outgrew 128 bits"))?);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        // a partial sum may exceed the precision while the whole fits: only the result is
        // held to it (as the groups' states are)
        Ok(vec![ScalarValue::Decimal128(self.sum, self.digits, self.scale)])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Decimal128(
            checked_total(self.sum, self.digits)?,
            self.digits,
            self.scale,
        ))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

/// The sums of many groups: the engine's accumulator with checked additions.
struct GroupsSum<F: Fn(&mut i128, i128) + Send + Sync + 'static> {
    inner: PrimitiveGroupsAccumulator<Decimal128Type, F>,
    overflowed: Arc<AtomicBool>,
    digits: u8,
}

impl<F: Fn(&mut i128, i128) + Send + Sync + 'static> GroupsSum<F> {
    fn checked(&self) -> Result<()> {
        match self.overflowed.load(Ordering::Relaxed) {
            true => Err(overflow("a sum outgrew 128 bits")),
            false => Ok(()),
        }
    }

    /// `sums` if each has at most the type's digits.
    fn within_digits(&self, sums: ArrayRef) -> Result<ArrayRef> {
        sums.as_primitive::<Decimal128Type>()
            .validate_decimal_precision(self.digits)
            .map_err(|_| overflow(format!("a sum needs more than {} digits", self.digits)))?;
        Ok(sums)
    }
}

impl<F: Fn(&mut i128, i128) + Send + Sync + 'static> GroupsAccumulator for GroupsSum<F> {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&datafusion::arrow::array::BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.inner
            .update_batch(values, group_indices, opt_filter, total_num_groups)?;
        self.checked()
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.inner.merge_batch(values, group_indices, total_num_groups)?;
        self.checked()
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.checked()?;
        let sums = self.inner.evaluate(emit_to)?;
        self.within_digits(sums)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        self.checked()?;
        self.inner.state(emit_to)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&datafusion::arrow::array::BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        self.inner.convert_to_state(values, opt_filter)
    }

    fn size(&self) -> usize {
        self.inner.size()
    }
}
