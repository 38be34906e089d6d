//! The `.sem` type system and its one-to-one mapping onto Arrow (and so Substrait and Delta).
//!
//! A type is a small `Copy` value: nested types (`list<T>`, `struct<f: T, …>`, `map<K, V>`)
//! point at their parts, interned once per process ([`intern`]), so equal types are equal
//! values and checking code passes types around freely.

use datafusion::arrow::datatypes::{DataType, Field, Fields, IntervalUnit, TimeUnit};
use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;
use std::sync::{LazyLock, Mutex};

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
    /// `list<T>`: elements of one type (each may be null).
    List(&'static Type),
    /// `struct<a: T, …>`: named fields, in order (each may be null).
    Struct(&'static [StructField]),
    /// `map<K, V>`: keys (never null) to values (which may be).
    Map(&'static (Type, Type)),
}

/// A field of a struct type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StructField {
    pub name: String,
    pub ty: Type,
}

/// The one `'static` copy of `value`: nested types are interned, so a long-lived process (the
/// language server) keeps one copy of each distinct type it has seen.
fn intern<T: ?Sized + Eq + Hash + Send + Sync + 'static>(
    set: &'static LazyLock<Mutex<HashSet<&'static T>>>,
    value: &T,
    leak: impl FnOnce() -> &'static T,
) -> &'static T {
    let mut set = set.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = set.get(value) {
        return found;
    }
    let leaked = leak();
    set.insert(leaked);
    leaked
}

static LISTS: LazyLock<Mutex<HashSet<&'static Type>>> = LazyLock::new(Default::default);
static STRUCTS: LazyLock<Mutex<HashSet<&'static [StructField]>>> = LazyLock::new(Default::default);
static MAPS: LazyLock<Mutex<HashSet<&'static (Type, Type)>>> = LazyLock::new(Default::default);

/// A name as a type shows it: quoted when it is not a plain identifier.
fn show_name(name: &str) -> String {
    let mut chars = name.chars();
    let plain = chars.next().is_some_and(|c| unicode_ident::is_xid_start(c) || c == '_')
        && chars.all(unicode_ident::is_xid_continue);
    if plain { name.to_string() } else { format!("`{name}`") }
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
            Type::List(t) => write!(f, "list<{t}>"),
            Type::Struct(fields) => {
                f.write_str("struct<")?;
                for (i, x) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {}", show_name(&x.name), x.ty)?;
                }
                f.write_str(">")
            }
            Type::Map(kv) => write!(f, "map<{}, {}>", kv.0, kv.1),
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
    "list",
    "struct",
    "map",
];

impl Type {
    /// `list<element>`.
    pub fn list(element: Type) -> Type {
        Type::List(intern(&LISTS, &element, || Box::leak(Box::new(element))))
    }

    /// `struct<…>` of these fields.
    pub fn structure(fields: Vec<StructField>) -> Type {
        Type::Struct(intern(&STRUCTS, fields.as_slice(), || {
            Box::leak(fields.clone().into_boxed_slice())
        }))
    }

    /// `map<key, value>`.
    pub fn map(key: Type, value: Type) -> Type {
        Type::Map(intern(&MAPS, &(key, value), || Box::leak(Box::new((key, value)))))
    }

    /// A list, struct or map.
    pub fn is_nested(self) -> bool {
        matches!(self, Type::List(_) | Type::Struct(_) | Type::Map(_))
    }

    /// Whether this type is, or holds, a struct.
    pub fn has_struct(self) -> bool {
        match self {
            Type::Struct(_) => true,
            Type::List(t) => t.has_struct(),
            Type::Map(kv) => kv.0.has_struct() || kv.1.has_struct(),
            _ => false,
        }
    }

    /// The field `name` of a struct type.
    pub fn field(self, name: &str) -> Option<Type> {
        match self {
            Type::Struct(fs) => fs.iter().find(|f| f.name == name).map(|f| f.ty),
            _ => None,
        }
    }

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
            Type::List(t) => DataType::List(std::sync::Arc::new(Field::new("item", t.to_arrow(), true))),
            Type::Struct(fs) => DataType::Struct(
                fs.iter()
                    .map(|f| Field::new(&f.name, f.ty.to_arrow(), true))
                    .collect::<Fields>(),
            ),
            Type::Map(kv) => {
                let entries = Fields::from(vec![
                    Field::new("key", kv.0.to_arrow(), false),
                    Field::new("value", kv.1.to_arrow(), true),
                ]);
                DataType::Map(
                    std::sync::Arc::new(Field::new("entries", DataType::Struct(entries), false)),
                    false,
                )
            }
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
            DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) | DataType::FixedSizeList(f, _) => {
                Type::list(Type::from_arrow(f.data_type())?)
            }
            DataType::Struct(fs) => Type::structure(
                fs.iter()
                    .map(|f| {
                        Some(StructField {
                            name: f.name().clone(),
                            ty: Type::from_arrow(f.data_type())?,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?,
            ),
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(kv) if kv.len() == 2 => Type::map(
                    Type::from_arrow(kv[0].data_type())?,
                    Type::from_arrow(kv[1].data_type())?,
                ),
                _ => return None,
            },
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
            // a nested value widens part by part (`list<int32>` to `list<int64>`)
            (Type::List(a), Type::List(b)) => a.widens_to(*b),
            (Type::Map(a), Type::Map(b)) => a.0 == b.0 && a.1.widens_to(b.1),
            (Type::Struct(a), Type::Struct(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b.iter())
                        .all(|(x, y)| x.name == y.name && x.ty.widens_to(y.ty))
            }
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
            Type::List(_) => "list",
            Type::Struct(_) => "struct",
            Type::Map(_) => "map",
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
