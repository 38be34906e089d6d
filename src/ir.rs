//! The checked program: resolved, typed relational IR. The checker gives it; lowering takes it.
//!
//! Invariant: every name is resolved, every expression has a type, and every relation's
//! schema is known. Lowering never needs to report a user error.

use crate::ast::{BinOp, WriteMode};
use crate::parse::Signature;
use crate::types::Type;
use url::Url;

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
    /// An aggregate function: index into [`Program::functions`].
    Agg(usize, Vec<TExpr>),
    /// Stands for an expression that already has a diagnostic.
    Error,
}

impl TExpr {
    pub fn error() -> TExpr {
        TExpr {
            kind: TExprKind::Error,
            ty: Type::Null,
            nullable: true,
        }
    }
    pub fn is_error(&self) -> bool {
        matches!(self.kind, TExprKind::Error)
    }
    pub fn is_literal(&self) -> bool {
        matches!(self.kind, TExprKind::Lit(_)) || matches!(&self.kind, TExprKind::Neg(e) if e.is_literal())
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
            TExprKind::Call(_, a) | TExprKind::Agg(_, a) => a.iter().for_each(|x| x.walk(f)),
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
        keys: Vec<(TExpr, bool)>,
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
    pub options: crate::delta::ScanOptions,
    /// What the source declares of its data that the table does not guarantee: verified on
    /// the snapshot before a `strict` run commits.
    pub constraints: Vec<SourceConstraint>,
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

impl Rel {
    /// The relations this one reads (none for scans and model reads).
    pub fn inputs(&self) -> Vec<&Rel> {
        match self {
            Rel::Scan { .. } | Rel::ModelRef { .. } => vec![],
            Rel::Join { left, right, .. } | Rel::Union { left, right } => vec![left, right],
            Rel::Filter { input, .. }
            | Rel::Project { input, .. }
            | Rel::Derive { input, .. }
            | Rel::Aggregate { input, .. }
            | Rel::Sort { input, .. }
            | Rel::Limit { input, .. }
            | Rel::Distinct { input }
            | Rel::Alias { input, .. } => vec![input],
        }
    }

    fn inputs_mut(&mut self) -> Vec<&mut Rel> {
        match self {
            Rel::Scan { .. } | Rel::ModelRef { .. } => vec![],
            Rel::Join { left, right, .. } | Rel::Union { left, right } => vec![left, right],
            Rel::Filter { input, .. }
            | Rel::Project { input, .. }
            | Rel::Derive { input, .. }
            | Rel::Aggregate { input, .. }
            | Rel::Sort { input, .. }
            | Rel::Limit { input, .. }
            | Rel::Distinct { input }
            | Rel::Alias { input, .. } => vec![input],
        }
    }

    /// How many times this relation (not the models it reads) scans source `si`.
    pub fn scans_of(&self, si: usize) -> usize {
        match self {
            Rel::Scan { source, .. } => usize::from(*source == si),
            _ => self.inputs().into_iter().map(|r| r.scans_of(si)).sum(),
        }
    }

    /// Where column `name` (qualified `qual`) of this relation comes from, when it is a
    /// source's column passed through unchanged (renamed at most): (source, column).
    pub fn origin(&self, qual: Option<&str>, name: &str) -> Option<(usize, String)> {
        match self {
            Rel::Scan { source, alias } => (qual.is_none_or(|q| q == alias)).then(|| (*source, name.to_string())),
            Rel::Project { input, exprs } => match &exprs.iter().find(|(n, _)| n == name)?.1.kind {
                TExprKind::Col { qual, name } => input.origin(qual.as_deref(), name),
                _ => None,
            },
            Rel::Alias { input, alias } => {
                if qual.is_none_or(|q| q == alias) {
                    input.origin(None, name)
                } else {
                    None
                }
            }
            Rel::Derive { input, alias, exprs } => {
                if qual == Some(alias.as_str()) || (qual.is_none() && exprs.iter().any(|(n, _)| n == name)) {
                    match &exprs.iter().find(|(n, _)| n == name)?.1.kind {
                        TExprKind::Col { qual, name } => input.origin(qual.as_deref(), name),
                        _ => None,
                    }
                } else {
                    input.origin(qual, name)
                }
            }
            Rel::Filter { input, .. } | Rel::Sort { input, .. } | Rel::Limit { input, .. } => input.origin(qual, name),
            // the left side's columns pass a join unchanged
            Rel::Join { left, right, .. } => match right.qualifier() {
                Some(q) if qual == Some(q) => None,
                _ => left.origin(qual, name),
            },
            Rel::ModelRef { .. } | Rel::Aggregate { .. } | Rel::Distinct { .. } | Rel::Union { .. } => None,
        }
    }

    /// Replaces every scan of source `si` by `f(scan)`.
    pub fn map_scan(&mut self, si: usize, f: &dyn Fn(Rel) -> Rel) {
        match self {
            Rel::Scan { source, .. } if *source == si => {
                let placeholder = Rel::Limit {
                    input: Box::new(Rel::ModelRef {
                        model: 0,
                        alias: String::new(),
                    }),
                    n: 0,
                };
                let scan = std::mem::replace(self, placeholder);
                *self = f(scan);
            }
            _ => self.inputs_mut().into_iter().for_each(|r| r.map_scan(si, f)),
        }
    }

    /// The models this relation reads (directly).
    pub fn model_refs(&self, out: &mut Vec<usize>) {
        match self {
            Rel::ModelRef { model, .. } => out.push(*model),
            _ => self.inputs().into_iter().for_each(|r| r.model_refs(out)),
        }
    }
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

/// Qualifiers of relations whose columns something above uses (or all of them).
enum Used {
    All,
    Quals(std::collections::HashSet<String>),
}

impl Used {
    fn has(&self, q: &str) -> bool {
        match self {
            Used::All => true,
            Used::Quals(s) => s.contains(q),
        }
    }
    /// This set plus the qualifiers `exprs` read (all, if one reads an unqualified column).
    fn with<'a>(&self, exprs: impl IntoIterator<Item = &'a TExpr>) -> Used {
        let Used::Quals(s) = self else { return Used::All };
        let mut s = s.clone();
        let mut all = false;
        for e in exprs {
            e.walk(&mut |x| match &x.kind {
                TExprKind::Col { qual: Some(q), .. } => {
                    s.insert(q.clone());
                }
                TExprKind::Col { qual: None, .. } => all = true,
                _ => {}
            });
        }
        if all { Used::All } else { Used::Quals(s) }
    }
    fn none() -> Used {
        Used::Quals(Default::default())
    }
}

impl Rel {
    /// Drops what nothing reads: `LeftUnique` joins whose right side's columns nothing
    /// above uses (each left row comes out exactly once either way), and `derive` steps none
    /// of whose columns are used. The result has the same rows.
    pub fn drop_unused(self) -> Rel {
        self.prune(&Used::All)
    }

    fn prune(self, used: &Used) -> Rel {
        let b = |r: Box<Rel>, u: &Used| Box::new(r.prune(u));
        match self {
            Rel::Scan { .. } | Rel::ModelRef { .. } => self,
            Rel::Project { input, exprs } => {
                let u = Used::none().with(exprs.iter().map(|e| &e.1));
                Rel::Project {
                    input: b(input, &u),
                    exprs,
                }
            }
            Rel::Aggregate { input, groups, aggs } => {
                let u = Used::none().with(groups.iter().chain(&aggs).map(|e| &e.1));
                Rel::Aggregate {
                    input: b(input, &u),
                    groups,
                    aggs,
                }
            }
            Rel::Derive { input, alias, exprs } => {
                if !used.has(&alias) {
                    return input.prune(used);
                }
                let u = used.with(exprs.iter().map(|e| &e.1));
                Rel::Derive {
                    input: b(input, &u),
                    alias,
                    exprs,
                }
            }
            Rel::Filter { input, predicate } => {
                let u = used.with([&predicate]);
                Rel::Filter {
                    input: b(input, &u),
                    predicate,
                }
            }
            Rel::Sort { input, keys } => {
                let u = used.with(keys.iter().map(|k| &k.0));
                Rel::Sort {
                    input: b(input, &u),
                    keys,
                }
            }
            Rel::Limit { input, n } => Rel::Limit {
                input: b(input, used),
                n,
            },
            // every column of the input decides which rows are distinct / how the sides line up
            Rel::Distinct { input } => Rel::Distinct {
                input: b(input, &Used::All),
            },
            Rel::Union { left, right } => Rel::Union {
                left: b(left, &Used::All),
                right: b(right, &Used::All),
            },
            // the input's columns are renamed: used under the new name, or not at all
            Rel::Alias { input, alias } => {
                let u = if used.has(&alias) { Used::All } else { Used::none() };
                Rel::Alias {
                    input: b(input, &u),
                    alias,
                }
            }
            Rel::Join {
                left,
                right,
                kind,
                on,
                filter,
            } => {
                if kind == JoinKind::LeftUnique
                    && filter.is_none()
                    && let Some(q) = right.qualifier()
                    && !used.has(q)
                {
                    return left.prune(used);
                }
                let u = used.with(on.iter().flat_map(|(l, r)| [l, r]).chain(filter.as_ref()));
                Rel::Join {
                    left: b(left, &u),
                    right: b(right, &Used::All),
                    kind,
                    on,
                    filter,
                }
            }
        }
    }

    /// The qualifier of every column of a scan or a model read (None for other relations).
    fn qualifier(&self) -> Option<&str> {
        match self {
            Rel::Scan { alias, .. } | Rel::ModelRef { alias, .. } | Rel::Alias { alias, .. } => Some(alias),
            _ => None,
        }
    }
}

impl Program {
    /// Every source model `m` reads, directly or through the models it reads.
    pub fn sources_read(&self, m: usize, out: &mut std::collections::BTreeSet<usize>) {
        let mut stack = vec![m];
        let mut seen = std::collections::HashSet::new();
        while let Some(m) = stack.pop() {
            if !seen.insert(m) {
                continue;
            }
            let rel = &self.models[m].rel;
            out.extend((0..self.sources.len()).filter(|&s| rel.scans_of(s) > 0));
            rel.model_refs(&mut stack);
        }
    }
}
