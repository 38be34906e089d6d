//! The closure step: `closure a -> b [per k, …] max N as (reached, depth) [shortest]
//! [truncate]` — the rows so far are edges; the result is the walks over them
//! (`engine::closure` computes them).

use super::*;
use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::span::Span;

/// The most edges a walk may have.
const MAX_DEPTH: i64 = 10_000;

impl<'a> Checker<'a> {
    pub(super) fn closure_step(&mut self, c: &ast::Closure) {
        let cx = self.row_ctx();
        let from = self.name(&c.from, c.from.span, &cx);
        let to = self.name(&c.to, c.to.span, &cx);
        let per: Vec<(String, TExpr)> = c
            .per
            .iter()
            .map(|k| (self.canonical_name(k), self.name(k, k.span, &cx)))
            .collect();
        if from.is_error() || to.is_error() || per.iter().any(|(_, t)| t.is_error()) {
            return;
        }
        let keys = [(&from, c.from.span), (&to, c.to.span)]
            .into_iter()
            .chain(per.iter().zip(&c.per).map(|((_, t), k)| (t, k.span)));
        let nested: Vec<(Type, Span)> = keys.filter(|(t, _)| t.ty.is_nested()).map(|(t, s)| (t.ty, s)).collect();
        if let Some((ty, span)) = nested.first() {
            self.scalar_key(*ty, *span, "a closure's node or key");
            return;
        }
        let Some(node) = Type::unify(from.ty, to.ty).filter(|_| from.ty.family() == to.ty.family()) else {
            self.err(
                Diagnostic::error(
                    Code::E0201,
                    c.from.span.to(c.to.span),
                    format!(
                        "a closure walks from `{}` to `{}`, but they are {} and {}",
                        c.from.text, c.to.text, from.ty, to.ty
                    ),
                )
                .label("not one type")
                .help("both ends of an edge are nodes of one type: cast one in a `derive` before the closure"),
            );
            return;
        };
        if !(1..=MAX_DEPTH).contains(&c.max) {
            self.err(
                Diagnostic::error(
                    Code::E0215,
                    c.max_span,
                    format!("`max {}` is not a depth a closure walks to", self.text_of(c.max_span)),
                )
                .label("1 to 10000")
                .help("write the longest walk the data may hold, e.g. `max 16`"),
            );
            return;
        }
        let (from_name, to_name) = (self.canonical_name(&c.from), self.canonical_name(&c.to));
        let (reached, depth) = (self.canonical_name(&c.reached), self.canonical_name(&c.depth));
        // the result's names are each used once
        let mut seen: HashMap<String, Span> = HashMap::new();
        let names = per.iter().zip(&c.per).map(|((n, _), k)| (n.clone(), k.span)).chain([
            (from_name.clone(), c.from.span),
            (reached.clone(), c.reached.span),
            (depth.clone(), c.depth.span),
        ]);
        let mut clash = false;
        for (n, at) in names {
            clash |= self.dup_check(&mut seen, &n, at, "column of the closure");
        }
        if clash || from_name == to_name {
            if from_name == to_name {
                self.err(
                    Diagnostic::error(
                        Code::E0214,
                        c.to.span,
                        "a closure's edge goes from one column to another",
                    )
                    .label("the same column")
                    .help("write `closure child -> parent …`"),
                );
            }
            return;
        }
        let as_node = |t: TExpr| {
            if t.ty == node {
                t
            } else {
                let nullable = t.nullable;
                texpr(TExprKind::Cast(Box::new(t), node), node, nullable)
            }
        };
        // the edges: exactly the columns the walk reads, unqualified
        let mut edges: Vec<(String, TExpr)> = per.clone();
        edges.push((from_name.clone(), as_node(from)));
        edges.push((to_name.clone(), as_node(to)));
        let spec = ClosureSpec {
            per: per.iter().map(|(n, _)| n.clone()).collect(),
            from: from_name.clone(),
            to: to_name,
            max: c.max as u32,
            reached: reached.clone(),
            depth: depth.clone(),
            shortest: c.shortest,
            truncate: c.truncate,
        };
        // what comes out: an edge with a null end or key is not walked
        let column = |ty: Type| texpr(TExprKind::Lit(Value::Null), ty, false);
        let mut out: Vec<(String, TExpr)> = per.iter().map(|(n, t)| (n.clone(), column(t.ty))).collect();
        out.push((from_name.clone(), column(node)));
        out.push((reached.clone(), column(node)));
        out.push((depth, column(Type::Int32)));
        self.model_build().push_step(StepIr::Project(edges));
        self.model_build().push_step(StepIr::Closure(spec.clone()));
        self.set_plain_cols(&out);
        let mb = self.model_build();
        mb.unique_keys.clear();
        if spec.shortest {
            // one row per node reached from each start
            let mut key = spec.per.clone();
            key.extend([from_name, reached]);
            mb.unique_keys.push(key);
        }
        mb.single_row = false;
        mb.requalify();
    }
}
