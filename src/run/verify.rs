//! Verification before any commit, from the execution spec: the join keys the plan relies
//! on (and their orphans), source constraints under `strict`, each output's contract and
//! its table's Delta CHECK constraints, and `unique` across rows an incremental run keeps.
//! A violation anywhere commits nothing anywhere.

use super::execute::{Locations, Target};
use super::proofs::Proofs;
use super::spec::{ConstraintSpec, ExecutionSpec, KeySpec, SourceSpec};
use super::{Failure, Increment, Session};
use crate::codes::Code;
use crate::delta;
use crate::diag::Diagnostic;
use crate::engine;
use datafusion::common::{Column, DataFusionError, TableReference};
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::{JoinType, col, lit, not};
use deltalake::DeltaTable;
use std::collections::BTreeSet;

/// Verifies everything the spec asks of the targets. Returns the warnings; every
/// violation is an error (`Failure::User`).
pub async fn verify(
    session: &Session,
    spec: &ExecutionSpec,
    locations: &Locations,
    targets: &[Target<'_>],
) -> Result<Vec<Diagnostic>, Failure> {
    let proofs = Proofs::load();
    let found = verify_all(session, spec, locations, targets, &proofs).await;
    proofs.save();
    let (errors, warnings): (Vec<Diagnostic>, Vec<Diagnostic>) = found?.into_iter().partition(Diagnostic::is_error);
    if errors.is_empty() {
        Ok(warnings)
    } else {
        Err(Failure::User(errors))
    }
}

/// Every diagnostic of the verification (errors and warnings alike).
async fn verify_all(
    session: &Session,
    spec: &ExecutionSpec,
    locations: &Locations,
    targets: &[Target<'_>],
    proofs: &Proofs,
) -> Result<Vec<Diagnostic>, Failure> {
    let mut found = vec![];
    let mut keys_done = BTreeSet::new();
    let mut orphans_done = BTreeSet::new();
    for t in targets {
        for key in &t.spec.keys {
            let mut columns = key.columns.clone();
            columns.sort();
            if keys_done.insert((key.source.clone(), columns)) {
                found.extend(key_unique(session, spec, locations, key, proofs).await?);
            }
            if let Some(from) = &key.from
                && orphans_done.insert((
                    from.source.clone(),
                    from.columns.clone(),
                    key.source.clone(),
                    key.columns.clone(),
                ))
            {
                found.extend(orphans(session, spec, locations, key, proofs).await?);
            }
        }
    }
    if spec.policy.strict {
        let read: BTreeSet<&str> = targets
            .iter()
            .flat_map(|t| t.spec.reads.iter().map(String::as_str))
            .collect();
        for s in spec.sources.iter().filter(|s| read.contains(s.name.as_str())) {
            found.extend(source_constraints(session, locations, s, proofs).await?);
        }
    }
    // each output's checks: independent, so as many at once as outputs are computed (most
    // of their time is opening a Delta log); reported in the targets' order
    use futures::{StreamExt, TryStreamExt};
    // (the futures made first, then streamed: a stream holding the closure would not be
    // `Send` for every lifetime, and the Python package runs a run on a spawned task)
    let checks: Vec<_> = targets.iter().map(|t| output_checks(session, t)).collect();
    let per_output: Vec<Vec<Diagnostic>> = futures::stream::iter(checks)
        .buffered(super::commit::outputs_in_flight(session))
        .try_collect()
        .await?;
    found.extend(per_output.into_iter().flatten());
    Ok(found)
}

/// The checks of one output that compare its rows with its contract and with the table it
/// will replace or append to.
async fn output_checks(session: &Session, t: &Target<'_>) -> Result<Vec<Diagnostic>, Failure> {
    let written = t.written.as_ref();
    let mut found = vec![];
    for result in [
        contract(session, t).await,
        foreign_table(t, written).await,
        table_constraints(session, t, written).await,
        unique_with_written(session, t, written).await,
    ] {
        match result {
            Ok(diags) => found.extend(diags),
            Err(Failure::User(diags)) => found.extend(diags.into_iter().map(|d| t.diagnostic(d))),
            Err(internal) => return Err(internal),
        }
    }
    Ok(found)
}

/// The rows of a source's pinned snapshot.
async fn source_rows(session: &Session, locations: &Locations, s: &SourceSpec) -> Result<DataFrame, Failure> {
    let name = delta::pinned_name(&locations.url(&s.uri)?, s.version);
    Ok(session.ctx.table(TableReference::bare(name)).await?)
}

fn source<'s>(spec: &'s ExecutionSpec, name: &str) -> Result<&'s SourceSpec, Failure> {
    spec.source(name)
        .ok_or_else(|| Failure::Internal(format!("the spec names no source `{name}`")))
}

