//! Plan bundles: the ONE Substrait plan and its execution spec (`spec.json`), run without
//! `.sem` files by the same runner as `semc run`.

use super::execute::{Locations, execute};
use super::spec::ExecutionSpec;
use super::{Compilation, Failure, OutputReport, RunOptions, Session, commit};
use crate::codes::Code;
use crate::delta::{self, PinSpec};
use crate::diag::Diagnostic;
use crate::span::Span;
use std::collections::HashMap;
use std::path::Path;
use substrait::proto::Plan;
use url::Url;

/// Writes `plan.substrait.pb` and `spec.json` into `dir`.
pub async fn write_bundle(c: &Compilation, dir: &Path, only: &[String]) -> Result<ExecutionSpec, Failure> {
    let (plan, spec) = plan_and_spec(c, only).await?;
    let bad = |e: std::io::Error| Failure::User(vec![crate::diag::file_error(Code::E0010, dir, &e)]);
    std::fs::create_dir_all(dir).map_err(bad)?;
    std::fs::write(dir.join(&spec.plan), prost::Message::encode_to_vec(&plan)).map_err(bad)?;
    std::fs::write(dir.join("spec.json"), spec.to_json()? + "\n").map_err(bad)?;
    Ok(spec)
}

/// The ONE Substrait plan of the outputs (all, or those named) and its execution spec: what
/// a bundle holds, and what `semc exec` (or Python's `semc.execute`) runs.
pub async fn plan_and_spec(c: &Compilation, only: &[String]) -> Result<(Plan, ExecutionSpec), Failure> {
    let program = c.program()?;
    let session = Session::new(c).await?;
    let (plan, roots) = session.plan_with_roots(program, only)?;
    let mut spec = ExecutionSpec::of(c, program, &session, &roots, only)?;
    // tables are relative to the profile's root when one is active, else to the workspace
    let root = crate::project::active().and_then(|a| a.root).or_else(|| {
        std::fs::canonicalize(&c.ws.root)
            .ok()
            .and_then(|r| Url::from_directory_path(r).ok())
    });
    spec.relative = spec
        .sources
        .iter()
        .map(|s| s.uri.as_str())
        .chain(spec.outputs.iter().map(|o| o.uri.as_str()))
        .filter_map(|uri| {
            let rel = uri.strip_prefix(root.as_ref()?.as_str())?;
            (!rel.is_empty() && !rel.split('/').any(|p| p == "..")).then(|| (uri.to_string(), rel.to_string()))
        })
        .collect();
    Ok((plan, spec))
}

fn bundle_error(msg: String) -> Failure {
    Failure::User(vec![
        Diagnostic::error(Code::E0404, Span::default(), msg).help("write a bundle with `semc plan PATH --bundle DIR`"),
    ])
}

/// Where `semc exec` finds a bundle's tables.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    /// Tables the spec records relative to the workspace root resolve under this folder (a
    /// path, or a URI such as `s3://bucket/lake`).
    pub root: Option<String>,
    /// `NAME=URI`: the source or output called NAME is the table at URI (a path or a URI).
    pub binds: Vec<(String, String)>,
}

/// Where each table of the spec is read or written under `bindings`.
fn locations(spec: &ExecutionSpec, bindings: &Bindings) -> Result<Locations, Failure> {
    let mut moved = HashMap::new();
    if let Some(root) = &bindings.root {
        let root = if root.contains("://") {
            url::Url::parse(root).map_err(|e| bundle_error(format!("--root `{root}` is not a valid URI: {e}")))?
        } else {
            let path = std::fs::canonicalize(root).map_err(|e| bundle_error(format!("--root `{root}`: {e}")))?;
            url::Url::from_directory_path(&path)
                .map_err(|_| bundle_error(format!("--root `{root}` is not a valid path")))?
        };
        let root = delta::as_folder(&root);
        for (uri, rel) in &spec.relative {
            let to = root
                .join(rel)
                .map_err(|e| bundle_error(format!("`{rel}` under --root `{root}`: {e}")))?;
            moved.insert(uri.clone(), to);
        }
    }
    for (name, to) in &bindings.binds {
        let uri = spec
            .sources
            .iter()
            .find(|s| s.name == *name)
            .map(|s| &s.uri)
            .or_else(|| spec.outputs.iter().find(|o| o.name == *name).map(|o| &o.uri))
            .ok_or_else(|| {
                let names: Vec<&str> = spec
                    .sources
                    .iter()
                    .map(|s| s.name.as_str())
                    .chain(spec.outputs.iter().map(|o| o.name.as_str()))
                    .collect();
                bundle_error(format!(
                    "--bind {name}=…: the bundle has no source or output `{name}` (it has {})",
                    names.join(", ")
                ))
            })?;
        let here = std::env::current_dir().unwrap_or_default();
        let to = delta::resolve_location(&here, to).map_err(|e| bundle_error(e.message().to_string()))?;
        moved.insert(uri.clone(), to);
    }
    Ok(Locations { moved })
}

