//! A function's signature as the standard library (`stdlib/functions.sem`, parsed by
//! [`crate::syntax::parse_stdlib`]) and `extern fn` declarations give it: argument classes,
//! return rules and properties the checker and the lowering rely on. Shared by the syntax,
//! the checked program and the lowering.

use crate::types::Type;

/// What an argument accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgClass {
    Any,
    Numeric,
    Integer,
    String,
    Date,
    Timestamp,
    /// A date or a timestamp.
    Temporal,
    Bool,
    /// A decimal.
    Decimal,
    /// Any number, cast to `float64`.
    Float64,
    /// A type that unifies with the first argument's.
    Same,
    /// A list of any type.
    List,
    /// A map of any types.
    Map,
    /// A value of the first argument's element type (a list's element).
    Element,
}

impl ArgClass {
    pub(crate) fn parse(s: &str) -> Option<ArgClass> {
        Some(match s {
            "any" => ArgClass::Any,
            "numeric" => ArgClass::Numeric,
            "integer" => ArgClass::Integer,
            "string" => ArgClass::String,
            "date" => ArgClass::Date,
            "timestamp" => ArgClass::Timestamp,
            "temporal" => ArgClass::Temporal,
            "bool" => ArgClass::Bool,
            "decimal" => ArgClass::Decimal,
            "float64" => ArgClass::Float64,
            "same" => ArgClass::Same,
            "list" => ArgClass::List,
            "map" => ArgClass::Map,
            "element" => ArgClass::Element,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ArgClass::Any => "any",
            ArgClass::Numeric => "numeric",
            ArgClass::Integer => "integer",
            ArgClass::String => "string",
            ArgClass::Date => "date",
            ArgClass::Timestamp => "timestamp",
            ArgClass::Temporal => "temporal",
            ArgClass::Bool => "bool",
            ArgClass::Decimal => "decimal",
            ArgClass::Float64 => "float64",
            ArgClass::Same => "same",
            ArgClass::List => "list",
            ArgClass::Map => "map",
            ArgClass::Element => "element",
        }
    }
}

/// How a call's type follows from its arguments (argument numbers count from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnRule {
    Fixed(Type),
    /// The type of argument N.
    Arg(usize),
    /// The engine's widening of argument N for a sum.
    Sum(usize),
    /// The engine's widening of argument N for an average.
    Avg(usize),
    /// Every argument unified (each cast to the result).
    Common,
    /// A decimal (argument N) rounded to the places argument M gives: its scale drops to
    /// them when they are a literal, as the engine computes it.
    Round(usize, usize),
    /// A decimal (argument N) made a whole number: `decimal(p, s)` gives `decimal(p, 0)`
    /// (floor, ceil and round of a decimal always fit), as DuckDB types it.
    Whole(usize),
    /// `list<T>` of argument N's type T.
    ListOf(usize),
    /// The element type of list argument N.
    Element(usize),
    /// The keys (`list<K>`), values (`list<V>`) or entries (`list<struct<key: K, value: V>>`)
    /// of map argument N.
    Keys(usize),
    Values(usize),
    Entries(usize),
}

impl std::fmt::Display for ReturnRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReturnRule::Fixed(t) => write!(f, "{t}"),
            ReturnRule::Arg(n) => write!(f, "the type of argument {n}"),
            ReturnRule::Sum(n) => write!(f, "the sum type of argument {n}"),
            ReturnRule::Avg(n) => write!(f, "the average type of argument {n}"),
            ReturnRule::Common => write!(f, "the common type of the arguments"),
            ReturnRule::Round(n, m) => write!(f, "argument {n} rounded to argument {m}'s places"),
            ReturnRule::Whole(n) => write!(f, "argument {n} as a whole number"),
            ReturnRule::ListOf(n) => write!(f, "a list of argument {n}'s type"),
            ReturnRule::Element(n) => write!(f, "the element type of argument {n}"),
            ReturnRule::Keys(n) => write!(f, "a list of argument {n}'s keys"),
            ReturnRule::Values(n) => write!(f, "a list of argument {n}'s values"),
            ReturnRule::Entries(n) => write!(f, "a list of argument {n}'s entries"),
        }
    }
}

