//! The one runner: a Substrait plan and its execution spec → verified, committed outputs.
//! `semc run` and `semc exec` both end here, so they verify and commit alike.

use super::commit::commit_all;
use super::spec::{ExecutionSpec, OutputSpec};
use super::verify::verify;
use super::{Failure, Increment, OutputReport, Session, incremental_app_id};
use crate::codes::Code;
use crate::delta::{self, PinSpec, TableError};
use crate::diag::Diagnostic;
use crate::span::Span;
use datafusion::logical_expr::LogicalPlan;
use deltalake::DeltaTable;
use std::collections::HashMap;
use tracing::Instrument;
use url::Url;

/// Where the spec's tables are: its URIs, unless a binding moved them.
#[derive(Debug, Clone, Default)]
pub struct Locations {
    /// Spec URI → the URI the table is read or written at.
    pub moved: HashMap<String, Url>,
}

impl Locations {
    pub fn url(&self, uri: &str) -> Result<Url, Failure> {
        match self.moved.get(uri) {
            Some(u) => Ok(u.clone()),
            // a spec is a file users may edit: a location that does not parse is theirs
            None => Url::parse(uri).map_err(|e| {
                Failure::User(vec![
                    Diagnostic::error(Code::E0404, Span::default(), format!("the spec names `{uri}`, which is not a URI: {e}"))
                        .help("locations in spec.json are absolute URIs; write the bundle again with `semc plan PATH --bundle DIR`"),
                ])
            }),
        }
    }
}

/// One output a run writes: its spec, where it goes, the plan of its rows, for the output
/// of an incremental model what this run does, and the table at its location.
pub struct Target<'a> {
    pub spec: &'a OutputSpec,
    pub url: Url,
    pub root: LogicalPlan,
    pub increment: Option<Increment>,
    /// The Delta table at `url` as the run found it (`None`: no table there yet), opened
    /// once: verification compares the new rows with it and the commit writes on it, so a
    /// writer that commits in between is a conflict (E0407), never a state left unchecked.
    pub written: Option<DeltaTable>,
    /// What computes the output ([`super::fingerprint`]), recorded in its commit; `None` for
    /// an incremental output, or one whose result cannot be vouched for by its plan.
    pub fingerprint: Option<String>,
}

impl Target<'_> {
    /// A diagnostic placed at the output's declaration.
    pub fn diagnostic(&self, d: Diagnostic) -> Diagnostic {
        self.spec.at.diagnostic(d)
    }
}

/// What the run found besides the outputs it wrote: warnings (e.g. orphan join keys).
pub struct Executed {
    pub reports: Vec<OutputReport>,
    pub warnings: Vec<Diagnostic>,
}

/// Verifies every output the plan's roots write (nothing is committed unless all hold),
/// then commits each output. `increments` says, for outputs of incremental models,
/// what this run does; an incremental output without one is rebuilt in full.
pub async fn execute(
    session: &Session,
    roots: Vec<LogicalPlan>,
    spec: &ExecutionSpec,
    locations: &Locations,
    mut increments: HashMap<String, Increment>,
    run_id: &str,
    force: bool,
) -> Result<Executed, Failure> {
    let mut targets = vec![];
    let mut up_to_date = vec![];
    for o in &spec.outputs {
        let root = roots.get(o.root).cloned().ok_or_else(|| {
            Failure::Internal(format!("output `{}` names root {} of {}", o.name, o.root, roots.len()))
        })?;
        let url = locations.url(&o.uri)?;
        let mut increment = increments.remove(&o.name);
        if o.incremental && increment.is_none() {
            increment = Some(Increment::Rebuild {
                txns: recorded_reads(spec, o, locations)?,
                why: "built in full from the plan's pinned snapshots".into(),
            });
        }
        if let Some(Increment::UpToDate { version, why }) = &increment {
            up_to_date.push(OutputReport::unchanged(&o.name, &url, *version, why.clone()));
            continue;
        }
        let fingerprint = if o.incremental {
            None
        } else {
            super::fingerprint::of(spec, o, &root, locations)
        };
        targets.push(Target {
            spec: o,
            url,
            root,
            increment,
            written: None,
            fingerprint,
        });
    }
    use futures::{StreamExt, TryStreamExt};
    // an output whose last commit was computed by the same plan from the same snapshots is
    // up to date: nothing to compute, nothing to write, no log to replay
    if !force {
        let checks: Vec<_> = targets.iter().map(up_to_date_at).collect();
        let versions: Vec<_> = futures::stream::iter(checks)
            .buffered(8)
            .collect()
            .instrument(tracing::info_span!("fingerprints"))
            .await;
        let mut stale = vec![];
        for (t, version) in targets.into_iter().zip(versions) {
            match version {
                Some(version) => up_to_date.push(OutputReport::up_to_date(&t.spec.name, &t.url, version)),
                None => stale.push(t),
            }
        }
        targets = stale;
    }
    // the outputs' tables are opened (their logs replayed: reading more than computing)
    // while the models several outputs share are computed, as the two need nothing of each
    // other; a few at a time: many at once only raise the run's peak memory
    let opens: Vec<_> = targets.iter().map(written).collect();
    let opening = futures::stream::iter(opens)
        .buffered(2)
        .try_collect::<Vec<_>>()
        .instrument(tracing::info_span!("open_outputs"));
    // a model several of the outputs written (or paths in one) read is computed once; the
    // cache goes when the run ends
    let roots: Vec<LogicalPlan> = targets.iter().map(|t| t.root.clone()).collect();
    let sharing = super::share::compute_shared_once(session, roots).instrument(tracing::info_span!("shared_models"));
    let (opened, (roots, _shared)) = futures::try_join!(opening, sharing)?;
    for ((t, table), root) in targets.iter_mut().zip(opened).zip(roots) {
        t.written = table;
        t.root = root;
    }
    let warnings = verify(session, spec, locations, &targets)
        .instrument(tracing::info_span!("verify", outputs = targets.len()))
        .await?;
    let mut reports = commit_all(session, &targets, run_id)
        .instrument(tracing::info_span!("write_and_commit", run_id))
        .await?;
    reports.extend(up_to_date);
    Ok(Executed { reports, warnings })
}

/// The version of the target's table, if its latest commit records the fingerprint of
/// this run's work for it.
async fn up_to_date_at(t: &Target<'_>) -> Option<i64> {
    let fingerprint = t.fingerprint.as_ref()?;
    let (version, recorded) = super::fingerprint::recorded(&t.url).await?;
    (&recorded == fingerprint).then_some(version)
}

/// The table at a target's location, if there is one.
async fn written(t: &Target<'_>) -> Result<Option<DeltaTable>, Failure> {
    // a task of its own: replaying a log is work for a core, and there are a few
    let url = t.url.clone();
    let opened = tokio::spawn(async move { delta::open(&url, &PinSpec::Latest).await })
        .await
        .map_err(|e| Failure::Internal(format!("opening `{}` stopped: {e}", t.url)))?;
    match opened {
        Ok(table) => Ok(Some(table)),
        Err(TableError::NotFound(_)) => Ok(None),
        Err(e) => Err(super::commit::write_failed(t, e.message())),
    }
}

/// The Delta transactions an incremental output records: the version of each table read.
fn recorded_reads(spec: &ExecutionSpec, o: &OutputSpec, locations: &Locations) -> Result<Vec<(String, i64)>, Failure> {
    o.reads
        .iter()
        .filter_map(|name| spec.source(name))
        .map(|s| Ok((incremental_app_id(&o.name, &locations.url(&s.uri)?), s.version)))
        .collect()
}
