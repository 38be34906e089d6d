//! The `.sem` type system and its one-to-one mapping onto Arrow (and so Substrait and Delta).

use datafusion::arrow::datatypes::{DataType, IntervalUnit, TimeUnit};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Bool,
    Int32,
    Int64,
    Float64,
    Decimal(u8, i8),
    String,
    Date,
    Timestamp,
    /// Only as the type of an `interval "…"` literal.
    Interval,
    /// The type of `null` before it meets another type.
    Null,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("bool"),
            Type::Int32 => f.write_str("int32"),
            Type::Int64 => f.write_str("int64"),
            Type::Float64 => f.write_str("float64"),
            Type::Decimal(p, s) => write!(f, "decimal({p}, {s})"),
            Type::String => f.write_str("string"),
            Type::Date => f.write_str("date"),
            Type::Timestamp => f.write_str("timestamp"),
            Type::Interval => f.write_str("interval"),
            Type::Null => f.write_str("null"),
        }
    }
}

pub const TYPE_NAMES: &[&str] = &[
    "bool",
    "int32",
    "int64",
    "float64",
    "decimal",
    "string",
    "date",
    "timestamp",
];

impl Type {
    pub fn from_name(name: &str) -> Option<Type> {
        Some(match name {
            "bool" | "boolean" => Type::Bool,
            "int32" => Type::Int32,
            "int64" => Type::Int64,
            "float64" => Type::Float64,
            "string" => Type::String,
            "date" => Type::Date,
            "timestamp" => Type::Timestamp,
            _ => return None,
        })
    }

    pub fn to_arrow(self) -> DataType {
        match self {
            Type::Bool => DataType::Boolean,
            Type::Int32 => DataType::Int32,
            Type::Int64 => DataType::Int64,
            Type::Float64 => DataType::Float64,
            Type::Decimal(p, s) => DataType::Decimal128(p, s),
            Type::String => DataType::Utf8,
            Type::Date => DataType::Date32,
            Type::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Type::Interval => DataType::Interval(IntervalUnit::MonthDayNano),
            Type::Null => DataType::Null,
        }
    }

    /// The `.sem` type of an Arrow type, if it has one.
    pub fn from_arrow(dt: &DataType) -> Option<Type> {
        Some(match dt {
            DataType::Boolean => Type::Bool,
            DataType::Int32 => Type::Int32,
            DataType::Int64 => Type::Int64,
            DataType::Float64 => Type::Float64,
            DataType::Decimal128(p, s) => Type::Decimal(*p, *s),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Type::String,
            DataType::Date32 => Type::Date,
            DataType::Timestamp(TimeUnit::Microsecond, _) => Type::Timestamp,
            DataType::Interval(_) => Type::Interval,
            DataType::Null => Type::Null,
            _ => return None,
        })
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Int32 | Type::Int64 | Type::Float64 | Type::Decimal(..))
    }
    pub fn is_integer(self) -> bool {
        matches!(self, Type::Int32 | Type::Int64)
    }
    pub fn is_temporal(self) -> bool {
        matches!(self, Type::Date | Type::Timestamp)
    }

    /// Can every value of `self` be represented exactly as `to`?
    pub fn widens_to(self, to: Type) -> bool {
        if self == to || self == Type::Null {
            return true;
        }
        match (self, to) {
            (Type::Int32, Type::Int64 | Type::Float64) => true,
            (Type::Int32, Type::Decimal(p, s)) => (p as i16 - s as i16) >= 10,
            (Type::Int64, Type::Decimal(p, s)) => (p as i16 - s as i16) >= 19,
            (Type::Decimal(p1, s1), Type::Decimal(p2, s2)) => {
                s2 >= s1 && (p2 as i16 - s2 as i16) >= (p1 as i16 - s1 as i16)
            }
            (Type::Date, Type::Timestamp) => true,
            _ => false,
        }
    }

    /// The type both sides widen to, for comparisons, `in`, `case` and `union`.
    /// Literals (`lit_*`) may also narrow: `float_col == 0.5` compares as float64.
    /// The type two values of types `a` and `b` both fit in without loss, if any.
    pub fn unify(a: Type, b: Type) -> Option<Type> {
        Type::unify_operands(Operand::value(a), Operand::value(b))
    }

    /// As [`Type::unify`], where a literal number may also meet a float (its value is known).
    pub fn unify_operands(a: Operand, b: Operand) -> Option<Type> {
        let (lit_a, lit_b) = (a.literal, b.literal);
        let (a, b) = (a.ty, b.ty);
        if a.widens_to(b) {
            return Some(b);
        }
        if b.widens_to(a) {
            return Some(a);
        }
        match (a, b) {
            (Type::Decimal(p1, s1), Type::Decimal(p2, s2)) => {
                let s = s1.max(s2);
                let int = (p1 as i16 - s1 as i16).max(p2 as i16 - s2 as i16);
                let p = (int + s as i16).min(38) as u8;
                Some(Type::Decimal(p, s))
            }
            (Type::Int32 | Type::Int64, Type::Decimal(p, s)) | (Type::Decimal(p, s), Type::Int32 | Type::Int64) => {
                let p = (p.max(s as u8 + 19)).min(38);
                Some(Type::Decimal(p, s))
            }
            (Type::Float64, x) | (x, Type::Float64) if x.is_numeric() => {
                let lit_other = if a == Type::Float64 { lit_b } else { lit_a };
                lit_other.then_some(Type::Float64)
            }
            _ => None,
        }
    }

    /// The family name used in messages about incompatible types.
    pub fn family(self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Int32 | Type::Int64 | Type::Float64 | Type::Decimal(..) => "number",
            Type::String => "string",
            Type::Date | Type::Timestamp => "date/time",
            Type::Interval => "interval",
            Type::Null => "null",
        }
    }
}

/// A typed operand, and whether it is a literal: a literal number may meet a float, since
/// its value is known and fits; a column's may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operand {
    pub ty: Type,
    pub literal: bool,
}

impl Operand {
    pub fn value(ty: Type) -> Operand {
        Operand { ty, literal: false }
    }
}
