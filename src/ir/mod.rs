//! The checked program: resolved, typed relational IR. The checker gives it; lowering takes it.
//!
//! Invariant: every name is resolved, every expression has a type, and every relation's
//! schema is known. Lowering never needs to report a user error.

use crate::signature::Signature;
use crate::types::Type;
use crate::vocabulary::{BinOp, FrameBound, WriteMode};
use url::Url;

mod lineage;
mod prune;
mod rel;

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub ty: Type,
    pub nullable: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Decimal(i128, u8, i8),
    Float(f64),
    Str(String),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01T00:00:00Z.
    Timestamp(i64),
    Interval {
        months: i32,
        days: i32,
        nanos: i64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct TExpr {
    pub kind: TExprKind,
    pub ty: Type,
    pub nullable: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TExprKind {
    /// A column of the input, by relation alias (if qualified) and name.
    Col {
        qual: Option<String>,
        name: String,
    },
    Lit(Value),
    Binary(BinOp, Box<TExpr>, Box<TExpr>),
    Not(Box<TExpr>),
    Neg(Box<TExpr>),
    IsNull(Box<TExpr>, bool),
    InList(Box<TExpr>, Vec<TExpr>, bool),
    Between(Box<TExpr>, Box<TExpr>, Box<TExpr>, bool),
    Like(Box<TExpr>, Box<TExpr>, bool),
    Case(Vec<(TExpr, TExpr)>, Option<Box<TExpr>>),
    Cast(Box<TExpr>, Type),
    /// A scalar function: index into [`Program::functions`].
    Call(usize, Vec<TExpr>),
    /// An aggregate function: index into [`Program::functions`], its arguments, and the
    /// order it reads its rows in (an `ordered` aggregate's; empty for the others).
    Agg(usize, Vec<TExpr>, Vec<(TExpr, SortOrder)>),
    /// A field of a struct value.
    Field(Box<TExpr>, String),
    /// A list's element (from 1; null past the end) or a map's value for a key.
    Index(Box<TExpr>, Box<TExpr>),
    /// `struct(name = e, …)`.
    MakeStruct(Vec<(String, TExpr)>),
    /// `[a, b, …]`, each of the list's element type.
    MakeList(Vec<TExpr>),
    /// A window function (or an aggregate over a window), per row.
    Window(Box<WindowIr>),
    /// Stands for an expression that already has a diagnostic.
    Error,
}

/// `f(args) over (partition by … order by … [rows between … and …])`.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowIr {
    /// Index into [`Program::functions`]: a window function or an aggregate.
    pub func: usize,
    pub args: Vec<TExpr>,
    pub partition: Vec<TExpr>,
    /// Keys and their order.
    pub order: Vec<(TExpr, SortOrder)>,
    pub frame: Option<(FrameBound, FrameBound)>,
    /// The rows of a partition must come in a total order for the result to be
    /// deterministic: lowering appends every other column to `order` as a tie-breaker.
    pub tie_break: bool,
}

/// How a sort key orders rows (by default ascending, nulls last).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SortOrder {
    pub descending: bool,
    /// Nulls before every value; by default they come after, ascending and descending
    /// alike (as DuckDB orders them).
    pub nulls_first: bool,
}

impl TExpr {
    /// Whether this is a constant written in the program (`-1` included).
    pub fn is_literal(&self) -> bool {
        match &self.kind {
            TExprKind::Lit(_) => true,
            TExprKind::Neg(x) => x.is_literal(),
            _ => false,
        }
    }

    /// An integer literal's value (`-1` included).
    pub fn literal_int(&self) -> Option<i64> {
        match &self.kind {
            TExprKind::Lit(Value::Int(v)) => Some(*v),
            TExprKind::Neg(x) => x.literal_int().map(|v| -v),
            _ => None,
        }
    }

    /// Whether a numeric literal is below zero (`-4.0`, `-1`); `None` for anything else.
    pub fn literal_negative(&self) -> Option<bool> {
        self.literal_number().map(|v| v < 0.0)
    }

    /// A numeric literal's value (its sign and magnitude; a decimal's scale aside).
    fn literal_number(&self) -> Option<f64> {
        match &self.kind {
            TExprKind::Lit(Value::Int(v)) => Some(*v as f64),
            TExprKind::Lit(Value::Decimal(v, ..)) => Some(*v as f64),
            TExprKind::Lit(Value::Float(v)) => Some(*v),
            TExprKind::Neg(x) => x.literal_number().map(|v| -v),
            _ => None,
        }
    }

