//! Incremental outputs: what a run appends, replaces or rebuilds, from the Change Data Feed.

use super::*;
use crate::codes::Code;
use crate::delta::{self, PinSpec, TableError};
use crate::diag::Diagnostic;
use crate::engine;
use crate::ir::{OutputIr, Program, TExpr, TExprKind};
use crate::types::Type;
use datafusion::common::ScalarValue;
use deltalake::DeltaTable;

/// What a run does for the output of an `incremental` model.
#[derive(Debug, Clone, PartialEq)]
pub enum Increment {
    /// The model in full, overwriting the output (first run, or changes that cannot be
    /// appended).
    Rebuild { txns: Vec<(String, i64)>, why: String },
    /// The rows of the source's changes after version `since`, appended; the output must
    /// still be at `base` when committing.
    Append {
        since: i64,
        base: i64,
        txns: Vec<(String, i64)>,
        why: String,
    },
    /// The source deleted or updated rows after version `since`: the output rows whose
    /// key (`key.1`, the source's key column `key.0` passed through) is among the changed
    /// `keys` are replaced by the model's rows for those keys at the pinned version, in one
    /// commit; the output must still be at `base`.
    Replace {
        since: i64,
        base: i64,
        key: (String, String),
        keys: Vec<datafusion::common::ScalarValue>,
        txns: Vec<(String, i64)>,
        why: String,
    },
    /// Nothing new since the last run.
    UpToDate { version: i64, why: String },
}

impl Increment {
    pub(crate) fn why(&self) -> &str {
        match self {
            Increment::Rebuild { why, .. }
            | Increment::Append { why, .. }
            | Increment::Replace { why, .. }
            | Increment::UpToDate { why, .. } => why,
        }
    }
    pub(crate) fn txns(&self) -> &[(String, i64)] {
        match self {
            Increment::Rebuild { txns, .. } | Increment::Append { txns, .. } | Increment::Replace { txns, .. } => txns,
            Increment::UpToDate { .. } => &[],
        }
    }
    /// The output version the run was computed against, when its commit must land on it.
    pub(crate) fn base(&self) -> Option<i64> {
        match self {
            Increment::Append { base, .. } | Increment::Replace { base, .. } => Some(*base),
            _ => None,
        }
    }
}

/// At most this many changed keys are replaced; more rebuild the output.
pub(crate) const MAX_REPLACED_KEYS: usize = 100_000;

/// The Delta application id under which an incremental output records the version of
/// each table it has read.
pub fn incremental_app_id(output: &str, table: &url::Url) -> String {
    format!("semc:incremental:{output}:{table}")
}

