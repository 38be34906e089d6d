//! The syntax tree: what the parser gives and the checker takes.
//! Every node carries the [`Span`] of its text; names keep whether they were quoted.

use crate::span::Span;
pub use crate::vocabulary::{BinOp, FrameBound, WriteMode};

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub text: String,
    pub quoted: bool,
    pub span: Span,
}

impl Ident {
    /// Whether this name, as written, is the checked name `checked` (a quoted name keeps its
    /// case; an unquoted one may have been lower-cased by the policy).
    pub fn matches(&self, checked: &str) -> bool {
        self.text == checked || (!self.quoted && self.text.to_lowercase() == checked)
    }
}

#[derive(Debug, Clone)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone)]
pub enum Item {
    Policy(Policy),
    Import(Import),
    Source(Source),
    Model(Model),
    Output(Output),
    Function(Function),
    /// A parameterized model; its instances are models (expanded when the workspace loads).
    Template(Template),
    /// `type name = T`: a name for a type.
    TypeAlias(TypeAlias),
}

/// `type name = T`.
#[derive(Debug, Clone)]
pub struct TypeAlias {
    pub name: Ident,
    pub ty: TypeExpr,
    pub doc: Option<String>,
    pub span: Span,
}

/// `template name(params) from rel { steps }`.
#[derive(Debug, Clone)]
pub struct Template {
    pub params: Vec<TemplateParam>,
    /// The model it gives, as written (named as the template, from its relation parameter).
    pub body: Model,
}

/// A template's parameter: what an argument stands for where the parameter is named.
#[derive(Debug, Clone)]
pub struct TemplateParam {
    pub name: Ident,
    pub kind: ParamKind,
    /// `= literal`: the value when the instance gives none.
    pub default: Option<Expr>,
}

#[derive(Debug, Clone)]
pub enum ParamKind {
    /// Untyped: a source or model (in `from`, `join`, `union`).
    Relation,
    /// `: column`: a name, put wherever the parameter's name stands (`r.x` included).
    Column,
    /// `: expr`: an expression.
    Expr,
    /// `: T`: a value of type T (checked where it is used).
    Value(TypeExpr),
}

/// `model name = template(args)`: where a model was made from a template.
#[derive(Debug, Clone)]
pub struct InstanceOf {
    pub template: Ident,
    /// The arguments, positional then named.
    pub args: Vec<(Option<Ident>, Expr)>,
    /// The `model … = t(…)` line.
    pub span: Span,
    /// The template's declaration and its name (once expanded).
    pub template_span: Span,
    pub template_name_span: Span,
    /// Whether the template's body was put in the model (else its arguments did not fit,
    /// or there is no such template: reported when the workspace was loaded).
    pub expanded: bool,
}

