//! Stage 2: syntax trees (+ Delta schemas) → checked [`Program`] plus every diagnostic.
//!
//! Invariant: the checker reports all the errors it finds in one pass and never panics;
//! it returns a program only when there is no error. A program it returns lowers and runs
//! without user errors.

use crate::ast::{self, BinOp, Cardinality, Constraint, ExprKind, Lit, StepKind, TypedLitKind};
use crate::codes::Code;
use crate::delta::{TableError, TableInfo};
use crate::diag::{Diagnostic, did_you_mean};
use crate::ir::*;
use crate::load::Workspace;
use crate::parse::Signature;
use crate::span::Span;
use crate::types::{TYPE_NAMES, Type};
use std::collections::{HashMap, HashSet};
use url::Url;

/// What the checker knows of each source's table, in the order of [`sources_of`].
pub type Tables = Vec<Result<TableInfo, TableError>>;

/// Every source declaration of a workspace, in file order.
pub fn sources_of(ws: &Workspace) -> Vec<&ast::Source> {
    ws.files
        .iter()
        .flat_map(|(_, f)| f.items.iter())
        .filter_map(|i| match i {
            ast::Item::Source(s) => Some(s),
            _ => None,
        })
        .collect()
}

pub fn check(ws: &Workspace, tables: &Tables, functions: Vec<Signature>) -> (Option<Program>, Vec<Diagnostic>) {
    let mut c = Checker::new(ws, functions);
    c.run(tables);
    let ok = !c.diags.iter().any(Diagnostic::is_error);
    let program = ok.then(|| Program {
        policy: c.policy.clone(),
        sources: c.sources.iter().map(|s| s.ir.clone()).collect(),
        models: c
            .models
            .iter()
            .map(|m| m.done.clone().unwrap_or_else(empty_model))
            .collect(),
        outputs: c.outputs.clone(),
        functions: c.funcs.clone(),
    });
    (program, c.diags)
}

fn empty_model() -> ModelIr {
    ModelIr {
        name: String::new(),
        rel: Rel::Limit {
            input: Box::new(Rel::Scan {
                source: 0,
                alias: String::new(),
            }),
            n: 0,
        },
        schema: vec![],
        contract: vec![],
        unique_keys: vec![],
        single_row: false,
        key_claims: vec![],
        incremental: None,
        incremental_key: None,
    }
}

struct SrcCol {
    name: String,
    ty: Type,
    nullable: bool,
    unique: bool,
    span: Span,
}

struct SrcInfo<'a> {
    ast: &'a ast::Source,
    name: String,
    cols: Vec<SrcCol>,
    /// Unique column sets: single `key`/`unique` columns and `key (a, b)`.
    keys: Vec<Vec<String>>,
    ir: SourceIr,
    /// Whether the table has its Change Data Feed on (None: the table could not be read).
    change_data_feed: Option<bool>,
}

#[derive(Clone, Copy, PartialEq)]
enum MState {
    Todo,
    InProgress,
    Done,
}

struct ModelSlot<'a> {
    ast: &'a ast::Model,
    name: String,
    state: MState,
    done: Option<ModelIr>,
}

/// A column visible in a step's scope.
#[derive(Clone, Debug)]
struct Col {
    name: String,
    ty: Type,
    nullable: bool,
    qual: Option<String>,
}

/// A join reached through a dotted path, added right after the base scan.
#[derive(Clone, Debug)]
struct PathJoin {
    path: Vec<String>,
    alias: String,
    source: usize,
    on: Vec<(TExpr, TExpr)>,
    /// Rows of the base repeat (a one_to_many hop on the way).
    fans_out: bool,
    /// Rows of this target repeat across the base (a many_to_one hop on the way).
    repeated: bool,
    /// The join declaration of the last hop, for messages.
    join_span: Span,
    /// The last hop is `many_to_one`/`one_to_one`: each row meets at most one target row.
    unique: bool,
}

#[derive(Clone, Debug)]
struct Adhoc {
    name: String,
    alias: String,
    cols: Vec<Col>,
    fans_out: bool,
    repeated: bool,
    span: Span,
}

/// An aggregate call whose grain is checked when its step is complete.
struct PendingAgg {
    func: String,
    /// The alias whose rows an argument-less aggregate (`count()`) counts.
    home: String,
    expr: TExpr,
    span: Span,
}

/// Where a name is looked up.
#[derive(Clone, Debug)]
struct Ctx {
    /// The join path from the model's base source ([] = the base itself).
    path: Vec<String>,
    /// The source at that path, if the relation is still source-shaped.
    source: Option<usize>,
    /// The alias of that source's rows.
    alias: Option<String>,
    /// Look only at the source's declared columns (inside measures and dimensions).
    source_only: bool,
    agg: AggMode,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum AggMode {
    /// Row level: no aggregates.
    Row,
    /// In `aggregate { }` or a measure: aggregates allowed, bare columns not.
    Allowed,
    /// Inside an aggregate function's arguments.
    Inside,
}

enum StepIr {
    Filter(TExpr),
    Project(Vec<(String, TExpr)>),
    Join(Rel, JoinKind, Vec<(TExpr, TExpr)>, Option<TExpr>),
    Aggregate(Vec<(String, TExpr)>, Vec<(String, TExpr)>),
    Sort(Vec<(TExpr, bool)>),
    Limit(usize),
    Distinct,
    Union(Rel),
    /// Keeps every input column and adds these.
    /// New columns, qualified by a fresh alias (so a name a joined table also has stays unambiguous).
    Derive(String, Vec<(String, TExpr)>),
    /// Qualifies every column with a new alias.
    Alias(String),
}

struct ModelBuild {
    cols: Vec<Col>,
    base_source: Option<usize>,
    base_alias: String,
    shaped: bool,
    paths: Vec<PathJoin>,
    adhoc: Vec<Adhoc>,
    steps: Vec<StepIr>,
    next_alias: usize,
    /// measure/dimension names being expanded (cycle guard)
    expanding: Vec<String>,
    pending: Vec<PendingAgg>,
    /// Column sets known to be unique in the current relation.
    unique_keys: Vec<Vec<String>>,
    /// Single-row models joined in (model, alias) while the row shape lasts.
    scalars: Vec<(usize, String)>,
    /// Scalar joins to add before the next step.
    pending_scalars: Vec<(usize, String)>,
    /// The relation has at most one row.
    single_row: bool,
    key_claims: Vec<KeyClaim>,
}

impl ModelBuild {
    fn empty() -> ModelBuild {
        ModelBuild {
            cols: vec![],
            base_source: None,
            base_alias: "t0".into(),
            shaped: false,
            paths: vec![],
            adhoc: vec![],
            steps: vec![],
            next_alias: 0,
            expanding: vec![],
            pending: vec![],
            unique_keys: vec![],
            scalars: vec![],
            pending_scalars: vec![],
            single_row: false,
            key_claims: vec![],
        }
    }

    /// Adds a step; scalar models its expressions referred to are joined in just before.
    fn push_step(&mut self, step: StepIr) {
        for (model, alias) in std::mem::take(&mut self.pending_scalars) {
            let on_true = texpr(TExprKind::Lit(Value::Bool(true)), Type::Bool, false);
            self.steps.push(StepIr::Join(
                Rel::ModelRef { model, alias },
                JoinKind::LeftUnique,
                vec![],
                Some(on_true),
            ));
        }
        self.steps.push(step);
    }

    /// After a step that gives unqualified columns (select, aggregate, distinct, union):
    /// name the relation afresh, so later joins cannot make a name ambiguous.
    fn requalify(&mut self) {
        let alias = self.fresh_alias();
        for c in &mut self.cols {
            c.qual = Some(alias.clone());
        }
        self.steps.push(StepIr::Alias(alias));
    }

    fn fresh_alias(&mut self) -> String {
        self.next_alias += 1;
        format!("t{}", self.next_alias)
    }
}

struct Checker<'a> {
    ws: &'a Workspace,
    diags: Vec<Diagnostic>,
    policy: PolicyIr,
    funcs: Vec<Signature>,
    func_idx: HashMap<String, Vec<usize>>,
    sources: Vec<SrcInfo<'a>>,
    source_idx: HashMap<String, usize>,
    models: Vec<ModelSlot<'a>>,
    model_idx: HashMap<String, usize>,
    outputs: Vec<OutputIr>,
    /// The model being built (None while checking sources).
    cur: Option<ModelBuild>,
}

fn ty_err() -> TExpr {
    TExpr::error()
}

fn texpr(kind: TExprKind, ty: Type, nullable: bool) -> TExpr {
    TExpr { kind, ty, nullable }
}