/// Decides, for each output of an incremental model, whether this run appends the rows of
/// new changes, rebuilds, or has nothing to do — from the versions the output's last commit
/// recorded — and rewrites the program so appending outputs read the changes only.
pub(crate) async fn plan_increments(
    c: &Compilation,
    checked: &Program,
    only: &[String],
) -> Result<(Program, std::collections::HashMap<String, Increment>), Failure> {
    let mut program = checked.clone();
    let mut out = std::collections::HashMap::new();
    for oi in 0..checked.outputs.len() {
        let o = &checked.outputs[oi];
        if !only.is_empty() && !only.contains(&o.name) {
            continue;
        }
        let Some(si) = checked.models[o.model].incremental else {
            continue;
        };
        let inc = decide_increment(c, checked, o, si).await?;
        if let Increment::Append { since, .. } = &inc {
            // a copy of the source that reads its changes, and of the model that reads it
            let mut src = checked.sources[si].clone();
            src.options.changes_since = Some(*since);
            program.sources.push(src);
            let mut model = checked.models[o.model].clone();
            let changes = program.sources.len() - 1;
            model.rel.map_scan(si, &|scan| match scan {
                crate::ir::Rel::Scan { alias, .. } => crate::ir::Rel::Scan { source: changes, alias },
                other => other,
            });
            model.name = format!("{}__changes", model.name);
            program.models.push(model);
            program.outputs[oi].model = program.models.len() - 1;
        }
        if let Increment::Replace { key, keys, .. } = &inc {
            // the model over the source's rows (at the pinned version) of the changed keys
            let ty = checked.sources[si]
                .columns
                .iter()
                .find(|f| f.name == key.0)
                .map(|f| f.ty)
                .ok_or_else(|| Failure::Internal(format!("no key column {}", key.0)))?;
            let lits: Vec<TExpr> = keys
                .iter()
                .map(|v| {
                    // decide_increment gave values of the key's declared type: int, string, date
                    let value = match v {
                        ScalarValue::Int64(Some(x)) => crate::ir::Value::Int(*x),
                        ScalarValue::Int32(Some(x)) => crate::ir::Value::Int(*x as i64),
                        ScalarValue::Date32(Some(d)) => crate::ir::Value::Date(*d),
                        ScalarValue::Utf8(Some(s)) => crate::ir::Value::Str(s.clone()),
                        v => return Err(Failure::Internal(format!("a replaced key of unexpected type: {v:?}"))),
                    };
                    Ok(TExpr {
                        kind: TExprKind::Lit(value),
                        ty,
                        nullable: false,
                    })
                })
                .collect::<Result<_, Failure>>()?;
            let column = key.0.clone();
            let mut model = checked.models[o.model].clone();
            model.rel.map_scan(si, &|scan| {
                let alias = match &scan {
                    crate::ir::Rel::Scan { alias, .. } => alias.clone(),
                    _ => String::new(),
                };
                let col = TExpr {
                    kind: TExprKind::Col {
                        qual: Some(alias),
                        name: column.clone(),
                    },
                    ty,
                    nullable: true,
                };
                crate::ir::Rel::Filter {
                    input: Box::new(scan),
                    predicate: TExpr {
                        kind: TExprKind::InList(Box::new(col), lits.clone(), false),
                        ty: crate::types::Type::Bool,
                        nullable: true,
                    },
                }
            });
            model.name = format!("{}__changed_keys", model.name);
            program.models.push(model);
            program.outputs[oi].model = program.models.len() - 1;
        }
        out.insert(o.name.clone(), inc);
    }
    Ok((program, out))
}