/// A key a `many_to_one`/`one_to_one` join relies on is unique in the snapshot read (E0405).
async fn key_unique(
    session: &Session,
    spec: &ExecutionSpec,
    locations: &Locations,
    key: &KeySpec,
    proofs: &Proofs,
) -> Result<Option<Diagnostic>, Failure> {
    let src = source(spec, &key.source)?;
    let mut columns = key.columns.clone();
    columns.sort();
    let snapshot = proofs.snapshot(session, locations, src).await?;
    let fact = format!("unique [{}]", columns.join(", "));
    proofs
        .check(&[&snapshot], fact, async {
            let (n, table) =
                count_and_show(duplicates_of(source_rows(session, locations, src).await?, &columns)?).await?;
            Ok((n > 0).then(|| duplicated_key(key, src, &columns, n, &table)))
        })
        .await
}

/// E0405: a key a join relies on repeats in the snapshot read.
fn duplicated_key(key: &KeySpec, src: &SourceSpec, columns: &[String], n: usize, table: &str) -> Diagnostic {
    key.at.diagnostic(
        Diagnostic::error(
            Code::E0405,
            key.at.span,
            format!(
                "{n} value(s) of `{}` ({}) occur more than once in `{}` at version {}",
                columns.join(", "),
                src.name,
                src.uri,
                src.version
            ),
        )
        .label("this join relies on a unique key")
        .help(format!(
            "nothing was committed; deduplicate the table, or declare the join `one_to_many`. Duplicated keys:\n{table}"
        )),
    )
}

/// Rows whose foreign key (all columns set) matches no row of the join's target (E0406):
/// an error under `strict`, else a warning.
async fn orphans(
    session: &Session,
    spec: &ExecutionSpec,
    locations: &Locations,
    key: &KeySpec,
    proofs: &Proofs,
) -> Result<Option<Diagnostic>, Failure> {
    let Some(from) = &key.from else { return Ok(None) };
    if from.columns.len() != key.columns.len() || from.columns.is_empty() {
        return Ok(None);
    }
    let (src, target) = (source(spec, &from.source)?, source(spec, &key.source)?);
    let snapshots = [
        proofs.snapshot(session, locations, src).await?,
        proofs.snapshot(session, locations, target).await?,
    ];
    let fact = format!(
        "no orphans [{}] -> [{}]",
        from.columns.join(", "),
        key.columns.join(", ")
    );
    let probe = orphan_count(session, locations, src, target, &from.columns, &key.columns);
    let Some(n) = proofs.check(&[&snapshots[0], &snapshots[1]], fact, probe).await? else {
        return Ok(None);
    };
    let msg = format!(
        "{n} row(s) of `{}` have a `{}` that matches no `{}` in `{}`",
        src.name,
        from.columns.join(", "),
        key.columns.join(", "),
        target.name
    );
    let d = if spec.policy.strict {
        Diagnostic::error(Code::E0406, key.at.span, msg)
            .label("orphan keys under `strict`")
            .help("nothing was committed; fix the data, or set `strict = false` in the policy to run with a warning (orphans read nulls through the join)")
    } else {
        Diagnostic::warning(Code::E0406, key.at.span, msg)
            .label("orphan keys")
            .help("these rows read nulls through the join; `strict = true` in the policy makes this an error")
    };
    Ok(Some(key.at.diagnostic(d)))
}

