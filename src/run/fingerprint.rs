//! Whether an output is up to date: each output's commit records a fingerprint of what
//! computed it — semc's version, the output's plan as it runs (every read pinned to a
//! snapshot by name and version), its spec (mode, partitions, contract, the keys it relies
//! on) and each source it reads (its table id and version). A run whose fingerprint for an
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
    let mut output = serde_json::to_value(o).ok()?;
    if let Some(fields) = output.as_object_mut() {
        // where the output is declared in the text is not what it computes
        fields.remove("at");
        fields.remove("contract_at");
    }
    let mut sources = vec![];
    for name in &o.reads {
        let s = spec.source(name)?;
        if s.table_id.is_empty() {
            return None;
        }
        let url = locations.url(&s.uri).ok()?;
        sources.push(serde_json::json!([url.as_str(), s.table_id, s.version]));
    }
    let all = serde_json::json!({
        "semc": env!("CARGO_PKG_VERSION"),
        "output": output,
        "sources": sources,
        "plan": plan,
    });
    let digest = crate::engine::ids::blake2b(all.to_string().as_bytes(), 16)?;
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// The fingerprint the table's latest commit records, if semc made it with one.
pub async fn recorded(table: &DeltaTable) -> Option<String> {
    use futures::StreamExt;
    let info = table.history(Some(1)).next().await?.ok()?;
    info.info.get(KEY)?.as_str().map(str::to_string)
}
