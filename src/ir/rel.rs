//! Walks over a relation tree: inputs, scans, origins of columns, model references.

use super::*;

impl Rel {
    /// The relations this one reads (none for scans and model reads).
    pub fn inputs(&self) -> Vec<&Rel> {
        match self {
            Rel::Scan { .. } | Rel::ModelRef { .. } => vec![],
            Rel::Join { left, right, .. } | Rel::Union { left, right } => vec![left, right],
            Rel::Filter { input, .. }
            | Rel::Project { input, .. }
            | Rel::Derive { input, .. }
            | Rel::Aggregate { input, .. }
            | Rel::Sort { input, .. }
            | Rel::Limit { input, .. }
            | Rel::Distinct { input }
            | Rel::Closure { input, .. }
            | Rel::Unnest { input, .. }
            | Rel::Alias { input, .. } => vec![input],
        }
    }

    fn inputs_mut(&mut self) -> Vec<&mut Rel> {
        match self {
            Rel::Scan { .. } | Rel::ModelRef { .. } => vec![],
            Rel::Join { left, right, .. } | Rel::Union { left, right } => vec![left, right],
            Rel::Filter { input, .. }
            | Rel::Project { input, .. }
            | Rel::Derive { input, .. }
            | Rel::Aggregate { input, .. }
            | Rel::Sort { input, .. }
            | Rel::Limit { input, .. }
            | Rel::Distinct { input }
            | Rel::Closure { input, .. }
            | Rel::Unnest { input, .. }
            | Rel::Alias { input, .. } => vec![input],
        }
    }

    /// How many times this relation (not the models it reads) scans source `si`.
    pub fn scans_of(&self, si: usize) -> usize {
        match self {
            Rel::Scan { source, .. } => usize::from(*source == si),
            _ => self.inputs().into_iter().map(|r| r.scans_of(si)).sum(),
        }
    }

    /// Where column `name` (qualified `qual`) of this relation comes from, when it is a
    /// source's column passed through unchanged (renamed at most): (source, column).
    pub fn origin(&self, qual: Option<&str>, name: &str) -> Option<(usize, String)> {
        match self {
            Rel::Scan { source, alias } => (qual.is_none_or(|q| q == alias)).then(|| (*source, name.to_string())),
            Rel::Project { input, exprs } => match &exprs.iter().find(|(n, _)| n == name)?.1.kind {
                TExprKind::Col { qual, name } => input.origin(qual.as_deref(), name),
                _ => None,
            },
            Rel::Alias { input, alias } => {
                if qual.is_none_or(|q| q == alias) {
                    input.origin(None, name)
                } else {
                    None
                }
            }
            Rel::Derive { input, alias, exprs } => {
                if qual == Some(alias.as_str()) || (qual.is_none() && exprs.iter().any(|(n, _)| n == name)) {
                    match &exprs.iter().find(|(n, _)| n == name)?.1.kind {
                        TExprKind::Col { qual, name } => input.origin(qual.as_deref(), name),
                        _ => None,
                    }
                } else {
                    input.origin(qual, name)
                }
            }
            Rel::Filter { input, .. } | Rel::Sort { input, .. } | Rel::Limit { input, .. } => input.origin(qual, name),
            // the other columns pass an unnest unchanged (repeated)
            Rel::Unnest { input, alias, .. } => match qual {
                Some(q) if q == alias => None,
                _ => input.origin(qual, name),
            },
            // the left side's columns pass a join unchanged
            Rel::Join { left, right, .. } => match right.qualifier() {
                Some(q) if qual == Some(q) => None,
                _ => left.origin(qual, name),
            },
            Rel::ModelRef { .. }
            | Rel::Aggregate { .. }
            | Rel::Distinct { .. }
            | Rel::Union { .. }
            | Rel::Closure { .. } => None,
        }
    }

    /// Replaces every scan of source `si` by `f(scan)`.
    pub fn map_scan(&mut self, si: usize, f: &dyn Fn(Rel) -> Rel) {
        match self {
            Rel::Scan { source, .. } if *source == si => {
                let placeholder = Rel::Limit {
                    input: Box::new(Rel::ModelRef {
                        model: 0,
                        alias: String::new(),
                    }),
                    n: 0,
                };
                let scan = std::mem::replace(self, placeholder);
                *self = f(scan);
            }
            _ => self.inputs_mut().into_iter().for_each(|r| r.map_scan(si, f)),
        }
    }

    /// The models this relation reads (directly).
    pub fn model_refs(&self, out: &mut Vec<usize>) {
        match self {
            Rel::ModelRef { model, .. } => out.push(*model),
            _ => self.inputs().into_iter().for_each(|r| r.model_refs(out)),
        }
    }
}
