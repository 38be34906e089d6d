//! Whether an output is up to date: each output's commit records a fingerprint of what
//! computed it — semc's version, the output's plan as it runs (every read pinned to a
//! snapshot by name and version), its spec (mode, partitions, contract, the keys it relies
//! on), the policy, and each source it reads (its table id, version and the constraints a
//! `strict` run verifies on it). A run whose fingerprint for an
//! output is the one its latest commit records writes nothing. A change in the model, a model
//! it reads, a function, a source's version or table, or `--bind` gives another fingerprint; a
//! commit by another writer records none.

use super::execute::Locations;
use super::spec::{ExecutionSpec, OutputSpec};
use datafusion::logical_expr::LogicalPlan;
use deltalake::logstore::LogStore;
use url::Url;

/// The commit metadata key.
pub const KEY: &str = "semc.fingerprint";

/// The fingerprint of output `o` computed by `root`; `None` when it cannot vouch for the
/// result: a host function (its code is not in the plan) or a table whose id is unknown.
pub fn of(spec: &ExecutionSpec, o: &OutputSpec, root: &LogicalPlan, locations: &Locations) -> Option<String> {
    let plan = root.display_indent_schema().to_string();
    if crate::host::registered()
        .iter()
        .any(|f| plan.contains(&format!("{}(", f.name())))
    {
        return None;
    }
    let mut sources = vec![];
    for name in &o.reads {
        let s = spec.source(name)?;
        if s.table_id.is_empty() {
            return None;
        }
        let url = locations.url(&s.uri).ok()?;
        let constraints = serde_json::to_value(&s.constraints).ok()?;
        sources.push(serde_json::json!([url.as_str(), s.table_id, s.version, constraints]));
    }
    let mut all = serde_json::json!({
        "semc": env!("CARGO_PKG_VERSION"),
        "output": serde_json::to_value(o).ok()?,
        "policy": serde_json::to_value(&spec.policy).ok()?,
        "sources": sources,
        "plan": plan,
    });
    // where things are declared in the text is not what computes the output, nor is where
    // its root stands among the roots of this plan (`--output` selects others)
    without_places(&mut all);
    if let Some(output) = all.get_mut("output").and_then(|o| o.as_object_mut()) {
        output.remove("root");
    }
    let digest = crate::engine::ids::blake2b(all.to_string().as_bytes(), 16)?;
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// Removes every place in the text (`at`, `contract_at`) from a spec's JSON.
fn without_places(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.remove("at");
            m.remove("contract_at");
            m.values_mut().for_each(without_places);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(without_places),
        _ => {}
    }
}

/// The latest commit of the table at `url` and the fingerprint it records, read from the
/// log alone — the commits listed from the last checkpoint on, and the newest one read — so
/// an output that is up to date costs no replay of its log. `None` when there is no table,
/// its log cannot be read so, or its latest commit records no fingerprint: the run then
/// opens the table and computes the output.
pub async fn recorded(url: &Url) -> Option<(i64, String)> {
    let log = crate::delta::builder(url).ok()?.build_storage().ok()?;
    let checkpointed = last_checkpoint(log.object_store(None).as_ref()).await.unwrap_or(0);
    let version = log.get_latest_version(checkpointed).await.ok()?;
    let commit = log.read_commit_entry(version).await.ok()??;
    let version = i64::try_from(version).ok()?;
    let fingerprint = commit
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<serde_json::Value>(line).ok())
        .find_map(|action| action.get("commitInfo")?.get(KEY)?.as_str().map(str::to_string))?;
    Some((version, fingerprint))
}

/// The version `_delta_log/_last_checkpoint` names, if there is one.
async fn last_checkpoint(store: &dyn deltalake::ObjectStore) -> Option<u64> {
    use deltalake::logstore::object_store::ObjectStoreExt;
    let hint = store
        .get(&deltalake::Path::from("_delta_log/_last_checkpoint"))
        .await
        .ok()?;
    let hint: serde_json::Value = serde_json::from_slice(&hint.bytes().await.ok()?).ok()?;
    hint.get("version")?.as_u64()
}
