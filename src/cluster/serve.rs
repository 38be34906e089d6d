//! A Ballista scheduler and executors that run semc's plans: Ballista's own servers, given
//! semc's engine functions (so plans that call them decode on every node), semc's codec (its
//! nodes: the executors' writes) and the session settings semc plans with.

use super::write::SemcCodec;
use crate::engine::functions;
use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::{BallistaCodec, BallistaLogicalExtensionCodec};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_executor::health::ExecutorHealth;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::object_store::ObjectStore;
use datafusion::prelude::SessionConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often an executor reports to the scheduler, how long the scheduler waits for a
/// report before it takes the executor for lost and runs its tasks elsewhere, and how long
/// an executor goes without its scheduler before it gives up.
#[derive(Debug, Clone, Copy)]
pub struct Liveness {
    pub heartbeat: Duration,
    pub executor_timeout: Duration,
    pub scheduler_timeout: Duration,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness {
            heartbeat: Duration::from_secs(5),
            executor_timeout: Duration::from_secs(20),
            scheduler_timeout: Duration::from_secs(60),
        }
    }
}

/// The session every node builds for a query: DataFusion's defaults with semc's functions,
/// reading from [`LakeStores`] (the scheduler too: decoding a scan opens its store).
fn session_state(config: SessionConfig) -> Result<SessionState> {
    use datafusion::execution::FunctionRegistry;
    let mut state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime()?)
        .build();
    for f in functions::all() {
        state.register_udf(f)?;
    }
    for f in functions::aggregates() {
        state.register_udaf(f)?;
    }
    Ok(state)
}

/// Executors ask the scheduler for tasks (pull). Push-staged scheduling was faster (≈ 1.7×
/// on the 22 TPC-H outputs at SF 1 on 2 cores) but, with an executor killed mid-run, a run
/// once waited forever (`tests/integration/cluster.rs`); under pull the lost executor's
/// tasks run elsewhere once it misses its heartbeats.
fn policy() -> TaskSchedulingPolicy {
    TaskSchedulingPolicy::PullStaged
}

/// The stores an executor reads data files from: the local file system, and any bucket or
/// container a plan names (`s3://`, `az://`, `gs://`), opened on first use with the options
/// semc opens its tables with (the executor's environment: `AWS_*`, `AZURE_*`, …).
#[derive(Debug, Default)]
struct LakeStores {
    opened: DefaultObjectStoreRegistry,
}

impl ObjectStoreRegistry for LakeStores {
    fn register_store(&self, url: &url::Url, store: Arc<dyn ObjectStore>) -> Option<Arc<dyn ObjectStore>> {
        self.opened.register_store(url, store)
    }

    fn get_store(&self, url: &url::Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.opened.get_store(url) {
            return Ok(store);
        }
        let store = crate::delta::root_store(url).map_err(|e| DataFusionError::External(Box::new(e)))?;
        self.opened.register_store(url, store.clone());
        Ok(store)
    }
}

/// An executor's runtime: DataFusion's defaults, reading from [`LakeStores`].
fn runtime() -> Result<Arc<RuntimeEnv>> {
    RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::new(LakeStores::default()))
        .build_arc()
}

/// The codec every node speaks: Ballista's, and semc's own nodes.
fn codec() -> BallistaCodec {
    BallistaCodec::new(
        Arc::new(BallistaLogicalExtensionCodec::default()),
        Arc::new(SemcCodec::default()),
    )
}

fn config() -> SessionConfig {
    SessionConfig::new_with_ballista()
}

/// Runs a scheduler on `bind` until the process ends.
pub async fn scheduler(bind: SocketAddr, liveness: Liveness) -> std::result::Result<(), String> {
    let config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        external_host: bind.ip().to_string(),
        bind_port: bind.port(),
        scheduling_policy: policy(),
        executor_timeout_seconds: liveness.executor_timeout.as_secs().max(1),
        expire_dead_executor_interval_seconds: (liveness.executor_timeout.as_secs() / 4).max(1),
        no_executors_grace_period_seconds: liveness.executor_timeout.as_secs().max(1),
        override_session_builder: Some(Arc::new(session_state)),
        override_config_producer: Some(Arc::new(config)),
        override_physical_codec: Some(Arc::new(SemcCodec::default())),
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| e.to_string())?;
    start_server(cluster, bind, Arc::new(config))
        .await
        .map_err(|e| e.to_string())
}

