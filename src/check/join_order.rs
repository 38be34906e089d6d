//! The order of the joins a model reaches through paths.

use super::*;
use crate::syntax::ast::BinOp;
use std::collections::HashMap;

/// The order in which path joins are added after the base scan. The engine joins in plan
/// order, so chains whose tables a `where` narrows with an equality (`==`, `in`, `like`)
/// go first, then chains narrowed by a range, then the rest; among equals, the chain whose
/// narrowed table is fewer hops away goes first. Within a chain, parents precede children.
pub(super) fn join_order<'p>(paths: &'p [PathJoin], steps: &[StepIr]) -> Vec<&'p PathJoin> {
    let mut score: HashMap<String, u8> = HashMap::new();
    let mut note = |alias: &str, s: u8| {
        let e = score.entry(alias.to_string()).or_insert(s);
        *e = (*e).min(s);
    };
    fn col_of(e: &TExpr) -> Option<&str> {
        match &e.kind {
            TExprKind::Col { qual: Some(q), .. } => Some(q),
            TExprKind::Cast(x, _) => col_of(x),
            _ => None,
        }
    }
    for step in steps {
        let StepIr::Filter(pred) = step else {
            if matches!(step, StepIr::Aggregate(..) | StepIr::Project(_)) {
                break;
            }
            continue;
        };
        pred.walk(&mut |e| match &e.kind {
            TExprKind::Binary(op, a, b) => {
                let (c, lit) = match (col_of(a), col_of(b)) {
                    (Some(c), None) if b.is_literal() => (c, true),
                    (None, Some(c)) if a.is_literal() => (c, true),
                    _ => return,
                };
                if lit {
                    note(
                        c,
                        if *op == BinOp::Eq {
                            0
                        } else if matches!(op, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge) {
                            1
                        } else {
                            2
                        },
                    );
                }
            }
            TExprKind::InList(x, _, false) | TExprKind::Like(x, _, false) => {
                if let Some(c) = col_of(x) {
                    note(c, 0);
                }
            }
            TExprKind::Between(x, _, _, false) => {
                if let Some(c) = col_of(x) {
                    note(c, 1);
                }
            }
            _ => {}
        });
    }
    // each chain (first hop) is ranked by its best (score, depth)
    let rank = |first: &str| {
        paths
            .iter()
            .filter(|p| p.path[0] == first)
            .map(|p| (score.get(p.alias.as_str()).copied().unwrap_or(3), p.path.len()))
            .min()
            .unwrap_or((3, 0))
    };
    let mut firsts: Vec<&str> = vec![];
    for p in paths {
        if !firsts.contains(&p.path[0].as_str()) {
            firsts.push(&p.path[0]);
        }
    }
    let mut ranked: Vec<(usize, &str)> = firsts.iter().enumerate().map(|(i, f)| (i, *f)).collect();
    ranked.sort_by_key(|(i, f)| (rank(f), *i));
    ranked
        .iter()
        .flat_map(|(_, f)| paths.iter().filter(move |p| p.path[0] == *f))
        .collect()
}
