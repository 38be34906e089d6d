//! One query as a Ballista job, run and checked here before a row of it is used.
//!
//! The job is submitted to the scheduler and awaited; once it succeeds, its final
//! partitions are checked before any is read — each published exactly once, by an executor
//! named — then fetched from the executors, each partition's rows counted against the count
//! its task reported. A job whose partitions are published twice is submitted once more; a
//! second such job, or a partition whose rows differ from its task's count, is
//! [`Unvouched`] (E0416): the output it computes is not committed.

use super::ClusterFault;
use ballista_core::client::BallistaClient;
use ballista_core::extension::SessionConfigExt;
use ballista_core::serde::protobuf::execute_query_params::Query;
use ballista_core::serde::protobuf::get_job_status_result::FlightProxy;
use ballista_core::serde::protobuf::{
    CancelJobParams, ExecuteQueryParams, GetJobStatusParams, KeyValuePair, PartitionLocation, SuccessfulJob,
    execute_query_result, job_status,
};
use ballista_core::utils::GrpcClientConfig;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionConfig;
use datafusion_proto::physical_plan::AsExecutionPlan;
use datafusion_proto::protobuf::PhysicalPlanNode;
use futures::{StreamExt, TryStreamExt};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// A result the cluster computed that semc cannot vouch for: a partition published twice,
/// or read back with other rows than its task reported.
#[derive(Debug, Clone)]
pub struct Unvouched {
    pub scheduler: String,
    pub why: String,
}

impl std::fmt::Display for Unvouched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the cluster at {} returned a result semc cannot vouch for: {}",
            self.scheduler, self.why
        )
    }
}

impl std::error::Error for Unvouched {}

/// How many times a job whose partitions are published twice is submitted in all.
const ATTEMPTS: usize = 2;

/// Runs `plan` on the cluster whose scheduler is `scheduler` (`http://host:port`) and
/// streams its rows, checked as the module says.
pub async fn execute(
    scheduler: String,
    plan: Arc<dyn ExecutionPlan>,
    session_id: String,
    config: SessionConfig,
) -> Result<SendableRecordBatchStream> {
    let schema = plan.schema();
    let job = Arc::new(Job::encode(&scheduler, plan, session_id, &config)?);
    let mut attempt = 1;
    loop {
        let (done, proxy) = job.run().await?;
        match published_once(&done.partition_location) {
            Ok(()) => return Ok(job.fetch(schema, done.partition_location, proxy)),
            Err(why) if attempt < ATTEMPTS => {
                tracing::warn!("{why}; submitting the query again");
                attempt += 1;
            }
            Err(why) => return Err(job.unvouched(why)),
        }
    }
}

/// A query ready to submit, and how to reach the cluster.
struct Job {
    scheduler: String,
    query: ExecuteQueryParams,
    grpc: GrpcClientConfig,
}

impl Job {
    fn encode(
        scheduler: &str,
        plan: Arc<dyn ExecutionPlan>,
        session_id: String,
        config: &SessionConfig,
    ) -> Result<Job> {
        let codec = super::write::SemcCodec::default();
        let node = PhysicalPlanNode::try_from_physical_plan(plan, &codec)?;
        let settings = config
            .options()
            .entries()
            .into_iter()
            .map(|e| KeyValuePair {
                key: e.key,
                value: e.value,
            })
            .collect();
        Ok(Job {
            scheduler: scheduler.to_string(),
            query: ExecuteQueryParams {
                query: Some(Query::PhysicalPlan(prost::Message::encode_to_vec(&node))),
                settings,
                session_id,
                operation_id: String::new(),
            },
            grpc: GrpcClientConfig::from(&config.ballista_config()),
        })
    }

    fn fault(&self, message: impl std::fmt::Display) -> DataFusionError {
        ClusterFault::error(&self.scheduler, message)
    }

    fn unvouched(&self, why: String) -> DataFusionError {
        DataFusionError::External(Box::new(Unvouched {
            scheduler: self.scheduler.clone(),
            why,
        }))
    }