/// Where an executor listens and works.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    pub scheduler: SocketAddr,
    pub bind_host: String,
    /// Arrow Flight (shuffle and results) port.
    pub port: u16,
    /// gRPC port.
    pub grpc_port: u16,
    /// Tasks run at once.
    pub slots: usize,
    /// Shuffle files; a temporary directory when `None`.
    pub work_dir: Option<String>,
    pub liveness: Liveness,
}

/// Runs an executor until the process ends, or until its scheduler has not answered for
/// `liveness.scheduler_timeout` (at start or later): then it gives up with an error.
pub async fn executor(o: ExecutorOptions) -> std::result::Result<(), String> {
    let bound = o.liveness.scheduler_timeout;
    let scheduler = format!("df://{}", o.scheduler);
    // Ballista's own wait for a scheduler at start never ends (55.0.0 measures it from a
    // fresh `Instant`), so semc waits, bounded, and Ballista connects once
    let url = format!("http://{}", o.scheduler);
    let started = Instant::now();
    while let Err(why) = connect(&url).await {
        if started.elapsed() >= bound {
            return Err(format!(
                "no scheduler answered at {scheduler} within {}s ({why}): this executor gives up",
                bound.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let health = ExecutorHealth::new();
    let state = session_state(config()).map_err(|e| e.to_string())?;
    let config = ExecutorProcessConfig {
        bind_host: o.bind_host.clone(),
        external_host: Some(o.bind_host.clone()),
        port: o.port,
        grpc_port: o.grpc_port,
        scheduler_host: o.scheduler.ip().to_string(),
        scheduler_port: o.scheduler.port(),
        scheduler_connect_timeout_seconds: 0,
        health: health.clone(),
        vcores: o.slots.max(1),
        task_scheduling_policy: policy(),
        work_dir: o.work_dir.clone(),
        executor_heartbeat_interval_seconds: o.liveness.heartbeat.as_secs().max(1),
        override_function_registry: Some(Arc::new(BallistaFunctionRegistry::from(&state))),
        override_runtime_producer: Some(Arc::new(|_| runtime())),
        override_config_producer: Some(Arc::new(config)),
        override_physical_codec: Some(Arc::new(SemcCodec::default())),
        ..ExecutorProcessConfig::default()
    };
    tokio::select! {
        served = start_executor_process(Arc::new(config)) => served.map_err(|e| e.to_string()),
        silent = scheduler_silent(&health, bound) => Err(format!(
            "the scheduler at {scheduler} has not answered for {}s: this executor gives up",
            silent.as_secs()
        )),
    }
}

/// Resolves once the executor's reports to its scheduler have failed for `bound` without
/// a success between (Ballista's own loop retries forever), with how long that was.
async fn scheduler_silent(health: &ExecutorHealth, bound: Duration) -> Duration {
    let mut answered = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if health.is_ready() {
            answered = Instant::now();
        } else if answered.elapsed() >= bound {
            return answered.elapsed();
        }
    }
}

/// A scheduler and `executors` executors inside this process, on ports the system picks:
/// Ballista's standalone mode. Returns the scheduler's address.
pub async fn in_process(executors: usize, slots: usize) -> std::result::Result<String, String> {
    let address = ballista_scheduler::standalone::new_standalone_scheduler_with_builder(
        Arc::new(session_state),
        Arc::new(config),
        codec(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let url = format!("http://127.0.0.1:{}", address.port());
    let state = session_state(config()).map_err(|e| e.to_string())?;
    let runtime = runtime().map_err(|e| e.to_string())?;
    for _ in 0..executors.max(1) {
        let scheduler = connect(&url).await?;
        let runtime = runtime.clone();
        ballista_executor::new_standalone_executor_from_builder(
            scheduler,
            slots.max(1),
            Arc::new(config),
            Arc::new(move |_| Ok(runtime.clone())),
            codec(),
            BallistaFunctionRegistry::from(&state),
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    Ok(url)
}

/// A gRPC connection to the scheduler at `url` (`http://host:port`), or why there is none.
pub async fn connect(url: &str) -> std::result::Result<SchedulerGrpcClient<tonic::transport::Channel>, String> {
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_string())
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5));
    let channel = endpoint.connect().await.map_err(|e| {
        // the transport error and its causes, each said once
        let mut text = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            let said = c.to_string();
            if !text.contains(&said) {
                text = format!("{text}: {said}");
            }
            cause = c.source();
        }
        text
    })?;
    Ok(SchedulerGrpcClient::new(channel))
}
