//! `semc show`: the rows of any model, computed and printed; nothing is written.

use super::*;
use crate::codes::Code;
use crate::diag::{Diagnostic, did_you_mean};
use crate::lower::Lowerer;
use crate::span::Span;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::dataframe::DataFrame;
use std::sync::Arc;

/// The index of the model named `name`, or the user's error.
pub fn model_named(program: &crate::ir::Program, name: &str) -> Result<usize, Failure> {
    program.models.iter().position(|m| m.name == name).ok_or_else(|| {
        let help = did_you_mean(name, program.models.iter().map(|m| m.name.as_str()))
            .unwrap_or_else(|| "`semc graph` lists the models".into());
        Failure::User(vec![
            Diagnostic::error(Code::E0103, Span::default(), format!("no model named `{name}`"))
                .label("--model")
                .help(help),
        ])
    })
}

/// Rows computed and held in memory, with their schema (which an empty result still has).
pub struct Rows {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl Rows {
    pub async fn of(df: DataFrame) -> Result<Rows, Failure> {
        let schema = Arc::new(df.schema().as_arrow().clone());
        Ok(Rows {
            schema,
            batches: df.collect().await?,
        })
    }
}

/// The first `limit` rows of model `name`, in the model's order (or the order of all its
/// columns when it declares none).
pub async fn show(c: &Compilation, name: &str, limit: usize) -> Result<Rows, Failure> {
    let program = c.program()?;
    let m = model_named(program, name)?;
    crate::host::check_registered(program)?;
    let session = Session::new(c).await?;
    let state = session.ctx.state();
    let plan = Lowerer::new(program, &session.providers, &state).model_plan(m)?;
    let rows = Rows::of(session.ctx.execute_logical_plan(plan).await?.limit(0, Some(limit))?).await;
    // the data's fault (a division by zero, a cast that does not fit) points at the model
    rows.map_err(|f| match (f, c.model_span(name)) {
        (Failure::User(diags), Some(at)) => Failure::User(
            diags
                .into_iter()
                .map(|d| if d.primary.span == Span::default() { d.at(at) } else { d })
                .collect(),
        ),
        (f, _) => f,
    })
}