/// `fn name(p: T, …) -> T = expr`: a function of the workspace, inlined at each call.
#[derive(Debug, Clone)]
pub struct Function {
    pub name: Ident,
    pub params: Vec<(Ident, TypeExpr)>,
    pub ret: TypeExpr,
    /// The expression; `None` for an `extern fn`, which the host implements.
    pub body: Option<Expr>,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub entries: Vec<PolicyEntry>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct PolicyEntry {
    pub key: Ident,
    pub value: PolicyValue,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum PolicyValue {
    Bool(bool),
    Int(i64),
    Str(String),
    Name(Ident),
    List(Vec<Expr>),
}

#[derive(Debug, Clone)]
pub struct Import {
    pub path: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Pin {
    Version(i64, Span),
    Timestamp(String, Span),
}

#[derive(Debug, Clone)]
pub struct Source {
    pub name: Ident,
    pub location: String,
    pub location_span: Span,
    pub pin: Option<Pin>,
    pub columns: Vec<ColumnDecl>,
    pub joins: Vec<JoinDecl>,
    pub measures: Vec<NamedDecl>,
    pub dimensions: Vec<NamedDecl>,
    /// `key (a, b)`: composite keys.
    pub keys: Vec<Vec<Ident>>,
    /// `scan { file_column = "_file", pushdown = false, files = ["…"] }`.
    pub scan: Vec<PolicyEntry>,
    /// The `##` lines right above the declaration.
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct ColumnDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    pub constraints: Vec<Constraint>,
    pub doc: Option<String>,
    pub span: Span,
}

impl ColumnDecl {
    /// Whether the constraints forbid nulls (`key`, `not null`), and whether they declare
    /// the column unique (`key`, `unique`).
    pub fn not_null_and_unique(&self) -> (bool, bool) {
        let not_null = self
            .constraints
            .iter()
            .any(|k| matches!(k, Constraint::Key(_) | Constraint::NotNull(_)));
        let unique = self
            .constraints
            .iter()
            .any(|k| matches!(k, Constraint::Key(_) | Constraint::Unique(_)));
        (not_null, unique)
    }
}

#[derive(Debug, Clone)]
pub enum TypeExpr {
    /// A type by name: a built-in one (`int64`) or an alias (`type span = …`).
    Named(Ident),
    Decimal(i64, i64, Span),
    /// `list<T>`.
    List(Box<TypeExpr>, Span),
    /// `struct<a: T, …>`.
    Struct(Vec<(Ident, TypeExpr)>, Span),
    /// `map<K, V>`.
    Map(Box<TypeExpr>, Box<TypeExpr>, Span),
}

impl TypeExpr {
    pub fn span(&self) -> Span {
        match self {
            TypeExpr::Named(i) => i.span,
            TypeExpr::Decimal(_, _, s) | TypeExpr::List(_, s) | TypeExpr::Struct(_, s) | TypeExpr::Map(_, _, s) => *s,
        }
    }

    /// The names of types this one is made of (aliases among them), as written.
    pub fn names(&self, out: &mut Vec<Ident>) {
        match self {
            TypeExpr::Named(i) => out.push(i.clone()),
            TypeExpr::Decimal(..) => {}
            TypeExpr::List(t, _) => t.names(out),
            TypeExpr::Struct(fields, _) => fields.iter().for_each(|(_, t)| t.names(out)),
            TypeExpr::Map(k, v, _) => {
                k.names(out);
                v.names(out);
            }
        }
    }
}

#[derive(Debug, Clone)]
pub enum Constraint {
    Key(Span),
    Unique(Span),
    NotNull(Span),
    Check(Expr, Span),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cardinality {
    ManyToOne,
    OneToOne,
    OneToMany,
    /// `join X semi on …`: keep the rows that have a match (EXISTS / IN).
    Semi,
    /// `join X anti on …`: keep the rows that have no match (NOT EXISTS / NOT IN).
    Anti,
}

impl Cardinality {
    pub fn as_str(self) -> &'static str {
        match self {
            Cardinality::ManyToOne => "many_to_one",
            Cardinality::OneToOne => "one_to_one",
            Cardinality::OneToMany => "one_to_many",
            Cardinality::Semi => "semi",
            Cardinality::Anti => "anti",
        }
    }
}

#[derive(Debug, Clone)]
pub struct JoinDecl {
    pub target: Ident,
    pub alias: Option<Ident>,
    pub cardinality: Cardinality,
    pub cardinality_span: Span,
    pub on: Vec<(Expr, Expr)>,
    /// Other comparisons in `on` (`and l2.l_suppkey != l_suppkey`).
    pub filters: Vec<Expr>,
    pub doc: Option<String>,
    pub span: Span,
}

impl JoinDecl {
    /// The name the join is reached by: its alias, else its target.
    pub fn name(&self) -> &Ident {
        self.alias.as_ref().unwrap_or(&self.target)
    }
}

#[derive(Debug, Clone)]
pub struct NamedDecl {
    pub name: Ident,
    pub expr: Expr,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub name: Ident,
    pub from: Ident,
    pub steps: Vec<Step>,
    pub contract: Option<Contract>,
    /// `incremental`: each run appends the rows of the source's new changes (its span).
    pub incremental: Option<Span>,
    pub doc: Option<String>,
    pub span: Span,
    /// Made from a template (`model m = t(…)`): the template and the line.
    pub instance: Option<InstanceOf>,
}

#[derive(Debug, Clone)]
pub struct Contract {
    pub columns: Vec<ColumnDecl>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct NamedExpr {
    pub name: Option<Ident>,
    pub expr: Expr,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct WindowCall {
    pub name: Ident,
    pub args: Vec<Expr>,
    pub partition: Vec<Expr>,
    pub order: Vec<SortKey>,
    pub frame: Option<(FrameBound, FrameBound)>,
    /// The `over (…)` clause.
    pub over_span: Span,
}

#[derive(Debug, Clone)]
pub struct SortKey {
    pub expr: Expr,
    pub descending: bool,
    /// `nulls first` (true) or `nulls last` (false) as written; unwritten, nulls go last.
    pub nulls_first: Option<bool>,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    Where(Expr),
    Select(Vec<NamedExpr>),
    Derive(Vec<NamedExpr>),
    Join(JoinDecl),
    GroupBy(Vec<NamedExpr>, Vec<NamedExpr>),
    Aggregate(Vec<NamedExpr>),
    Sort(Vec<SortKey>),
    Limit(i64),
    Distinct,
    Union(Ident),
    /// `keep N per k, … by e [asc|desc], …`: per group of `per`, the first N rows in the order.
    Keep {
        n: i64,
        per: Vec<Expr>,
        by: Vec<SortKey>,
    },
    /// `closure a -> b [per k, …] max N as (reached, depth) [shortest] [truncate]`.
    Closure(Closure),
    /// `unnest e as x [keep empty] [with ordinality as i]`.
    Unnest(Unnest),
}

/// An unnest step: one row per element of a list (or entry of a map), the row's other
/// columns carried along.
#[derive(Debug, Clone)]
pub struct Unnest {
    pub expr: Expr,
    /// The element's column.
    pub name: Ident,
    /// A row whose list is empty or null is kept once, its element null.
    pub keep_empty: bool,
    /// The element's position in its list, from 1.
    pub ordinality: Option<Ident>,
}

/// A closure step: the rows are edges `from -> to`; walks of 1 to `max` of them.
#[derive(Debug, Clone)]
pub struct Closure {
    pub from: Ident,
    pub to: Ident,
    pub per: Vec<Ident>,
    pub max: i64,
    pub max_span: Span,
    pub reached: Ident,
    pub depth: Ident,
    pub shortest: bool,
    pub truncate: bool,
}

impl StepKind {
    /// The policy name of the step (`allow = [...]`).
    pub fn keyword(&self) -> &'static str {
        match self {
            StepKind::Where(_) => "where",
            StepKind::Select(_) => "select",
            StepKind::Derive(_) => "derive",
            StepKind::Join(_) => "join",
            StepKind::GroupBy(..) | StepKind::Aggregate(_) => "aggregate",
            StepKind::Sort(_) => "sort",
            StepKind::Limit(_) => "limit",
            StepKind::Distinct => "distinct",
            StepKind::Union(_) => "union",
            StepKind::Keep { .. } => "keep",
            StepKind::Closure(_) => "closure",
            StepKind::Unnest(_) => "unnest",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub kind: StepKind,
    /// The span of the step's keyword.
    pub keyword_span: Span,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Output {
    pub model: Ident,
    pub location: String,
    pub location_span: Span,
    pub mode: WriteMode,
    pub partition_by: Vec<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypedLitKind {
    Date,
    Timestamp,
    Interval,
}

#[derive(Debug, Clone)]
pub enum Lit {
    Int(String),
    Number(String),
    Str(String),
    Bool(bool),
    Null,
    Typed(TypedLitKind, String),
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

impl Expr {
    /// The expressions directly inside this one (a window's partition and order included).
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Lit(_) | ExprKind::Path(_) | ExprKind::Error => vec![],
            ExprKind::Call(_, xs) | ExprKind::List(xs) => xs.iter().collect(),
            ExprKind::Window(w) => w
                .args
                .iter()
                .chain(&w.partition)
                .chain(w.order.iter().map(|k| &k.expr))
                .collect(),
            ExprKind::Binary(_, a, b) | ExprKind::Like(a, b, _) | ExprKind::Index(a, b) => vec![a, b],
            ExprKind::Not(a)
            | ExprKind::Neg(a)
            | ExprKind::IsNull(a, _)
            | ExprKind::Cast(a, _)
            | ExprKind::Member(a, _) => {
                vec![a]
            }
            ExprKind::InList(a, xs, _) => std::iter::once(a.as_ref()).chain(xs).collect(),
            ExprKind::Between(a, b, c, _) => vec![a, b, c],
            ExprKind::Case(arms, other) => arms.iter().flat_map(|(c, v)| [c, v]).chain(other.as_deref()).collect(),
            ExprKind::Struct(fields) => fields.iter().map(|(_, x)| x).collect(),
            ExprKind::Ordered(call, keys) => std::iter::once(call.as_ref())
                .chain(keys.iter().map(|k| &k.expr))
                .collect(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Lit(Lit),
    /// `a`, `orders.customer.c_name`
    Path(Vec<Ident>),
    Call(Ident, Vec<Expr>),
    /// `f(args) over (partition by … order by … rows between … and …)`.
    Window(Box<WindowCall>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    IsNull(Box<Expr>, bool),
    InList(Box<Expr>, Vec<Expr>, bool),
    Between(Box<Expr>, Box<Expr>, Box<Expr>, bool),
    Like(Box<Expr>, Box<Expr>, bool),
    Case(Vec<(Expr, Expr)>, Option<Box<Expr>>),
    Cast(Box<Expr>, TypeExpr),
    /// `[a, b, …]`: a list value (or the list after `in`).
    List(Vec<Expr>),
    /// `xs[i]` (a list's element, from 1) or `m[k]` (a map's value).
    Index(Box<Expr>, Box<Expr>),
    /// `e.f`: a field of a struct value that is not a name (`xs[1].name`); a path's fields
    /// are resolved with the path.
    Member(Box<Expr>, Ident),
    /// `struct(name = e, …)`.
    Struct(Vec<(Ident, Expr)>),
    /// An aggregate call with the order it reads its rows in: `collect(x order by k)`.
    Ordered(Box<Expr>, Vec<SortKey>),
    /// A node the parser already reported (e.g. nesting too deep); checks skip it.
    Error,
}
