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
use deltalake::DeltaTable;

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

/// The fingerprint the table's latest commit records, if semc made it with one.
pub async fn recorded(table: &DeltaTable) -> Option<String> {
    use futures::StreamExt;
    let info = table.history(Some(1)).next().await?.ok()?;
    info.info.get(KEY)?.as_str().map(str::to_string)
}
