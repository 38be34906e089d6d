//! `semc show`.

use crate::cmd::output::*;
use crate::{DiagFormat, RowsFormat};
use semc::run;
use std::path::Path;
use std::process::ExitCode;

/// `semc show`: a model's rows, or with `--schema` its columns.
pub(crate) async fn show(path: &Path, model: &str, limit: usize, format: RowsFormat, schema: bool) -> ExitCode {
    let c = match compile_checked(path, DiagFormat::Human, schema).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    if schema {
        let shown = c.program().and_then(|p| {
            let m = run::model_named(p, model)?;
            let graph = semc::graph::Graph::of(p, &c.ws, true);
            Ok(graph.models.into_iter().nth(m))
        });
        return match shown {
            Ok(Some(node)) => {
                match format {
                    RowsFormat::Json => print_json_line("model", &node),
                    _ => {
                        if let Some(doc) = &node.doc {
                            println!("{doc}\n");
                        }
                        for col in &node.columns {
                            let null = if col.nullable { "null" } else { "not null" };
                            let from = col.from.as_ref().map(|f| f.join(", ")).unwrap_or_default();
                            println!("{:<24} {:<16} {:<9} ← {from}", col.name, col.ty, null);
                            if let Some(d) = &col.doc {
                                println!("{:<24} ## {d}", "");
                            }
                        }
                    }
                }
                ExitCode::SUCCESS
            }
            Ok(None) => ExitCode::SUCCESS,
            Err(f) => fail(&c.ws.map, f),
        };
    }
    let batches = match run::show(&c, model, limit).await {
        Ok(rows) => rows.batches,
        Err(f) => return fail(&c.ws.map, f),
    };
    let written = match format {
        RowsFormat::Table => visible_controls(&batches)
            .and_then(|shown| datafusion::arrow::util::pretty::pretty_format_batches(&shown))
            .map(|t| println!("{t}"))
            .map_err(|e| e.to_string()),
        RowsFormat::Csv => {
            let mut buf = vec![];
            let mut w = datafusion::arrow::csv::Writer::new(&mut buf);
            let written = batches.iter().try_for_each(|b| w.write(b));
            drop(w);
            written.map_err(|e| e.to_string()).and_then(|()| {
                use std::io::Write;
                match std::io::stdout().write_all(&buf) {
                    // the reader went away (`| head`): done, as any Unix tool
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                    r => r.map_err(|e| e.to_string()),
                }
            })
        }
        RowsFormat::Json => {
            // each row as `{"kind": "row", "values": {…}}`, the schema of every JSON line
            let mut buf = vec![];
            let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut buf);
            let written = batches.iter().try_for_each(|b| w.write(b)).and_then(|_| w.finish());
            drop(w);
            written.map_err(|e| e.to_string()).map(|()| {
                for line in String::from_utf8_lossy(&buf).lines() {
                    println!("{{\"kind\":\"row\",\"values\":{line}}}");
                }
            })
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot print the rows: {e}");
            ExitCode::from(1)
        }
    }
}

/// The batches with the control characters of their text cells written as escapes (`\t`,
/// `\n`, `\r`, `\u{1b}`), so a cell stays on its line and in its column of a table. CSV
/// and JSON keep the text as it is: their readers unescape it.
fn visible_controls(
    batches: &[datafusion::arrow::record_batch::RecordBatch],
) -> Result<Vec<datafusion::arrow::record_batch::RecordBatch>, datafusion::arrow::error::ArrowError> {
    use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
    use datafusion::arrow::datatypes::DataType;
    use std::sync::Arc;
    let escape = |s: &str| -> String {
        if !s.chars().any(char::is_control) {
            return s.to_string();
        }
        s.chars()
            .map(|c| match c {
                '\t' => "\\t".to_string(),
                '\n' => "\\n".to_string(),
                '\r' => "\\r".to_string(),
                c if c.is_control() => c.escape_unicode().to_string(),
                c => c.to_string(),
            })
            .collect()
    };
    batches
        .iter()
        .map(|b| {
            let columns = b
                .columns()
                .iter()
                .map(|c| -> Result<ArrayRef, datafusion::arrow::error::ArrowError> {
                    if !matches!(c.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
                        return Ok(c.clone());
                    }
                    let text = datafusion::arrow::compute::cast(c, &DataType::Utf8)?;
                    let shown: StringArray = text.as_string::<i32>().iter().map(|v| v.map(escape)).collect();
                    // the column keeps its type (the table shows it as text either way)
                    datafusion::arrow::compute::cast(&(Arc::new(shown) as ArrayRef), c.data_type())
                })
                .collect::<Result<Vec<_>, _>>()?;
            datafusion::arrow::record_batch::RecordBatch::try_new(b.schema(), columns)
        })
        .collect()
}
