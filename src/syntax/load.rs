//! Stage 0: a path (file or folder) → every `.sem` file of the workspace, parsed.
//!
//! Invariant: imports are followed once each; a cycle is reported at the import that
//! closes it; the workspace root is the entry file's folder (or the folder given).

use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::span::{FileId, SourceMap, Span};
use crate::syntax;
use crate::syntax::ast::{File, Item};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Every file of a workspace, parsed.
#[derive(Debug, Default)]
pub struct Workspace {
    pub map: SourceMap,
    pub files: Vec<(FileId, File)>,
    /// Relative Delta paths resolve against this folder.
    pub root: PathBuf,
    pub diags: Vec<Diagnostic>,
    /// Instances whose template is unknown or whose arguments do not fit: reported by the
    /// checker (a file that parsed is checked whatever its templates say).
    pub template_diags: Vec<Diagnostic>,
    /// File names are shown relative to this folder (the entry's folder).
    display_base: Option<PathBuf>,
    /// Texts that stand for files on disk (an editor's unsaved buffers), by canonical path.
    overlay: HashMap<PathBuf, String>,
}

/// The name of the standard library file in the source map (file 0).
pub const STDLIB_NAME: &str = "<stdlib>/functions.sem";
pub const STDLIB_TEXT: &str = include_str!("../../stdlib/functions.sem");

impl Workspace {
    fn new(root: PathBuf) -> Workspace {
        let mut map = SourceMap::default();
        map.add(PathBuf::from(STDLIB_NAME), STDLIB_NAME.into(), STDLIB_TEXT.into());
        Workspace {
            map,
            files: vec![],
            root,
            diags: vec![],
            template_diags: vec![],
            display_base: None,
            overlay: HashMap::new(),
        }
    }

    /// A workspace from text in memory (for tests and editors): `name` is shown in diagnostics.
    pub fn from_text(name: &str, text: &str, root: &Path) -> Workspace {
        Workspace::from_bytes(name, text.as_bytes(), root)
    }

    /// A workspace from bytes in memory, decoded as a file read from disk would be (invalid
    /// UTF-8, NUL bytes and oversized input are diagnostics).
    pub fn from_bytes(name: &str, bytes: &[u8], root: &Path) -> Workspace {
        let mut ws = Workspace::new(root.to_path_buf());
        let mut seen = HashMap::new();
        ws.add_file(
            root.join(name),
            name.to_string(),
            bytes.to_vec(),
            &mut seen,
            &mut vec![],
        );
        ws.expand_templates();
        ws
    }

    /// Loads the workspace at `path`: a `.sem` file (and what it imports) or a folder (every
    /// `.sem` file in it, in name order, and what they import).
    pub fn load(path: &Path) -> Workspace {
        Workspace::load_with_root(path, None)
    }

    /// Like [`Workspace::load`], with relative Delta paths resolved against `root` instead of
    /// the entry's folder.
    pub fn load_with_root(path: &Path, root: Option<&Path>) -> Workspace {
        Workspace::load_with_overlay(path, root, HashMap::new())
    }

