//! Imports resolved to the extracted repositories' files: a module is a `.py` file (or a
//! package's `__init__.py`) named by its path from its repository's root, or from a `src/`
//! folder there; what resolves to none is an external package, named by its first part.

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

    /// Where an import leads: `import module` (`name` none), or `from module import name`
    /// (`level` dots before `module`), in the file `path` of `repo`.
    pub fn resolve(
        &self,
        repo: &str,
        path: &str,
        is_from: bool,
        level: i64,
        module: Option<&str>,
        name: Option<&str>,
    ) -> Target<'_> {
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
            let full = join(base, module.unwrap_or(""));
            if is_from && let Some(n) = name {
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
            Some((file_id, path)) => Target::File { file_id, path },
            None if level == 0 => match module.and_then(|m| m.split('.').next()) {
                Some(top) => Target::External(top.to_string()),
                None => Target::Unknown,
            },
            None => Target::Unknown,
        }
    }
}

/// Where an import leads.
#[derive(Debug, PartialEq, Eq)]
pub enum Target<'m> {
    /// A file of the extracted repositories.
    File { file_id: &'m str, path: &'m str },
    /// A package outside them, by its top-level name.
    External(String),
    /// A relative import that leads outside its repository.
    Unknown,
}