/// How many rows of `src` (foreign key all set) match no row of `target`; none: `None`.
async fn orphan_count(
    session: &Session,
    locations: &Locations,
    src: &SourceSpec,
    target: &SourceSpec,
    from: &[String],
    to: &[String],
) -> Result<Option<usize>, Failure> {
    let mut left = source_rows(session, locations, src).await?.alias("semc_from")?;
    for fk in from {
        left = left.filter(col(Column::new(Some("semc_from"), fk)).is_not_null())?;
    }
    let right = source_rows(session, locations, target).await?.alias("semc_target")?;
    let l: Vec<&str> = from.iter().map(String::as_str).collect();
    let r: Vec<&str> = to.iter().map(String::as_str).collect();
    let n = left.join(right, JoinType::LeftAnti, &l, &r, None)?.count().await?;
    Ok((n > 0).then_some(n))
}

/// Under `strict`: every constraint a source declares (and its table does not guarantee),
/// verified on the snapshot read (E0408).
async fn source_constraints(
    session: &Session,
    locations: &Locations,
    src: &SourceSpec,
    proofs: &Proofs,
) -> Result<Vec<Diagnostic>, Failure> {
    let mut diags = vec![];
    let snapshot = proofs.snapshot(session, locations, src).await?;
    for c in &src.constraints {
        let (what, at) = match c {
            ConstraintSpec::NotNull { column, at } => (format!("`{column}` not null"), at),
            ConstraintSpec::Unique { columns, at } => (format!("`{}` unique", columns.join(", ")), at),
            ConstraintSpec::Check { check } => (format!("check ({})", check.text), &check.at),
        };
        let probe = async {
            let rows = source_rows(session, locations, src).await?;
            let probe = match c {
                ConstraintSpec::NotNull { column, .. } => nulls_of(rows, column)?,
                ConstraintSpec::Unique { columns, .. } => duplicates_of(rows, columns)?,
                ConstraintSpec::Check { check } => rows.filter(not(check.expr(&session.ctx).await?))?,
            };
            let (n, shown) = count_and_show(probe).await?;
            Ok((n > 0).then_some((n, shown)))
        };
        let Some((n, shown)) = proofs.check(&[&snapshot], format!("holds {what}"), probe).await? else {
            continue;
        };
        let what = if matches!(c, ConstraintSpec::Check { .. }) {
            "check".to_string()
        } else {
            what
        };
        let counted = if matches!(c, ConstraintSpec::Unique { .. }) {
            "value(s) occur more than once"
        } else {
            "row(s) break it"
        };
        diags.push(
            at.diagnostic(
                Diagnostic::error(
                    Code::E0408,
                    at.span,
                    format!(
                        "source `{}` declares {what}: {n} {counted} in `{}` at version {}",
                        src.name, src.uri, src.version
                    ),
                )
                .label("declared here")
                .help(format!(
                    "nothing was committed; fix the data, or the declaration. First offending rows:\n{shown}"
                )),
            ),
        );
    }
    Ok(diags)
}

