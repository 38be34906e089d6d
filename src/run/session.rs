//! One DataFusion session with a compilation's snapshots registered under their pinned names.

use super::{Compilation, Failure, RunOptions};
use crate::codes::Code;
use crate::delta;
use crate::diag::Diagnostic;
use crate::engine;
use crate::ir::{Program, SourceIr};
use crate::lower::{self, Providers};
use crate::span::Span;
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use substrait::proto::Plan;

/// One DataFusion session with the compilation's snapshots registered under their pinned names.
pub struct Session {
    pub ctx: SessionContext,
    pub(crate) providers: Providers,
}

impl Session {
    pub async fn new(c: &Compilation) -> Result<Session, Failure> {
        Session::with_options(c, &RunOptions::default()).await
    }

    pub async fn with_options(c: &Compilation, opts: &RunOptions) -> Result<Session, Failure> {
        Session::for_program(c, c.program.as_ref(), opts).await
    }

    /// A session for `program` (the compilation's, or one a run rewrote from it).
    pub(crate) async fn for_program(
        c: &Compilation,
        program: Option<&Program>,
        opts: &RunOptions,
    ) -> Result<Session, Failure> {
        let Session { ctx, mut providers } = Session::empty(opts).await?;
        let state = ctx.state();
        let schema =
            engine::pinned_schema(&ctx).ok_or_else(|| Failure::Internal("session has no pinned schema".into()))?;
        for (name, table) in &c.tables {
            schema.keep_opened(name.clone(), table.clone());
            let p = engine::provider_with(table, &state, &Default::default(), &unique_keys(program, name)).await?;
            schema.insert(name.clone(), p.clone());
            providers.insert(name.clone(), p);
        }
        // sources with scan options read their table through a provider of their own
        for s in program
            .iter()
            .flat_map(|p| &p.sources)
            .filter(|s| !s.options.is_default())
        {
            let plain = delta::pinned_name(&s.url, s.version);
            let Some((_, table)) = c.tables.iter().find(|(n, _)| *n == plain) else {
                continue;
            };
            let name = delta::pinned_name_with(&s.url, s.version, &s.options);
            let p = engine::provider_with(table, &state, &s.options, &unique_keys(program, &plain)).await?;
            schema.insert(name.clone(), p.clone());
            providers.insert(name, p);
        }
        Ok(Session { ctx, providers })
    }

    /// A session with no table opened yet: tables resolve from pinned names on first use.
    /// With a cluster, its queries run there (E0411 when its scheduler does not answer).
    pub(crate) async fn empty(opts: &RunOptions) -> Result<Session, Failure> {
        // the active profile's defaults (semc.toml), else the machine's cores and no limit
        let profile = crate::project::active().map(|a| a.profile);
        let partitions = profile
            .as_ref()
            .and_then(|p| p.partitions)
            .filter(|n| *n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
        let memory_limit = opts.memory_limit.or_else(|| {
            profile
                .as_ref()
                .and_then(|p| p.memory_limit.as_deref())
                .and_then(super::parse_size)
        });
        if let Some(target) = &opts.cluster {
            #[cfg(feature = "cluster")]
            {
                let url = crate::cluster::scheduler_url(target)
                    .await
                    .map_err(|d| Failure::User(vec![d]))?;
                return Ok(Session {
                    ctx: engine::cluster_session(partitions, memory_limit, &url),
                    providers: Providers::new(),
                });
            }
            #[cfg(not(feature = "cluster"))]
            return Err(Failure::User(vec![crate::cluster::not_built(target)]));
        }
        Ok(Session {
            ctx: engine::session_with(partitions, memory_limit),
            providers: Providers::new(),
        })
    }

    /// The rows of a source's snapshot (read in full, without its scan options).
    pub(crate) fn scan_of(&self, s: &SourceIr) -> Result<DataFrame, Failure> {
        let name = delta::pinned_name(&s.url, s.version);
        let provider = self
            .providers
            .get(&name)
            .ok_or_else(|| Failure::Internal(format!("table {name} was not opened")))?;
        Ok(self.ctx.read_table(provider.clone())?)
    }

    /// Snapshot `version` of the table at `url`, its log read once per session.
    pub(crate) async fn snapshot(
        &self,
        url: &url::Url,
        version: i64,
    ) -> Result<deltalake::DeltaTable, delta::TableError> {
        match engine::pinned_schema(&self.ctx) {
            Some(schema) => schema.snapshot(url, version).await,
            None => delta::open(url, &delta::PinSpec::Version(version)).await,
        }
    }

    /// Lowers the program (all its outputs, or those named) to one Substrait plan.
    pub fn plan(&self, program: &Program, only: &[String]) -> Result<Plan, Failure> {
        Ok(self.plan_with_roots(program, only)?.0)
    }

    /// The Substrait plan and, in its root order, each output's logical plan.
    pub(crate) fn plan_with_roots(
        &self,
        program: &Program,
        only: &[String],
    ) -> Result<(Plan, Vec<LogicalPlan>), Failure> {
        check_output_name(program, only)?;
        crate::host::check_registered(program)?;
        let _lower = tracing::info_span!("lower").entered();
        Ok(lower::to_substrait(program, &self.providers, &self.ctx.state(), only)?)
    }

    /// Consumes each root of a Substrait plan back into a DataFusion logical plan.
    pub async fn consume(&self, plan: &Plan) -> Result<Vec<LogicalPlan>, Failure> {
        let state = self.ctx.state();
        let mut out = vec![];
        for i in 0..plan.relations.len() {
            let one = lower::single_root(plan, i).ok_or_else(|| Failure::Internal("missing root".into()))?;
            out.push(datafusion_substrait::logical_plan::consumer::from_substrait_plan(&state, &one).await?);
        }
        Ok(out)
    }
}

/// The column sets a join of the program relies on being unique in the snapshot `pinned`
/// (the keys of its `many_to_one` and `one_to_one` joins): the planner's estimates read them,
/// and a run that reads such a join proves them before it commits.
fn unique_keys(program: Option<&Program>, pinned: &str) -> Vec<Vec<String>> {
    let Some(program) = program else { return vec![] };
    let mut keys: Vec<Vec<String>> = vec![];
    for claim in program.models.iter().flat_map(|m| &m.key_claims) {
        let Some(s) = program.sources.get(claim.source) else {
            continue;
        };
        if delta::pinned_name(&s.url, s.version) == pinned && !keys.contains(&claim.columns) {
            keys.push(claim.columns.clone());
        }
    }
    keys
}

/// Every name in `only` is an output of the program (E0403 for each that is not).
pub(crate) fn check_output_name(program: &Program, only: &[String]) -> Result<(), Failure> {
    let names: Vec<&str> = program.outputs.iter().map(|o| o.name.as_str()).collect();
    let unknown: Vec<Diagnostic> = only
        .iter()
        .filter(|n| !names.contains(&n.as_str()))
        .map(|n| {
            let help = crate::diag::did_you_mean(n, names.iter().copied())
                .unwrap_or_else(|| format!("outputs: {}", names.join(", ")));
            Diagnostic::error(Code::E0403, Span::default(), format!("no output named `{n}`"))
                .label("--output")
                .help(help)
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Failure::User(unknown))
    }
}