    /// Like [`Workspace::load_with_root`], reading the files `overlay` holds (by canonical
    /// path) from it instead of from disk: what an editor has open and not saved.
    pub fn load_with_overlay(path: &Path, root: Option<&Path>, overlay: HashMap<PathBuf, String>) -> Workspace {
        let is_dir = path.is_dir();
        let default_root = if is_dir {
            path.to_path_buf()
        } else {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let root = root.map(Path::to_path_buf).unwrap_or(default_root);
        let root = if root.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            root
        };
        let mut ws = Workspace::new(root);
        ws.overlay = overlay;
        let base = if is_dir {
            path
        } else {
            path.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
        };
        ws.display_base = std::fs::canonicalize(base).ok();
        let mut seen = HashMap::new();
        let entries: Vec<PathBuf> = if is_dir {
            let mut v: Vec<PathBuf> = std::fs::read_dir(path)
                .map(|rd| {
                    rd.filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|x| x == "sem") && p.is_file())
                        .collect()
                })
                .unwrap_or_default();
            v.sort();
            if v.is_empty() {
                let f = ws
                    .map
                    .add(path.to_path_buf(), path.display().to_string(), String::new());
                ws.diags.push(
                    Diagnostic::error(
                        Code::E0004,
                        Span::new(f, 0, 0),
                        format!("no `.sem` files in `{}`", path.display()),
                    )
                    .label("empty workspace")
                    .help("give a `.sem` file or a folder that holds some"),
                );
            }
            v
        } else {
            vec![path.to_path_buf()]
        };
        for e in entries {
            ws.load_file(&e, None, &mut seen, &mut vec![]);
        }
        ws.expand_templates();
        ws
    }

    /// Every `model m = template(…)` made the model its template gives (`syntax::templates`);
    /// what does not fit is the checker's to report, with the rest of the program.
    fn expand_templates(&mut self) {
        self.template_diags = super::templates::expand(&mut self.files);
    }

    fn display_name(&self, path: &Path) -> String {
        if let Some(base) = &self.display_base
            && let Ok(p) = path.strip_prefix(base)
        {
            return p.display().to_string();
        }
        path.strip_prefix(&self.root)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| path.display().to_string())
    }

    fn load_file(
        &mut self,
        path: &Path,
        from: Option<Span>,
        seen: &mut HashMap<PathBuf, FileId>,
        stack: &mut Vec<PathBuf>,
    ) {
        let canon = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if let Some(pos) = stack.iter().position(|p| *p == canon) {
            let cycle: Vec<String> = stack[pos..]
                .iter()
                .chain(std::iter::once(&canon))
                .map(|p| self.display_name(p))
                .collect();
            if let Some(span) = from {
                self.diags.push(
                    Diagnostic::error(Code::E0005, span, format!("import cycle: {}", cycle.join(" → ")))
                        .label("this import closes the cycle")
                        .help("move what both files need into a third file that each imports"),
                );
            }
            return;
        }
        if seen.contains_key(&canon) {
            return;
        }
        let read = match self.overlay.get(&canon) {
            Some(text) => Ok(text.as_bytes().to_vec()),
            None => std::fs::read(path),
        };
        match read {
            Ok(bytes) => {
                let name = self.display_name(&canon);
                self.add_file(canon, name, bytes, seen, stack);
            }
            Err(e) => {
                let shown = self.display_name(&std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
                let msg = format!("cannot read `{shown}`: {e}");
                let d = match from {
                    Some(span) => Diagnostic::error(Code::E0004, span, msg).label("imported here"),
                    None => {
                        let f = self
                            .map
                            .add(path.to_path_buf(), path.display().to_string(), String::new());
                        Diagnostic::error(Code::E0004, Span::new(f, 0, 0), msg).label("this file")
                    }
                };
                self.diags
                    .push(d.help("check the path; imports are relative to the importing file"));
            }
        }
    }

    fn add_file(
        &mut self,
        canon: PathBuf,
        name: String,
        bytes: Vec<u8>,
        seen: &mut HashMap<PathBuf, FileId>,
        stack: &mut Vec<PathBuf>,
    ) {
        let id = FileId(self.map.files.len() as u32);
        let (text, bad) = syntax::decode(id, &bytes);
        drop(bytes);
        let fid = self.map.add(canon.clone(), name, text);
        seen.insert(canon.clone(), fid);
        if let Some(d) = bad {
            self.diags.push(d);
            return;
        }
        let (file, diags) = syntax::parse_file(fid, &self.map.get(fid).text);
        if diags.is_empty() && file.items.is_empty() {
            self.diags.push(
                Diagnostic::warning(Code::E0008, Span::new(fid, 0, 0), "this file declares nothing")
                    .label("empty")
                    .help("a `.sem` file declares sources, models and outputs; delete it or add some"),
            );
        }
        self.diags.extend(diags);
        let imports: Vec<(String, Span)> = file
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Import(im) => Some((im.path.clone(), im.span)),
                _ => None,
            })
            .collect();
        stack.push(canon.clone());
        let dir = canon.parent().map(Path::to_path_buf).unwrap_or_default();
        for (p, span) in imports {
            let target = dir.join(&p);
            self.load_file(&target, Some(span), seen, stack);
        }
        stack.pop();
        // imported files come first: their declarations are the earlier ones
        self.files.push((fid, file));
    }
}
