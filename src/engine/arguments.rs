//! Arguments a function takes only with some values, when they come from the data: the
//! checker refuses a literal that breaks the rule (`split_part(s, "/", 0)`), and the
//! lowering wraps any other value in `semc_argument(value, rule, function)`, which gives
//! it back unchanged or fails the run with [`ArgumentRefused`] — E0409, never an engine
//! error that reads as semc's own bug.

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::collections::HashSet;

/// A value of the data that a function does not take.
#[derive(Debug)]
pub struct ArgumentRefused(pub String);

impl std::fmt::Display for ArgumentRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgumentRefused {}

/// What an argument must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// At least 1.
    Positive,
    /// Not 0.
    Nonzero,
    /// Not below 0 (a number of any type; NaN passes, as the engine takes it).
    NotNegative,
    /// A regular expression the engine compiles.
    Regex,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Positive => "positive",
            Rule::Nonzero => "nonzero",
            Rule::NotNegative => "not_negative",
            Rule::Regex => "regex",
        }
    }
    fn parse(s: &str) -> Option<Rule> {
        [Rule::Positive, Rule::Nonzero, Rule::NotNegative, Rule::Regex]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// `semc_argument(value, rule, function)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ArgumentGuard {
    signature: Signature,
}

impl ArgumentGuard {
    pub const NAME: &'static str = "semc_argument";
}

impl Default for ArgumentGuard {
    fn default() -> Self {
        ArgumentGuard {
            signature: Signature::any(3, Volatility::Immutable),
        }
    }
}

fn literal_text(v: &ColumnarValue) -> Option<&str> {
    match v {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(s))) => Some(s),
        _ => None,
    }
}

impl ScalarUDFImpl for ArgumentGuard {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        args.first()
            .cloned()
            .ok_or_else(|| DataFusionError::Internal(format!("{} takes three arguments", Self::NAME)))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value, rule, function] = &args.args[..] else {
            return Err(DataFusionError::Internal(format!(
                "{} takes three arguments",
                Self::NAME
            )));
        };
        let (Some(rule), Some(function)) = (literal_text(rule).and_then(Rule::parse), literal_text(function)) else {
            return Err(DataFusionError::Internal(format!(
                "{}: a bad rule or function name",
                Self::NAME
            )));
        };
        let array = value.to_array(args.number_rows)?;
        let refused =
            |what: String| DataFusionError::External(Box::new(ArgumentRefused(format!("`{function}` {what}"))));
        match rule {
            Rule::Positive | Rule::Nonzero => {
                let ints = datafusion::arrow::compute::cast(&array, &DataType::Int64)?;
                let ints = ints.as_primitive::<Int64Type>();
                for v in ints.iter().flatten() {
                    if (rule == Rule::Positive && v < 1) || (rule == Rule::Nonzero && v == 0) {
                        let need = if rule == Rule::Positive { "at least 1" } else { "not 0" };
                        return Err(refused(format!("was given {v} where it needs a value {need}")));
                    }
                }
            }
            Rule::NotNegative => {
                let numbers = datafusion::arrow::compute::cast(&array, &DataType::Float64)?;
                let numbers = numbers.as_primitive::<Float64Type>();
                if let Some(v) = numbers.iter().flatten().find(|v| *v < 0.0) {
                    return Err(refused(format!("was given {v} where it needs a value not below 0")));
                }
            }
            Rule::Regex => {
                let texts = datafusion::arrow::compute::cast(&array, &DataType::Utf8)?;
                let mut good: HashSet<&str> = HashSet::new();
                for re in texts.as_string::<i32>().iter().flatten() {
                    if good.contains(re) {
                        continue;
                    }
                    if let Err(e) = regex::Regex::new(re) {
                        let why = e.to_string();
                        let why = why.lines().last().unwrap_or_default().trim();
                        return Err(refused(format!(
                            "was given {re:?}, which is not a regular expression: {why}"
                        )));
                    }
                    good.insert(re);
                }
            }
        }
        Ok(value.clone())
    }
}
