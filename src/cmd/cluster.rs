//! `semc cluster`: a Ballista scheduler and executors that run semc's plans, in one process
//! (`start`) or each in its own (`scheduler`, `executor`).

use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub(crate) enum ClusterCmd {
    /// A scheduler and executors in this process, until interrupted (Ctrl-C).
    Start {
        /// The address the scheduler and executors listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// The scheduler's port; executor N listens on the two ports after it (PORT+2N+1,
        /// PORT+2N+2).
        #[arg(long, default_value_t = 50050)]
        port: u16,
        #[arg(long, default_value_t = 2)]
        executors: usize,
        /// Tasks each executor runs at once (default: the machine's cores over the executors).
        #[arg(long)]
        slots: Option<usize>,
    },
    /// A scheduler, until interrupted.
    Scheduler {
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 50050)]
        port: u16,
        /// An executor silent this long is taken for lost; its tasks run elsewhere.
        #[arg(long, default_value = "20s", value_parser = parse_seconds)]
        executor_timeout: u64,
    },
    /// An executor, until interrupted.
    Executor {
        /// The scheduler it takes tasks from.
        #[arg(long, default_value = "df://127.0.0.1:50050")]
        scheduler: String,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// The Arrow Flight port (shuffles and results are fetched from it).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks it runs at once (default: the machine's cores).
        #[arg(long)]
        slots: Option<usize>,
        /// Where it keeps shuffle files (default: a temporary folder).
        #[arg(long)]
        work_dir: Option<String>,
        /// How often it reports to the scheduler.
        #[arg(long, default_value = "5s", value_parser = parse_seconds)]
        heartbeat: u64,
        /// It gives up (exits with an error) when its scheduler has not answered this long,
        /// at start or later.
        #[arg(long, default_value = "60s", value_parser = parse_seconds)]
        scheduler_timeout: u64,
    },
}

fn parse_seconds(s: &str) -> Result<u64, String> {
    let n = s.strip_suffix('s').unwrap_or(s);
    n.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{s}` is not a number of seconds: write e.g. 20s"))
}

#[cfg(not(feature = "cluster"))]
pub(crate) async fn cluster(_: ClusterCmd) -> ExitCode {
    eprintln!(
        "error[E0411]: this semc was built without cluster support\n  help: build it with `--features cluster` (cargo install --path . --features cluster)"
    );
    ExitCode::from(1)
}

#[cfg(feature = "cluster")]
pub(crate) async fn cluster(cmd: ClusterCmd) -> ExitCode {
    use semc::cluster::serve::{self, ExecutorOptions, Liveness};
    use semc::cluster::{Target, scheduler_url};
    use std::net::{SocketAddr, ToSocketAddrs};
    use std::time::Duration;
    let address = |host: &str, port: u16| -> Result<SocketAddr, String> {
        (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("`{host}:{port}` is not an address: {e}"))?
            .next()
            .ok_or_else(|| format!("`{host}` resolves to no address"))
    };
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let result: Result<(), String> = async {
        match cmd {
            ClusterCmd::Scheduler {
                host,
                port,
                executor_timeout,
            } => {
                let liveness = Liveness {
                    executor_timeout: Duration::from_secs(executor_timeout),
                    ..Liveness::default()
                };
                let bind = address(&host, port)?;
                eprintln!("scheduler listening on df://{host}:{port}");
                serve::scheduler(bind, liveness).await
            }
            ClusterCmd::Executor {
                scheduler,
                host,
                port,
                grpc_port,
                slots,
                work_dir,
                heartbeat,
                scheduler_timeout,
            } => {
                let Target::Scheduler { host: sh, port: sp } = Target::parse(&scheduler)? else {
                    return Err("an executor takes its tasks from `df://HOST:PORT`".into());
                };
                let options = ExecutorOptions {
                    scheduler: address(&sh, sp)?,
                    bind_host: host.clone(),
                    port,
                    grpc_port,
                    slots: slots.unwrap_or(cores),
                    work_dir,
                    liveness: Liveness {
                        heartbeat: Duration::from_secs(heartbeat),
                        scheduler_timeout: Duration::from_secs(scheduler_timeout),
                        ..Liveness::default()
                    },
                };
                eprintln!("executor on {host}:{port} taking tasks from {scheduler}");
                serve::executor(options).await
            }
            ClusterCmd::Start {
                host,
                port,
                executors,
                slots,
            } => {
                let bind = address(&host, port)?;
                let liveness = Liveness::default();
                let scheduler = tokio::spawn(serve::scheduler(bind, liveness));
                let target = Target::Scheduler {
                    host: host.clone(),
                    port,
                };
                // the scheduler answers before executors register with it
                let mut waited = 0;
                while let Err(d) = scheduler_url(&target).await {
                    if scheduler.is_finished() || waited >= 50 {
                        return match scheduler.await {
                            Ok(Err(e)) => Err(format!("the scheduler did not start: {e}")),
                            _ => Err(d.message),
                        };
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    waited += 1;
                }
                let slots = slots.unwrap_or_else(|| cores.div_ceil(executors.max(1)));
                let mut running = vec![];
                for n in 0..executors.max(1) {
                    let first = port
                        .checked_add(2 * n as u16 + 1)
                        .filter(|p| p.checked_add(1).is_some())
                        .ok_or("the executors' ports would pass 65535: give a lower --port")?;
                    running.push(tokio::spawn(serve::executor(ExecutorOptions {
                        scheduler: bind,
                        bind_host: host.clone(),
                        port: first,
                        grpc_port: first + 1,
                        slots,
                        work_dir: None,
                        liveness,
                    })));
                }
                eprintln!(
                    "cluster ready: df://{host}:{port} (executors: {}, slots each: {slots}); `semc run PATH --cluster df://{host}:{port}`",
                    running.len()
                );
                tokio::select! {
                    r = scheduler => r.map_err(|e| e.to_string())?,
                    _ = tokio::signal::ctrl_c() => Ok(()),
                }
            }
        }
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error[E0411]: {e}\n  help: check that the address is this machine's and the ports are free (`--port`, `--grpc-port`), and that the scheduler (`--scheduler df://HOST:PORT`) is running"
            );
            ExitCode::from(1)
        }
    }
}