/// Each table a plan reads, as its pinned names say: snapshot reads (`<uri>@v<N>`) and
/// change reads alike.
fn visit_reads(v: &mut serde_json::Value, f: &mut impl FnMut(&mut serde_json::Value)) {
    match v {
        serde_json::Value::Object(o) => {
            if let Some(names) = o
                .get_mut("namedTable")
                .and_then(|t| t.get_mut("names"))
                .and_then(|n| n.as_array_mut())
            {
                names.iter_mut().for_each(&mut *f);
            }
            o.values_mut().for_each(|x| visit_reads(x, f));
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| visit_reads(x, f)),
        _ => {}
    }
}

/// The plan with every table read where `locations` put it and every snapshot read at the
/// version its spec source pins (a spec built or edited in code may pin another version).
fn bind_plan(plan: Plan, spec: &ExecutionSpec, locations: &Locations) -> Result<Plan, Failure> {
    let pins: HashMap<&str, i64> = spec.sources.iter().map(|s| (s.uri.as_str(), s.version)).collect();
    let mut json = serde_json::to_value(&plan).map_err(|e| Failure::Internal(e.to_string()))?;
    visit_reads(&mut json, &mut |n| {
        let Some((url, version, options)) = n.as_str().and_then(delta::parse_pinned_name) else {
            return;
        };
        let pinned = match pins.get(url.as_str()) {
            Some(v) if options.is_default() => *v,
            _ => version,
        };
        let to = locations.moved.get(url.as_str()).unwrap_or(&url);
        *n = serde_json::Value::String(delta::pinned_name_with(to, pinned, &options));
    });
    serde_json::from_value(json).map_err(|e| Failure::Internal(e.to_string()))
}

/// Reads a bundle's spec: a spec of another format, with an unknown field or a wrong type
/// is refused with the field named.
pub fn read_spec(dir: &Path) -> Result<ExecutionSpec, Failure> {
    let path = dir.join("spec.json");
    let text =
        std::fs::read_to_string(&path).map_err(|e| bundle_error(format!("cannot read `{}`: {e}", path.display())))?;
    ExecutionSpec::from_json(&text)
}

/// Runs a bundle: no `.sem` source needed. Tables resolve from the plan's pinned names
/// (moved by `bindings`); a rebound source must be the same Delta table (same table id).
/// Verification and commits are `semc run`'s own.
pub async fn exec_bundle(dir: &Path, opts: &RunOptions, bindings: &Bindings) -> Result<Vec<OutputReport>, Failure> {
    let spec = read_spec(dir)?;
    let bytes = std::fs::read(dir.join(&spec.plan))
        .map_err(|e| bundle_error(format!("cannot read the plan `{}`: {e}", spec.plan)))?;
    exec_spec(&spec, &bytes, opts, bindings).await
}