/// The rows an output would write against its model's contract: not null, unique, checks.
async fn contract(session: &Session, t: &Target<'_>) -> Result<Vec<Diagnostic>, Failure> {
    let o = t.spec;
    let rows = || DataFrame::new(session.ctx.state(), t.root.clone());
    let mut probes: Vec<(String, &str, DataFrame)> = vec![];
    for column in &o.not_null {
        // a column the plan itself proves not null needs no probe
        let nullable = t
            .root
            .schema()
            .field_with_unqualified_name(column)
            .map(|f| f.is_nullable())
            .unwrap_or(true);
        if nullable {
            probes.push(("not null".into(), column, nulls_of(rows(), column)?));
        }
    }
    for column in &o.unique {
        probes.push((
            "unique".into(),
            column,
            duplicates_of(rows(), std::slice::from_ref(column))?,
        ));
    }
    for check in &o.checks {
        probes.push((
            "check".into(),
            &check.subject,
            rows().filter(not(check.expr(&session.ctx).await?))?,
        ));
    }
    let mut diags = vec![];
    for (what, column, probe) in probes {
        let (n, table) = count_and_show(probe).await?;
        if n == 0 {
            continue;
        }
        let at = o.contract_at.get(column).unwrap_or(&o.at);
        diags.push(
            at.diagnostic(
                Diagnostic::error(Code::E0402, at.span, violation_message(&o.name, &what, column, n))
                    .label(format!("{what} violated"))
                    .help(format!(
                        "nothing was committed to `{}`. First offending rows:\n{table}",
                        o.name
                    )),
            ),
        );
    }
    Ok(diags)
}

/// An output must not replace a Delta table that semc did not write: when its location
/// holds a table whose last commit is not semc's and whose columns differ from the output's,
/// it is someone else's table (E0401), and nothing is written.
async fn foreign_table(t: &Target<'_>, written: Option<&DeltaTable>) -> Result<Vec<Diagnostic>, Failure> {
    let Some(table) = written else { return Ok(vec![]) };
    use futures::StreamExt;
    let by_semc = match table.history(Some(1)).next().await {
        Some(Ok(commit)) => commit.info.contains_key("semc.run_id"),
        _ => false,
    };
    let Ok(snapshot) = table.snapshot() else {
        return Ok(vec![]);
    };
    let theirs: Vec<String> = snapshot.schema().fields().map(|f| f.name().clone()).collect();
    let ours: Vec<String> = t.root.schema().fields().iter().map(|f| f.name().clone()).collect();
    if by_semc || theirs == ours {
        return Ok(vec![]);
    }
    Ok(vec![t.diagnostic(
        Diagnostic::error(
            Code::E0401,
            t.spec.at.span,
            format!(
                "output `{}`: `{}` holds a Delta table that semc did not write, with other columns ({}) than the output's ({})",
                t.spec.name,
                t.url,
                theirs.join(", "),
                ours.join(", ")
            ),
        )
        .label("writing here would replace that table")
        .help("nothing was committed; write the output to a location of its own, or remove that table first"),
    )])
}

/// The rows an output would write against the Delta CHECK constraints its table already
/// declares (`delta.constraints.<name>`), so a violation stops the whole run before any
/// commit (the writer would refuse only that output, after others had committed).
async fn table_constraints(
    session: &Session,
    t: &Target<'_>,
    written: Option<&DeltaTable>,
) -> Result<Vec<Diagnostic>, Failure> {
    let o = t.spec;
    let Some(table) = written else { return Ok(vec![]) };
    let Ok(snap) = table.snapshot() else { return Ok(vec![]) };
    let mut constraints: Vec<(String, String)> = snap
        .metadata()
        .configuration()
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("delta.constraints.")?.to_string(), v.clone())))
        .collect();
    constraints.sort();
    let mut diags = vec![];
    for (name, sql) in constraints {
        let df = DataFrame::new(session.ctx.state(), t.root.clone());
        let expr = match df.parse_sql_expr(&sql) {
            Ok(e) => e,
            Err(e) => {
                diags.push(t.diagnostic(
                    Diagnostic::error(
                        Code::E0402,
                        o.at.span,
                        format!("output `{}`: its table's constraint `{name}` ({sql}) does not apply to the model's rows: {e}", o.name),
                    )
                    .label("the Delta table declares this constraint")
                    .help("nothing was committed; the model must give the columns the constraint reads, or drop the constraint from the table"),
                ));
                continue;
            }
        };
        // a row violates a CHECK constraint when it evaluates to false (null passes)
        let (n, shown) = count_and_show(df.filter(expr.is_false())?).await?;
        if n > 0 {
            diags.push(
                t.diagnostic(
                    Diagnostic::error(
                        Code::E0402,
                        o.at.span,
                        format!(
                            "output `{}`: {n} row(s) break the table's constraint `{name}` ({sql})",
                            o.name
                        ),
                    )
                    .label("the Delta table declares this constraint")
                    .help(format!("nothing was committed. First offending rows:\n{shown}")),
                ),
            );
        }
    }
    Ok(diags)
}

