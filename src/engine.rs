//! Stage 4: execution. Substrait plan → DataFusion (through datafusion-substrait) over Delta
//! providers pinned by the plan's table names → streamed Delta writes.
//!
//! Invariant: tables are resolved only from the plan's pinned names
//! ([`crate::delta::parse_pinned_name`]); results stream into the Delta writer and are
//! committed by one atomic Delta commit per output.

use crate::delta::{self, PinSpec, parse_pinned_name};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::prelude::{SessionConfig, SessionContext};
use deltalake::DeltaTable;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The session every stage uses: tuned for the machine, deterministic.
pub fn session() -> SessionContext {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let config = SessionConfig::new()
        .with_target_partitions(threads)
        .with_information_schema(false)
        .set_bool("datafusion.execution.parquet.pushdown_filters", false)
        .set_bool("datafusion.execution.parquet.enable_page_index", true);
    let ctx = SessionContext::new_with_config(config);
    let schema = Arc::new(PinnedDeltaSchema { state: Mutex::new(None), cache: Mutex::new(HashMap::new()) });
    if let Some(catalog) = ctx.catalog("datafusion") {
        let _ = catalog.register_schema("public", schema.clone());
    }
    *schema.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(ctx.state());
    ctx
}

/// The default schema of a semc session: a table name `<url>@v<N>` resolves to that Delta
/// table's snapshot N, opened on first use.
#[derive(Debug)]
pub struct PinnedDeltaSchema {
    state: Mutex<Option<SessionState>>,
    cache: Mutex<HashMap<String, Arc<dyn TableProvider>>>,
}

/// Builds the provider of an opened table for this session (file skipping from the Delta
/// log; `with_session` keeps the session's parquet settings).
pub async fn provider(table: &DeltaTable, state: &SessionState) -> Result<Arc<dyn TableProvider>> {
    table.update_datafusion_session(state).map_err(|e| DataFusionError::External(Box::new(e)))?;
    table.table_provider().with_session(Arc::new(state.clone())).await.map_err(|e| DataFusionError::External(Box::new(e)))
}

impl PinnedDeltaSchema {
    pub fn insert(&self, name: String, p: Arc<dyn TableProvider>) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(name, p);
    }
}

#[async_trait::async_trait]
impl SchemaProvider for PinnedDeltaSchema {
    fn table_names(&self) -> Vec<String> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect()
    }
    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(p) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(name) {
            return Ok(Some(p.clone()));
        }
        let Some((url, version)) = parse_pinned_name(name) else { return Ok(None) };
        let table = delta::open(&url, &PinSpec::Version(version))
            .await
            .map_err(|e| DataFusionError::Plan(format!("table {name}: {}", e.message())))?;
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(state) = state else { return Ok(None) };
        let p = provider(&table, &state).await?;
        self.insert(name.to_string(), p.clone());
        Ok(Some(p))
    }
    fn table_exist(&self, name: &str) -> bool {
        parse_pinned_name(name).is_some()
    }
}

/// The pinned schema of a session made by [`session`].
pub fn pinned_schema(ctx: &SessionContext) -> Option<Arc<PinnedDeltaSchema>> {
    let s = ctx.catalog("datafusion")?.schema("public")?;
    let any: Arc<dyn std::any::Any + Send + Sync> = s;
    any.downcast::<PinnedDeltaSchema>().ok()
}