impl<'a> Checker<'a> {
    fn new(ws: &'a Workspace, funcs: Vec<Signature>) -> Self {
        let mut func_idx: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, f) in funcs.iter().enumerate() {
            func_idx.entry(f.name.clone()).or_default().push(i);
        }
        Checker {
            ws,
            diags: vec![],
            // without a policy: lower-case identifiers, not strict
            policy: PolicyIr {
                lower_identifiers: true,
                strict: false,
                ..Default::default()
            },
            funcs,
            func_idx,
            sources: vec![],
            source_idx: HashMap::new(),
            models: vec![],
            model_idx: HashMap::new(),
            outputs: vec![],
            cur: None,
        }
    }

    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn norm(&self, i: &ast::Ident) -> String {
        if i.quoted || !self.policy.lower_identifiers {
            i.text.clone()
        } else {
            i.text.to_lowercase()
        }
    }

    fn run(&mut self, tables: &Tables) {
        let items: Vec<&'a ast::Item> = self.ws.files.iter().flat_map(|(_, f)| f.items.iter()).collect();
        // policy first: it decides how names read
        let policies: Vec<&ast::Policy> = items
            .iter()
            .filter_map(|i| if let ast::Item::Policy(p) = i { Some(p) } else { None })
            .collect();
        if let Some(first) = policies.first() {
            self.policy(first);
            for p in &policies[1..] {
                self.err(
                    Diagnostic::error(Code::E0107, p.span, "a workspace has at most one policy")
                        .label("second policy")
                        .with(first.span, "first policy here")
                        .help("merge the settings into one `policy { }` block"),
                );
            }
        }
        // names
        let mut seen: HashMap<String, Span> = HashMap::new();
        let srcs = sources_of(self.ws);
        for (i, s) in srcs.iter().enumerate() {
            let name = self.norm(&s.name);
            if self.dup_check(&mut seen, &name, s.name.span, "source or model") {
                continue;
            }
            let table = tables.get(i);
            self.source(s, table);
        }
        for it in &items {
            if let ast::Item::Model(m) = it {
                let name = self.norm(&m.name);
                if self.dup_check(&mut seen, &name, m.name.span, "source or model") {
                    continue;
                }
                self.model_idx.insert(name.clone(), self.models.len());
                self.models.push(ModelSlot {
                    ast: m,
                    name,
                    state: MState::Todo,
                    done: None,
                });
            }
        }
        for i in 0..self.sources.len() {
            self.source_members(i);
        }
        for i in 0..self.models.len() {
            self.model(i);
        }
        let mut locations: HashMap<String, Span> = HashMap::new();
        for it in &items {
            if let ast::Item::Output(o) = it {
                self.output(o, &mut locations);
            }
        }
    }

    /// Records a name; reports and returns true if it was already declared.
    fn dup_check(&mut self, seen: &mut HashMap<String, Span>, name: &str, span: Span, what: &str) -> bool {
        if let Some(prev) = seen.get(name) {
            let prev = *prev;
            self.err(
                Diagnostic::error(Code::E0101, span, format!("`{name}` is declared twice"))
                    .label("declared again here")
                    .with(prev, "first declared here")
                    .help(format!("each {what} needs a name of its own")),
            );
            return true;
        }
        seen.insert(name.to_string(), span);
        false
    }

    // ------------------------------------------------------------ policy

    fn policy(&mut self, p: &ast::Policy) {
        let mut seen = HashMap::new();
        for e in &p.entries {
            let key = e.key.text.as_str();
            if self.dup_check(&mut seen, key, e.key.span, "policy setting") {
                continue;
            }
            let bad = |msg: &str| Diagnostic::error(Code::E0107, e.span, msg.to_string()).label("here");
            match (key, &e.value) {
                ("identifiers", ast::PolicyValue::Name(n)) if n.text == "lower" || n.text == "exact" => {
                    self.policy.lower_identifiers = n.text == "lower";
                }
                ("identifiers", _) => self.err(
                    bad("`identifiers` is `lower` or `exact`")
                        .help("write `identifiers = lower` or `identifiers = exact`"),
                ),
                ("strict", ast::PolicyValue::Bool(b)) => self.policy.strict = *b,
                ("strict", _) => self.err(bad("`strict` is `true` or `false`").help("write `strict = true`")),
                ("allow", ast::PolicyValue::List(items)) => {
                    const STEPS: &[&str] = &[
                        "where",
                        "select",
                        "derive",
                        "join",
                        "aggregate",
                        "sort",
                        "limit",
                        "distinct",
                        "union",
                    ];
                    let mut allow = vec![];
                    for it in items {
                        match &it.kind {
                            ExprKind::Path(parts) if parts.len() == 1 && STEPS.contains(&parts[0].text.as_str()) => {
                                allow.push(parts[0].text.clone())
                            }
                            _ => {
                                let text = self.ws.map.text(it.span).to_string();
                                let mut d = Diagnostic::error(Code::E0107, it.span, format!("`{text}` is not a step"))
                                    .label("unknown step");
                                d = d.help(
                                    did_you_mean(&text, STEPS.iter().copied())
                                        .unwrap_or_else(|| format!("steps are {}", STEPS.join(", "))),
                                );
                                self.err(d);
                            }
                        }
                    }
                    self.policy.allow = Some(allow);
                }
                ("allow", _) => {
                    self.err(bad("`allow` is a list of steps").help("write `allow = [where, select, aggregate]`"))
                }
                ("max_reader_version", ast::PolicyValue::Int(v)) => self.policy.max_reader_version = Some(*v),
                ("max_writer_version", ast::PolicyValue::Int(v)) => self.policy.max_writer_version = Some(*v),
                ("max_reader_version" | "max_writer_version", _) => {
                    self.err(bad("the version is an integer").help("write e.g. `max_reader_version = 3`"))
                }
                _ => {
                    const KEYS: &[&str] = &[
                        "identifiers",
                        "strict",
                        "allow",
                        "max_reader_version",
                        "max_writer_version",
                    ];
                    let d = Diagnostic::error(Code::E0107, e.key.span, format!("unknown policy setting `{key}`"))
                        .label("unknown setting");
                    let h = did_you_mean(key, KEYS.iter().copied())
                        .unwrap_or_else(|| format!("settings are {}", KEYS.join(", ")));
                    self.err(d.help(h));
                }
            }
        }
    }

    // ------------------------------------------------------------ types

    fn type_of(&mut self, t: &ast::TypeExpr) -> Option<Type> {
        match t {
            ast::TypeExpr::Decimal(p, s, span) => {
                if *p < 1 || *p > 38 || *s < 0 || s > p {
                    self.err(
                        Diagnostic::error(
                            Code::E0105,
                            *span,
                            format!("decimal({p}, {s}) is not a valid decimal type"),
                        )
                        .label("invalid precision or scale")
                        .help("precision is 1 to 38 and scale is 0 to the precision"),
                    );
                    return None;
                }
                Some(Type::Decimal(*p as u8, *s as i8))
            }
            ast::TypeExpr::Named(n) => {
                let t = Type::from_name(&n.text.to_lowercase());
                if t.is_none() {
                    let mut d = Diagnostic::error(Code::E0105, n.span, format!("unknown type `{}`", n.text))
                        .label("not a type");
                    d = d.help(match n.text.as_str() {
                        "decimal" => "decimal takes a precision and a scale: `decimal(15, 2)`".into(),
                        "int" | "integer" | "bigint" | "long" => "integer types are `int32` and `int64`".into(),
                        "double" | "float" | "real" => "the floating-point type is `float64`".into(),
                        "text" | "varchar" | "str" => "the text type is `string`".into(),
                        other => did_you_mean(other, TYPE_NAMES.iter().copied())
                            .unwrap_or_else(|| format!("types are {}", TYPE_NAMES.join(", "))),
                    });
                    self.err(d);
                }
                t
            }
        }
    }

    // ------------------------------------------------------------ sources

    fn source(&mut self, s: &'a ast::Source, table: Option<&Result<TableInfo, TableError>>) {
        let name = self.norm(&s.name);
        let mut cols: Vec<SrcCol> = vec![];
        let mut members: HashMap<String, Span> = HashMap::new();
        let mut lower_names: HashMap<String, Span> = HashMap::new();
        for c in &s.columns {
            let cname = self.norm(&c.name);
            if self.dup_check(
                &mut members,
                &cname,
                c.name.span,
                "column, join, measure or dimension of a source",
            ) {
                continue;
            }
            if let Some(prev) = lower_names.insert(cname.to_lowercase(), c.name.span) {
                self.err(
                    Diagnostic::error(
                        Code::E0110,
                        c.name.span,
                        format!("`{cname}` differs from another column only by case"),
                    )
                    .label("this column")
                    .with(prev, "and this one")
                    .help("rename one of them; names that differ only by case cannot be told apart safely"),
                );
            }
            let ty = self.type_of(&c.ty);
            let mut nullable = true;
            let mut unique = false;
            for k in &c.constraints {
                match k {
                    Constraint::Key(_) => {
                        nullable = false;
                        unique = true;
                    }
                    Constraint::Unique(_) => unique = true,
                    Constraint::NotNull(_) => nullable = false,
                    Constraint::Check(..) => {}
                }
            }
            cols.push(SrcCol {
                name: cname,
                ty: ty.unwrap_or(Type::Null),
                nullable,
                unique,
                span: c.name.span,
            });
        }
        let (options, file_col) = self.scan_options(s, &cols, table.and_then(|t| t.as_ref().ok()));
        // the table
        let mut constraints = vec![];
        let (url, version) = match table {
            Some(Ok(info)) => {
                for (c, span) in self.compare_with_table(s, &cols, info) {
                    constraints.push(SourceConstraint {
                        kind: SourceConstraintKind::NotNull(c),
                        span,
                    });
                }
                (info.url.clone(), info.version)
            }
            Some(Err(e)) => {
                let (code, help) = match e {
                    TableError::NotFound(_) => (
                        Code::E0301,
                        "check the path: relative paths start at the workspace root (the entry file's folder)",
                    ),
                    TableError::Unreadable(_) => (
                        Code::E0302,
                        "the Delta log is corrupt or unreadable; check `_delta_log` at this location",
                    ),
                    TableError::VersionNotAvailable(_) => (
                        Code::E0305,
                        "pin a version the log still holds, or remove the pin to read the latest",
                    ),
                    TableError::BadLocation(_) => (
                        Code::E0306,
                        "write a path relative to the workspace root, or a URI such as file:///data/t",
                    ),
                    TableError::Unsupported(_) => (
                        Code::E0308,
                        "the table's protocol requires a feature the Delta reader does not support; rewrite the table without it",
                    ),
                };
                let span = match (&s.pin, code) {
                    (Some(ast::Pin::Version(_, sp) | ast::Pin::Timestamp(_, sp)), Code::E0305) => *sp,
                    _ => s.location_span,
                };
                self.err(
                    Diagnostic::error(code, span, format!("source `{name}`: {}", e.message()))
                        .label("this table")
                        .help(help),
                );
                (Url::parse("file:///").expect("static URL"), 0)
            }
            None => (Url::parse("file:///").expect("static URL"), 0),
        };
        if let Some(fc) = file_col {
            cols.push(fc);
        }
        let mut ir = SourceIr {
            name: name.clone(),
            url,
            version,
            options,
            columns: cols
                .iter()
                .map(|c| Field {
                    name: c.name.clone(),
                    ty: c.ty,
                    nullable: c.nullable,
                })
                .collect(),
            constraints: vec![],
        };
        let mut keys: Vec<Vec<String>> = cols.iter().filter(|c| c.unique).map(|c| vec![c.name.clone()]).collect();
        for c in cols.iter().filter(|c| c.unique) {
            constraints.push(SourceConstraint {
                kind: SourceConstraintKind::Unique(vec![c.name.clone()]),
                span: c.span,
            });
        }
        for k in &s.keys {
            let mut set = vec![];
            for id in k {
                let n = self.norm(id);
                if !cols.iter().any(|c| c.name == n) {
                    let cands: Vec<String> = cols.iter().map(|c| c.name.clone()).collect();
                    self.unknown_col(id.span, &n, &cands, &name);
                }
                set.push(n);
            }
            if let (Some(first), Some(last)) = (k.first(), k.last()) {
                constraints.push(SourceConstraint {
                    kind: SourceConstraintKind::Unique(set.clone()),
                    span: first.span.to(last.span),
                });
            }
            keys.push(set);
        }
        ir.constraints = constraints;
        let idx = self.sources.len();
        self.source_idx.insert(name.clone(), idx);
        self.sources.push(SrcInfo {
            ast: s,
            name,
            cols,
            keys,
            ir,
            change_data_feed: table.and_then(|t| t.as_ref().ok()).map(|t| t.change_data_feed),
        });
        // joins, measures, dimensions, checks are checked once every source is known
        let _ = members;
    }

    /// The protocol gate: reader features semc cannot honour are errors under `strict`;
    /// the policy's max versions bound what a table may require.
    fn protocol_gate(&mut self, s: &ast::Source, info: &TableInfo) {
        const SUPPORTED: &[&str] = &[
            "columnMapping",
            "deletionVectors",
            "timestampNtz",
            "v2Checkpoint",
            "vacuumProtocolCheck",
        ];
        let p = &info.protocol;
        let get = |a: &str, b: &str| p.get(a).or_else(|| p.get(b)).and_then(|v| v.as_i64());
        let reader = get("minReaderVersion", "min_reader_version").unwrap_or(1);
        let writer = get("minWriterVersion", "min_writer_version").unwrap_or(1);
        let features: Vec<String> = p
            .get("readerFeatures")
            .or_else(|| p.get("reader_features"))
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
            .unwrap_or_default();
        let name = self.norm(&s.name);
        if let Some(max) = self.policy.max_reader_version
            && reader > max
        {
            self.err(
                Diagnostic::error(
                    Code::E0308,
                    s.location_span,
                    format!("table of `{name}` needs reader version {reader}; the policy allows {max}"),
                )
                .label("reader version too high")
                .help("raise `max_reader_version` in the policy, or read another table"),
            );
        }
        if let Some(max) = self.policy.max_writer_version
            && writer > max
        {
            self.err(
                Diagnostic::error(
                    Code::E0308,
                    s.location_span,
                    format!("table of `{name}` needs writer version {writer}; the policy allows {max}"),
                )
                .label("writer version too high")
                .help("raise `max_writer_version` in the policy, or read another table"),
            );
        }
        if self.policy.strict {
            for f in features.iter().filter(|f| !SUPPORTED.contains(&f.as_str())) {
                self.err(
                    Diagnostic::error(
                        Code::E0308,
                        s.location_span,
                        format!("table of `{name}` uses reader feature `{f}`, which semc cannot read faithfully"),
                    )
                    .label("unsupported table feature")
                    .help(format!(
                        "supported reader features: {}; set `strict = false` in the policy to read it anyway",
                        SUPPORTED.join(", ")
                    )),
                );
            }
        }
    }

    /// `scan { … }`: checked options, and the file column they add (if any).
    fn scan_options(
        &mut self,
        s: &ast::Source,
        cols: &[SrcCol],
        info: Option<&TableInfo>,
    ) -> (crate::delta::ScanOptions, Option<SrcCol>) {
        let mut o = crate::delta::ScanOptions::default();
        let mut file_col = None;
        let mut seen = HashMap::new();
        for e in &s.scan {
            if self.dup_check(&mut seen, &e.key.text, e.key.span, "scan option") {
                continue;
            }
            let bad = |msg: String, help: &str| {
                Diagnostic::error(Code::E0218, e.span, msg)
                    .label("here")
                    .help(help.to_string())
            };
            match (e.key.text.as_str(), &e.value) {
                ("file_column", ast::PolicyValue::Str(n)) if !n.is_empty() => {
                    if cols.iter().any(|c| c.name == *n) || info.is_some_and(|i| i.columns.iter().any(|c| c.name == *n))
                    {
                        self.err(bad(
                            format!("the table already has a column `{n}`"),
                            "choose another name for the file column",
                        ));
                        continue;
                    }
                    o.file_column = Some(n.clone());
                    file_col = Some(SrcCol {
                        name: n.clone(),
                        ty: Type::String,
                        nullable: false,
                        unique: false,
                        span: e.span,
                    });
                }
                ("file_column", _) => self.err(bad(
                    "`file_column` is a column name in quotes".into(),
                    "write `file_column = \"_file\"`",
                )),
                ("pushdown", ast::PolicyValue::Bool(b)) => o.pushdown = Some(*b),
                ("pushdown", _) => self.err(bad("`pushdown` is `true` or `false`".into(), "write `pushdown = true`")),
                ("files", ast::PolicyValue::List(items)) => {
                    for it in items {
                        match &it.kind {
                            ExprKind::Lit(Lit::Str(f)) => {
                                if let Some(info) = info
                                    && !info.files.iter().any(|x| x == f)
                                {
                                    let help =
                                        did_you_mean(f, info.files.iter().map(String::as_str)).unwrap_or_else(|| {
                                            format!(
                                                "the snapshot at version {} has {} file(s)",
                                                info.version,
                                                info.files.len()
                                            )
                                        });
                                    self.err(
                                        Diagnostic::error(
                                            Code::E0218,
                                            it.span,
                                            format!("`{f}` is not a file of the snapshot at version {}", info.version),
                                        )
                                        .label("not in the snapshot")
                                        .help(help),
                                    );
                                }
                                o.files.push(f.clone());
                            }
                            _ => self.err(
                                Diagnostic::error(Code::E0218, it.span, "a file is a path in quotes")
                                    .label("not a string")
                                    .help("write `files = [\"part-00000-….parquet\"]`"),
                            ),
                        }
                    }
                }
                ("files", _) => self.err(bad(
                    "`files` is a list of paths".into(),
                    "write `files = [\"part-00000-….parquet\"]`",
                )),
                (k, _) => {
                    const KEYS: &[&str] = &["file_column", "pushdown", "files"];
                    let h = did_you_mean(k, KEYS.iter().copied())
                        .unwrap_or_else(|| format!("scan options are {}", KEYS.join(", ")));
                    self.err(
                        Diagnostic::error(Code::E0218, e.key.span, format!("unknown scan option `{k}`"))
                            .label("unknown option")
                            .help(h),
                    );
                }
            }
        }
        (o, file_col)
    }

    /// Compares the declared columns with the table's; gives the columns declared `not null`
    /// (or `key`) that the table allows nulls in.
    fn compare_with_table(&mut self, s: &ast::Source, cols: &[SrcCol], info: &TableInfo) -> Vec<(String, Span)> {
        self.protocol_gate(s, info);
        let mut unguaranteed = vec![];
        for c in cols {
            if let Some(t) = info.columns.iter().find(|t| t.name == c.name)
                && t.nullable
                && !c.nullable
            {
                unguaranteed.push((c.name.clone(), c.span));
                let help = if self.policy.strict {
                    "`strict = true`: semc verifies it on the snapshot before each run commits"
                } else {
                    "semc trusts the declaration; `strict = true` in the policy verifies it on the data at each run"
                };
                self.err(
                    Diagnostic::warning(
                        Code::E0307,
                        c.span,
                        format!("column `{}` is declared not null; the table allows nulls in it", c.name),
                    )
                    .label("not guaranteed by the table")
                    .help(help),
                );
            }
            match info.columns.iter().find(|t| t.name == c.name) {
                None => {
                    let mut d = Diagnostic::error(
                        Code::E0303,
                        c.span,
                        format!("column `{}` is not in the table at version {}", c.name, info.version),
                    )
                    .label("not in the table")
                    .with(s.location_span, "this table");
                    let ci = info.columns.iter().find(|t| t.name.eq_ignore_ascii_case(&c.name));
                    d = d.help(match ci {
                        Some(t) => format!(
                            "the table has `{}`; quote the name to keep its case: `{}`",
                            t.name,
                            format_args!("`{}`", t.name)
                        ),
                        None => {
                            did_you_mean(&c.name, info.columns.iter().map(|t| t.name.as_str())).unwrap_or_else(|| {
                                format!(
                                    "the table's columns are {}",
                                    info.columns
                                        .iter()
                                        .map(|t| t.name.as_str())
                                        .take(12)
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            })
                        }
                    });
                    self.err(d);
                }
                Some(t) => match t.ty {
                    // a declaration may widen the table's type without loss (the scan casts)
                    Some(tt) if tt == c.ty || c.ty == Type::Null || tt.widens_to(c.ty) => {}
                    _ => {
                        let decl = s
                            .columns
                            .iter()
                            .find(|d| d.name.span == c.span)
                            .map(|d| d.ty.span())
                            .unwrap_or(c.span);
                        let table_ty =
                            t.ty.map(|x| x.to_string())
                                .unwrap_or_else(|| format!("{} (no .sem type)", t.delta_type));
                        self.err(
                            Diagnostic::error(
                                Code::E0304,
                                decl,
                                format!("column `{}` is {} in the table, declared {}", c.name, table_ty, c.ty),
                            )
                            .label(format!("the table has {table_ty}"))
                            .help(match t.ty {
                                Some(tt) => format!("declare it as `{tt}`, or cast it in a model"),
                                None => {
                                    "this column's type cannot be read by semc; leave it out of the declaration".into()
                                }
                            }),
                        );
                    }
                },
            }
        }
        unguaranteed
    }

    /// Joins, measures, dimensions and checks of every source (after all sources are known).
    fn source_members(&mut self, i: usize) {
        let s = self.sources[i].ast;
        let mut names: HashMap<String, Span> = self.sources[i].cols.iter().map(|c| (c.name.clone(), c.span)).collect();
        for j in &s.joins {
            let jn = self.norm(j.name());
            self.dup_check(
                &mut names,
                &jn,
                j.name().span,
                "column, join, measure or dimension of a source",
            );
            self.declared_join(i, j);
        }
        for m in s.measures.iter().chain(&s.dimensions) {
            let n = self.norm(&m.name);
            self.dup_check(
                &mut names,
                &n,
                m.name.span,
                "column, join, measure or dimension of a source",
            );
        }
        // checks and members are validated in a scope made of the source alone
        let saved = self.cur.take();
        self.cur = Some(ModelBuild {
            cols: self.sources[i]
                .cols
                .iter()
                .map(|c| Col {
                    name: c.name.clone(),
                    ty: c.ty,
                    nullable: c.nullable,
                    qual: Some("t0".into()),
                })
                .collect(),
            base_source: Some(i),
            shaped: true,
            ..ModelBuild::empty()
        });
        let row = Ctx {
            path: vec![],
            source: Some(i),
            alias: Some("t0".into()),
            source_only: true,
            agg: AggMode::Row,
        };
        for c in &s.columns {
            for k in &c.constraints {
                if let Constraint::Check(e, _) = k {
                    let t = self.expr(e, &row);
                    self.want_bool(&t, e.span, "a check");
                    if !t.is_error() && t.ty == Type::Bool {
                        self.sources[i].ir.constraints.push(SourceConstraint {
                            kind: SourceConstraintKind::Check(t),
                            span: e.span,
                        });
                    }
                }
            }
        }
        for m in &s.measures {
            if !self.mentions_aggregate(&m.expr, s) {
                self.err(
                    Diagnostic::error(
                        Code::E0213,
                        m.expr.span,
                        format!("measure `{}` does not aggregate", m.name.text),
                    )
                    .label("a row-level expression")
                    .help("a measure aggregates rows, e.g. `sum(x)`; a per-row expression is a `dimension`"),
                );
                continue;
            }
            let t = self.expr(
                &m.expr,
                &Ctx {
                    agg: AggMode::Allowed,
                    ..row.clone()
                },
            );
            if !t.is_error() && !t.contains_agg() {
                self.err(
                    Diagnostic::error(
                        Code::E0213,
                        m.expr.span,
                        format!("measure `{}` does not aggregate", m.name.text),
                    )
                    .label("a row-level expression")
                    .help("a measure aggregates rows, e.g. `sum(x)`; a per-row expression is a `dimension`"),
                );
            }
        }
        for d in &s.dimensions {
            self.expr(&d.expr, &row);
        }
        self.cur = saved;
    }

    /// Does the expression call an aggregate or name a measure (syntactically)?
    fn mentions_aggregate(&self, e: &ast::Expr, s: &ast::Source) -> bool {
        let mut found = false;
        let mut stack = vec![e];
        while let Some(x) = stack.pop() {
            match &x.kind {
                ExprKind::Call(n, args) => {
                    let n = n.text.to_lowercase();
                    found |= self
                        .func_idx
                        .get(&n)
                        .is_some_and(|c| c.iter().any(|&i| self.funcs[i].aggregate));
                    stack.extend(args);
                }
                ExprKind::Path(p) => {
                    found |= p.len() > 1
                        || s.measures
                            .iter()
                            .any(|m| p.len() == 1 && self.norm(&m.name) == self.norm(&p[0]))
                }
                ExprKind::Binary(_, a, b) | ExprKind::Like(a, b, _) => stack.extend([a.as_ref(), b.as_ref()]),
                ExprKind::Not(a) | ExprKind::Neg(a) | ExprKind::IsNull(a, _) | ExprKind::Cast(a, _) => stack.push(a),
                ExprKind::Between(a, b, c, _) => stack.extend([a.as_ref(), b.as_ref(), c.as_ref()]),
                ExprKind::InList(a, l, _) => {
                    stack.push(a);
                    stack.extend(l);
                }
                ExprKind::List(l) => stack.extend(l),
                ExprKind::Case(arms, o) => {
                    for (c, v) in arms {
                        stack.extend([c, v]);
                    }
                    if let Some(o) = o {
                        stack.push(o);
                    }
                }
                ExprKind::Lit(_) | ExprKind::Error => {}
            }
        }
        found
    }

    fn declared_join(&mut self, i: usize, j: &ast::JoinDecl) {
        let target_name = self.norm(&j.target);
        let Some(&t) = self.source_idx.get(&target_name) else {
            let mut d = Diagnostic::error(Code::E0103, j.target.span, format!("unknown source `{target_name}`"))
                .label("no such source");
            let models_hint = self.model_idx.contains_key(&target_name);
            d = d.help(if models_hint {
                "a source declares joins to sources; join a model with a `join` step inside a model".to_string()
            } else {
                did_you_mean(&target_name, self.source_idx.keys().map(String::as_str))
                    .unwrap_or_else(|| "declare the source, or import the file that does".into())
            });
            self.err(d);
            return;
        };
        let jn = self.norm(j.name());
        for (a, b) in &j.on {
            let (l, r) = self.key_sides(a, b, &jn, &target_name);
            let (Some(l), Some(r)) = (l, r) else { continue };
            let lc = self.source_col(i, l);
            let rc = self.source_col(t, r);
            match (lc, rc) {
                (None, _) => {
                    let cands: Vec<String> = self.sources[i].cols.iter().map(|c| c.name.clone()).collect();
                    let name = self.norm(l);
                    self.unknown_col(l.span, &name, &cands, &self.sources[i].name.clone());
                }
                (_, None) => {
                    let cands: Vec<String> = self.sources[t].cols.iter().map(|c| c.name.clone()).collect();
                    let name = self.norm(r);
                    self.unknown_col(r.span, &name, &cands, &target_name);
                }
                (Some((lt, _)), Some((rt, _))) => {
                    if Type::unify(lt, rt, false, false).is_none() || lt.family() != rt.family() {
                        self.err(
                            Diagnostic::error(
                                Code::E0204,
                                a.span.to(b.span),
                                format!("join keys have different types: {lt} and {rt}"),
                            )
                            .label("compared here")
                            .with(a.span, format!("{lt}"))
                            .with(b.span, format!("{rt}"))
                            .help("join keys must have the same type family; cast one side in a model"),
                        );
                    }
                }
            }
        }
        if matches!(j.cardinality, Cardinality::ManyToOne | Cardinality::OneToOne) {
            let target_cols: Vec<String> =
                j.on.iter()
                    .filter_map(|(a, b)| self.key_sides_quiet(a, b, &jn, &target_name).1.map(|r| self.norm(r)))
                    .collect();
            let target_unique = self.sources[t]
                .keys
                .iter()
                .any(|k| !k.is_empty() && k.iter().all(|c| target_cols.contains(c)));
            let all_resolved = j.on.iter().all(|(a, b)| {
                let (l, r) = self.key_sides_quiet(a, b, &jn, &target_name);
                l.and_then(|l| self.source_col(i, l)).is_some() && r.and_then(|r| self.source_col(t, r)).is_some()
            });
            if all_resolved && !target_unique && !j.on.is_empty() {
                self.err(
                    Diagnostic::error(
                        Code::E0205,
                        j.cardinality_span,
                        format!(
                            "`{}` join to `{target_name}` on columns that are not unique there",
                            j.cardinality.as_str()
                        ),
                    )
                    .label(format!("{} needs a unique target", j.cardinality.as_str()))
                    .with(j.on[0].1.span, "not declared `key` or `unique`")
                    .help(format!(
                        "declare the target column `key` or `unique` in `{target_name}`, or make the join `one_to_many`"
                    )),
                );
            }
        }
    }

    /// Splits a key pair into (this side's column, target side's column).
    fn key_sides<'e>(
        &mut self,
        a: &'e ast::Expr,
        b: &'e ast::Expr,
        join_name: &str,
        target: &str,
    ) -> (Option<&'e ast::Ident>, Option<&'e ast::Ident>) {
        let r = self.key_sides_quiet(a, b, join_name, target);
        if r.0.is_none() || r.1.is_none() {
            self.err(
                Diagnostic::error(
                    Code::E0214,
                    a.span.to(b.span),
                    "a join key pair compares a column of this source with a column of the target",
                )
                .label("cannot tell which side is the target")
                .help(format!("write `column = {join_name}.column`")),
            );
        }
        r
    }

    fn key_sides_quiet<'e>(
        &self,
        a: &'e ast::Expr,
        b: &'e ast::Expr,
        join_name: &str,
        target: &str,
    ) -> (Option<&'e ast::Ident>, Option<&'e ast::Ident>) {
        let parts = |e: &'e ast::Expr| match &e.kind {
            ExprKind::Path(p) => Some(p),
            _ => None,
        };
        let (Some(pa), Some(pb)) = (parts(a), parts(b)) else {
            return (None, None);
        };
        let is_target =
            |p: &[ast::Ident]| p.len() == 2 && (self.norm(&p[0]) == join_name || self.norm(&p[0]) == target);
        if pa.len() == 1 && is_target(pb) {
            (Some(&pa[0]), Some(&pb[1]))
        } else if pb.len() == 1 && is_target(pa) {
            (Some(&pb[0]), Some(&pa[1]))
        } else {
            (None, None)
        }
    }

    fn source_col(&self, i: usize, id: &ast::Ident) -> Option<(Type, bool)> {
        let n = self.norm(id);
        self.sources[i]
            .cols
            .iter()
            .find(|c| c.name == n)
            .map(|c| (c.ty, c.unique))
    }

    fn unknown_col(&mut self, span: Span, name: &str, candidates: &[String], rel: &str) {
        let mut d =
            Diagnostic::error(Code::E0102, span, format!("unknown column `{name}` in `{rel}`")).label("not found");
        let h = did_you_mean(name, candidates.iter().map(String::as_str)).unwrap_or_else(|| {
            if candidates.is_empty() {
                format!("`{rel}` has no columns here")
            } else {
                format!(
                    "columns here: {}",
                    candidates.iter().take(12).cloned().collect::<Vec<_>>().join(", ")
                )
            }
        });
        d = d.help(h);
        self.err(d);
    }

    // ------------------------------------------------------------ models

    fn model(&mut self, i: usize) {
        match self.models[i].state {
            MState::Done | MState::InProgress => return,
            MState::Todo => {}
        }
        self.models[i].state = MState::InProgress;
        let m = self.models[i].ast;
        let saved = self.cur.take();
        let built = self.build_model(m);
        self.cur = saved;
        self.models[i].done = built;
        self.models[i].state = MState::Done;
    }
}

