//! Pruning: joins to unique targets and derives whose columns nothing reads are dropped.

use super::*;

/// Qualifiers of relations whose columns something above uses (or all of them).
pub(crate) enum Used {
    All,
    Quals(std::collections::HashSet<String>),
}

impl Used {
    fn has(&self, q: &str) -> bool {
        match self {
            Used::All => true,
            Used::Quals(s) => s.contains(q),
        }
    }
    /// This set plus the qualifiers `exprs` read (all, if one reads an unqualified column).
    fn with<'a>(&self, exprs: impl IntoIterator<Item = &'a TExpr>) -> Used {
        let Used::Quals(s) = self else { return Used::All };
        let mut s = s.clone();
        let mut all = false;
        for e in exprs {
            e.walk(&mut |x| match &x.kind {
                TExprKind::Col { qual: Some(q), .. } => {
                    s.insert(q.clone());
                }
                TExprKind::Col { qual: None, .. } => all = true,
                _ => {}
            });
        }
        if all { Used::All } else { Used::Quals(s) }
    }
    fn none() -> Used {
        Used::Quals(Default::default())
    }
}

impl Rel {
    /// Drops what nothing reads: `LeftUnique` joins whose right side's columns nothing
    /// above uses (each left row comes out exactly once either way), and `derive` steps none
    /// of whose columns are used. The result has the same rows.
    pub fn drop_unused(self) -> Rel {
        self.prune(&Used::All)
    }

    fn prune(self, used: &Used) -> Rel {
        let b = |r: Box<Rel>, u: &Used| Box::new(r.prune(u));
        match self {
            Rel::Scan { .. } | Rel::ModelRef { .. } => self,
            Rel::Project { input, exprs } => {
                let u = Used::none().with(exprs.iter().map(|e| &e.1));
                Rel::Project {
                    input: b(input, &u),
                    exprs,
                }
            }
            Rel::Aggregate { input, groups, aggs } => {
                let u = Used::none().with(groups.iter().chain(&aggs).map(|e| &e.1));
                Rel::Aggregate {
                    input: b(input, &u),
                    groups,
                    aggs,
                }
            }
            Rel::Derive { input, alias, exprs } => {
                if !used.has(&alias) {
                    return input.prune(used);
                }
                let u = used.with(exprs.iter().map(|e| &e.1));
                Rel::Derive {
                    input: b(input, &u),
                    alias,
                    exprs,
                }
            }
            Rel::Filter { input, predicate } => {
                let u = used.with([&predicate]);
                Rel::Filter {
                    input: b(input, &u),
                    predicate,
                }
            }
            Rel::Sort { input, keys } => {
                let u = used.with(keys.iter().map(|k| &k.0));
                Rel::Sort {
                    input: b(input, &u),
                    keys,
                }
            }
            Rel::Limit { input, n } => Rel::Limit {
                input: b(input, used),
                n,
            },
            // every column of the input decides which rows are distinct / how the sides line up
            Rel::Distinct { input } => Rel::Distinct {
                input: b(input, &Used::All),
            },
            Rel::Union { left, right } => Rel::Union {
                left: b(left, &Used::All),
                right: b(right, &Used::All),
            },
            // the edges are read whole (their input is exactly the columns they need)
            Rel::Closure { input, spec } => Rel::Closure {
                input: b(input, &Used::All),
                spec,
            },
            // which rows come out depends on the list; the rest pass through
            Rel::Unnest { input, alias, spec } => {
                let u = match used {
                    Used::All => Used::All,
                    Used::Quals(s) => Used::Quals(s.iter().cloned().chain([alias.clone()]).collect()),
                };
                Rel::Unnest {
                    input: b(input, &u),
                    alias,
                    spec,
                }
            }
            // the input's columns are renamed: used under the new name, or not at all
            Rel::Alias { input, alias } => {
                let u = if used.has(&alias) { Used::All } else { Used::none() };
                Rel::Alias {
                    input: b(input, &u),
                    alias,
                }
            }
            Rel::Join {
                left,
                right,
                kind,
                on,
                filter,
            } => {
                if kind == JoinKind::LeftUnique
                    && filter.is_none()
                    && let Some(q) = right.qualifier()
                    && !used.has(q)
                {
                    return left.prune(used);
                }
                let u = used.with(on.iter().flat_map(|(l, r)| [l, r]).chain(filter.as_ref()));
                Rel::Join {
                    left: b(left, &u),
                    right: b(right, &Used::All),
                    kind,
                    on,
                    filter,
                }
            }
        }
    }

    /// The qualifier of every column of a scan or a model read (None for other relations).
    pub(crate) fn qualifier(&self) -> Option<&str> {
        match self {
            Rel::Scan { alias, .. } | Rel::ModelRef { alias, .. } | Rel::Alias { alias, .. } => Some(alias),
            _ => None,
        }
    }
}