    pub fn error() -> TExpr {
        TExpr {
            kind: TExprKind::Error,
            ty: Type::Null,
            nullable: true,
        }
    }
    /// Its type, and whether it is a literal (for unification).
    pub fn operand(&self) -> crate::types::Operand {
        crate::types::Operand {
            ty: self.ty,
            literal: self.is_literal(),
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self.kind, TExprKind::Error)
    }
    /// Visits this expression and its sub-expressions.
    pub fn walk(&self, f: &mut dyn FnMut(&TExpr)) {
        f(self);
        match &self.kind {
            TExprKind::Binary(_, a, b) | TExprKind::Like(a, b, _) => {
                a.walk(f);
                b.walk(f);
            }
            TExprKind::Not(a) | TExprKind::Neg(a) | TExprKind::IsNull(a, _) | TExprKind::Cast(a, _) => a.walk(f),
            TExprKind::InList(a, l, _) => {
                a.walk(f);
                l.iter().for_each(|x| x.walk(f));
            }
            TExprKind::Between(a, b, c, _) => {
                a.walk(f);
                b.walk(f);
                c.walk(f);
            }
            TExprKind::Case(arms, e) => {
                for (c, v) in arms {
                    c.walk(f);
                    v.walk(f);
                }
                if let Some(e) = e {
                    e.walk(f);
                }
            }
            TExprKind::Call(_, a) | TExprKind::MakeList(a) => a.iter().for_each(|x| x.walk(f)),
            TExprKind::Agg(_, a, order) => {
                a.iter().for_each(|x| x.walk(f));
                order.iter().for_each(|(x, _)| x.walk(f));
            }
            TExprKind::Field(a, _) => a.walk(f),
            TExprKind::Index(a, b) => {
                a.walk(f);
                b.walk(f);
            }
            TExprKind::MakeStruct(fields) => fields.iter().for_each(|(_, x)| x.walk(f)),
            TExprKind::Window(w) => {
                w.args.iter().chain(&w.partition).for_each(|x| x.walk(f));
                w.order.iter().for_each(|(x, _)| x.walk(f));
            }
            TExprKind::Col { .. } | TExprKind::Lit(_) | TExprKind::Error => {}
        }
    }
    /// The name of the column this expression is, if it is a plain column.
    pub fn column_name(&self) -> Option<&str> {
        match &self.kind {
            TExprKind::Col { name, .. } => Some(name),
            _ => None,
        }
    }
    pub fn contains_agg(&self) -> bool {
        let mut found = false;
        self.walk(&mut |e| found |= matches!(e.kind, TExprKind::Agg(..)));
        found
    }
}

/// A relation. Columns of `Scan`, `ModelRef` and the right side of `Join` are qualified by
/// their alias; `Project` and `Aggregate` give unqualified columns.
#[derive(Debug, Clone, PartialEq)]
pub enum Rel {
    Scan {
        source: usize,
        alias: String,
    },
    ModelRef {
        model: usize,
        alias: String,
    },
    /// A join on key pairs plus an optional filter over both sides.
    Join {
        left: Box<Rel>,
        right: Box<Rel>,
        kind: JoinKind,
        on: Vec<(TExpr, TExpr)>,
        filter: Option<TExpr>,
    },
    Filter {
        input: Box<Rel>,
        predicate: TExpr,
    },
    Project {
        input: Box<Rel>,
        exprs: Vec<(String, TExpr)>,
    },
    /// Keeps every input column (with its qualifier) and adds these.
    Derive {
        input: Box<Rel>,
        /// The qualifier of the new columns.
        alias: String,
        exprs: Vec<(String, TExpr)>,
    },
    Aggregate {
        input: Box<Rel>,
        groups: Vec<(String, TExpr)>,
        aggs: Vec<(String, TExpr)>,
    },
    Sort {
        input: Box<Rel>,
        keys: Vec<(TExpr, SortOrder)>,
    },
    Limit {
        input: Box<Rel>,
        n: usize,
    },
    Distinct {
        input: Box<Rel>,
    },
    /// Qualifies every column of the input with `alias`.
    Alias {
        input: Box<Rel>,
        alias: String,
    },
    Union {
        left: Box<Rel>,
        right: Box<Rel>,
    },
    /// The walks over the input's edges (`closure a -> b …`): the input has exactly the
    /// columns the step reads, unqualified.
    Closure {
        input: Box<Rel>,
        spec: ClosureSpec,
    },
    /// One row per element of the list column `spec.element` (qualified `alias`, the
    /// input's last column), every other column carried along; the element takes the list's
    /// place, and its position (`spec.ordinality`) comes last.
    Unnest {
        input: Box<Rel>,
        alias: String,
        spec: UnnestSpec,
    },
}