    /// Submits the query and waits for its job to end: its final partitions, and where
    /// to fetch them from (a proxy, when the scheduler names one).
    async fn run(&self) -> Result<(SuccessfulJob, Option<FlightProxy>)> {
        let size = self.grpc.max_message_size;
        let mut scheduler = super::serve::connect(&self.scheduler)
            .await
            .map_err(|e| self.fault(e))?
            .max_encoding_message_size(size)
            .max_decoding_message_size(size);
        // each submission its own operation
        let query = ExecuteQueryParams {
            operation_id: uuid::Uuid::now_v7().to_string(),
            ..self.query.clone()
        };
        let mut request = tonic::Request::new(query);
        ballista_core::version::insert_version_header(request.metadata_mut());
        let submitted = scheduler
            .execute_query(request)
            .await
            .map_err(|e| self.fault(e.message()))?
            .into_inner();
        let job_id = match submitted.result {
            Some(execute_query_result::Result::Success(s)) => s.job_id,
            Some(execute_query_result::Result::Failure(f)) => return Err(self.fault(format!("{f:?}"))),
            None => return Err(self.fault("the scheduler answered the query with nothing")),
        };
        // a job this run no longer waits for (it failed or was interrupted) is cancelled
        let mut cancel = CancelOnDrop {
            scheduler: Some(scheduler.clone()),
            job_id: job_id.clone(),
        };
        let mut wait = Duration::from_millis(20);
        loop {
            let answer = scheduler
                .get_job_status(GetJobStatusParams { job_id: job_id.clone() })
                .await
                .map_err(|e| self.fault(e.message()))?
                .into_inner();
            match answer.status.and_then(|s| s.status) {
                None | Some(job_status::Status::Queued(_)) | Some(job_status::Status::Running(_)) => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_millis(200));
                }
                Some(job_status::Status::Failed(f)) => {
                    cancel.scheduler = None;
                    return Err(self.fault(format!("job {job_id} failed: {}", f.error)));
                }
                Some(job_status::Status::Successful(done)) => {
                    cancel.scheduler = None;
                    return Ok((done, answer.flight_proxy));
                }
            }
        }
    }

    /// The rows of `locations`, partition after partition, each partition's count checked.
    fn fetch(
        self: &Arc<Self>,
        schema: SchemaRef,
        locations: Vec<PartitionLocation>,
        proxy: Option<FlightProxy>,
    ) -> SendableRecordBatchStream {
        let job = self.clone();
        let partitions = futures::stream::iter(locations).then(move |location| {
            let job = job.clone();
            let proxy = proxy.clone();
            async move { job.partition(location, proxy).await }
        });
        let rows = partitions.try_flatten();
        Box::pin(RecordBatchStreamAdapter::new(schema, rows))
    }

    /// One final partition's rows from the executor that holds it; ends with an error when
    /// they are not as many as its task reported.
    async fn partition(
        self: Arc<Self>,
        location: PartitionLocation,
        proxy: Option<FlightProxy>,
    ) -> Result<futures::stream::BoxStream<'static, Result<datafusion::arrow::array::RecordBatch>>> {
        let (Some(executor), Some(id)) = (location.executor_meta.clone(), location.partition_id.clone()) else {
            return Err(self.unvouched("a partition without its executor or id".into()));
        };
        let (host, port) = match &proxy {
            Some(FlightProxy::External(address)) => host_port(&format!("http://{address}")),
            Some(FlightProxy::Local(true)) => host_port(&self.scheduler),
            _ => Some((executor.host.clone(), executor.port as u16)),
        }
        .ok_or_else(|| self.fault("the scheduler named no address to fetch results from"))?;
        let grpc = &self.grpc;
        let mut client = BallistaClient::try_new(
            &host,
            port,
            grpc.max_message_size,
            grpc.use_tls,
            None,
            grpc.io_retries_times,
            grpc.io_retry_wait_time_ms,
            0,
            0,
        )
        .await
        .map_err(|e| self.fault(e))?;
        let stream = client
            .fetch_partition_proxied(
                &executor.id,
                &id.clone().into(),
                location.file_id,
                location.layout(),
                &executor.host,
                executor.port as u16,
                true,
            )
            .await
            .map_err(|e| self.fault(e))?;
        let reported = location
            .partition_stats
            .as_ref()
            .map(|s| s.num_rows)
            .filter(|n| *n >= 0);
        let counted = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen = counted.clone();
        let rows = stream.map_ok(move |batch| {
            seen.fetch_add(batch.num_rows() as u64, std::sync::atomic::Ordering::Relaxed);
            batch
        });
        let job = self.clone();
        let check = futures::stream::once(async move {
            let counted = counted.load(std::sync::atomic::Ordering::Relaxed);
            match reported {
                Some(n) if n as u64 != counted => Err(job.unvouched(format!(
                    "partition {} of job {} held {counted} rows, its task reported {n}",
                    id.partition_id, id.job_id
                ))),
                _ => Ok(None),
            }
        });
        let checked = rows.map_ok(Some).chain(check).try_filter_map(|b| async move { Ok(b) });
        Ok(checked.boxed())
    }
}

/// Each final partition of a job published once, each with its executor: the check before
/// a row is read.
pub(crate) fn published_once(locations: &[PartitionLocation]) -> std::result::Result<(), String> {
    let mut seen = HashSet::new();
    for location in locations {
        let Some(id) = &location.partition_id else {
            return Err("the job published a partition without its id".into());
        };
        if location.executor_meta.is_none() {
            return Err(format!(
                "the job published partition {} without its executor",
                id.partition_id
            ));
        }
        if !seen.insert(id.partition_id) {
            return Err(format!(
                "the job {} published its final partition {} twice (the scheduler counted a task's work again)",
                id.job_id, id.partition_id
            ));
        }
    }
    Ok(())
}

fn host_port(address: &str) -> Option<(String, u16)> {
    let url = url::Url::parse(address).ok()?;
    Some((url.host_str()?.to_string(), url.port()?))
}

/// Cancels the job on the scheduler unless disarmed (`scheduler` taken).
struct CancelOnDrop {
    scheduler:
        Option<ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient<tonic::transport::Channel>>,
    job_id: String,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(mut scheduler) = self.scheduler.take() {
            let job_id = std::mem::take(&mut self.job_id);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = scheduler.cancel_job(CancelJobParams { job_id }).await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::published_once;
    use ballista_core::serde::protobuf::{ExecutorMetadata, PartitionId, PartitionLocation};

    fn location(partition: u32, map: u32) -> PartitionLocation {
        PartitionLocation {
            map_partition_id: map,
            partition_id: Some(PartitionId {
                job_id: "j".into(),
                stage_id: 2,
                partition_id: partition,
            }),
            executor_meta: Some(ExecutorMetadata::default()),
            ..Default::default()
        }
    }

    #[test]
    fn a_final_partition_published_twice_is_refused() {
        assert!(published_once(&[location(0, 0), location(1, 1)]).is_ok());
        let twice = published_once(&[location(0, 0), location(1, 1), location(0, 0)]).unwrap_err();
        assert!(twice.contains("final partition 0 twice"), "{twice}");
        let mut anonymous = location(0, 0);
        anonymous.executor_meta = None;
        assert!(published_once(&[anonymous]).is_err());
    }
}
