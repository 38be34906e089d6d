//! Stage 2: syntax trees (+ Delta schemas) → checked [`Program`] plus every diagnostic.
//!
//! Invariant: the checker reports all the errors it finds in one pass and never panics;
//! it returns a program only when there is no error. A program it returns lowers and runs
//! without user errors.

use crate::codes::Code;
use crate::delta::{TableError, TableInfo};
use crate::diag::Diagnostic;
use crate::ir::*;
use crate::span::Span;
use crate::syntax::Signature;
use crate::syntax::ast::{self};
use crate::syntax::load::Workspace;
use crate::types::Type;
use std::collections::{HashMap, HashSet};

mod closure;
mod contracts;
mod exprs;
mod functions;
mod grain;
mod incremental;
pub mod index;
mod join_order;
mod joins;
mod literals;
mod model_joins;
mod models;
mod names;
mod nested;
mod outputs;
mod policy;
mod sources;
mod steps;
mod tables;
mod types;
mod user_functions;
mod windows;

use join_order::join_order;
pub use literals::parse_date;

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
    c.finish()
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
    /// Measures and dimensions whose declaration has an error (reported there once): a use
    /// of one is an error node, with no diagnostic of its own.
    broken_members: HashSet<String>,
}

impl SrcInfo<'_> {
    /// The source's declared columns, as a scan aliased `alias` shows them.
    fn cols_as(&self, alias: &str) -> Vec<Col> {
        self.cols
            .iter()
            .map(|c| Col {
                name: c.name.clone(),
                ty: c.ty,
                nullable: c.nullable,
                qual: Some(alias.into()),
            })
            .collect()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum BuildState {
    Todo,
    InProgress,
    Done,
}

struct ModelSlot<'a> {
    ast: &'a ast::Model,
    name: String,
    state: BuildState,
    done: Option<ModelIr>,
}

/// A relation named in `from`, `join` or `union`, as a step sees it.
struct Relation {
    rel: Rel,
    cols: Vec<Col>,
    /// The source, when the relation is one.
    source: Option<usize>,
    /// Column sets unique in its rows.
    keys: Vec<Vec<String>>,
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
    /// An `unnest` step's rows (else a join's): named so in fan-out messages.
    unnest: bool,
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
    /// The measure it comes from, when a measure was used.
    measure: Option<String>,
    props: crate::syntax::stdlib::FunctionProps,
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
    /// Row level in `derive` and `select`: window functions may stand here.
    Window,
}

enum StepIr {
    Filter(TExpr),
    Project(Vec<(String, TExpr)>),
    Join(Rel, JoinKind, Vec<(TExpr, TExpr)>, Option<TExpr>),
    Aggregate(Vec<(String, TExpr)>, Vec<(String, TExpr)>),
    Sort(Vec<(TExpr, SortOrder)>),
    Limit(usize),
    Distinct,
    Union(Rel),
    Closure(ClosureSpec),
    /// One row per element of the list just derived under this alias.
    Unnest(String, UnnestSpec),
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
    /// The model reads something whose error was reported elsewhere (a broken measure):
    /// it is in error without a diagnostic of its own.
    poisoned: bool,
    /// The first window function of the model (an incremental model may have none).
    first_window: Option<Span>,
    pending: Vec<PendingAgg>,
    /// Column sets known to be unique in the current relation.
    unique_keys: Vec<Vec<String>>,
    /// Where each column the model's steps named so far is defined (for editors).
    col_defs: HashMap<String, Span>,
    /// Single-row models joined in (model, alias) while the row shape lasts.
    scalars: Vec<(usize, String)>,
    /// Scalar joins to add before the next step.
    pending_scalars: Vec<(usize, String)>,
    /// The relation has at most one row.
    single_row: bool,
    key_claims: Vec<KeyClaim>,
    /// A derived column that is a plain copy of another relation's column: (alias, name)
    /// → the alias whose column it copies (fan-out reads through the copy).
    copies: HashMap<(String, String), String>,
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
            poisoned: false,
            first_window: None,
            pending: vec![],
            unique_keys: vec![],
            col_defs: HashMap::new(),
            scalars: vec![],
            pending_scalars: vec![],
            single_row: false,
            key_claims: vec![],
            copies: HashMap::new(),
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
    building: Option<ModelBuild>,
    /// What an editor asked to know of every name (None: not asked).
    index: Option<index::Index>,
    /// Columns declared not null that their tables allow nulls in (`source.column`), for
    /// one warning.
    unguaranteed: Vec<(String, Span)>,
    /// The workspace's functions, by name (lower case, as the standard library's).
    user_fns: HashMap<String, &'a ast::Function>,
    /// The workspace's `extern fn`s, by name: their index in `funcs`.
    host_fns: HashMap<String, usize>,
    /// The functions whose bodies are being checked, innermost last.
    fn_frames: Vec<user_functions::Frame>,
    /// The workspace's `type` aliases, by name (lower case).
    type_aliases: HashMap<String, types::AliasSlot<'a>>,
    /// The aliases being resolved, innermost last (a cycle is E0113).
    resolving_aliases: Vec<String>,
}

/// The order a sort key is written with (`desc`, `nulls first`).
fn sort_order(key: &ast::SortKey) -> SortOrder {
    SortOrder {
        descending: key.descending,
        nulls_first: key.nulls_first.unwrap_or(false),
    }
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
            building: None,
            index: None,
            unguaranteed: vec![],
            user_fns: HashMap::new(),
            host_fns: HashMap::new(),
            fn_frames: vec![],
            type_aliases: HashMap::new(),
            resolving_aliases: vec![],
        }
    }

    /// The program (when there is no error) and every diagnostic.
    fn finish(self) -> (Option<Program>, Vec<Diagnostic>) {
        let ok = !self.diags.iter().any(Diagnostic::is_error);
        // without an error every model was built; a model that was not gives no program
        // (the driver reports that as semc's bug)
        let models: Option<Vec<ModelIr>> = self.models.iter().map(|m| m.done.clone()).collect();
        let program = models.filter(|_| ok).map(|models| Program {
            policy: self.policy.clone(),
            sources: self.sources.iter().map(|s| s.ir.clone()).collect(),
            models,
            outputs: self.outputs.clone(),
            functions: self.funcs.clone(),
        });
        (program, self.diags)
    }

    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn canonical_name(&self, i: &ast::Ident) -> String {
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
        self.diags.extend(self.ws.template_diags.iter().cloned());
        self.declare_type_aliases(&items);
        self.declare_functions(&items);
        // names
        let mut seen: HashMap<String, Span> = HashMap::new();
        let srcs = sources_of(self.ws);
        for (i, s) in srcs.iter().enumerate() {
            let name = self.canonical_name(&s.name);
            if self.dup_check(&mut seen, &name, s.name.span, "source or model") {
                continue;
            }
            let table = tables.get(i);
            self.source(s, table);
        }
        self.report_unguaranteed_not_null();
        for it in &items {
            if let ast::Item::Model(m) = it {
                let name = self.canonical_name(&m.name);
                if self.dup_check(&mut seen, &name, m.name.span, "source or model") {
                    continue;
                }
                self.model_idx.insert(name.clone(), self.models.len());
                self.models.push(ModelSlot {
                    ast: m,
                    name,
                    state: BuildState::Todo,
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
}