impl<'a> Checker<'a> {
    fn mb(&mut self) -> &mut ModelBuild {
        // only called while a model (or a source's members) is being checked; a fresh
        // build keeps any other caller safe
        self.cur.get_or_insert_with(ModelBuild::empty)
    }

    /// Makes sure model `mi` is checked; reports a cycle if it is being checked right now.
    fn model_dep(&mut self, mi: usize, span: Span) -> Option<ModelIr> {
        if self.models[mi].state == MState::InProgress {
            let name = self.models[mi].name.clone();
            self.err(
                Diagnostic::error(Code::E0112, span, format!("model `{name}` depends on itself"))
                    .label("this reference closes the cycle")
                    .with(self.models[mi].ast.name.span, "declared here")
                    .help("models form a graph without cycles: read from a source or an earlier model"),
            );
            return None;
        }
        self.model(mi);
        self.models[mi].done.clone()
    }

    /// A relation named in `from`, `join` or `union`: (rel, columns, source index if a source, unique keys).
    fn relation(&mut self, id: &ast::Ident, alias: &str) -> Option<(Rel, Vec<Col>, Option<usize>, Vec<Vec<String>>)> {
        let n = self.norm(id);
        if let Some(&si) = self.source_idx.get(&n) {
            let s = &self.sources[si];
            let cols = s
                .cols
                .iter()
                .map(|c| Col {
                    name: c.name.clone(),
                    ty: c.ty,
                    nullable: c.nullable,
                    qual: Some(alias.into()),
                })
                .collect();
            let keys = s.keys.clone();
            return Some((
                Rel::Scan {
                    source: si,
                    alias: alias.into(),
                },
                cols,
                Some(si),
                keys,
            ));
        }
        if let Some(&mi) = self.model_idx.get(&n) {
            let m = self.model_dep(mi, id.span)?;
            let cols = m
                .schema
                .iter()
                .map(|f| Col {
                    name: f.name.clone(),
                    ty: f.ty,
                    nullable: f.nullable,
                    qual: Some(alias.into()),
                })
                .collect();
            return Some((
                Rel::ModelRef {
                    model: mi,
                    alias: alias.into(),
                },
                cols,
                None,
                m.unique_keys.clone(),
            ));
        }
        let names: Vec<&str> = self
            .source_idx
            .keys()
            .chain(self.model_idx.keys())
            .map(String::as_str)
            .collect();
        let help = did_you_mean(&n, names).unwrap_or_else(|| "declare it, or import the file that does".into());
        self.err(
            Diagnostic::error(Code::E0103, id.span, format!("unknown source or model `{n}`"))
                .label("not declared")
                .help(help),
        );
        None
    }

