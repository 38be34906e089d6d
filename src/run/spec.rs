//! The execution spec: everything a run needs besides the Substrait plan — where and how
//! each root is written, and everything verified before the first commit (contracts with
//! their `check`s, the join keys the plan relies on, source constraints, the policy).
//!
//! `semc run` builds it in memory and `semc plan --bundle` writes it as `spec.json`; both
//! then go through the same runner ([`super::execute`]), so a bundle verifies exactly what a
//! run verifies. Check expressions travel as Substrait extended expressions.

use super::{Compilation, Failure, Lock, Session};
use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::ir::{Program, TExpr};
use crate::lower::Lowerer;
use crate::span::{SourceMap, Span};
use crate::syntax::ast::WriteMode;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::DFSchemaRef;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::prelude::SessionContext;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use substrait::proto::ExtendedExpression;

/// The version of the spec's layout; a bundle of another version is refused.
pub const SPEC_FORMAT: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutionSpec {
    pub format: u32,
    pub semc_version: String,
    /// The Substrait plan file, relative to the bundle folder.
    pub plan: String,
    pub outputs: Vec<OutputSpec>,
    /// Each source's table, id and pinned version (what `sem.lock` records), with the
    /// constraints a `strict` run verifies on it.
    pub sources: Vec<SourceSpec>,
    pub policy: PolicySpec,
    /// Tables (sources and outputs) under the workspace root, by URI: their path relative
    /// to it. `semc exec DIR --root R` reads and writes them under `R` instead.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub relative: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    pub name: String,
    /// Index of this output's root relation in the plan.
    pub root: usize,
    pub uri: String,
    pub mode: WriteMode,
    pub partition_by: Vec<String>,
    /// Contract columns that must hold no null.
    pub not_null: Vec<String>,
    /// Contract columns whose values must not repeat.
    pub unique: Vec<String>,
    /// Contract `check (…)`s: no row may make one false.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckSpec>,
    /// The keys this output's models rely on being unique (their `many_to_one` and
    /// `one_to_one` joins), with the foreign keys whose orphans are counted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeySpec>,
    /// The sources this output reads, by name.
    pub reads: Vec<String>,
    /// The output of an `incremental` model: each commit records the version of every
    /// table read, so the next `semc run` knows where to go on from.
    #[serde(default)]
    pub incremental: bool,
    /// Where the output is declared, and where each contract column is.
    pub at: Place,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub contract_at: BTreeMap<String, Place>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    pub name: String,
    pub uri: String,
    pub table_id: String,
    pub version: i64,
    /// Read the table as it was at this time (RFC 3339) instead of at `version`: the run
    /// reads the last version committed at or before it (a spec built or edited in code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// What the source declares that its table does not guarantee (verified under `strict`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<ConstraintSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case", tag = "kind")]
pub enum ConstraintSpec {
    NotNull { column: String, at: Place },
    Unique { columns: Vec<String>, at: Place },
    Check { check: Box<CheckSpec> },
}

/// A boolean expression over a relation's columns, with the text it was written as.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// The contract column (or source) it belongs to.
    pub subject: String,
    pub text: String,
    /// A Substrait `ExtendedExpression` (its protobuf JSON mapping).
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub expr: ExtendedExpression,
    pub at: Place,
}

/// "These columns are unique in this source's snapshot", as a join relies on it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    pub source: String,
    pub columns: Vec<String>,
    /// The source the join starts from and its foreign-key columns (in the order of
    /// `columns`): rows whose key matches nothing are orphans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ForeignKeySpec>,
    pub at: Place,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForeignKeySpec {
    pub source: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    pub strict: bool,
    pub max_reader_version: Option<i64>,
    pub max_writer_version: Option<i64>,
}

/// A place in the `.sem` files: shown in diagnostics of a bundle, which has no sources.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Place {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The span itself, when the `.sem` files are at hand (not in `spec.json`).
    #[serde(skip)]
    pub span: Span,
}

impl PartialEq for Place {
    fn eq(&self, other: &Place) -> bool {
        (&self.file, self.line, self.column) == (&other.file, other.line, other.column)
    }
}

impl Place {
    fn of(map: &SourceMap, span: Span) -> Place {
        let (line, column) = map.line_col(span.file, span.start as usize);
        Place {
            file: map.get(span.file).name.clone(),
            line,
            column,
            span,
        }
    }

