//! `semc graph`: sources → models → outputs, and with `--columns` the source columns each
//! output column is computed from; as Graphviz dot, Mermaid or JSON.

use crate::ir::Program;
use crate::syntax::Workspace;
use crate::syntax::ast::Item;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
    Json,
}

#[derive(Serialize)]
pub struct Graph {
    pub sources: Vec<Node>,
    pub models: Vec<Node>,
    pub outputs: Vec<OutputNode>,
    /// (from, to): `source:NAME`, `model:NAME`, `output:NAME`.
    pub edges: Vec<(String, String)>,
}

#[derive(Serialize)]
pub struct Node {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    /// A source's table; absent for models.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub columns: Vec<Column>,
}

#[derive(Serialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub nullable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    /// A model column's source columns, as `source.column` (with `--columns`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Vec<String>>,
}

#[derive(Serialize)]
pub struct OutputNode {
    pub name: String,
    pub location: String,
    pub mode: String,
}

/// The `##` docs of a workspace's declarations, by source, model and `source.column`.
fn docs(ws: &Workspace) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (_, f) in &ws.files {
        for item in &f.items {
            match item {
                Item::Source(s) => {
                    let name = s.name.text.to_lowercase();
                    if let Some(d) = &s.doc {
                        out.insert(name.clone(), d.clone());
                    }
                    for c in &s.columns {
                        if let Some(d) = &c.doc {
                            out.insert(format!("{name}.{}", c.name.text.to_lowercase()), d.clone());
                        }
                    }
                }
                Item::Model(m) => {
                    if let Some(d) = &m.doc {
                        out.insert(m.name.text.to_lowercase(), d.clone());
                    }
                }
                _ => {}
            }
        }
    }
    out
}

impl Graph {
    pub fn of(program: &Program, ws: &Workspace, columns: bool) -> Graph {
        let docs = docs(ws);
        let doc = |k: &str| docs.get(&k.to_lowercase()).cloned();
        let sources = program
            .sources
            .iter()
            .map(|s| Node {
                name: s.name.clone(),
                doc: doc(&s.name),
                location: Some(s.url.to_string()),
                columns: s
                    .columns
                    .iter()
                    .map(|c| Column {
                        name: c.name.clone(),
                        ty: c.ty.to_string(),
                        nullable: c.nullable,
                        doc: doc(&format!("{}.{}", s.name, c.name)),
                        from: None,
                    })
                    .collect(),
            })
            .collect();
        let models = program
            .models
            .iter()
            .enumerate()
            .map(|(mi, m)| Node {
                name: m.name.clone(),
                doc: doc(&m.name),
                location: None,
                columns: m
                    .schema
                    .iter()
                    .map(|f| {
                        let from = program.lineage_names(mi, &f.name);
                        // a column passed through from one source column keeps its doc
                        let passed = (from.len() == 1).then(|| doc(&from[0])).flatten();
                        Column {
                            name: f.name.clone(),
                            ty: f.ty.to_string(),
                            nullable: f.nullable,
                            doc: passed,
                            from: columns.then_some(from),
                        }
                    })
                    .collect(),
            })
            .collect();
        let mut edges = vec![];
        for (mi, m) in program.models.iter().enumerate() {
            for si in 0..program.sources.len() {
                if m.rel.scans_of(si) > 0 {
                    edges.push((
                        format!("source:{}", program.sources[si].name),
                        format!("model:{}", m.name),
                    ));
                }
            }
            let mut read = vec![];
            m.rel.model_refs(&mut read);
            read.sort();
            read.dedup();
            edges.extend(
                read.into_iter()
                    .filter(|r| *r != mi)
                    .map(|r| (format!("model:{}", program.models[r].name), format!("model:{}", m.name))),
            );
        }
        let outputs = program
            .outputs
            .iter()
            .map(|o| {
                edges.push((
                    format!("model:{}", program.models[o.model].name),
                    format!("output:{}", o.name),
                ));
                OutputNode {
                    name: o.name.clone(),
                    location: o.url.to_string(),
                    mode: format!("{:?}", o.mode).to_lowercase(),
                }
            })
            .collect();
        Graph {
            sources,
            models,
            outputs,
            edges,
        }
    }

    pub fn render(&self, format: GraphFormat) -> String {
        match format {
            GraphFormat::Json => serde_json::to_string_pretty(self).unwrap_or_default() + "\n",
            GraphFormat::Dot => self.dot(),
            GraphFormat::Mermaid => self.mermaid(),
        }
    }

    /// Column lines of a model (with their source columns when known).
    fn column_lines(n: &Node) -> Vec<String> {
        n.columns
            .iter()
            .map(|c| match &c.from {
                Some(from) if !from.is_empty() => format!("{} ← {}", c.name, from.join(", ")),
                _ => c.name.clone(),
            })
            .collect()
    }

    fn dot(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let mut out = String::from("digraph semc {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
        for s in &self.sources {
            out += &format!(
                "  {} [shape=cylinder, label={}];\n",
                quote(&format!("source:{}", s.name)),
                quote(&s.name)
            );
        }
        for m in &self.models {
            let mut label = m.name.clone();
            if m.columns.iter().any(|c| c.from.is_some()) {
                label = format!("{}|{}", m.name, Graph::column_lines(m).join("\\l")) + "\\l";
                out += &format!(
                    "  {} [shape=record, label=\"{{{}}}\"];\n",
                    quote(&format!("model:{}", m.name)),
                    label.replace('"', "\\\"").replace(['{', '}', '<', '>'], "")
                );
            } else {
                out += &format!(
                    "  {} [shape=box, label={}];\n",
                    quote(&format!("model:{}", m.name)),
                    quote(&label)
                );
            }
        }
        for o in &self.outputs {
            out += &format!(
                "  {} [shape=note, label={}];\n",
                quote(&format!("output:{}", o.name)),
                quote(&format!("{} ({})", o.name, o.location))
            );
        }
        for (a, b) in &self.edges {
            out += &format!("  {} -> {};\n", quote(a), quote(b));
        }
        out + "}\n"
    }

    fn mermaid(&self) -> String {
        // mermaid ids: letters, digits and `_`
        let id = |s: &str| {
            s.chars()
                .map(|c| if c.is_alphanumeric() { c } else { '_' })
                .collect::<String>()
        };
        let text = |s: &str| s.replace('"', "#quot;");
        let mut out = String::from("flowchart LR\n");
        for s in &self.sources {
            out += &format!("  {}[(\"{}\")]\n", id(&format!("source:{}", s.name)), text(&s.name));
        }
        for m in &self.models {
            let mut label = text(&m.name);
            if m.columns.iter().any(|c| c.from.is_some()) {
                label = format!("<b>{label}</b><br/>{}", text(&Graph::column_lines(m).join("<br/>")));
            }
            out += &format!("  {}[\"{label}\"]\n", id(&format!("model:{}", m.name)));
        }
        for o in &self.outputs {
            out += &format!("  {}[/\"{}\"/]\n", id(&format!("output:{}", o.name)), text(&o.name));
        }
        for (a, b) in &self.edges {
            out += &format!("  {} --> {}\n", id(a), id(b));
        }
        out
    }
}
