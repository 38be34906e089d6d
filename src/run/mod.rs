//! Around the engine (stages 3a to 5): compile, plan, verify, commit, explain, bundles.
//!
//! `run` and `exec` share one runner ([`execute::execute`]): a Substrait plan and its
//! [`spec::ExecutionSpec`] go in; verified, committed outputs come out.

mod admission;
mod bundle;
mod cache;
#[cfg(feature = "cluster")]
mod cluster_files;
mod commit;
mod compile;
mod execute;
mod explain;
mod failure;
mod fingerprint;
mod incremental;
mod lock;
mod parity;
mod proofs;
mod session;
mod share;
mod show;
pub mod spec;
mod verify;

pub use bundle::{Bindings, exec_bundle, exec_spec, plan_and_spec, write_bundle};
pub use commit::app_id;
pub(crate) use compile::big_stack;
pub use compile::{
    Compilation, check_bytes, compile, compile_locked, compile_offline, compile_workspace, compile_workspace_locked,
    compile_workspace_offline, load, stdlib,
};
pub use explain::{explain, explain_compiled, read_table};
pub use failure::Failure;
pub use incremental::{Increment, incremental_app_id};
pub use lock::{Lock, LockedSource, lock_path};
pub use parity::{Parity, Reference, parity};
pub use session::Session;
pub use show::{Rows, model_named, show};
pub use spec::ExecutionSpec;

use crate::diag::Diagnostic;
use std::path::Path;

/// What `semc run` did for one output.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutputReport {
    pub output: String,
    pub location: String,
    pub rows: u64,
    pub files: u64,
    pub version: i64,
    pub millis: u128,
    /// Nothing was written: the table already recorded this run id, or an incremental
    /// output was up to date.
    pub skipped: bool,
    /// Warnings of the run (e.g. orphan join keys), reported with its first output.
    #[serde(skip)]
    pub warnings: Vec<Diagnostic>,
    /// For the output of an `incremental` model: what this run did and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental: Option<String>,
    /// Nothing was computed: why the output's last commit is up to date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub up_to_date: Option<String>,
}

impl OutputReport {
    /// An output left as it was, at `version`.
    fn skipped(output: &str, location: &url::Url, version: i64) -> OutputReport {
        OutputReport {
            output: output.to_string(),
            location: location.to_string(),
            rows: 0,
            files: 0,
            version,
            millis: 0,
            skipped: true,
            warnings: vec![],
            incremental: None,
            up_to_date: None,
        }
    }

    /// An output whose last commit was computed by the same plan from the same snapshots.
    fn up_to_date(output: &str, location: &url::Url, version: i64) -> OutputReport {
        OutputReport {
            up_to_date: Some("the same plan over the same snapshots committed it; --force recomputes".into()),
            ..OutputReport::skipped(output, location, version)
        }
    }

    /// An incremental output left as it was.
    fn unchanged(output: &str, location: &url::Url, version: i64, why: String) -> OutputReport {
        OutputReport {
            incremental: Some(why),
            ..OutputReport::skipped(output, location, version)
        }
    }
}

/// Compiles, plans, and executes every output (or those named), committing each to Delta.
pub async fn run(path: &Path, only: &[String]) -> Result<Vec<OutputReport>, Failure> {
    let c = compile(path).await?;
    run_compiled(&c, only).await
}

pub async fn run_compiled(c: &Compilation, only: &[String]) -> Result<Vec<OutputReport>, Failure> {
    run_with(c, only, &RunOptions::default()).await
}

/// How `semc run` and `semc exec` execute.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Bytes of memory the engine may hold; operators spill to disk beyond it.
    pub memory_limit: Option<usize>,
    /// The run's id, recorded in each output's commit; an output that already records this
    /// id is not written again. Defaults to a new UUID v7.
    pub run_id: Option<String>,
    /// Compute on this Ballista cluster (commits stay here).
    pub cluster: Option<crate::cluster::Target>,
    /// Compute and write every output, even one whose last commit was computed by the same
    /// plan from the same snapshots ([`fingerprint`]).
    pub force: bool,
}

pub use crate::project::parse_size;

/// Runs a checked compilation: outputs of incremental models read only their source's new
/// changes (or nothing), the whole run is lowered to ONE plan with its execution spec, and
/// the one runner verifies and commits.
pub async fn run_with(c: &Compilation, only: &[String], opts: &RunOptions) -> Result<Vec<OutputReport>, Failure> {
    let checked = c.program()?;
    session::check_output_name(checked, only)?;
    let (program, increments) = incremental::plan_increments(c, checked, only).await?;
    let session = Session::for_program(c, Some(&program), opts).await?;
    let (plan, lowered) = session.plan_with_roots(&program, only)?;
    let spec = ExecutionSpec::of(c, &program, &session, &lowered, only)?;
    let run_id = opts.run_id.clone().unwrap_or_else(commit::new_run_id);
    // what runs is the plan as consumed back from Substrait, as for a bundle
    let roots = session.consume(&plan).await?;
    let executed = execute::execute(
        &session,
        roots,
        &spec,
        &execute::Locations::default(),
        increments,
        &run_id,
        opts.force,
    )
    .await?;
    let mut reports = executed.reports;
    if let Some(first) = reports.first_mut() {
        first.warnings = executed.warnings;
    }
    Ok(reports)
}