    fn build_model(&mut self, m: &'a ast::Model) -> Option<ModelIr> {
        let errors_before = self.diags.len();
        let name = self.norm(&m.name);
        let (base, cols, base_source, keys) = self.relation(&m.from, "t0")?;
        let single_row = self
            .model_idx
            .get(&self.norm(&m.from))
            .and_then(|&i| self.models[i].done.as_ref())
            .is_some_and(|m| m.single_row);
        self.cur = Some(ModelBuild {
            cols,
            base_source,
            shaped: base_source.is_some(),
            unique_keys: keys,
            single_row,
            ..ModelBuild::empty()
        });
        for step in &m.steps {
            if let Some(allow) = &self.policy.allow {
                let kw = step.kind.keyword();
                if !allow.iter().any(|a| a == kw) {
                    self.err(
                        Diagnostic::error(
                            Code::E0108,
                            step.keyword_span,
                            format!("the policy does not allow `{kw}`"),
                        )
                        .label("not in the policy's `allow` list")
                        .help(format!(
                            "add `{kw}` to `allow` in the policy, or express the model without it"
                        )),
                    );
                    continue;
                }
            }
            self.step(step);
        }
        // contract
        let mut contract = vec![];
        if let Some(c) = &m.contract {
            contract = self.contract(&name, m, c);
        }
        // (an error node also has no type: only report when this model had no other error)
        let had_errors = self.diags[errors_before..].iter().any(Diagnostic::is_error);
        for c in self.mb().cols.clone() {
            if c.ty == Type::Null && !had_errors {
                self.err(
                    Diagnostic::error(
                        Code::E0220,
                        m.name.span,
                        format!("column `{}` of model `{name}` is always null and has no type", c.name),
                    )
                    .label("this model")
                    .help(format!("give it a type: `{} = cast(null as string)`", c.name)),
                );
            }
        }
        let mb = self.cur.take()?;
        let schema: Vec<Field> = mb
            .cols
            .iter()
            .map(|c| Field {
                name: c.name.clone(),
                ty: c.ty,
                nullable: c.nullable,
            })
            .collect();
        // assemble: base, path joins, steps, final projection to the visible columns
        let mut rel = base;
        for p in join_order(&mb.paths, &mb.steps) {
            let right = Rel::Scan {
                source: p.source,
                alias: p.alias.clone(),
            };
            rel = Rel::Join {
                left: Box::new(rel),
                right: Box::new(right),
                kind: if p.unique { JoinKind::LeftUnique } else { JoinKind::Left },
                on: p.on.clone(),
                filter: None,
            };
        }
        for s in mb.steps {
            let input = Box::new(rel);
            rel = match s {
                StepIr::Filter(p) => Rel::Filter { input, predicate: p },
                StepIr::Project(e) => Rel::Project { input, exprs: e },
                StepIr::Derive(alias, e) => Rel::Derive { input, alias, exprs: e },
                StepIr::Alias(alias) => Rel::Alias { input, alias },
                StepIr::Join(right, kind, on, filter) => Rel::Join {
                    left: input,
                    right: Box::new(right),
                    kind,
                    on,
                    filter,
                },
                StepIr::Aggregate(g, a) => Rel::Aggregate {
                    input,
                    groups: g,
                    aggs: a,
                },
                StepIr::Sort(k) => Rel::Sort { input, keys: k },
                StepIr::Limit(n) => Rel::Limit { input, n },
                StepIr::Distinct => Rel::Distinct { input },
                StepIr::Union(r) => Rel::Union {
                    left: input,
                    right: Box::new(r),
                },
            };
        }
        let exprs = mb
            .cols
            .iter()
            .map(|c| {
                let target = contract
                    .iter()
                    .find(|k: &&ContractColumn| k.field.name == c.name)
                    .map(|k| k.field.ty)
                    .unwrap_or(c.ty);
                let col = texpr(
                    TExprKind::Col {
                        qual: c.qual.clone(),
                        name: c.name.clone(),
                    },
                    c.ty,
                    c.nullable,
                );
                let e = if target != c.ty {
                    texpr(TExprKind::Cast(Box::new(col), target), target, c.nullable)
                } else {
                    col
                };
                (c.name.clone(), e)
            })
            .collect();
        rel = Rel::Project {
            input: Box::new(rel),
            exprs,
        };
        // joins to a unique target whose columns nothing reads, and unread derives, go
        let rel = rel.drop_unused();
        let schema: Vec<Field> = schema
            .into_iter()
            .map(|f| {
                let ty = contract
                    .iter()
                    .find(|k| k.field.name == f.name)
                    .map(|k| k.field.ty)
                    .unwrap_or(f.ty);
                Field { ty, ..f }
            })
            .collect();
        let mut unique_keys = mb.unique_keys;
        unique_keys.extend(contract.iter().filter(|c| c.unique).map(|c| vec![c.field.name.clone()]));
        let incremental = m.incremental.and_then(|sp| self.incremental(m, sp, base_source, &rel));
        // a single-column key of the source that reaches the output unchanged
        let incremental_key = incremental.and_then(|si| {
            schema.iter().find_map(|f: &Field| {
                let (s, col) = rel.origin(None, &f.name)?;
                (s == si && self.sources[si].keys.iter().any(|k| k.len() == 1 && k[0] == col))
                    .then(|| (col, f.name.clone()))
            })
        });
        Some(ModelIr {
            name,
            rel,
            schema,
            contract,
            unique_keys,
            single_row: mb.single_row,
            key_claims: mb.key_claims,
            incremental,
            incremental_key,
        })
    }

    /// Checks that an `incremental` model is a row-by-row function of its source's rows (so
    /// the rows of new changes can be appended) and that the source records its changes.
    /// Gives the source it reads changes of.
    fn incremental(&mut self, m: &ast::Model, span: Span, base: Option<usize>, rel: &Rel) -> Option<usize> {
        let Some(si) = base else {
            self.err(
                Diagnostic::error(
                    Code::E0221,
                    m.from.span,
                    format!(
                        "an incremental model reads the changes of a source; `{}` is a model",
                        self.norm(&m.from)
                    ),
                )
                .label("not a source")
                .with(span, "declared incremental here")
                .help("read `from` the source itself (repeat the upstream model's steps), or drop `incremental`"),
            );
            return None;
        };
        let mut ok = true;
        for step in &m.steps {
            let kw = match step.kind {
                ast::StepKind::GroupBy(..) => "group by",
                _ => step.kind.keyword(),
            };
            if matches!(kw, "group by" | "aggregate" | "distinct" | "sort" | "limit" | "union") {
                ok = false;
                self.err(
                    Diagnostic::error(Code::E0221, step.keyword_span, format!("`{kw}` is not incremental"))
                        .label("needs every row of the source at once")
                        .with(span, "declared incremental here")
                        .help(format!(
                            "an incremental model appends the rows of new changes; move `{kw}` to a model that reads this one, or drop `incremental`"
                        )),
                );
            }
        }
        let opts = &self.sources[si].ir.options;
        if opts.file_column.is_some() || !opts.files.is_empty() {
            ok = false;
            let s = &self.sources[si];
            self.err(
                Diagnostic::error(
                    Code::E0221,
                    m.from.span,
                    format!(
                        "source `{}` narrows its files or adds a file column: its changes cannot be read so",
                        s.name
                    ),
                )
                .label("read incrementally")
                .with(span, "declared incremental here")
                .help("drop `file_column` and `files` from the source's `scan { }`, or drop `incremental`"),
            );
        }
        let mut reads = 0;
        self.count_scans(rel, si, &mut reads, &mut vec![]);
        if reads > 1 {
            ok = false;
            self.err(
                Diagnostic::error(
                    Code::E0221,
                    m.from.span,
                    format!(
                        "this incremental model reads `{}` more than once",
                        self.sources[si].name
                    ),
                )
                .label("its changes would meet rows that are not new")
                .with(span, "declared incremental here")
                .help("join or union the source with itself (or a model over it) in a model that is not incremental"),
            );
        }
        if self.sources[si].change_data_feed == Some(false) {
            ok = false;
            let s = &self.sources[si];
            self.err(
                Diagnostic::error(
                    Code::E0222,
                    m.from.span,
                    format!("source `{}` has no change data feed at version {}", s.name, s.ir.version),
                )
                .label("changes of this table are not recorded")
                .with(s.ast.location_span, "this table")
                .with(span, "declared incremental here")
                .help("set the table property `delta.enableChangeDataFeed = true`, or drop `incremental` to rebuild the model on each run"),
            );
        }
        ok.then_some(si)
    }

    /// How many times `rel` (and the models it reads) scans source `si`.
    fn count_scans(&self, rel: &Rel, si: usize, n: &mut usize, seen: &mut Vec<usize>) {
        let mut models = vec![];
        rel.model_refs(&mut models);
        *n += rel.scans_of(si);
        for mi in models {
            if seen.contains(&mi) {
                continue;
            }
            seen.push(mi);
            if let Some(m) = self.models.get(mi).and_then(|m| m.done.as_ref()) {
                let r = m.rel.clone();
                self.count_scans(&r, si, n, seen);
            }
        }
    }

    fn contract(&mut self, model: &str, m: &ast::Model, c: &ast::Contract) -> Vec<ContractColumn> {
        let cols = self.mb().cols.clone();
        let mut out = vec![];
        let mut seen = HashMap::new();
        for d in &c.columns {
            let n = self.norm(&d.name);
            if self.dup_check(&mut seen, &n, d.name.span, "contract column") {
                continue;
            }
            let Some(ty) = self.type_of(&d.ty) else {
                continue;
            };
            let Some(col) = cols.iter().find(|x| x.name == n) else {
                let names: Vec<&str> = cols.iter().map(|x| x.name.as_str()).collect();
                let help = did_you_mean(&n, names.iter().copied())
                    .unwrap_or_else(|| format!("the model's columns are {}", names.join(", ")));
                self.err(
                    Diagnostic::error(Code::E0209, d.name.span, format!("model `{model}` has no column `{n}`"))
                        .label("promised by the contract")
                        .with(m.name.span, "this model")
                        .help(help),
                );
                continue;
            };
            if col.ty != ty && !col.ty.widens_to(ty) {
                self.err(
                    Diagnostic::error(
                        Code::E0209,
                        d.ty.span(),
                        format!("column `{n}` is {} but the contract says {ty}", col.ty),
                    )
                    .label(format!("contract: {ty}"))
                    .with(m.name.span, format!("the model gives {}", col.ty))
                    .help(format!(
                        "{} does not widen to {ty} without loss; change the contract or cast in the model",
                        col.ty
                    )),
                );
            }
            let mut nullable = col.nullable;
            let mut unique = false;
            let mut checks = vec![];
            for k in &d.constraints {
                match k {
                    Constraint::Key(_) => {
                        nullable = false;
                        unique = true;
                    }
                    Constraint::Unique(_) => unique = true,
                    Constraint::NotNull(_) => nullable = false,
                    Constraint::Check(e, _) => {
                        // checks see the model's output columns, unqualified (they run on the output)
                        let saved = self.mb().shaped;
                        let saved_cols = self.mb().cols.clone();
                        self.mb().shaped = false;
                        for c in &mut self.mb().cols {
                            c.qual = None;
                        }
                        let cx = Ctx {
                            path: vec![],
                            source: None,
                            alias: None,
                            source_only: false,
                            agg: AggMode::Row,
                        };
                        let t = self.expr(e, &cx);
                        self.mb().shaped = saved;
                        self.mb().cols = saved_cols;
                        self.want_bool(&t, e.span, "a check");
                        checks.push(t);
                    }
                }
            }
            out.push(ContractColumn {
                field: Field { name: n, ty, nullable },
                span: d.span,
                unique,
                checks,
            });
        }
        out
    }

    fn row_ctx(&self) -> Ctx {
        let mb = self.cur.as_ref();
        Ctx {
            path: vec![],
            source: mb.and_then(|m| if m.shaped { m.base_source } else { None }),
            alias: mb.map(|m| m.base_alias.clone()),
            source_only: false,
            agg: AggMode::Row,
        }
    }

    /// The output name of an unnamed item: a column, a path's last part, or a measure.
    fn item_name(&mut self, it: &ast::NamedExpr) -> Option<String> {
        if let Some(n) = &it.name {
            return Some(self.norm(n));
        }
        if let ExprKind::Path(p) = &it.expr.kind {
            return p.last().map(|i| self.norm(i));
        }
        self.err(
            Diagnostic::error(Code::E0111, it.expr.span, "this column needs a name")
                .label("unnamed expression")
                .help(format!("write `name = {}`", self.ws.map.text(it.expr.span))),
        );
        None
    }

    fn named_items(
        &mut self,
        items: &[ast::NamedExpr],
        agg: AggMode,
        seen: &mut HashMap<String, Span>,
    ) -> Vec<(String, TExpr)> {
        let mut out = vec![];
        for it in items {
            let name = self.item_name(it);
            let cx = Ctx { agg, ..self.row_ctx() };
            let t = self.expr(&it.expr, &cx);
            let Some(name) = name else { continue };
            let span = it.name.as_ref().map(|n| n.span).unwrap_or(it.expr.span);
            if self.dup_check(seen, &name, span, "output column") {
                continue;
            }
            out.push((name, t));
        }
        out
    }

    fn set_plain_cols(&mut self, items: &[(String, TExpr)]) {
        let mb = self.mb();
        mb.cols = items
            .iter()
            .map(|(n, t)| Col {
                name: n.clone(),
                ty: t.ty,
                nullable: t.nullable,
                qual: None,
            })
            .collect();
        mb.shaped = false;
        mb.adhoc.clear();
        mb.scalars.clear();
    }