/// What an unnest step says, as its plan node carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, serde::Serialize, serde::Deserialize)]
pub struct UnnestSpec {
    /// The column holding the list, then each element.
    pub element: String,
    /// The column of the element's position in its list, from 1 (int64).
    pub ordinality: Option<String>,
    /// A row whose list is empty or null gives one row (element and position null); else none.
    pub keep_empty: bool,
}

impl UnnestSpec {
    /// The name the plan gives the operator (and its Substrait extension relation).
    pub const NAME: &'static str = "semc.unnest";
}

/// As a plan shows it: `defs as d keep empty with ordinality as i`.
impl std::fmt::Display for UnnestSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.element)?;
        if self.keep_empty {
            f.write_str(" keep empty")?;
        }
        if let Some(i) = &self.ordinality {
            write!(f, " with ordinality as {i}")?;
        }
        Ok(())
    }
}

/// What a closure step says: the columns it reads and writes and how far it walks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, serde::Serialize, serde::Deserialize)]
pub struct ClosureSpec {
    /// The keys every edge of a walk agrees on.
    pub per: Vec<String>,
    /// The edge's start and end columns.
    pub from: String,
    pub to: String,
    /// The most edges a walk has.
    pub max: u32,
    /// The result's end and depth columns.
    pub reached: String,
    pub depth: String,
    /// One row per node reached, at its least depth (else one per walk).
    pub shortest: bool,
    /// Walks that go on past `max` are cut there (else the run fails, E0414).
    pub truncate: bool,
}

impl ClosureSpec {
    /// The name the plan gives the operator (and its Substrait extension relation).
    pub const NAME: &'static str = "semc.closure";
}

/// As a plan shows it: `child -> parent per [path] max 16 as (ancestor, depth) shortest`.
impl std::fmt::Display for ClosureSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} -> {} per [{}] max {} as ({}, {}){}{}",
            self.from,
            self.to,
            self.per.join(", "),
            self.max,
            self.reached,
            self.depth,
            if self.shortest { " shortest" } else { "" },
            if self.truncate { " truncate" } else { "" }
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// Every left row is kept, matched or not (declared joins, ad-hoc joins, scalar models).
    Left,
    /// A left join whose right side is unique on the join keys (a declared `many_to_one` or
    /// `one_to_one`, verified on the data before a run commits, or a single-row model): each
    /// left row comes out exactly once, so the join can be dropped when nothing above uses
    /// the right side's columns.
    LeftUnique,
    /// Left rows with a match (`semi`).
    Semi,
    /// Left rows without a match (`anti`).
    Anti,
}

#[derive(Debug, Clone)]
pub struct SourceIr {
    pub name: String,
    pub url: Url,
    pub version: i64,
    pub columns: Vec<Field>,
    /// `scan { … }`: how the table is read.
    pub options: ScanOptions,
    /// What the source declares of its data that the table does not guarantee: verified on
    /// the snapshot before a `strict` run commits.
    pub constraints: Vec<SourceConstraint>,
}

/// Per-source scan options (`scan { … }` in a source).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ScanOptions {
    /// Adds a string column with each row's data file path.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file_column: Option<String>,
    /// Parquet filter pushdown for this source (the session default otherwise).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pushdown: Option<bool>,
    /// Read only these files of the snapshot (paths as the Delta log names them).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub files: Vec<String>,
    /// Read only the rows that commits after this version (up to the pinned version)
    /// inserted, from the table's Change Data Feed (an `incremental` model's run).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub changes_since: Option<i64>,
}

impl ScanOptions {
    pub fn is_default(&self) -> bool {
        *self == ScanOptions::default()
    }
}

#[derive(Debug, Clone)]
pub struct SourceConstraint {
    pub kind: SourceConstraintKind,
    /// The declaration, for run-time diagnostics.
    pub span: crate::span::Span,
}