pub(crate) async fn decide_increment(
    c: &Compilation,
    program: &Program,
    o: &OutputIr,
    si: usize,
) -> Result<Increment, Failure> {
    let src = &program.sources[si];
    let read = program.sources_read(o.model);
    let txns: Vec<(String, i64)> = read
        .iter()
        .map(|&i| {
            let s = &program.sources[i];
            (incremental_app_id(&o.name, &s.url), s.version)
        })
        .collect();
    let rebuild = |why: String| Increment::Rebuild {
        txns: txns.clone(),
        why,
    };
    let table = match delta::open(&o.url, &PinSpec::Latest).await {
        Ok(t) => t,
        Err(TableError::NotFound(_)) => return Ok(rebuild("first run: built in full".into())),
        Err(e) => return Err(output_unreadable(o, e.message())),
    };
    let base = table.version().map(|v| v as i64).unwrap_or(-1);
    let snap = table.snapshot().map_err(|e| output_unreadable(o, &e.to_string()))?;
    let recorded = |app: String| {
        let (snap, table) = (&snap, &table);
        async move {
            snap.transaction_version(table.log_store().as_ref(), app)
                .await
                .ok()
                .flatten()
        }
    };
    let Some(since) = recorded(incremental_app_id(&o.name, &src.url)).await else {
        return Ok(rebuild(format!(
            "no incremental run recorded in the output: built in full from `{}` at version {}",
            src.name, src.version
        )));
    };
    for &i in &read {
        let s = &program.sources[i];
        if i == si {
            continue;
        }
        let was = recorded(incremental_app_id(&o.name, &s.url)).await;
        if was != Some(s.version) {
            let was = was
                .map(|v| format!("version {v}"))
                .unwrap_or_else(|| "no recorded version".into());
            return Ok(rebuild(format!(
                "`{}` moved from {was} to version {}: rows already written may change; rebuilt in full",
                s.name, s.version
            )));
        }
    }
    if since == src.version {
        return Ok(Increment::UpToDate {
            version: base,
            why: format!("up to date: `{}` is still at version {since}", src.name),
        });
    }
    if since > src.version {
        return Ok(rebuild(format!(
            "`{}` is read at version {}, before version {since} that the output already holds: rebuilt in full",
            src.name, src.version
        )));
    }
    // only commits that add rows can be appended; deletes, updates and schema changes rebuild
    let plain = delta::pinned_name(&src.url, src.version);
    let Some((_, source_table)) = c.tables.iter().find(|(n, _)| *n == plain) else {
        return Err(Failure::Internal(format!("table {plain} was not opened")));
    };
    let mut row_changes = None;
    for v in since + 1..=src.version {
        match not_append_only(source_table, v).await {
            None => {}
            Some(Change::Rows(why)) => {
                row_changes.get_or_insert((v, why));
            }
            Some(Change::Other(why)) => {
                return Ok(rebuild(format!(
                    "version {v} of `{}` {why}: rebuilt in full at version {}",
                    src.name, src.version
                )));
            }
        }
    }
    if let Some((v, why)) = row_changes {
        let Some(key) = program.models[o.model].incremental_key.clone() else {
            return Ok(rebuild(format!(
                "version {v} of `{}` {why} and the model passes none of its keys through: rebuilt in full at version {}",
                src.name, src.version
            )));
        };
        let keys = engine::changed_keys(source_table, since, &key.0, MAX_REPLACED_KEYS).await?;
        // as values of the declared type (the table may store a narrower one)
        let declared = src.columns.iter().find(|f| f.name == key.0).map(|f| f.ty);
        let keys = match (keys, declared) {
            (Some(keys), Some(ty @ (Type::Int32 | Type::Int64 | Type::String | Type::Date))) => keys
                .into_iter()
                .map(|k| k.cast_to(&ty.to_arrow()).ok())
                .collect::<Option<Vec<_>>>(),
            (Some(_), _) => {
                return Ok(rebuild(format!(
                    "version {v} of `{}` {why} and its key `{}` is not an integer, string or date column: rebuilt in full at version {}",
                    src.name, key.0, src.version
                )));
            }
            (None, _) => None,
        };
        let Some(keys) = keys else {
            return Ok(rebuild(format!(
                "more than {MAX_REPLACED_KEYS} keys of `{}` (or a null key) changed after version {since}: rebuilt in full at version {}",
                src.name, src.version
            )));
        };
        return Ok(Increment::Replace {
            why: format!(
                "replaced the rows of {} `{}` value(s) that `{}` inserted, updated or deleted after version {since} up to version {}",
                keys.len(),
                key.1,
                src.name,
                src.version
            ),
            since,
            base,
            key,
            keys,
            txns,
        });
    }
    Ok(Increment::Append {
        since,
        base,
        txns,
        why: format!(
            "appended the rows inserted into `{}` after version {since} up to version {}",
            src.name, src.version
        ),
    })
}

/// What a commit does besides adding rows.
pub(crate) enum Change {
    /// It deletes or updates rows (its changes can be replaced by key).
    Rows(String),
    /// Anything else (metadata, an unreadable or vanished commit): rebuild.
    Other(String),
}

/// What commit `v` of a table does besides adding rows (None when it only adds rows).
pub(crate) async fn not_append_only(table: &DeltaTable, v: i64) -> Option<Change> {
    let bytes = match table.log_store().read_commit_entry(v as _).await {
        Ok(Some(b)) => b,
        Ok(None) => return Some(Change::Other("is no longer in the log".into())),
        Err(e) => return Some(Change::Other(format!("cannot be read ({e})"))),
    };
    let mut rows = None;
    for line in String::from_utf8_lossy(&bytes).lines().filter(|l| !l.trim().is_empty()) {
        let Ok(action) = serde_json::from_str::<serde_json::Value>(line) else {
            return Some(Change::Other("has an unreadable action".into()));
        };
        if action.get("metaData").is_some() {
            return Some(Change::Other("changes the table's metadata".into()));
        }
        let removes = action
            .get("remove")
            .and_then(|r| r.get("dataChange"))
            .and_then(|d| d.as_bool())
            == Some(true);
        if action.get("cdc").is_some() {
            rows = Some(Change::Rows("updates or deletes rows".into()));
        } else if removes {
            rows.get_or_insert(Change::Rows("removes rows".into()));
        }
    }
    rows
}

/// The output of an incremental model cannot be read to decide what to do (E0401).
fn output_unreadable(o: &OutputIr, e: &str) -> Failure {
    Failure::User(vec![
        Diagnostic::error(Code::E0401, o.span, format!("output `{}`: {e}", o.name))
            .label("reading this output failed")
            .help("nothing was committed to this output; fix the cause and run again"),
    ])
}