    /// A diagnostic at this place: at its span when the files are at hand, else with the
    /// place named in the message.
    pub fn diagnostic(&self, d: crate::diag::Diagnostic) -> crate::diag::Diagnostic {
        if self.span != Span::default() || self.file.is_empty() {
            return d.at(self.span);
        }
        let mut d = d;
        d.message = format!(
            "{} (declared at {}:{}:{})",
            d.message, self.file, self.line, self.column
        );
        d
    }
}

impl ExecutionSpec {
    /// Reads a spec from its JSON: a spec of another format, with an unknown field or a
    /// value of the wrong type is refused (E0404) with the field's path named.
    pub fn from_json(text: &str) -> Result<ExecutionSpec, Failure> {
        let refused = |msg: String| {
            Failure::User(vec![
                Diagnostic::error(Code::E0404, Span::default(), msg)
                    .help("the spec's fields and types are in its JSON Schema (`semc spec-schema`)"),
            ])
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| refused(format!("the spec is not JSON: {e}")))?;
        if let Some(f) = value.get("format").and_then(|f| f.as_u64())
            && f != u64::from(SPEC_FORMAT)
        {
            return Err(refused(format!(
                "the spec has format {f}; this semc runs format {SPEC_FORMAT}: plan it again with this semc"
            )));
        }
        let spec: ExecutionSpec = serde_path_to_error::deserialize(value).map_err(|e| {
            let at = e.path().to_string();
            let what = e.into_inner();
            refused(if at == "." {
                format!("the spec is not a semc execution spec: {what}")
            } else {
                format!("the spec is not a semc execution spec: at `{at}`: {what}")
            })
        })?;
        match spec.unknown_source() {
            Some((at, name)) => Err(refused(format!(
                "the spec is not a semc execution spec: at `{at}`: no source named `{name}` in `sources`"
            ))),
            None => Ok(spec),
        }
    }

    /// The first place that names a source `sources` does not hold (and that name).
    fn unknown_source(&self) -> Option<(String, &str)> {
        let known = |name: &str| self.sources.iter().any(|s| s.name == name);
        for (i, o) in self.outputs.iter().enumerate() {
            if let Some((j, name)) = o.reads.iter().enumerate().find(|(_, r)| !known(r)) {
                return Some((format!("outputs[{i}].reads[{j}]"), name));
            }
            for (j, k) in o.keys.iter().enumerate() {
                if !known(&k.source) {
                    return Some((format!("outputs[{i}].keys[{j}].source"), &k.source));
                }
                if let Some(from) = k.from.as_ref().filter(|f| !known(&f.source)) {
                    return Some((format!("outputs[{i}].keys[{j}].from.source"), &from.source));
                }
            }
        }
        None
    }

    /// The spec as JSON, as `spec.json` holds it.
    pub fn to_json(&self) -> Result<String, Failure> {
        serde_json::to_string_pretty(self).map_err(|e| Failure::Internal(format!("the spec does not serialize: {e}")))
    }