#[derive(Debug, Clone)]
pub enum SourceConstraintKind {
    /// Declared `not null` (or `key`) on a column the table allows nulls in.
    NotNull(String),
    /// `key`, `unique` or `key (a, b)`.
    Unique(Vec<String>),
    /// `check (…)`, over the source's columns qualified `t0`.
    Check(TExpr),
}

#[derive(Debug, Clone)]
pub struct ContractColumn {
    pub field: Field,
    /// The contract line, for run-time diagnostics.
    pub span: crate::span::Span,
    pub unique: bool,
    pub checks: Vec<TExpr>,
}

#[derive(Debug, Clone)]
pub struct ModelIr {
    pub name: String,
    pub rel: Rel,
    pub schema: Vec<Field>,
    pub contract: Vec<ContractColumn>,
    /// Column sets that are unique in the model's rows (group keys, distinct, contract keys).
    pub unique_keys: Vec<Vec<String>>,
    /// At most one row (an aggregate without groups): usable as a scalar, `model.column`.
    pub single_row: bool,
    /// Keys this model relies on being unique in a source (its `many_to_one` and
    /// `one_to_one` joins): verified on the data before a run commits.
    pub key_claims: Vec<KeyClaim>,
    /// `incremental`: the source whose changes each run reads (it is read once, row by row).
    pub incremental: Option<usize>,
    /// For an incremental model: a key column of its source that the model passes through
    /// unchanged, as (source column, output column). With it, changes that delete or update
    /// rows replace the output rows of the changed keys instead of rebuilding.
    pub incremental_key: Option<(String, String)>,
}

/// "These columns are unique in this source's snapshot", as a join declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyClaim {
    pub source: usize,
    pub columns: Vec<String>,
    /// The join that relies on it.
    pub span: crate::span::Span,
    /// For a declared join: the source it starts from and its foreign-key columns (in the
    /// order of `columns`), so rows that match nothing (orphans) can be counted.
    pub from: Option<(usize, Vec<String>)>,
}

#[derive(Debug, Clone)]
pub struct OutputIr {
    pub name: String,
    /// The `output` item, for run-time diagnostics.
    pub span: crate::span::Span,
    pub model: usize,
    pub url: Url,
    pub mode: WriteMode,
    pub partition_by: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PolicyIr {
    pub lower_identifiers: bool,
    pub strict: bool,
    /// Source constraints the table does not guarantee are trusted without a warning.
    pub trust_declared: bool,
    pub allow: Option<Vec<String>>,
    pub max_reader_version: Option<i64>,
    pub max_writer_version: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct Program {
    pub policy: PolicyIr,
    pub sources: Vec<SourceIr>,
    pub models: Vec<ModelIr>,
    pub outputs: Vec<OutputIr>,
    pub functions: Vec<Signature>,
}

impl Program {
    /// The outputs a run writes: those named in `only`, or all of them when it is empty.
    pub fn selected<'a>(&'a self, only: &'a [String]) -> impl Iterator<Item = &'a OutputIr> + 'a {
        self.outputs
            .iter()
            .filter(move |o| only.is_empty() || only.contains(&o.name))
    }

    /// Model `m` and every model it reads, directly or through other models: the one walk
    /// of the model graph.
    pub fn models_read(&self, m: usize) -> std::collections::BTreeSet<usize> {
        let mut seen = std::collections::BTreeSet::new();
        let mut stack = vec![m];
        while let Some(m) = stack.pop() {
            if seen.insert(m) {
                self.models[m].rel.model_refs(&mut stack);
            }
        }
        seen
    }

    /// Every source model `m` reads, directly or through the models it reads.
    pub fn sources_read(&self, m: usize) -> std::collections::BTreeSet<usize> {
        self.models_read(m)
            .into_iter()
            .flat_map(|m| {
                let rel = &self.models[m].rel;
                (0..self.sources.len()).filter(move |&s| rel.scans_of(s) > 0)
            })
            .collect()
    }

    /// Every key the models behind model `m` rely on (their `many_to_one`/`one_to_one` joins).
    pub fn key_claims(&self, m: usize) -> Vec<&KeyClaim> {
        self.models_read(m)
            .into_iter()
            .flat_map(|m| &self.models[m].key_claims)
            .collect()
    }
}