    fn visible_projection(&mut self) -> Vec<(String, TExpr)> {
        self.mb()
            .cols
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    texpr(
                        TExprKind::Col {
                            qual: c.qual.clone(),
                            name: c.name.clone(),
                        },
                        c.ty,
                        c.nullable,
                    ),
                )
            })
            .collect()
    }

    fn step(&mut self, step: &'a ast::Step) {
        match &step.kind {
            StepKind::Where(e) => {
                let cx = self.row_ctx();
                let t = self.expr(e, &cx);
                self.want_bool(&t, e.span, "`where`");
                self.mb().push_step(StepIr::Filter(t));
            }
            StepKind::Select(items) => {
                let out = self.named_items(items, AggMode::Row, &mut HashMap::new());
                self.set_plain_cols(&out);
                let mb = self.mb();
                let names: Vec<&String> = out.iter().map(|o| &o.0).collect();
                mb.unique_keys.retain(|k| k.iter().all(|c| names.contains(&c)));
                mb.push_step(StepIr::Project(out));
                mb.requalify();
            }
            StepKind::Derive(items) => {
                let mut seen: HashMap<String, Span> = HashMap::new();
                let existing: Vec<String> = self.mb().cols.iter().map(|c| c.name.clone()).collect();
                let mut out = vec![];
                for it in items {
                    let Some(name) = self.item_name(it) else {
                        continue;
                    };
                    let cx = self.row_ctx();
                    let t = self.expr(&it.expr, &cx);
                    let span = it.name.as_ref().map(|n| n.span).unwrap_or(it.expr.span);
                    if existing.contains(&name) {
                        self.err(
                            Diagnostic::error(Code::E0101, span, format!("column `{name}` already exists"))
                                .label("derived again here")
                                .help("choose a new name, or replace columns with `select`"),
                        );
                        continue;
                    }
                    if self.dup_check(&mut seen, &name, span, "derived column") {
                        continue;
                    }
                    out.push((name, t));
                }
                let mb = self.mb();
                let alias = mb.fresh_alias();
                mb.cols.extend(out.iter().map(|(n, t)| Col {
                    name: n.clone(),
                    ty: t.ty,
                    nullable: t.nullable,
                    qual: Some(alias.clone()),
                }));
                mb.push_step(StepIr::Derive(alias, out));
            }
            StepKind::Join(j) => self.join_step(j),
            StepKind::GroupBy(keys, aggs) => {
                let mut seen = HashMap::new();
                let groups = self.named_items(keys, AggMode::Row, &mut seen);
                let out = self.named_items(aggs, AggMode::Allowed, &mut seen);
                self.finish_aggregate(groups, out);
            }
            StepKind::Aggregate(aggs) => {
                if aggs.is_empty() {
                    self.err(
                        Diagnostic::error(Code::E0219, step.span, "`aggregate { }` computes nothing")
                            .label("empty aggregate")
                            .help("add an item, e.g. `aggregate { n = count() }`, or group with `group by k aggregate { }`"),
                    );
                    return;
                }
                let out = self.named_items(aggs, AggMode::Allowed, &mut HashMap::new());
                self.finish_aggregate(vec![], out);
            }
            StepKind::Sort(keys) => {
                let mut out = vec![];
                for k in keys {
                    let cx = self.row_ctx();
                    let t = self.expr(&k.expr, &cx);
                    out.push((t, k.descending));
                }
                self.mb().push_step(StepIr::Sort(out));
            }
            StepKind::Limit(n) => {
                if *n < 0 {
                    self.err(
                        Diagnostic::error(Code::E0215, step.span, "limit cannot be negative")
                            .label("negative")
                            .help("write a count of rows: `limit 10`"),
                    );
                }
                self.mb().push_step(StepIr::Limit((*n).max(0) as usize));
            }
            StepKind::Distinct => {
                let p = self.visible_projection();
                self.set_plain_cols(&p);
                let mb = self.mb();
                mb.unique_keys.push(p.iter().map(|x| x.0.clone()).collect());
                mb.push_step(StepIr::Project(p));
                mb.push_step(StepIr::Distinct);
                mb.requalify();
            }
            StepKind::Union(other) => self.union_step(other),
        }
    }

    fn finish_aggregate(&mut self, groups: Vec<(String, TExpr)>, aggs: Vec<(String, TExpr)>) {
        self.check_grain();
        let all: Vec<(String, TExpr)> = groups.iter().chain(aggs.iter()).cloned().collect();
        self.set_plain_cols(&all);
        let mb = self.mb();
        mb.unique_keys = vec![groups.iter().map(|g| g.0.clone()).collect()];
        mb.single_row = groups.is_empty();
        mb.push_step(StepIr::Aggregate(groups, aggs));
        mb.requalify();
    }

    /// Fan-out: every pending aggregate must see each row of its own relation once.
    fn check_grain(&mut self) {
        let mb = self.mb();
        let pending = std::mem::take(&mut mb.pending);
        let base = mb.base_alias.clone();
        let mut fans: Vec<(String, Span)> = mb
            .paths
            .iter()
            .filter(|p| p.fans_out)
            .map(|p| (p.alias.clone(), p.join_span))
            .collect();
        fans.extend(
            mb.adhoc
                .iter()
                .filter(|a| a.fans_out)
                .map(|a| (a.alias.clone(), a.span)),
        );
        let mut repeated: Vec<(String, Span, String)> = mb
            .paths
            .iter()
            .filter(|p| p.repeated && !p.fans_out)
            .map(|p| (p.alias.clone(), p.join_span, p.path.join(".")))
            .collect();
        repeated.extend(
            mb.adhoc
                .iter()
                .filter(|a| a.repeated && !a.fans_out)
                .map(|a| (a.alias.clone(), a.span, a.name.clone())),
        );
        for p in pending {
            if matches!(p.func.as_str(), "min" | "max" | "count_distinct") {
                continue;
            }
            let mut quals: HashSet<String> = HashSet::new();
            p.expr.walk(&mut |e| {
                if let TExprKind::Col { qual, .. } = &e.kind {
                    quals.insert(qual.clone().unwrap_or_else(|| base.clone()));
                }
            });
            if quals.is_empty() {
                quals.insert(p.home.clone());
            }
            let on_fan = fans.iter().any(|(a, _)| quals.contains(a));
            if on_fan {
                continue;
            }
            if let Some((_, span)) = fans.first() {
                self.err(
                    Diagnostic::error(Code::E0206, p.span, format!("`{}` would count rows more than once", p.func))
                        .label("aggregated here")
                        .with(*span, "this one_to_many join repeats each row")
                        .help("aggregate at this relation's own grain in a model of its own and join the result, or use count_distinct/min/max"),
                );
                continue;
            }
            // Values of a joined many_to_one target repeat once per base row: a measure of
            // that target, or a plain column of it, would be counted once per row. (An
            // expression such as `case when target.x … then 1 end` is per base row: fine.)
            let all_repeated = quals.iter().all(|q| repeated.iter().any(|r| &r.0 == q));
            let from_measure = p.home != base;
            // (`count(target.x)` counts base rows that have a match: fine)
            let plain_column = p.func != "count"
                && match &p.expr.kind {
                    TExprKind::Agg(_, args) => args.len() == 1 && matches!(args[0].kind, TExprKind::Col { .. }),
                    _ => false,
                };
            if all_repeated && (from_measure || plain_column) {
                let (_, span, name) = repeated
                    .iter()
                    .find(|r| quals.contains(&r.0))
                    .cloned()
                    .unwrap_or_default();
                self.err(
                    Diagnostic::error(Code::E0206, p.span, format!("`{}` over `{name}` would count each `{name}` row once per joined row", p.func))
                        .label("aggregated across a many_to_one join")
                        .with(span, "many rows here share one target row")
                        .help(format!("compute it in a model from `{name}` (its own grain) and join that model, or use count_distinct/min/max")),
                );
            }
        }
    }

    fn join_step(&mut self, j: &'a ast::JoinDecl) {
        let name = self.norm(j.name());
        let alias = self.mb().fresh_alias();
        let Some((rel, cols, _src, keys)) = self.relation(&j.target, &alias) else {
            return;
        };
        if self.mb().adhoc.iter().any(|a| a.name == name) || self.mb().cols.iter().any(|c| c.name == name && false) {
            self.err(
                Diagnostic::error(
                    Code::E0101,
                    j.name().span,
                    format!("`{name}` is already joined in this model"),
                )
                .label("joined again")
                .help("give the second join another name with `as`"),
            );
            return;
        }
        let mut on = vec![];
        let mut right_cols = vec![];
        // key pairs: `x = name.col` pairs, and comparisons `expr = name.col` among the conditions
        let names_right =
            |e: &ast::Expr| matches!(&e.kind, ExprKind::Path(p) if p.len() == 2 && self.norm(&p[0]) == name);
        let mut pairs: Vec<(&ast::Expr, &ast::Expr)> = j.on.iter().map(|(a, b)| (a, b)).collect();
        let mut filters: Vec<&ast::Expr> = vec![];
        for f in &j.filters {
            match &f.kind {
                ExprKind::Binary(BinOp::Eq, a, b) if names_right(a) != names_right(b) => pairs.push((a, b)),
                _ => filters.push(f),
            }
        }
        let n_pairs = pairs.len();
        for (a, b) in pairs {
            // one side names the joined relation: `name.col`
            let is_right =
                |e: &ast::Expr| matches!(&e.kind, ExprKind::Path(p) if p.len() == 2 && self.norm(&p[0]) == name);
            let (l, r) = if is_right(b) {
                (a, b)
            } else if is_right(a) {
                (b, a)
            } else {
                self.err(
                    Diagnostic::error(
                        Code::E0214,
                        a.span.to(b.span),
                        format!("one side of each key pair must be a column of `{name}`"),
                    )
                    .label("neither side names the joined relation")
                    .help(format!("write `column = {name}.column`")),
                );
                continue;
            };
            let cx = self.row_ctx();
            let lt = self.expr(l, &cx);
            let ExprKind::Path(rp) = &r.kind else {
                continue;
            };
            let rn = self.norm(&rp[1]);
            let Some(rc) = cols.iter().find(|c| c.name == rn) else {
                let cands: Vec<String> = cols.iter().map(|c| c.name.clone()).collect();
                self.unknown_col(rp[1].span, &rn, &cands, &name);
                continue;
            };
            let rt = texpr(
                TExprKind::Col {
                    qual: Some(alias.clone()),
                    name: rn.clone(),
                },
                rc.ty,
                rc.nullable,
            );
            if !lt.is_error() && (Type::unify(lt.ty, rt.ty, false, false).is_none() || lt.ty.family() != rt.ty.family())
            {
                self.err(
                    Diagnostic::error(
                        Code::E0204,
                        a.span.to(b.span),
                        format!("join keys have different types: {} and {}", lt.ty, rt.ty),
                    )
                    .label("compared here")
                    .help("cast one side so both have the same type"),
                );
            }
            right_cols.push(rn);
            on.push((lt, rt));
        }
        // other comparisons see both sides
        let semi_like = matches!(j.cardinality, Cardinality::Semi | Cardinality::Anti);
        self.mb().adhoc.push(Adhoc {
            name: name.clone(),
            alias: alias.clone(),
            cols: cols.clone(),
            fans_out: false,
            repeated: false,
            span: j.span,
        });
        let mut filter: Option<TExpr> = None;
        for f in filters {
            let cx = self.row_ctx();
            let t = self.expr(f, &cx);
            self.want_bool(&t, f.span, "a join condition");
            filter = Some(match filter {
                None => t,
                Some(prev) => texpr(
                    TExprKind::Binary(BinOp::And, Box::new(prev), Box::new(t)),
                    Type::Bool,
                    true,
                ),
            });
        }
        self.mb().adhoc.pop();
        if on.is_empty() && filter.is_none() {
            return;
        }
        if semi_like {
            let kind = if j.cardinality == Cardinality::Semi {
                JoinKind::Semi
            } else {
                JoinKind::Anti
            };
            self.mb().push_step(StepIr::Join(rel, kind, on, filter));
            return;
        }
        let mut kind = JoinKind::Left;
        if matches!(j.cardinality, Cardinality::ManyToOne | Cardinality::OneToOne)
            && !on.is_empty()
            && on.len() == n_pairs
        {
            let unique = keys
                .iter()
                .any(|k| !k.is_empty() && k.iter().all(|c| right_cols.contains(c)));
            if !unique {
                self.err(
                    Diagnostic::error(Code::E0205, j.cardinality_span, format!("`{}` join to `{name}` on columns that are not known to be unique", j.cardinality.as_str()))
                        .label(format!("{} needs a unique target", j.cardinality.as_str()))
                        .help(format!("join on `{name}`'s key (declared `key`/`unique`, its group keys, or a contract `unique`), or use `one_to_many`")),
                );
            } else {
                kind = JoinKind::LeftUnique;
            }
        }
        if let Some(si) = _src
            && matches!(j.cardinality, Cardinality::ManyToOne | Cardinality::OneToOne)
        {
            self.mb().key_claims.push(KeyClaim {
                source: si,
                columns: right_cols.clone(),
                span: j.span,
                from: None,
            });
        }
        let mb = self.mb();
        mb.adhoc.push(Adhoc {
            name,
            alias,
            cols,
            fans_out: j.cardinality == Cardinality::OneToMany,
            repeated: j.cardinality == Cardinality::ManyToOne,
            span: j.span,
        });
        if j.cardinality == Cardinality::OneToMany {
            mb.unique_keys.clear();
            mb.single_row = false;
        }
        mb.push_step(StepIr::Join(rel, kind, on, filter));
    }

    fn union_step(&mut self, other: &ast::Ident) {
        let alias = self.mb().fresh_alias();
        let Some((rel, cols, _, _)) = self.relation(other, &alias) else {
            return;
        };
        let mine = self.mb().cols.clone();
        let mut left = vec![];
        let mut right = vec![];
        let mut problems = vec![];
        for c in &mine {
            match cols.iter().find(|o| o.name == c.name) {
                Some(o) => match Type::unify(c.ty, o.ty, false, false) {
                    Some(t) => {
                        let cast = |col: &Col| {
                            let e = texpr(
                                TExprKind::Col {
                                    qual: col.qual.clone(),
                                    name: col.name.clone(),
                                },
                                col.ty,
                                col.nullable,
                            );
                            if col.ty == t {
                                e
                            } else {
                                texpr(TExprKind::Cast(Box::new(e), t), t, col.nullable)
                            }
                        };
                        left.push((c.name.clone(), cast(c)));
                        right.push((c.name.clone(), cast(o)));
                    }
                    None => problems.push(format!("`{}` is {} here and {} there", c.name, c.ty, o.ty)),
                },
                None => problems.push(format!("`{}` is missing there", c.name)),
            }
        }
        for o in cols.iter().filter(|o| !mine.iter().any(|c| c.name == o.name)) {
            problems.push(format!("`{}` is only there", o.name));
        }
        if !problems.is_empty() {
            let shown: Vec<String> = problems.iter().take(6).cloned().collect();
            let more = if problems.len() > 6 {
                format!(" and {} more", problems.len() - 6)
            } else {
                String::new()
            };
            self.err(
                Diagnostic::error(
                    Code::E0210,
                    other.span,
                    format!(
                        "`{}` does not match this model's columns: {}{more}",
                        other.text,
                        shown.join("; ")
                    ),
                )
                .label("union needs the same columns with compatible types")
                .help("`select` the same columns (cast where types differ) on both sides before `union`"),
            );
            return;
        }
        let mut merged = left.clone();
        for (m, (_, r)) in merged.iter_mut().zip(&right) {
            m.1.nullable |= r.nullable;
        }
        self.set_plain_cols(&merged);
        let mb = self.mb();
        mb.unique_keys.clear();
        mb.single_row = false;
        mb.push_step(StepIr::Project(left));
        mb.push_step(StepIr::Union(Rel::Project {
            input: Box::new(rel),
            exprs: right,
        }));
        mb.requalify();
    }
}

