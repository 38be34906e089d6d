//! The pinned schema: a table name `<url>@v<N>` resolves to that Delta snapshot. Each
//! snapshot's log is read once per session: queries, verification probes and proofs all
//! take the table opened first.

use super::*;
use crate::delta::{self, PinSpec, TableError, parse_pinned_name};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The default schema of a semc session: a table name `<url>@v<N>` resolves to that Delta
/// table's snapshot N, opened on first use.
#[derive(Debug)]
pub struct PinnedDeltaSchema {
    pub(crate) state: Mutex<Option<SessionState>>,
    pub(crate) cache: Mutex<HashMap<String, Arc<dyn TableProvider>>>,
    /// Each snapshot opened so far, by its pinned name (without scan options).
    pub(crate) opened: Mutex<HashMap<String, DeltaTable>>,
    /// The rows of each, for the optimizer.
    pub(crate) rows: Arc<TableRows>,
}

impl PinnedDeltaSchema {
    pub fn insert(&self, name: String, p: Arc<dyn TableProvider>) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(name, p);
    }

    /// Keeps a snapshot opened elsewhere (by the compilation) for this session's readers.
    pub fn keep_opened(&self, name: String, table: DeltaTable) {
        self.rows.record(&name, &table);
        self.opened
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, table);
    }

    /// Snapshot `version` of the table at `url`: the one this session opened, or opened now
    /// (and kept).
    pub async fn snapshot(&self, url: &url::Url, version: i64) -> std::result::Result<DeltaTable, TableError> {
        let name = delta::pinned_name(url, version);
        if let Some(t) = self.opened.lock().unwrap_or_else(|e| e.into_inner()).get(&name) {
            return Ok(t.clone());
        }
        // two readers asking at once may both open it: either way, the same snapshot
        let table = delta::open(url, &PinSpec::Version(version)).await?;
        self.keep_opened(name, table.clone());
        Ok(table)
    }
}

#[async_trait::async_trait]
impl SchemaProvider for PinnedDeltaSchema {
    fn table_names(&self) -> Vec<String> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }
    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(p) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(name) {
            return Ok(Some(p.clone()));
        }
        let Some((url, version, options)) = parse_pinned_name(name) else {
            return Ok(None);
        };
        let table = self
            .snapshot(&url, version)
            .await
            .map_err(|e| DataFusionError::Plan(format!("table {name}: {}", e.message())))?;
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(state) = state else { return Ok(None) };
        let p = provider_with(&table, &state, &options, &[]).await?;
        self.insert(name.to_string(), p.clone());
        Ok(Some(p))
    }
    fn register_table(&self, name: String, table: Arc<dyn TableProvider>) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(name, table))
    }
    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(self.cache.lock().unwrap_or_else(|e| e.into_inner()).remove(name))
    }
    fn table_exist(&self, name: &str) -> bool {
        parse_pinned_name(name).is_some() || self.cache.lock().unwrap_or_else(|e| e.into_inner()).contains_key(name)
    }
}

/// How many rows each snapshot a session opened holds, by pinned name: the sum of its data
/// files' `numRecords` in the Delta log (a table whose log lacks a file's count has none).
/// semc's join-order rewrite ([`super::rewrites`]) estimates sizes from it.
#[derive(Debug, Default)]
pub struct TableRows(Mutex<HashMap<String, u64>>);

impl TableRows {
    fn record(&self, name: &str, table: &DeltaTable) {
        let Ok(snapshot) = table.snapshot() else { return };
        let counts: Option<Vec<usize>> = snapshot.log_data().iter().map(|f| f.num_records()).collect();
        if let Some(counts) = counts {
            let rows = counts.into_iter().map(|n| n as u64).sum();
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name.to_string(), rows);
        }
    }

    /// The rows of the snapshot a plan's table name reads (scan options aside).
    pub fn of(&self, table: &str) -> Option<u64> {
        let (url, version, _) = parse_pinned_name(table)?;
        let name = delta::pinned_name(&url, version);
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&name).copied()
    }
}

/// The pinned schema of a session made by [`session`].
pub fn pinned_schema(ctx: &SessionContext) -> Option<Arc<PinnedDeltaSchema>> {
    let s = ctx.catalog("datafusion")?.schema("public")?;
    let any: Arc<dyn std::any::Any + Send + Sync> = s;
    any.downcast::<PinnedDeltaSchema>().ok()
}
