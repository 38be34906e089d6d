//! Column lineage: the source columns each model column is computed from, through joins,
//! derives, aggregates, windows, unions and the models it reads.

use super::*;
use std::collections::BTreeSet;

/// A source's column: (source index, column name).
pub type SourceColumn = (usize, String);

impl Program {
    /// The source columns model `m`'s column `name` is computed from (its value only; the
    /// columns that filter or join its rows are not counted).
    pub fn lineage(&self, m: usize, name: &str) -> BTreeSet<SourceColumn> {
        let mut out = BTreeSet::new();
        self.rel_lineage(&self.models[m].rel, None, name, &mut out, 0);
        out
    }

    /// [`Program::lineage`] as `source.column` names, in order.
    pub fn lineage_names(&self, m: usize, name: &str) -> Vec<String> {
        self.lineage(m, name)
            .into_iter()
            .map(|(s, c)| format!("{}.{c}", self.sources[s].name))
            .collect()
    }

    fn expr_lineage(&self, input: &Rel, e: &TExpr, out: &mut BTreeSet<SourceColumn>, depth: usize) {
        e.walk(&mut |x| {
            if let TExprKind::Col { qual, name } = &x.kind {
                self.rel_lineage(input, qual.as_deref(), name, out, depth + 1);
            }
        });
    }

    fn rel_lineage(&self, rel: &Rel, qual: Option<&str>, name: &str, out: &mut BTreeSet<SourceColumn>, depth: usize) {
        // model graphs are acyclic and relation trees finite; the cap only guards a bug
        if depth > 10_000 {
            return;
        }
        let named = |exprs: &[(String, TExpr)]| exprs.iter().find(|(n, _)| n == name).map(|(_, e)| e.clone());
        match rel {
            Rel::Scan { source, alias } => {
                if qual.is_none_or(|q| q == alias) {
                    out.insert((*source, name.to_string()));
                }
            }
            Rel::ModelRef { model, alias } => {
                if qual.is_none_or(|q| q == alias) {
                    self.rel_lineage(&self.models[*model].rel, None, name, out, depth + 1);
                }
            }
            Rel::Project { input, exprs } => {
                if let Some(e) = named(exprs) {
                    self.expr_lineage(input, &e, out, depth);
                }
            }
            Rel::Derive { input, alias, exprs } => {
                let here = qual == Some(alias.as_str()) || (qual.is_none() && exprs.iter().any(|(n, _)| n == name));
                match named(exprs).filter(|_| here) {
                    Some(e) => self.expr_lineage(input, &e, out, depth),
                    None => self.rel_lineage(input, qual, name, out, depth + 1),
                }
            }
            Rel::Aggregate { input, groups, aggs } => {
                if let Some(e) = named(groups).or_else(|| named(aggs)) {
                    self.expr_lineage(input, &e, out, depth);
                }
            }
            Rel::Alias { input, alias } => {
                if qual.is_none_or(|q| q == alias) {
                    self.rel_lineage(input, None, name, out, depth + 1);
                }
            }
            Rel::Filter { input, .. }
            | Rel::Sort { input, .. }
            | Rel::Limit { input, .. }
            | Rel::Distinct { input } => self.rel_lineage(input, qual, name, out, depth + 1),
            Rel::Join { left, right, .. } => match (qual, right.qualifier()) {
                (Some(q), Some(r)) if q == r => self.rel_lineage(right, qual, name, out, depth + 1),
                (Some(_), _) => {
                    self.rel_lineage(left, qual, name, out, depth + 1);
                    self.rel_lineage(right, qual, name, out, depth + 1);
                }
                (None, _) => self.rel_lineage(left, None, name, out, depth + 1),
            },
            Rel::Union { left, right } => {
                self.rel_lineage(left, None, name, out, depth + 1);
                self.rel_lineage(right, None, name, out, depth + 1);
            }
            // an element comes from its list; the other columns pass through
            Rel::Unnest { input, alias, spec } => {
                if qual == Some(alias.as_str()) && spec.ordinality.as_deref() == Some(name) {
                    return;
                }
                self.rel_lineage(input, qual, name, out, depth + 1)
            }
            // a walk's keys and start are the edge's columns, where it ends the `to` column's;
            // its depth is computed
            Rel::Closure { input, spec } => {
                let read = if name == spec.from || spec.per.iter().any(|k| k == name) {
                    Some(name)
                } else if name == spec.reached {
                    Some(spec.to.as_str())
                } else {
                    None
                };
                if let Some(col) = read {
                    self.rel_lineage(input, None, col, out, depth + 1);
                }
            }
        }
    }
}