// ---------------------------------------------------------------- expressions

impl<'a> Checker<'a> {
    fn want_bool(&mut self, t: &TExpr, span: Span, what: &str) {
        if !t.is_error() && t.ty != Type::Bool && t.ty != Type::Null {
            self.err(
                Diagnostic::error(Code::E0202, span, format!("{what} takes a bool, this is {}", t.ty))
                    .label(format!("{}, not bool", t.ty))
                    .help("compare it with something, e.g. `x > 0` or `x == \"a\"`"),
            );
        }
    }

    fn expr(&mut self, e: &ast::Expr, cx: &Ctx) -> TExpr {
        match &e.kind {
            ExprKind::Error => ty_err(),
            ExprKind::Lit(l) => self.literal(l, e.span),
            ExprKind::Path(parts) => self.path(parts, e.span, cx),
            ExprKind::Call(name, args) => self.call(name, args, e.span, cx),
            ExprKind::Binary(op, a, b) => {
                let l = self.expr(a, cx);
                let r = self.expr(b, cx);
                self.binary(*op, l, r, a.span, b.span, e.span)
            }
            ExprKind::Not(a) => {
                let t = self.expr(a, cx);
                self.want_bool(&t, a.span, "`not`");
                let n = t.nullable;
                texpr(TExprKind::Not(Box::new(t)), Type::Bool, n)
            }
            ExprKind::Neg(a) => {
                let t = self.expr(a, cx);
                if !t.is_error() && !t.ty.is_numeric() && t.ty != Type::Interval {
                    self.err(
                        Diagnostic::error(Code::E0201, a.span, format!("cannot negate {}", t.ty))
                            .label(format!("{}", t.ty))
                            .help("`-` applies to numbers"),
                    );
                    return ty_err();
                }
                let (ty, n) = (t.ty, t.nullable);
                texpr(TExprKind::Neg(Box::new(t)), ty, n)
            }
            ExprKind::IsNull(a, neg) => {
                let t = self.expr(a, cx);
                texpr(TExprKind::IsNull(Box::new(t), *neg), Type::Bool, false)
            }
            ExprKind::InList(a, items, neg) => {
                let t = self.expr(a, cx);
                let mut list = vec![];
                let mut nullable = t.nullable;
                for it in items {
                    let x = self.expr(it, cx);
                    if !t.is_error()
                        && !x.is_error()
                        && Type::unify(t.ty, x.ty, t.is_literal(), x.is_literal()).is_none()
                    {
                        self.err(
                            Diagnostic::error(Code::E0201, it.span, format!("{} in a list of {}", x.ty, t.ty))
                                .label(format!("{}", x.ty))
                                .with(a.span, format!("{}", t.ty))
                                .help("every item of the list must have the type of the value tested"),
                        );
                    }
                    nullable |= x.nullable;
                    list.push(x);
                }
                texpr(TExprKind::InList(Box::new(t), list, *neg), Type::Bool, nullable)
            }
            ExprKind::Between(a, lo, hi, neg) => {
                let t = self.expr(a, cx);
                let l = self.expr(lo, cx);
                let h = self.expr(hi, cx);
                for (x, sp) in [(&l, lo.span), (&h, hi.span)] {
                    if !t.is_error()
                        && !x.is_error()
                        && Type::unify(t.ty, x.ty, t.is_literal(), x.is_literal()).is_none()
                    {
                        self.err(
                            Diagnostic::error(Code::E0201, sp, format!("cannot compare {} with {}", t.ty, x.ty))
                                .label(format!("{}", x.ty))
                                .with(a.span, format!("{}", t.ty))
                                .help("both bounds must have the type of the value tested"),
                        );
                    }
                }
                let n = t.nullable || l.nullable || h.nullable;
                texpr(
                    TExprKind::Between(Box::new(t), Box::new(l), Box::new(h), *neg),
                    Type::Bool,
                    n,
                )
            }
            ExprKind::Like(a, p, neg) => {
                let t = self.expr(a, cx);
                let pt = self.expr(p, cx);
                for (x, sp) in [(&t, a.span), (&pt, p.span)] {
                    if !x.is_error() && x.ty != Type::String && x.ty != Type::Null {
                        self.err(
                            Diagnostic::error(Code::E0201, sp, format!("`like` takes strings, this is {}", x.ty))
                                .label(format!("{}", x.ty))
                                .help("cast it: `cast(x as string)`"),
                        );
                    }
                }
                let n = t.nullable || pt.nullable;
                texpr(TExprKind::Like(Box::new(t), Box::new(pt), *neg), Type::Bool, n)
            }
            ExprKind::Case(arms, otherwise) => {
                let mut out = vec![];
                let mut ty: Option<(Type, bool)> = None;
                let mut nullable = otherwise.is_none();
                let mut first_span = e.span;
                let mut vals: Vec<(TExpr, Span)> = vec![];
                for (c, v) in arms {
                    let ct = self.expr(c, cx);
                    self.want_bool(&ct, c.span, "`when`");
                    let vt = self.expr(v, cx);
                    vals.push((vt.clone(), v.span));
                    out.push((ct, vt));
                }
                let other = otherwise.as_ref().map(|o| {
                    let t = self.expr(o, cx);
                    vals.push((t.clone(), o.span));
                    Box::new(t)
                });
                let mut bad = false;
                for (v, sp) in &vals {
                    nullable |= v.nullable;
                    if v.is_error() || v.ty == Type::Null {
                        continue;
                    }
                    match ty {
                        None => {
                            ty = Some((v.ty, v.is_literal()));
                            first_span = *sp;
                        }
                        Some((t, lit)) => match Type::unify(t, v.ty, lit, v.is_literal()) {
                            Some(u) => ty = Some((u, lit && v.is_literal())),
                            None => {
                                bad = true;
                                self.err(
                                    Diagnostic::error(
                                        Code::E0201,
                                        *sp,
                                        format!("`case` branches have different types: {t} and {}", v.ty),
                                    )
                                    .label(format!("{}", v.ty))
                                    .with(first_span, format!("{t}"))
                                    .help("every branch must give the same type; cast one of them"),
                                );
                            }
                        },
                    }
                }
                if bad {
                    return ty_err();
                }
                let t = ty.map(|x| x.0).unwrap_or(Type::Null);
                texpr(TExprKind::Case(out, other), t, nullable)
            }
            ExprKind::Cast(a, te) => {
                let t = self.expr(a, cx);
                let Some(to) = self.type_of(te) else {
                    return ty_err();
                };
                if t.is_error() {
                    return t;
                }
                let ok = match (t.ty, to) {
                    (x, y) if x == y => true,
                    (Type::Null, _) => true,
                    (x, y) if x.is_numeric() && y.is_numeric() => true,
                    (Type::String, _) | (_, Type::String) => to != Type::Interval && t.ty != Type::Interval,
                    (Type::Date, Type::Timestamp) | (Type::Timestamp, Type::Date) => true,
                    (Type::Bool, y) | (y, Type::Bool) => y.is_integer(),
                    _ => false,
                };
                if !ok {
                    self.err(
                        Diagnostic::error(Code::E0201, e.span, format!("cannot cast {} to {to}", t.ty))
                            .label("invalid cast")
                            .help("casts go between numbers, strings, dates and timestamps"),
                    );
                    return ty_err();
                }
                let n = t.nullable;
                texpr(TExprKind::Cast(Box::new(t), to), to, n)
            }
            ExprKind::List(_) => {
                self.err(
                    Diagnostic::error(Code::E0201, e.span, "a list can only follow `in`")
                        .label("list here")
                        .help("write `x in [a, b]`"),
                );
                ty_err()
            }
        }
    }

