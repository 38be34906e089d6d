//! A Ballista scheduler that does what Ballista 55's did after running a stage again: it
//! accepts every query and reports each job done with its final partition published twice.
//! Only the calls a client makes are answered; semc must refuse every such job (E0416).

use ballista_core::serde::protobuf::scheduler_grpc_server::{SchedulerGrpc, SchedulerGrpcServer};
use ballista_core::serde::protobuf::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tonic::{Request, Response, Status};

/// Serves on 127.0.0.1:`port` until the test ends; counts the queries submitted to it.
pub fn serve(port: u16) -> Arc<AtomicUsize> {
    let submitted = Arc::new(AtomicUsize::new(0));
    let scheduler = DoublePublishing {
        submitted: submitted.clone(),
    };
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(SchedulerGrpcServer::new(scheduler))
            .serve(([127, 0, 0, 1], port).into()),
    );
    submitted
}

struct DoublePublishing {
    submitted: Arc<AtomicUsize>,
}

fn twice(job_id: &str) -> Vec<PartitionLocation> {
    let location = PartitionLocation {
        map_partition_id: 0,
        partition_id: Some(PartitionId {
            job_id: job_id.to_string(),
            stage_id: 2,
            partition_id: 0,
        }),
        executor_meta: Some(ExecutorMetadata {
            id: "executor-1".into(),
            host: "127.0.0.1".into(),
            port: 1,
            grpc_port: 2,
            ..Default::default()
        }),
        partition_stats: Some(PartitionStats {
            num_rows: 1,
            num_batches: 1,
            num_bytes: 8,
            column_stats: vec![],
        }),
        ..Default::default()
    };
    vec![location.clone(), location]
}

fn not_here<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("a client's calls only"))
}

#[tonic::async_trait]
impl SchedulerGrpc for DoublePublishing {
    async fn execute_query(
        &self,
        request: Request<ExecuteQueryParams>,
    ) -> Result<Response<ExecuteQueryResult>, Status> {
        let n = self.submitted.fetch_add(1, Ordering::SeqCst);
        let query = request.into_inner();
        Ok(Response::new(ExecuteQueryResult {
            operation_id: query.operation_id,
            result: Some(execute_query_result::Result::Success(ExecuteQuerySuccessResult {
                job_id: format!("job-{n}"),
                session_id: query.session_id,
            })),
        }))
    }

    async fn get_job_status(
        &self,
        request: Request<GetJobStatusParams>,
    ) -> Result<Response<GetJobStatusResult>, Status> {
        let job_id = request.into_inner().job_id;
        Ok(Response::new(GetJobStatusResult {
            status: Some(JobStatus {
                job_id: job_id.clone(),
                job_name: String::new(),
                status: Some(job_status::Status::Successful(SuccessfulJob {
                    partition_location: twice(&job_id),
                    queued_at: 1,
                    started_at: 2,
                    ended_at: 3,
                })),
            }),
            flight_proxy: None,
        }))
    }

    async fn cancel_job(&self, _: Request<CancelJobParams>) -> Result<Response<CancelJobResult>, Status> {
        Ok(Response::new(CancelJobResult { cancelled: true }))
    }

    async fn poll_work(&self, _: Request<PollWorkParams>) -> Result<Response<PollWorkResult>, Status> {
        not_here()
    }
    async fn register_executor(
        &self,
        _: Request<RegisterExecutorParams>,
    ) -> Result<Response<RegisterExecutorResult>, Status> {
        not_here()
    }
    async fn heart_beat_from_executor(&self, _: Request<HeartBeatParams>) -> Result<Response<HeartBeatResult>, Status> {
        not_here()
    }
    async fn update_task_status(
        &self,
        _: Request<UpdateTaskStatusParams>,
    ) -> Result<Response<UpdateTaskStatusResult>, Status> {
        not_here()
    }
    async fn create_update_session(
        &self,
        _: Request<CreateUpdateSessionParams>,
    ) -> Result<Response<CreateUpdateSessionResult>, Status> {
        not_here()
    }
    async fn remove_session(&self, _: Request<RemoveSessionParams>) -> Result<Response<RemoveSessionResult>, Status> {
        not_here()
    }
    type ExecuteQueryPushStream = futures::stream::BoxStream<'static, Result<GetJobStatusResult, Status>>;
    async fn execute_query_push(
        &self,
        _: Request<ExecuteQueryParams>,
    ) -> Result<Response<Self::ExecuteQueryPushStream>, Status> {
        not_here()
    }
    async fn get_job_metrics(&self, _: Request<GetJobMetricsParams>) -> Result<Response<GetJobMetricsResult>, Status> {
        not_here()
    }
    async fn executor_stopped(
        &self,
        _: Request<ExecutorStoppedParams>,
    ) -> Result<Response<ExecutorStoppedResult>, Status> {
        not_here()
    }
    async fn clean_job_data(&self, _: Request<CleanJobDataParams>) -> Result<Response<CleanJobDataResult>, Status> {
        not_here()
    }
}
