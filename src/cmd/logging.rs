//! How a command talks on stderr: colors (`--color`, NO_COLOR) and `-v`/RUST_LOG stage logs, or a run's
//! progress on a terminal.

/// Whether diagnostics on stderr are colored (set once from `--color` and NO_COLOR).
pub(crate) static COLOR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

pub(crate) fn colored() -> bool {
    *COLOR.get().unwrap_or(&false)
}

/// `-v` and RUST_LOG: spans of each stage, closed with their time, on stderr. Without
/// them, a run on a terminal shows its progress (`progress`) instead.
pub(crate) fn init_logging(verbose: u8, color: bool, progress: bool) {
    use tracing_subscriber::fmt::format::FmtSpan;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    let filter = match std::env::var("RUST_LOG") {
        Ok(f) if !f.is_empty() => Some(EnvFilter::new(f)),
        _ if verbose == 0 => None,
        // Ballista's scheduler and executors (`semc cluster`) log through `log`
        _ if verbose == 1 => Some(EnvFilter::new(
            "semc=info,ballista_scheduler=info,ballista_executor=info",
        )),
        _ => Some(EnvFilter::new(
            "semc=debug,deltalake=info,datafusion=info,ballista_scheduler=debug,ballista_executor=debug,ballista_core=info",
        )),
    };
    let registry = tracing_subscriber::registry();
    let _ = match filter {
        Some(filter) => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_span_events(FmtSpan::CLOSE)
                    .with_writer(std::io::stderr)
                    .with_ansi(color)
                    .with_target(false)
                    .with_filter(filter),
            )
            .try_init(),
        None if progress => registry
            .with(semc::progress::Progress::new().with_filter(EnvFilter::new("semc=info")))
            .try_init(),
        None => Ok(()),
    };
}