    fn binary(&mut self, op: BinOp, l: TExpr, r: TExpr, ls: Span, rs: Span, span: Span) -> TExpr {
        if l.is_error() || r.is_error() {
            return ty_err();
        }
        let nullable = l.nullable || r.nullable;
        let mismatch = |this: &mut Self, msg: String, help: &str| {
            this.err(
                Diagnostic::error(Code::E0201, span, msg)
                    .label(format!("`{}` cannot combine these", op.symbol()))
                    .with(ls, format!("{}", l.ty))
                    .with(rs, format!("{}", r.ty))
                    .help(help.to_string()),
            );
            ty_err()
        };
        match op {
            BinOp::And | BinOp::Or => {
                for (t, s) in [(&l, ls), (&r, rs)] {
                    if t.ty != Type::Bool && t.ty != Type::Null {
                        self.err(
                            Diagnostic::error(
                                Code::E0202,
                                s,
                                format!("`{}` takes bools, this is {}", op.symbol(), t.ty),
                            )
                            .label(format!("{}, not bool", t.ty))
                            .help("compare it with something, e.g. `x > 0`"),
                        );
                        return ty_err();
                    }
                }
                texpr(TExprKind::Binary(op, Box::new(l), Box::new(r)), Type::Bool, nullable)
            }
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if Type::unify(l.ty, r.ty, l.is_literal(), r.is_literal()).is_none()
                    || l.ty == Type::Interval
                    || r.ty == Type::Interval
                {
                    return mismatch(
                        self,
                        format!("cannot compare {} with {}", l.ty, r.ty),
                        "both sides must have compatible types; use `cast(x as T)` to convert",
                    );
                }
                texpr(TExprKind::Binary(op, Box::new(l), Box::new(r)), Type::Bool, nullable)
            }
            _ => {
                let numeric = l.ty.is_numeric() && r.ty.is_numeric();
                let temporal = (l.ty.is_temporal() && r.ty == Type::Interval)
                    || (op == BinOp::Add && l.ty == Type::Interval && r.ty.is_temporal());
                let null = l.ty == Type::Null || r.ty == Type::Null;
                if null {
                    let t = if l.ty == Type::Null { r.ty } else { l.ty };
                    return texpr(TExprKind::Binary(op, Box::new(l), Box::new(r)), t, true);
                }
                if !(numeric || temporal && matches!(op, BinOp::Add | BinOp::Sub)) {
                    let help = if l.ty == Type::String && r.ty == Type::String {
                        "join strings with `concat(a, b)`"
                    } else {
                        "arithmetic takes numbers (and date ± interval)"
                    };
                    return mismatch(
                        self,
                        format!("cannot apply `{}` to {} and {}", op.symbol(), l.ty, r.ty),
                        help,
                    );
                }
                if numeric {
                    let lossy = |a: &TExpr, b: &TExpr| {
                        a.ty == Type::Float64 && matches!(b.ty, Type::Int64 | Type::Decimal(..)) && !b.is_literal()
                    };
                    if lossy(&l, &r) || lossy(&r, &l) {
                        return mismatch(
                            self,
                            format!("mixing {} and {} would lose precision", l.ty, r.ty),
                            "cast one side explicitly: `cast(x as float64)`",
                        );
                    }
                }
                let Some(t) = arith_type(op, l.ty, r.ty) else {
                    return mismatch(
                        self,
                        format!("cannot apply `{}` to {} and {}", op.symbol(), l.ty, r.ty),
                        "arithmetic takes numbers (and date ± interval)",
                    );
                };
                texpr(TExprKind::Binary(op, Box::new(l), Box::new(r)), t, nullable)
            }
        }
    }

    fn literal(&mut self, l: &Lit, span: Span) -> TExpr {
        let bad = |this: &mut Self, msg: String, help: &str| {
            this.err(
                Diagnostic::error(Code::E0212, span, msg)
                    .label("invalid literal")
                    .help(help.to_string()),
            );
            ty_err()
        };
        let lit = |v: Value, t: Type| texpr(TExprKind::Lit(v), t, false);
        match l {
            Lit::Int(s) => match s.parse::<i64>() {
                Ok(v) => lit(Value::Int(v), Type::Int64),
                Err(_) => bad(
                    self,
                    format!("`{s}` does not fit in 64 bits"),
                    "integers are at most 9223372036854775807; write a decimal with a point",
                ),
            },
            Lit::Number(s) => {
                if s.contains(['e', 'E']) {
                    return match s.parse::<f64>() {
                        Ok(v) if v.is_finite() => lit(Value::Float(v), Type::Float64),
                        _ => bad(self, format!("`{s}` is not a finite number"), "write a smaller number"),
                    };
                }
                let (int, frac) = s.split_once('.').unwrap_or((s, ""));
                let digits = format!("{int}{frac}");
                let trimmed = digits.trim_start_matches('0');
                let precision = trimmed.len().max(frac.len()).max(1);
                if precision > 38 {
                    return bad(
                        self,
                        format!("`{s}` has more than 38 digits"),
                        "decimals have at most 38 digits",
                    );
                }
                let v: i128 = trimmed.parse().unwrap_or(0);
                lit(
                    Value::Decimal(v, precision as u8, frac.len() as i8),
                    Type::Decimal(precision as u8, frac.len() as i8),
                )
            }
            Lit::Str(s) => lit(Value::Str(s.clone()), Type::String),
            Lit::Bool(b) => lit(Value::Bool(*b), Type::Bool),
            Lit::Null => texpr(TExprKind::Lit(Value::Null), Type::Null, true),
            Lit::Typed(TypedLitKind::Date, s) => match parse_date(s) {
                Some(d) => lit(Value::Date(d), Type::Date),
                None => bad(
                    self,
                    format!("`{s}` is not a date"),
                    "dates are written date \"YYYY-MM-DD\"",
                ),
            },
            Lit::Typed(TypedLitKind::Timestamp, s) => {
                match datafusion::arrow::compute::kernels::cast_utils::string_to_timestamp_nanos(s) {
                    Ok(ns) => lit(Value::Timestamp(ns / 1000), Type::Timestamp),
                    Err(_) => bad(
                        self,
                        format!("`{s}` is not a timestamp"),
                        "timestamps are RFC 3339: timestamp \"2024-01-31T10:00:00Z\"",
                    ),
                }
            }
            Lit::Typed(TypedLitKind::Interval, s) => {
                match datafusion::arrow::compute::kernels::cast_utils::parse_interval_month_day_nano(s) {
                    Ok(i) => lit(
                        Value::Interval {
                            months: i.months,
                            days: i.days,
                            nanos: i.nanoseconds,
                        },
                        Type::Interval,
                    ),
                    Err(_) => bad(
                        self,
                        format!("`{s}` is not an interval"),
                        "intervals read like interval \"3 months\" or \"1 year 2 days\"",
                    ),
                }
            }
        }
    }

    // ------------------------------------------------------------ names

    fn path(&mut self, parts: &[ast::Ident], span: Span, cx: &Ctx) -> TExpr {
        if parts.len() == 1 {
            return self.name(&parts[0], span, cx);
        }
        let first = self.norm(&parts[0]);
        if cx.path.is_empty() && !cx.source_only {
            if let Some(ad) = self
                .cur
                .as_ref()
                .and_then(|m| m.adhoc.iter().find(|a| a.name == first))
                .cloned()
            {
                if parts.len() != 2 {
                    self.err(
                        Diagnostic::error(
                            Code::E0106,
                            span,
                            format!("`{first}` is joined in this model: name its columns as `{first}.column`"),
                        )
                        .label("path too long")
                        .help("paths through declared joins start at the model's source"),
                    );
                    return ty_err();
                }
                let n = self.norm(&parts[1]);
                return match ad.cols.iter().find(|c| c.name == n) {
                    Some(c) => {
                        if cx.agg == AggMode::Allowed {
                            return self.bare_column(&n, span);
                        }
                        texpr(
                            TExprKind::Col {
                                qual: Some(ad.alias.clone()),
                                name: n,
                            },
                            c.ty,
                            true,
                        )
                    }
                    None => {
                        let cands: Vec<String> = ad.cols.iter().map(|c| c.name.clone()).collect();
                        self.unknown_col(parts[1].span, &n, &cands, &first);
                        ty_err()
                    }
                };
            }
        }
        let shaped = self.cur.as_ref().is_some_and(|m| m.shaped);
        if parts.len() == 2 && !cx.source_only {
            let is_join = cx
                .source
                .filter(|_| shaped)
                .is_some_and(|s| self.sources[s].ast.joins.iter().any(|j| self.norm(j.name()) == first));
            if !is_join && let Some(&mi) = self.model_idx.get(&first) {
                return self.scalar_ref(mi, &parts[1], span, cx);
            }
        }
        let Some(src) = cx.source.filter(|_| shaped || cx.source_only) else {
            let help = if self.cur.as_ref().is_some_and(|m| m.base_source.is_some()) {
                "paths through declared joins are available before `select`, `aggregate`, `distinct` and `union`; use them earlier".to_string()
            } else {
                "this model reads from a model, which has no declared joins; add a `join` step".to_string()
            };
            self.err(
                Diagnostic::error(Code::E0106, parts[0].span, format!("`{first}` is not a join here"))
                    .label("no such join in scope")
                    .help(help),
            );
            return ty_err();
        };
        let mut path = cx.path.clone();
        let mut cur_src = src;
        let mut alias = cx.alias.clone().unwrap_or_default();
        let mut nullable_hop = false;
        for part in &parts[..parts.len() - 1] {
            let pn = self.norm(part);
            let join = self.sources[cur_src]
                .ast
                .joins
                .iter()
                .find(|j| self.norm(j.name()) == pn);
            let Some(j) = join else {
                let names: Vec<String> = self.sources[cur_src]
                    .ast
                    .joins
                    .iter()
                    .map(|j| self.norm(j.name()))
                    .collect();
                let sname = self.sources[cur_src].name.clone();
                let is_col = self.sources[cur_src].cols.iter().any(|c| c.name == pn);
                let help = if is_col {
                    format!("`{pn}` is a column of `{sname}`, not a join")
                } else {
                    did_you_mean(&pn, names.iter().map(String::as_str)).unwrap_or_else(|| {
                        if names.is_empty() {
                            format!("`{sname}` declares no joins")
                        } else {
                            format!("joins of `{sname}`: {}", names.join(", "))
                        }
                    })
                };
                self.err(
                    Diagnostic::error(Code::E0106, part.span, format!("`{sname}` has no join `{pn}`"))
                        .label("unknown join")
                        .help(help),
                );
                return ty_err();
            };
            let Some(&target) = self.source_idx.get(&self.norm(&j.target)) else {
                return ty_err();
            };
            path.push(pn);
            alias = self.path_join(&path, cur_src, &alias, j, target);
            cur_src = target;
            nullable_hop = true;
        }
        let t = self.name(
            &parts[parts.len() - 1],
            span,
            &Ctx {
                path,
                source: Some(cur_src),
                alias: Some(alias),
                source_only: true,
                agg: cx.agg,
            },
        );
        if nullable_hop && !t.contains_agg() {
            // left joins: a row without a match reads nulls
            TExpr { nullable: true, ..t }
        } else {
            t
        }
    }

    /// Registers (or finds) the join for `path`, reached from `parent_alias` (a row of `from`).
    fn path_join(
        &mut self,
        path: &[String],
        from: usize,
        parent_alias: &str,
        j: &ast::JoinDecl,
        target: usize,
    ) -> String {
        if let Some(p) = self.cur.as_ref().and_then(|m| m.paths.iter().find(|p| p.path == path)) {
            return p.alias.clone();
        }
        let alias = self.mb().fresh_alias();
        let (pf, pr) = self
            .cur
            .as_ref()
            .and_then(|m| m.paths.iter().find(|p| p.path == path[..path.len() - 1]))
            .map(|p| (p.fans_out, p.repeated))
            .unwrap_or((false, false));
        let jn = self.norm(j.name());
        let tn = self.sources[target].name.clone();
        let mut on = vec![];
        for (a, b) in &j.on {
            let (l, r) = self.key_sides_quiet(a, b, &jn, &tn);
            let (Some(l), Some(r)) = (l, r) else { continue };
            let ln = self.norm(l);
            let rn = self.norm(r);
            let lc = self.sources[from]
                .cols
                .iter()
                .find(|c| c.name == ln)
                .map(|c| (c.ty, c.nullable));
            let rc = self.sources[target]
                .cols
                .iter()
                .find(|c| c.name == rn)
                .map(|c| (c.ty, c.nullable));
            if let (Some(lc), Some(rc)) = (lc, rc) {
                on.push((
                    texpr(
                        TExprKind::Col {
                            qual: Some(parent_alias.to_string()),
                            name: ln,
                        },
                        lc.0,
                        lc.1,
                    ),
                    texpr(
                        TExprKind::Col {
                            qual: Some(alias.clone()),
                            name: rn,
                        },
                        rc.0,
                        rc.1,
                    ),
                ));
            }
        }
        if matches!(j.cardinality, Cardinality::ManyToOne | Cardinality::OneToOne) && !on.is_empty() {
            let columns = on
                .iter()
                .filter_map(|(_, r)| r.column_name().map(String::from))
                .collect();
            let fks = on
                .iter()
                .filter_map(|(l, _)| l.column_name().map(String::from))
                .collect();
            self.mb().key_claims.push(KeyClaim {
                source: target,
                columns,
                span: j.span,
                from: Some((from, fks)),
            });
        }
        let unique = matches!(j.cardinality, Cardinality::ManyToOne | Cardinality::OneToOne) && !on.is_empty();
        let pj = PathJoin {
            path: path.to_vec(),
            alias: alias.clone(),
            source: target,
            on,
            fans_out: pf || j.cardinality == Cardinality::OneToMany,
            repeated: pr || j.cardinality == Cardinality::ManyToOne,
            join_span: j.span,
            unique,
        };
        let mb = self.mb();
        if pj.fans_out {
            mb.unique_keys.clear();
        }
        mb.paths.push(pj);
        alias
    }

    /// `model.column` where the model has at most one row: joined in as a scalar.
    fn scalar_ref(&mut self, mi: usize, col: &ast::Ident, span: Span, cx: &Ctx) -> TExpr {
        let Some(m) = self.model_dep(mi, span) else {
            return ty_err();
        };
        if !m.single_row {
            self.err(
                Diagnostic::error(Code::E0217, span, format!("model `{}` is not a single row", m.name))
                    .label("used as a scalar")
                    .help(format!("only a model that ends in an `aggregate` without `group by` is a scalar; join `{}` with a `join` step instead", m.name)),
            );
            return ty_err();
        }
        let n = self.norm(col);
        let Some(f) = m.schema.iter().find(|f| f.name == n) else {
            let cands: Vec<String> = m.schema.iter().map(|f| f.name.clone()).collect();
            self.unknown_col(col.span, &n, &cands, &m.name);
            return ty_err();
        };
        if cx.agg == AggMode::Allowed {
            return self.bare_column(&format!("{}.{n}", m.name), span);
        }
        let mb = self.mb();
        let alias = match mb.scalars.iter().find(|(x, _)| *x == mi) {
            Some((_, a)) => a.clone(),
            None => {
                let a = mb.fresh_alias();
                mb.scalars.push((mi, a.clone()));
                mb.pending_scalars.push((mi, a.clone()));
                a
            }
        };
        texpr(
            TExprKind::Col {
                qual: Some(alias),
                name: n,
            },
            f.ty,
            true,
        )
    }

    fn bare_column(&mut self, name: &str, span: Span) -> TExpr {
        self.err(
            Diagnostic::error(
                Code::E0208,
                span,
                format!("column `{name}` is used without an aggregate"),
            )
            .label("not aggregated")
            .help(format!(
                "aggregate it (e.g. `max({name})`) or make it a group key: `group by {name}`"
            )),
        );
        ty_err()
    }

    fn name(&mut self, id: &ast::Ident, span: Span, cx: &Ctx) -> TExpr {
        let n = self.norm(id);
        // columns
        let col = if cx.source_only {
            cx.source
                .and_then(|s| self.sources[s].cols.iter().find(|c| c.name == n))
                .map(|c| Col {
                    name: c.name.clone(),
                    ty: c.ty,
                    nullable: c.nullable,
                    qual: cx.alias.clone(),
                })
        } else {
            self.cur
                .as_ref()
                .and_then(|m| m.cols.iter().find(|c| c.name == n).cloned())
        };
        if let Some(c) = col {
            if cx.agg == AggMode::Allowed {
                return self.bare_column(&n, span);
            }
            return texpr(
                TExprKind::Col {
                    qual: c.qual,
                    name: c.name,
                },
                c.ty,
                c.nullable,
            );
        }
        // dimensions and measures of the source in scope
        let shaped = self.cur.as_ref().is_some_and(|m| m.shaped);
        if let Some(src) = cx.source.filter(|_| shaped || cx.source_only) {
            let s = self.sources[src].ast;
            let key = format!("{}.{}", self.sources[src].name, n);
            let inner = Ctx {
                source_only: true,
                ..cx.clone()
            };
            if let Some(d) = s.dimensions.iter().find(|d| self.norm(&d.name) == n) {
                if self.cur.as_ref().is_some_and(|m| m.expanding.contains(&key)) {
                    self.err(
                        Diagnostic::error(Code::E0213, span, format!("dimension `{n}` refers to itself"))
                            .label("cycle")
                            .with(d.name.span, "declared here")
                            .help("a dimension is defined by columns and other dimensions, without cycles"),
                    );
                    return ty_err();
                }
                self.mb().expanding.push(key);
                let t = self.expr(&d.expr, &inner);
                self.mb().expanding.pop();
                return t;
            }
            if let Some(m) = s.measures.iter().find(|m| self.norm(&m.name) == n) {
                if cx.agg != AggMode::Allowed {
                    self.err(
                        Diagnostic::error(
                            Code::E0207,
                            span,
                            format!("measure `{n}` is an aggregate and cannot be used here"),
                        )
                        .label(if cx.agg == AggMode::Inside {
                            "inside another aggregate"
                        } else {
                            "row-level position"
                        })
                        .with(m.name.span, "declared here")
                        .help("use measures inside `aggregate { }`; filter aggregated rows with a `where` after it"),
                    );
                    return ty_err();
                }
                if self.cur.as_ref().is_some_and(|m| m.expanding.contains(&key)) {
                    self.err(
                        Diagnostic::error(Code::E0213, span, format!("measure `{n}` refers to itself"))
                            .label("cycle")
                            .with(m.name.span, "declared here")
                            .help("a measure is defined by aggregates and other measures, without cycles"),
                    );
                    return ty_err();
                }
                self.mb().expanding.push(key);
                let before = self.cur.as_ref().map(|m| m.pending.len()).unwrap_or(0);
                let t = self.expr(&m.expr, &inner);
                // report fan-out at the use, not inside the declaration
                if let Some(mb) = self.cur.as_mut() {
                    for p in &mut mb.pending[before..] {
                        p.span = span;
                    }
                    mb.expanding.pop();
                }
                return t;
            }
        }
        // unknown
        let mut cands: Vec<String> = vec![];
        if cx.source_only {
            if let Some(s) = cx.source {
                cands.extend(self.sources[s].cols.iter().map(|c| c.name.clone()));
            }
        } else if let Some(m) = &self.cur {
            cands.extend(m.cols.iter().map(|c| c.name.clone()));
        }
        if let Some(src) = cx.source.filter(|_| shaped || cx.source_only) {
            let s = self.sources[src].ast;
            cands.extend(s.dimensions.iter().chain(&s.measures).map(|d| self.norm(&d.name)));
        }
        let where_ = match (cx.source_only, cx.source) {
            (true, Some(s)) => format!(" in `{}`", self.sources[s].name),
            _ => String::new(),
        };
        let mut d = Diagnostic::error(Code::E0102, id.span, format!("unknown name `{n}`{where_}")).label("not found");
        let is_join = cx
            .source
            .is_some_and(|s| self.sources[s].ast.joins.iter().any(|j| self.norm(j.name()) == n));
        d = d.help(if is_join {
            format!("`{n}` is a join: name one of its columns, e.g. `{n}.column`")
        } else {
            did_you_mean(&n, cands.iter().map(String::as_str)).unwrap_or_else(|| {
                if cands.is_empty() {
                    "nothing is in scope here".to_string()
                } else {
                    format!(
                        "in scope: {}",
                        cands.iter().take(12).cloned().collect::<Vec<_>>().join(", ")
                    )
                }
            })
        });
        self.err(d);
        ty_err()
    }

    // ------------------------------------------------------------ functions

    fn call(&mut self, name: &ast::Ident, args: &[ast::Expr], span: Span, cx: &Ctx) -> TExpr {
        let n = name.text.to_lowercase();
        let Some(cands) = self.func_idx.get(&n).cloned() else {
            let help = did_you_mean(&n, self.func_idx.keys().map(String::as_str))
                .unwrap_or_else(|| "functions are listed in stdlib/functions.sem".into());
            self.err(
                Diagnostic::error(Code::E0104, name.span, format!("unknown function `{n}`"))
                    .label("not in the standard library")
                    .help(help),
            );
            return ty_err();
        };
        let is_agg = self.funcs[cands[0]].aggregate;
        if is_agg && cx.agg != AggMode::Allowed {
            self.err(
                Diagnostic::error(Code::E0207, span, format!("`{n}` is an aggregate and cannot be used here"))
                    .label(if cx.agg == AggMode::Inside { "inside another aggregate" } else { "row-level position" })
                    .help("aggregates belong in `aggregate { }` or a measure; filter aggregated rows with a `where` after the aggregate"),
            );
            return ty_err();
        }
        let arg_cx = Ctx {
            agg: if is_agg { AggMode::Inside } else { cx.agg },
            ..cx.clone()
        };
        let targs: Vec<TExpr> = args.iter().map(|a| self.expr(a, &arg_cx)).collect();
        if targs.iter().any(TExpr::is_error) {
            return ty_err();
        }
        for &fi in &cands {
            if let Some((ret, args2)) = self.match_sig(fi, &targs) {
                let sig = &self.funcs[fi];
                let nullable = if sig.aggregate {
                    sig.name != "count" && sig.name != "count_distinct"
                } else {
                    args2.iter().any(|a| a.nullable)
                };
                let kind = if sig.aggregate {
                    TExprKind::Agg(fi, args2)
                } else {
                    TExprKind::Call(fi, args2)
                };
                let t = texpr(kind, ret, nullable);
                if is_agg && let Some(mb) = self.cur.as_mut() {
                    let home = if cx.source_only {
                        cx.alias.clone().unwrap_or_else(|| mb.base_alias.clone())
                    } else {
                        mb.base_alias.clone()
                    };
                    mb.pending.push(PendingAgg {
                        func: n.clone(),
                        home,
                        expr: t.clone(),
                        span,
                    });
                }
                return t;
            }
        }
        let sigs: Vec<String> = cands
            .iter()
            .map(|&i| {
                let s = &self.funcs[i];
                format!(
                    "{}({}{})",
                    s.name,
                    s.args.join(", "),
                    if s.variadic { "..." } else { "" }
                )
            })
            .collect();
        let got: Vec<String> = targs.iter().map(|t| t.ty.to_string()).collect();
        self.err(
            Diagnostic::error(Code::E0203, span, format!("`{n}` does not take ({})", got.join(", ")))
                .label("wrong arguments")
                .help(format!("`{n}` takes {}", sigs.join(" or "))),
        );
        ty_err()
    }

    /// Matches arguments against a signature; gives the return type and the (cast) arguments.
    fn match_sig(&self, fi: usize, args: &[TExpr]) -> Option<(Type, Vec<TExpr>)> {
        let sig = &self.funcs[fi];
        let n = sig.args.len();
        if args.len() < n || (args.len() > n && !sig.variadic) || (sig.variadic && args.len() < n) {
            return None;
        }
        let mut out = vec![];
        let mut common: Option<Type> = None;
        for (i, a) in args.iter().enumerate() {
            let class = sig.args.get(i).or(sig.args.last()).map(String::as_str).unwrap_or("any");
            let t = a.ty;
            let ok = match class {
                "any" => true,
                "numeric" => t.is_numeric() || t == Type::Null,
                "integer" => t.is_integer() || t == Type::Null,
                "string" => t == Type::String || t == Type::Null,
                "date" => t == Type::Date || t == Type::Null,
                "timestamp" => t == Type::Timestamp || t == Type::Null,
                "temporal" => t.is_temporal() || t == Type::Null,
                "bool" => t == Type::Bool || t == Type::Null,
                "float64" => t.is_numeric() || t == Type::Null,
                "same" => common.and_then(|c| Type::unify(c, t, false, a.is_literal())).is_some() || t == Type::Null,
                _ => false,
            };
            if !ok {
                return None;
            }
            common = match common {
                None if t != Type::Null => Some(t),
                Some(c) => Type::unify(c, t, false, a.is_literal()).or(Some(c)),
                x => x,
            };
            let arg = if class == "float64" && t != Type::Float64 && t != Type::Null {
                texpr(
                    TExprKind::Cast(Box::new(a.clone()), Type::Float64),
                    Type::Float64,
                    a.nullable,
                )
            } else {
                a.clone()
            };
            out.push(arg);
        }
        let argty = |k: Option<usize>| {
            k.and_then(|k| out.get(k.saturating_sub(1)))
                .map(|a| a.ty)
                .unwrap_or(Type::Null)
        };
        let ret = match (sig.ret.0.as_str(), sig.ret.1) {
            ("arg", k) => argty(k),
            ("sum", k) => match argty(k) {
                Type::Int32 | Type::Int64 => Type::Int64,
                Type::Decimal(p, s) => Type::Decimal((p + 10).min(38), s),
                t => t,
            },
            ("avg", k) => match argty(k) {
                Type::Decimal(p, s) => Type::Decimal((p + 4).min(38), (s + 4).min(38)),
                _ => Type::Float64,
            },
            ("common", _) => {
                // unify all arguments; cast each to the result
                let t = common.unwrap_or(Type::Null);
                for a in out.iter_mut() {
                    if a.ty != t && a.ty != Type::Null {
                        *a = texpr(TExprKind::Cast(Box::new(a.clone()), t), t, a.nullable);
                    }
                }
                t
            }
            (name, _) => Type::from_name(name)?,
        };
        Some((ret, out))
    }

    // ------------------------------------------------------------ outputs

    fn output(&mut self, o: &ast::Output, locations: &mut HashMap<String, Span>) {
        let name = self.norm(&o.model);
        let Some(&mi) = self.model_idx.get(&name) else {
            let is_source = self.source_idx.contains_key(&name);
            let help = if is_source {
                format!("outputs materialize models; write `model {name}_out from {name} {{ }}` and output that")
            } else {
                did_you_mean(&name, self.model_idx.keys().map(String::as_str))
                    .unwrap_or_else(|| "declare the model first".into())
            };
            self.err(
                Diagnostic::error(Code::E0103, o.model.span, format!("unknown model `{name}`"))
                    .label("no such model")
                    .help(help),
            );
            return;
        };
        let url = match crate::delta::resolve_location(&self.ws.root, &o.location) {
            Ok(u) => u,
            Err(e) => {
                self.err(
                    Diagnostic::error(Code::E0306, o.location_span, e.message().to_string())
                        .label("invalid location")
                        .help("write a path relative to the workspace root, or a URI"),
                );
                return;
            }
        };
        if let Some(prev) = locations.insert(url.to_string(), o.location_span) {
            self.err(
                Diagnostic::error(Code::E0211, o.location_span, "two outputs write the same Delta table")
                    .label("written again here")
                    .with(prev, "first written here")
                    .help("give each output its own location"),
            );
            return;
        }
        if self.outputs.iter().any(|x| x.name == name) {
            self.err(
                Diagnostic::error(Code::E0211, o.model.span, format!("model `{name}` is output twice"))
                    .label("second output")
                    .help("output each model once"),
            );
            return;
        }
        let schema = self.models[mi].done.as_ref().map(|m| m.schema.clone());
        if self.models[mi].done.as_ref().is_some_and(|m| m.incremental.is_some())
            && o.mode != crate::ast::WriteMode::Append
        {
            self.err(
                Diagnostic::error(Code::E0221, o.span, format!("model `{name}` is incremental: its output appends"))
                    .label("declared `mode overwrite`")
                    .help("write `mode append`: each run appends the rows of the source's new changes (a run that cannot do so rebuilds the output)"),
            );
        }
        let mut parts = vec![];
        for p in &o.partition_by {
            let pn = self.norm(p);
            if let Some(schema) = &schema
                && !schema.iter().any(|f| f.name == pn)
            {
                let names: Vec<&str> = schema.iter().map(|f| f.name.as_str()).collect();
                let help = did_you_mean(&pn, names.iter().copied())
                    .unwrap_or_else(|| format!("the model's columns are {}", names.join(", ")));
                self.err(
                    Diagnostic::error(
                        Code::E0211,
                        p.span,
                        format!("model `{name}` has no column `{pn}` to partition by"),
                    )
                    .label("not a column of the model")
                    .help(help),
                );
            }
            parts.push(pn);
        }
        self.outputs.push(OutputIr {
            name: name.clone(),
            span: o.span,
            model: mi,
            url,
            mode: o.mode,
            partition_by: parts,
        });
    }
}