/// An incremental run adds rows to rows already written (all of them, or those of the keys
/// it does not replace): a `unique` contract column must be unique across both, not only
/// among the new rows.
async fn unique_with_written(
    session: &Session,
    t: &Target<'_>,
    written: Option<&DeltaTable>,
) -> Result<Vec<Diagnostic>, Failure> {
    let o = t.spec;
    let kept = match &t.increment {
        Some(Increment::Append { .. }) => None,
        Some(Increment::Replace { key, keys, .. }) => {
            Some(col(Column::from_name(&key.1)).in_list(keys.iter().cloned().map(lit).collect(), true))
        }
        _ => return Ok(vec![]),
    };
    if o.unique.is_empty() {
        return Ok(vec![]);
    }
    // an incremental append or replace is computed against the output's written rows
    let Some(table) = written else {
        return Err(super::commit::write_failed(t, "the output this run adds to is gone"));
    };
    let written = engine::provider(table, &session.ctx.state()).await?;
    let mut diags = vec![];
    for column in &o.unique {
        let name = Column::from_name(column);
        let new = DataFrame::new(session.ctx.state(), t.root.clone()).select(vec![col(name.clone())])?;
        let mut old = session.ctx.read_table(written.clone())?;
        if let Some(k) = &kept {
            old = old.filter(k.clone())?;
        }
        let old = old.select(vec![col(name)])?;
        let (n, shown) = count_and_show(duplicates_of(new.union(old)?, std::slice::from_ref(column))?).await?;
        if n > 0 {
            let at = o.contract_at.get(column).unwrap_or(&o.at);
            diags.push(at.diagnostic(
                Diagnostic::error(
                    Code::E0402,
                    at.span,
                    format!(
                        "output `{}`: {n} value(s) of `{column}` occur more than once (`unique`) among the rows written and the rows this run appends",
                        o.name
                    ),
                )
                .label("unique violated")
                .help(format!("nothing was committed to `{}`. Duplicated values:\n{shown}", o.name)),
            ));
        }
    }
    Ok(diags)
}

/// Rows where `column` is null.
fn nulls_of(df: DataFrame, column: &str) -> Result<DataFrame, DataFusionError> {
    df.filter(col(Column::from_name(column)).is_null())
}

/// The values of `columns` that occur more than once, with their count (`rows`).
fn duplicates_of(df: DataFrame, columns: &[String]) -> Result<DataFrame, DataFusionError> {
    let keys = columns.iter().map(|c| col(Column::from_name(c))).collect();
    df.aggregate(
        keys,
        vec![datafusion::functions_aggregate::count::count(lit(1i64)).alias("rows")],
    )?
    .filter(col("rows").gt(lit(1i64)))
}

/// How many rows a probe finds, and the first ten as a text table (never all of them).
async fn count_and_show(probe: DataFrame) -> Result<(usize, String), DataFusionError> {
    let n = probe.clone().count().await?;
    if n == 0 {
        return Ok((0, String::new()));
    }
    let shown = probe.limit(0, Some(10))?.collect().await?;
    let table = datafusion::arrow::util::pretty::pretty_format_batches(&shown)
        .map(|t| t.to_string())
        .unwrap_or_default();
    Ok((n, table))
}

/// "3 row(s) break `not null` on `x`", or for `unique`, how many values repeat.
fn violation_message(output: &str, what: &str, column: &str, n: usize) -> String {
    if what == "unique" {
        format!("output `{output}`: {n} value(s) of `{column}` occur more than once (`unique`)")
    } else {
        format!("output `{output}`: {n} row(s) break `{what}` on `{column}`")
    }
}