/// Checks that source `s` is, where the run reads it, the Delta table the spec was planned
/// against (its table id: a table deleted and made again at the same place is another),
/// that it has the pinned version, and that the key columns the spec checks in it exist.
async fn pinned_source(
    spec: &ExecutionSpec,
    s: &super::spec::SourceSpec,
    locations: &Locations,
) -> Result<(), Failure> {
    let to = locations.url(&s.uri)?;
    let bound = |e: String| bundle_error(format!("source `{}` at `{to}` (version {}): {e}", s.name, s.version));
    let id_of = |t: &deltalake::DeltaTable| t.snapshot().map(|sn| sn.metadata().id().to_string()).ok();
    let another = |id: &str| {
        bound(format!(
            "that is another Delta table (id {id}; the spec was planned against {})",
            s.table_id
        ))
    };
    let table = match delta::open(&to, &PinSpec::Version(s.version)).await {
        Ok(table) => table,
        Err(e) => {
            // a version the table lacks may be because the table is another one
            if let Ok(latest) = delta::open(&to, &PinSpec::Latest).await
                && let Some(id) = id_of(&latest)
                && !s.table_id.is_empty()
                && id != s.table_id
            {
                return Err(another(&id));
            }
            return Err(bound(e.message().to_string()));
        }
    };
    if let Some(id) = id_of(&table)
        && !s.table_id.is_empty()
        && id != s.table_id
    {
        return Err(another(&id));
    }
    let Ok(snapshot) = table.snapshot() else {
        return Ok(());
    };
    let schema = snapshot.schema();
    let checked = spec.outputs.iter().flat_map(|o| &o.keys).flat_map(|k| {
        let own = (k.source == s.name).then_some(&k.columns);
        let from = k.from.as_ref().filter(|f| f.source == s.name).map(|f| &f.columns);
        own.into_iter().chain(from).flatten()
    });
    for column in checked {
        if schema.field(column).is_none() {
            return Err(bound(format!("the spec's key column `{column}` is not a column of it")));
        }
    }
    Ok(())
}

/// The spec with each source pinned by `timestamp` read at the version committed last at
/// or before that time.
async fn pin_timestamps(spec: &ExecutionSpec, locations: &Locations) -> Result<ExecutionSpec, Failure> {
    let mut spec = spec.clone();
    for s in &mut spec.sources {
        let Some(ts) = s.timestamp.take() else { continue };
        let url = locations.url(&s.uri)?;
        let table = delta::open(&url, &PinSpec::Timestamp(ts.clone()))
            .await
            .map_err(|e| bundle_error(format!("source `{}` at `{url}` as of {ts}: {}", s.name, e.message())))?;
        s.version = table.version().map(|v| v as i64).unwrap_or(-1);
    }
    Ok(spec)
}

/// Runs a Substrait plan (its protobuf bytes) under its execution spec: what `semc exec`
/// does with a bundle, for a spec and plan held in memory (e.g. built in Python).
pub async fn exec_spec(
    spec: &ExecutionSpec,
    plan: &[u8],
    opts: &RunOptions,
    bindings: &Bindings,
) -> Result<Vec<OutputReport>, Failure> {
    let plan: Plan =
        prost::Message::decode(plan).map_err(|e| bundle_error(format!("the plan is not Substrait: {e}")))?;
    if plan.relations.len() < spec.outputs.iter().map(|o| o.root + 1).max().unwrap_or(0) {
        return Err(bundle_error(format!(
            "the spec names {} output(s) but the plan has {} root(s): they were not planned together",
            spec.outputs.len(),
            plan.relations.len()
        )));
    }
    let locations = locations(spec, bindings)?;
    let spec = &pin_timestamps(spec, &locations).await?;
    let plan = bind_plan(plan, spec, &locations)?;
    for s in &spec.sources {
        pinned_source(spec, s, &locations).await?;
    }
    let session = Session::empty(opts).await?;
    let run_id = opts.run_id.clone().unwrap_or_else(commit::new_run_id);
    let roots = session.consume(&plan).await.map_err(|f| match f {
        Failure::Internal(m) => bundle_error(format!("the plan cannot be read: {m}")),
        user => user,
    })?;
    for o in &spec.outputs {
        let rows = roots.get(o.root).map(|r| r.schema());
        let missing = o
            .unique
            .iter()
            .chain(&o.not_null)
            .find(|c| rows.is_some_and(|r| r.field_with_unqualified_name(c).is_err()));
        if let Some(c) = missing {
            return Err(bundle_error(format!(
                "output `{}`: the spec's column `{c}` is not among the plan's columns for it",
                o.name
            )));
        }
    }
    let executed = execute(&session, roots, spec, &locations, HashMap::new(), &run_id, opts.force).await?;
    let mut reports = executed.reports;
    if let Some(first) = reports.first_mut() {
        first.warnings = executed.warnings;
    }
    Ok(reports)
}
