//! Progress of a long run on a terminal: a spinner per stage (check, lower, verify, each
//! output's write and commit), and a line for each output when it is committed. Fed by the
//! same tracing spans `-v` logs, so the stages it shows are the ones semc goes through.

use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;
use tracing::span::{Attributes, Id};
use tracing::{Subscriber, field::Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// A tracing layer drawing the stages of a run on stderr.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new() -> Progress {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress { bar }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

/// The `output` field of a span, if any.
#[derive(Default)]
struct OutputName(Option<String>);

impl Visit for OutputName {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "output" {
            self.0 = Some(format!("{value:?}").trim_matches('"').to_string());
        }
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "output" {
            self.0 = Some(value.to_string());
        }
    }
}

fn message(name: &str, output: Option<&str>) -> Option<String> {
    Some(match (name, output) {
        ("load", _) => "loading the workspace".into(),
        ("snapshots", _) => "reading the Delta logs".into(),
        ("check", _) => "checking".into(),
        ("lower", _) => "planning".into(),
        ("verify", _) => "verifying keys, contracts and constraints".into(),
        ("output", Some(o)) => format!("writing {o}"),
        _ => return None,
    })
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Progress {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut output = OutputName::default();
        attrs.record(&mut output);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(OutputName(output.0.clone()));
        }
        if let Some(m) = message(attrs.metadata().name(), output.0.as_deref()) {
            self.bar.set_message(m);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        if span.name() == "output"
            && let Some(OutputName(Some(o))) = span.extensions().get::<OutputName>()
        {
            self.bar.println(format!("✓ {o} committed"));
        }
        if span.name() == "write_and_commit" {
            self.bar.finish_and_clear();
        }
    }
}