    /// The JSON Schema of the spec, generated from these types.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(ExecutionSpec)).unwrap_or_default()
    }

    /// The spec of a run of `program` (the compilation's, or one a run rewrote from it) over
    /// its outputs (all, or those named). `roots` are the outputs' logical plans, in order.
    pub fn of(
        c: &Compilation,
        program: &Program,
        session: &Session,
        roots: &[LogicalPlan],
        only: &[String],
    ) -> Result<ExecutionSpec, Failure> {
        let map = &c.ws.map;
        let state = session.ctx.state();
        let lowerer = Lowerer::new(program, &session.providers, &state);
        let lock = Lock::of(c);
        let checked = c.program()?;
        let mut sources = vec![];
        for (s, locked) in checked.sources.iter().zip(lock.sources) {
            let mut constraints = vec![];
            for k in &s.constraints {
                use crate::ir::SourceConstraintKind as K;
                let at = Place::of(map, k.span);
                constraints.push(match &k.kind {
                    K::NotNull(column) => ConstraintSpec::NotNull {
                        column: column.clone(),
                        at,
                    },
                    K::Unique(columns) => ConstraintSpec::Unique {
                        columns: columns.clone(),
                        at,
                    },
                    K::Check(e) => {
                        let scan = session.scan_of(s)?.alias("t0")?;
                        ConstraintSpec::Check {
                            check: Box::new(check_spec(
                                &lowerer,
                                &state,
                                &s.name,
                                map.text(k.span),
                                e,
                                &std::sync::Arc::new(scan.schema().clone()),
                                at,
                            )?),
                        }
                    }
                });
            }
            sources.push(SourceSpec {
                name: locked.name,
                uri: locked.uri,
                table_id: locked.table_id,
                version: locked.version,
                timestamp: None,
                constraints,
            });
        }
        let selected = program.selected(only);
        let mut outputs = vec![];
        for (root, (o, plan)) in selected.zip(roots).enumerate() {
            let model = &program.models[o.model];
            let mut checks = vec![];
            for k in &model.contract {
                for chk in &k.checks {
                    let at = Place::of(map, k.span);
                    checks.push(check_spec(
                        &lowerer,
                        &state,
                        &k.field.name,
                        map.text(k.span),
                        chk,
                        plan.schema(),
                        at,
                    )?);
                }
            }
            let source_name = |i: usize| program.sources[i].name.clone();
            let mut keys: Vec<KeySpec> = vec![];
            for claim in program.key_claims(o.model) {
                let key = KeySpec {
                    source: source_name(claim.source),
                    columns: claim.columns.clone(),
                    from: claim.from.as_ref().map(|(from, columns)| ForeignKeySpec {
                        source: source_name(*from),
                        columns: columns.clone(),
                    }),
                    at: Place::of(map, claim.span),
                };
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            let mut reads: Vec<String> = program.sources_read(o.model).into_iter().map(source_name).collect();
            reads.dedup();
            outputs.push(OutputSpec {
                name: o.name.clone(),
                root,
                uri: o.url.to_string(),
                mode: o.mode,
                partition_by: o.partition_by.clone(),
                not_null: model
                    .contract
                    .iter()
                    .filter(|k| !k.field.nullable)
                    .map(|k| k.field.name.clone())
                    .collect(),
                unique: model
                    .contract
                    .iter()
                    .filter(|k| k.unique)
                    .map(|k| k.field.name.clone())
                    .collect(),
                checks,
                keys,
                reads,
                incremental: model.incremental.is_some(),
                at: Place::of(map, o.span),
                contract_at: model
                    .contract
                    .iter()
                    .map(|k| (k.field.name.clone(), Place::of(map, k.span)))
                    .collect(),
            });
        }
        Ok(ExecutionSpec {
            format: SPEC_FORMAT,
            semc_version: env!("CARGO_PKG_VERSION").into(),
            plan: "plan.substrait.pb".into(),
            outputs,
            sources,
            policy: PolicySpec {
                strict: program.policy.strict,
                max_reader_version: program.policy.max_reader_version,
                max_writer_version: program.policy.max_writer_version,
            },
            relative: BTreeMap::new(),
        })
    }

    pub fn source(&self, name: &str) -> Option<&SourceSpec> {
        self.sources.iter().find(|s| s.name == name)
    }
}

/// A check lowered over `schema` and produced as a Substrait extended expression.
fn check_spec(
    lowerer: &Lowerer,
    state: &datafusion::execution::SessionState,
    subject: &str,
    text: &str,
    e: &TExpr,
    schema: &DFSchemaRef,
    at: Place,
) -> Result<CheckSpec, Failure> {
    let expr = lowerer.lower_expr(e)?;
    let field = Field::new("check", DataType::Boolean, true);
    let expr =
        datafusion_substrait::logical_plan::producer::to_substrait_extended_expr(&[(&expr, &field)], schema, state)?;
    Ok(CheckSpec {
        subject: subject.to_string(),
        text: text.to_string(),
        expr: *expr,
        at,
    })
}

impl CheckSpec {
    /// The check as an engine expression over columns named as in its base schema.
    pub async fn expr(&self, ctx: &SessionContext) -> Result<Expr, Failure> {
        let container =
            datafusion_substrait::logical_plan::consumer::from_substrait_extended_expr(&ctx.state(), &self.expr)
                .await?;
        container
            .exprs
            .into_iter()
            .next()
            .map(|(e, _)| e)
            .ok_or_else(|| Failure::Internal(format!("the check `{}` has no expression", self.text)))
    }
}