impl ReturnRule {
    pub(crate) fn parse(name: &str, arg: Option<usize>) -> Option<ReturnRule> {
        Some(match (name, arg) {
            ("arg", Some(n)) if n > 0 => ReturnRule::Arg(n),
            ("sum", Some(n)) if n > 0 => ReturnRule::Sum(n),
            ("avg", Some(n)) if n > 0 => ReturnRule::Avg(n),
            ("common", None) => ReturnRule::Common,
            ("round", Some(n)) if n > 0 => ReturnRule::Round(n, n + 1),
            ("whole", Some(n)) if n > 0 => ReturnRule::Whole(n),
            ("list_of", Some(n)) if n > 0 => ReturnRule::ListOf(n),
            ("element", Some(n)) if n > 0 => ReturnRule::Element(n),
            ("keys", Some(n)) if n > 0 => ReturnRule::Keys(n),
            ("values", Some(n)) if n > 0 => ReturnRule::Values(n),
            ("entries", Some(n)) if n > 0 => ReturnRule::Entries(n),
            (t, None) => ReturnRule::Fixed(Type::from_name(t)?),
            _ => return None,
        })
    }
}

/// What the checker and the lowering may rely on of a function, declared in its `[…]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FunctionProps {
    /// The engine aggregate is called with DISTINCT.
    pub distinct: bool,
    /// Rows a join repeats do not change the result (min, max, distinct counts).
    pub repeat_safe: bool,
    /// Counts the rows that have a value: repeated values of a joined target count each
    /// base row once.
    pub counts_rows: bool,
    /// The result is never null.
    pub never_null: bool,
    /// The engine gives bytes; the result is their lowercase hex text.
    pub hex: bool,
    /// Over a window, rows that tie in its order get the same value (rank): no tie-breakers.
    pub ties: bool,
    /// The first argument is a time unit, written as a literal.
    pub units: bool,
    /// An aggregate whose result depends on the order it reads its rows in: it takes
    /// `order by` in its call (`collect(x order by k)`), and without one reads them in the
    /// order of its argument's values, so reruns give the same result.
    pub ordered: bool,
    /// The second argument is a digest algorithm ([`DIGEST_ALGORITHMS`]), written as a literal.
    pub algorithm: bool,
    /// Arguments (bit N-1 for argument N) the engine takes only as literals.
    pub literal: ArgSet,
    /// Arguments that must be at least 1 (a literal is checked, a value guarded at run time).
    pub positive: ArgSet,
    /// Arguments that must not be 0.
    pub nonzero: ArgSet,
    /// Arguments that must not be below 0.
    pub not_negative: ArgSet,
    /// Arguments that are regular expressions (a literal is compiled at check time).
    pub regex: ArgSet,
    /// Arguments that are a digest size in bytes, 1 to 64.
    pub digest_size: ArgSet,
}

/// A set of argument numbers (1 to 16).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArgSet(u16);

impl ArgSet {
    /// Whether argument `i` (from 0) is in the set.
    pub fn has(self, i: usize) -> bool {
        i < 16 && self.0 & (1 << i) != 0
    }
    pub(crate) fn add(&mut self, n: usize) -> bool {
        let ok = (1..=16).contains(&n);
        if ok {
            self.0 |= 1 << (n - 1);
        }
        ok
    }
}

/// The time units `date_diff` and `date_trunc` take.
pub const TIME_UNITS: &[&str] = &["year", "quarter", "month", "week", "day", "hour", "minute", "second"];

/// The algorithms `digest` takes (the engine's).
pub const DIGEST_ALGORITHMS: &[&str] = &[
    "md5", "sha224", "sha256", "sha384", "sha512", "blake2s", "blake2b", "blake3",
];

/// A function signature from `stdlib/functions.sem`.
#[derive(Debug, Clone)]
pub struct Signature {
    pub name: String,
    pub aggregate: bool,
    /// Only over a window (`row_number() over (…)`); aggregates may stand over one too.
    pub window: bool,
    pub args: Vec<ArgClass>,
    /// The last argument class repeats.
    pub variadic: bool,
    pub ret: ReturnRule,
    /// The DataFusion function the plan names.
    pub engine: String,
    /// A leading constant argument of the engine function (`date_part("year", …)`).
    pub engine_const: Option<String>,
    pub props: FunctionProps,
    /// One line of documentation (the `##` line above the signature).
    pub doc: String,
    /// A host function (`extern fn` in the workspace): its declaration and parameter types;
    /// the engine function of that name is registered by the program that runs semc.
    pub host: Option<(crate::span::Span, Vec<Type>)>,
}

impl Signature {
    /// `name(class, …)` as the standard library writes it.
    pub fn display(&self) -> String {
        let args: Vec<&str> = self.args.iter().map(|a| a.as_str()).collect();
        format!(
            "{}({}{})",
            self.name,
            args.join(", "),
            if self.variadic { "..." } else { "" }
        )
    }
}
