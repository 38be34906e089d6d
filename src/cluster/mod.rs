//! Past one machine: the same plan executed on an Apache DataFusion Ballista cluster.
//!
//! `semc run --cluster df://HOST:PORT` (and `semc exec … --cluster`) plans as a local run
//! does, with each pinned snapshot read as its parquet files ([`crate::engine::files::PinnedFiles`], which
//! datafusion-proto serializes), and submits every query — the outputs and the verification
//! probes — to the scheduler as a physical plan. The rows come back to semc, which writes
//! and commits each output as locally: one atomic Delta commit per output, nothing
//! committed unless every check held. `--cluster local` starts a scheduler and two
//! executors inside the process (Ballista's standalone mode); `semc cluster …` runs them
//! as servers.

#[cfg(feature = "cluster")]
mod exec;
#[cfg(feature = "cluster")]
pub mod job;
#[cfg(feature = "cluster")]
pub mod serve;
#[cfg(feature = "cluster")]
pub mod write;

#[cfg(feature = "cluster")]
pub use exec::{ClusterExec, ClusterPlanner};

/// A query the cluster could not run: the scheduler's or an executor's error, as text (it
/// crossed the network; its type did not).
#[derive(Debug, Clone)]
pub struct ClusterFault {
    pub scheduler: String,
    pub message: String,
}

impl std::fmt::Display for ClusterFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the cluster at {} failed the query: {}",
            self.scheduler, self.message
        )
    }
}

impl std::error::Error for ClusterFault {}

impl ClusterFault {
    /// `message` as the error of a query the cluster at `scheduler` failed.
    pub fn error(scheduler: &str, message: impl std::fmt::Display) -> datafusion::common::DataFusionError {
        datafusion::common::DataFusionError::External(Box::new(ClusterFault {
            scheduler: scheduler.to_string(),
            message: crate::delta::without_backtrace(&message.to_string()),
        }))
    }
}

/// Where a run computes: `df://host:port` (a scheduler), or `local` (a scheduler and
/// executors started inside this process).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Scheduler { host: String, port: u16 },
    InProcess,
}

/// Ballista's scheduler port when a `df://` URL names none.
pub const DEFAULT_PORT: u16 = 50050;

impl Target {
    /// Parses `df://host[:port]` or `local`.
    pub fn parse(text: &str) -> Result<Target, String> {
        if text == "local" {
            return Ok(Target::InProcess);
        }
        let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a cluster address: {e}"))?;
        if url.scheme() != "df" {
            return Err(format!(
                "`{text}` is not a cluster address: write `df://HOST:PORT` (a Ballista scheduler) or `local`"
            ));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("`{text}` names no host: write `df://HOST:PORT`"))?;
        if !url.path().trim_matches('/').is_empty() {
            return Err(format!("`{text}` has a path; a cluster address is `df://HOST:PORT`"));
        }
        Ok(Target::Scheduler {
            host: host.to_string(),
            port: url.port().unwrap_or(DEFAULT_PORT),
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Scheduler { host, port } => write!(f, "df://{host}:{port}"),
            Target::InProcess => write!(f, "local"),
        }
    }
}

/// Marks a session whose queries run on a cluster: its tables are read as
/// [`crate::engine::files::PinnedFiles`].
#[derive(Debug)]
pub struct OnCluster {
    pub scheduler: String,
}

/// The scheduler's gRPC address for `target`, once it answers: a cluster started inside
/// this process on first use for `local`. A scheduler that does not answer is E0411.
#[cfg(feature = "cluster")]
pub async fn scheduler_url(target: &Target) -> Result<String, crate::diag::Diagnostic> {
    use crate::codes::Code;
    use crate::diag::Diagnostic;
    use crate::span::Span;
    static IN_PROCESS: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    match target {
        Target::Scheduler { host, port } => {
            let url = format!("http://{host}:{port}");
            serve::connect(&url).await.map_err(|why| {
                Diagnostic::error(
                    Code::E0411,
                    Span::default(),
                    format!("no Ballista scheduler answers at {target}: {why}"),
                )
                .label("--cluster")
                .help("start one with `semc cluster start` (or `semc cluster scheduler` and `semc cluster executor`), or check the host and port; nothing was computed or committed")
            })?;
            Ok(url)
        }
        Target::InProcess => IN_PROCESS
            .get_or_try_init(|| async {
                let slots = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
                serve::in_process(LOCAL_EXECUTORS, slots.div_ceil(LOCAL_EXECUTORS)).await
            })
            .await
            .cloned()
            .map_err(|why| {
                Diagnostic::error(
                    Code::E0411,
                    Span::default(),
                    format!("the in-process cluster did not start: {why}"),
                )
                .label("--cluster local")
                .help("run without `--cluster`, or start a cluster with `semc cluster start`")
            }),
    }
}

/// How many executors `--cluster local` starts.
#[cfg(feature = "cluster")]
pub const LOCAL_EXECUTORS: usize = 2;

/// `--cluster` given to a semc built without the `cluster` feature.
#[cfg(not(feature = "cluster"))]
pub fn not_built(target: &Target) -> crate::diag::Diagnostic {
    crate::diag::Diagnostic::error(
        crate::codes::Code::E0411,
        crate::span::Span::default(),
        format!("this semc was built without cluster support, so it cannot run on {target}"),
    )
    .label("--cluster")
    .help("build semc with `--features cluster` (cargo install --path . --features cluster)")
}
