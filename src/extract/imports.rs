//! Imports resolved to the extracted repositories' files: a module is a `.py` file (or a
//! package's `__init__.py`) named by its path from its repository's root, or from a `src/`
//! folder there; what resolves to none is an external package, named by its first part.

use serde_json::{Map, Value};
use std::collections::HashMap;

/// Each repository's modules: dotted name → (file id, path).
pub struct Modules {
    by_repo: HashMap<String, HashMap<String, (String, String)>>,
}

/// The dotted module a path names (`pkg/mod.py` → `pkg.mod`, `pkg/__init__.py` → `pkg`).
fn module_of(path: &str) -> Option<String> {
    let stem = path.strip_suffix(".py").or_else(|| path.strip_suffix(".pyi"))?;
    let stem = stem.strip_suffix("/__init__").unwrap_or(stem);
    if stem == "__init__" {
        return None;
    }
    Some(stem.replace('/', "."))
}

impl Modules {
    pub fn of<'a>(files: impl Iterator<Item = (&'a str, &'a str, &'a str)>) -> Modules {
        let mut by_repo: HashMap<String, HashMap<String, (String, String)>> = HashMap::new();
        for (repo, path, id) in files {
            let Some(module) = module_of(path) else { continue };
            let modules = by_repo.entry(repo.to_string()).or_default();
            if let Some(inner) = module.strip_prefix("src.") {
                modules
                    .entry(inner.to_string())
                    .or_insert_with(|| (id.to_string(), path.to_string()));
            }
            modules.insert(module, (id.to_string(), path.to_string()));
        }
        Modules { by_repo }
    }

    /// Fills the `resolved_file_id`, `resolved_path` and `external_package` columns of a
    /// file's import rows (given as columns).
    pub fn resolve_columns(&self, repo: &str, path: &str, columns: &mut Map<String, Value>) {
        let len = super::tables::column_len(columns);
        let added = ["resolved_file_id", "resolved_path", "external_package"];
        let mut filled: Vec<Vec<Value>> = added.iter().map(|_| Vec::with_capacity(len)).collect();
        for i in 0..len {
            let mut row: Map<String, Value> = columns
                .iter()
                .map(|(k, c)| {
                    (
                        k.clone(),
                        c.as_array().and_then(|c| c.get(i)).cloned().unwrap_or(Value::Null),
                    )
                })
                .collect();
            self.resolve(repo, path, &mut row);
            for (column, name) in filled.iter_mut().zip(added) {
                column.push(row.remove(name).unwrap_or(Value::Null));
            }
        }
        for (column, name) in filled.into_iter().zip(added) {
            columns.insert(name.to_string(), Value::Array(column));
        }
    }

    /// Fills an import row's `resolved_file_id` and `resolved_path`, or `external_package`.
    pub fn resolve(&self, repo: &str, path: &str, row: &mut Map<String, Value>) {
        let text = |k: &str| row.get(k).and_then(Value::as_str).map(str::to_string);
        let level = row.get("level").and_then(Value::as_i64).unwrap_or(0);
        let (module, name) = (text("module"), text("name"));
        let is_from = row.get("is_from").and_then(Value::as_bool).unwrap_or(false);
        // the package the import is relative to
        let base: Option<String> = if level > 0 {
            let own = module_of(path).unwrap_or_default();
            let mut parts: Vec<&str> = own.split('.').collect();
            // a package's __init__ is its own package; a module's package is its parent
            if !path.ends_with("__init__.py") {
                parts.pop();
            }
            let up = (level - 1) as usize;
            if up > parts.len() {
                None
            } else {
                parts.truncate(parts.len() - up);
                Some(parts.join("."))
            }
        } else {
            Some(String::new())
        };
        let join = |a: &str, b: &str| match (a.is_empty(), b.is_empty()) {
            (true, _) => b.to_string(),
            (_, true) => a.to_string(),
            _ => format!("{a}.{b}"),
        };
        let mut candidates = vec![];
        if let Some(base) = &base {
            let full = join(base, module.as_deref().unwrap_or(""));
            if is_from && let Some(n) = &name {
                candidates.push(join(&full, n));
            }
            // `import a.b.c` binds `a`, and reads a.b.c: the longest that is a module
            let mut parts: Vec<&str> = full.split('.').filter(|p| !p.is_empty()).collect();
            while !parts.is_empty() {
                candidates.push(parts.join("."));
                if is_from || level > 0 {
                    break;
                }
                parts.pop();
            }
        }
        let modules = self.by_repo.get(repo);
        let found = candidates.iter().find_map(|c| modules.and_then(|m| m.get(c)));
        match found {
            Some((id, p)) => {
                row.insert("resolved_file_id".into(), Value::from(id.clone()));
                row.insert("resolved_path".into(), Value::from(p.clone()));
            }
            None if level == 0 => {
                let top = module.as_deref().and_then(|m| m.split('.').next()).map(str::to_string);
                if let Some(top) = top {
                    row.insert("external_package".into(), Value::from(top));
                }
            }
            None => {}
        }
    }
}