/// The order in which path joins are added after the base scan. The engine joins in plan
/// order, so chains whose tables a `where` narrows with an equality (`==`, `in`, `like`)
/// go first, then chains narrowed by a range, then the rest; among equals, the chain whose
/// narrowed table is fewer hops away goes first. Within a chain, parents precede children.
fn join_order<'p>(paths: &'p [PathJoin], steps: &[StepIr]) -> Vec<&'p PathJoin> {
    let mut score: HashMap<String, u8> = HashMap::new();
    let mut note = |alias: &str, s: u8| {
        let e = score.entry(alias.to_string()).or_insert(s);
        *e = (*e).min(s);
    };
    fn col_of(e: &TExpr) -> Option<&str> {
        match &e.kind {
            TExprKind::Col { qual: Some(q), .. } => Some(q),
            TExprKind::Cast(x, _) => col_of(x),
            _ => None,
        }
    }
    for step in steps {
        let StepIr::Filter(pred) = step else {
            if matches!(step, StepIr::Aggregate(..) | StepIr::Project(_)) {
                break;
            }
            continue;
        };
        pred.walk(&mut |e| match &e.kind {
            TExprKind::Binary(op, a, b) => {
                let (c, lit) = match (col_of(a), col_of(b)) {
                    (Some(c), None) if b.is_literal() => (c, true),
                    (None, Some(c)) if a.is_literal() => (c, true),
                    _ => return,
                };
                if lit {
                    note(
                        c,
                        if *op == BinOp::Eq {
                            0
                        } else if matches!(op, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge) {
                            1
                        } else {
                            2
                        },
                    );
                }
            }
            TExprKind::InList(x, _, false) | TExprKind::Like(x, _, false) => {
                if let Some(c) = col_of(x) {
                    note(c, 0);
                }
            }
            TExprKind::Between(x, _, _, false) => {
                if let Some(c) = col_of(x) {
                    note(c, 1);
                }
            }
            _ => {}
        });
    }
    // each chain (first hop) is ranked by its best (score, depth)
    let rank = |first: &str| {
        paths
            .iter()
            .filter(|p| p.path[0] == first)
            .map(|p| (score.get(p.alias.as_str()).copied().unwrap_or(3), p.path.len()))
            .min()
            .unwrap_or((3, 0))
    };
    let mut firsts: Vec<&str> = vec![];
    for p in paths {
        if !firsts.contains(&p.path[0].as_str()) {
            firsts.push(&p.path[0]);
        }
    }
    let mut ranked: Vec<(usize, &str)> = firsts.iter().enumerate().map(|(i, f)| (i, *f)).collect();
    ranked.sort_by_key(|(i, f)| (rank(f), *i));
    ranked
        .iter()
        .flat_map(|(_, f)| paths.iter().filter(move |p| p.path[0] == *f))
        .collect()
}

/// The result type of arithmetic, as the engine computes it (so plan and checker agree).
fn arith_type(op: BinOp, l: Type, r: Type) -> Option<Type> {
    use datafusion::logical_expr::Operator;
    use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
    let o = match op {
        BinOp::Add => Operator::Plus,
        BinOp::Sub => Operator::Minus,
        BinOp::Mul => Operator::Multiply,
        BinOp::Div => Operator::Divide,
        BinOp::Mod => Operator::Modulo,
        _ => return None,
    };
    let (la, ra) = (l.to_arrow(), r.to_arrow());
    let t = BinaryTypeCoercer::new(&la, &o, &ra).get_result_type().ok()?;
    Type::from_arrow(&t)
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Option<i32> {
    let mut it = s.split('-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&m) || d < 1 || d > mdays[(m - 1) as usize] {
        return None;
    }
    // days from civil (H. Hinnant)
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146097 + doe - 719468) as i32)
}
