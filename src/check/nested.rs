//! Nested values: a struct's fields (`s.f`, `xs[1].name`), a list's elements and a map's
//! values (`xs[i]`, `m["k"]`), values made (`struct(a = …)`, `[a, b]`), an ordered
//! aggregate (`collect(x order by k)`), and the `unnest` step.

use super::*;
use crate::codes::Code;
use crate::diag::{Diagnostic, did_you_mean};
use crate::span::Span;
use crate::types::{Operand, StructField, Type};

impl<'a> Checker<'a> {
    /// `base.f.g…`: the fields of a struct value, in turn.
    pub(super) fn fields(&mut self, mut base: TExpr, path: &[ast::Ident]) -> TExpr {
        for f in path {
            if base.is_error() {
                return base;
            }
            let Type::Struct(fields) = base.ty else {
                let help = match base.ty {
                    Type::Map(_) => "a map's value is read by its key: `m[\"key\"]`".to_string(),
                    Type::List(_) => "a list's element is read by its position: `xs[1]`".to_string(),
                    _ => "only a struct has fields".to_string(),
                };
                self.err(
                    Diagnostic::error(Code::E0201, f.span, format!("{} has no field `{}`", base.ty, f.text))
                        .label(format!("{} is not a struct", base.ty))
                        .help(help),
                );
                return ty_err();
            };
            let name = self.canonical_name(f);
            // a field is named as the table names it: exactly, else by its lower case
            let found = fields
                .iter()
                .find(|x| x.name == name || x.name == f.text)
                .or_else(|| fields.iter().find(|x| !f.quoted && x.name.to_lowercase() == name));
            let Some(field) = found else {
                let names = fields.iter().map(|x| x.name.as_str());
                let help = did_you_mean(&name, names.clone())
                    .unwrap_or_else(|| format!("its fields are {}", names.collect::<Vec<_>>().join(", ")));
                self.err(
                    Diagnostic::error(Code::E0102, f.span, format!("no field `{name}` in {}", base.ty))
                        .label("not a field")
                        .help(help),
                );
                return ty_err();
            };
            base = texpr(TExprKind::Field(Box::new(base), field.name.clone()), field.ty, true);
        }
        base
    }

    /// A key (a column of `key`/`unique`, a join's key, a closure's node) is a scalar: a
    /// nested value is refused (E0226). Gives whether `ty` may be one.
    pub(super) fn scalar_key(&mut self, ty: Type, span: Span, what: &str) -> bool {
        if !ty.is_nested() {
            return true;
        }
        self.err(
            Diagnostic::error(
                Code::E0226,
                span,
                format!("{what} is a {}: a key is a scalar", ty.family()),
            )
            .label(format!("{ty}"))
            .help("key on a field (`s.id`), an element (`xs[1]`) or a stable id of the value (`stable_id(\"k\", …)`)"),
        );
        false
    }

    /// `xs[i]` (from 1; null past the end) or `m[k]`.
    pub(super) fn index(&mut self, base: &ast::Expr, at: &ast::Expr, cx: &Ctx) -> TExpr {
        let b = self.expr(base, cx);
        let i = self.expr(at, cx);
        if b.is_error() || i.is_error() {
            return ty_err();
        }
        let (key, value) = match b.ty {
            Type::List(e) => (Type::Int64, *e),
            Type::Map(kv) => *kv,
            Type::Null => return texpr(TExprKind::Lit(Value::Null), Type::Null, true),
            other => {
                self.err(
                    Diagnostic::error(
                        Code::E0201,
                        base.span,
                        format!("`[…]` reads a list or a map, this is {other}"),
                    )
                    .label(format!("{other}"))
                    .help("index a list (`xs[1]`) or a map (`m[\"key\"]`)"),
                );
                return ty_err();
            }
        };
        let fits = match b.ty {
            Type::List(_) => i.ty.is_integer() || i.ty == Type::Null,
            _ => Type::unify_operands(Operand::value(key), i.operand()) == Some(key),
        };
        if !fits {
            let what = if matches!(b.ty, Type::List(_)) {
                "a list's position is an integer (from 1)".to_string()
            } else {
                format!("this map's keys are {key}")
            };
            self.err(
                Diagnostic::error(Code::E0201, at.span, format!("cannot read {} at {}", b.ty, i.ty))
                    .label(format!("{}", i.ty))
                    .help(what),
            );
            return ty_err();
        }
        let i = if i.ty == key || i.ty == Type::Null {
            i
        } else {
            let n = i.nullable;
            texpr(TExprKind::Cast(Box::new(i), key), key, n)
        };
        texpr(TExprKind::Index(Box::new(b), Box::new(i)), value, true)
    }

    /// `struct(name = e, …)`.
    pub(super) fn make_struct(&mut self, fields: &[(ast::Ident, ast::Expr)], span: Span, cx: &Ctx) -> TExpr {
        let mut seen = HashMap::new();
        let mut out = vec![];
        let mut ok = true;
        for (name, e) in fields {
            let n = self.canonical_name(name);
            let t = self.expr(e, cx);
            ok &= !t.is_error() && !self.dup_check(&mut seen, &n, name.span, "field");
            out.push((n, t));
        }
        if !ok {
            return ty_err();
        }
        if out.is_empty() {
            self.err(
                Diagnostic::error(Code::E0203, span, "a struct without fields")
                    .label("no fields")
                    .help("name its fields: `struct(name = n, line = l)`"),
            );
            return ty_err();
        }
        let ty = Type::structure(
            out.iter()
                .map(|(name, t)| StructField {
                    name: name.clone(),
                    ty: t.ty,
                })
                .collect(),
        );
        texpr(TExprKind::MakeStruct(out), ty, false)
    }

    /// `[a, b, …]` as a value: a list of the items' common type.
    pub(super) fn make_list(&mut self, items: &[ast::Expr], cx: &Ctx) -> TExpr {
        let typed: Vec<TExpr> = items.iter().map(|x| self.expr(x, cx)).collect();
        if typed.iter().any(TExpr::is_error) {
            return ty_err();
        }
        let mut common: Option<(Type, bool, Span)> = None;
        for (t, x) in typed.iter().zip(items) {
            if t.ty == Type::Null {
                continue;
            }
            common = match common {
                None => Some((t.ty, t.is_literal(), x.span)),
                Some((c, lit, first)) => match Type::unify_operands(Operand { ty: c, literal: lit }, t.operand()) {
                    Some(u) => Some((u, lit && t.is_literal(), first)),
                    None => {
                        self.err(
                            Diagnostic::error(Code::E0201, x.span, format!("a list of {c} cannot hold {}", t.ty))
                                .label(format!("{}", t.ty))
                                .with(first, format!("{c}"))
                                .help("every element of a list has one type; cast one of them"),
                        );
                        return ty_err();
                    }
                },
            };
        }
        let element = common.map(|c| c.0).unwrap_or(Type::Null);
        let items = typed
            .into_iter()
            .map(|t| {
                if t.ty == element {
                    t
                } else {
                    let n = t.nullable;
                    texpr(TExprKind::Cast(Box::new(t), element), element, n)
                }
            })
            .collect();
        texpr(TExprKind::MakeList(items), Type::list(element), false)
    }

    /// `f(x order by k, …)`: an `ordered` aggregate reading its rows in that order.
    pub(super) fn ordered_call(&mut self, call: &ast::Expr, keys: &[ast::SortKey], cx: &Ctx) -> TExpr {
        let t = self.expr(call, cx);
        let TExprKind::Agg(fi, args, _) = t.kind else {
            if !t.is_error() {
                let name = match &call.kind {
                    ast::ExprKind::Call(n, _) => n.text.clone(),
                    _ => "this".into(),
                };
                self.err(
                    Diagnostic::error(Code::E0203, call.span, format!("`{name}` takes no `order by`"))
                        .label("not an ordered aggregate")
                        .help(
                            "`order by` inside a call says the order an aggregate such as `collect` reads its rows in",
                        ),
                );
            }
            return ty_err();
        };
        if !self.funcs[fi].props.ordered {
            let name = self.funcs[fi].name.clone();
            self.err(
                Diagnostic::error(Code::E0203, call.span, format!("`{name}` takes no `order by`"))
                    .label("its result does not depend on the order")
                    .help("only an aggregate whose result has an order (`collect`) takes `order by`"),
            );
            return ty_err();
        }
        let inside = Ctx {
            agg: AggMode::Inside,
            ..cx.clone()
        };
        let mut order = vec![];
        for k in keys {
            let e = self.expr(&k.expr, &inside);
            if e.is_error() {
                return ty_err();
            }
            order.push((e, sort_order(k)));
        }
        // the pending fan-out check holds the call without its order: the same rows count
        texpr(TExprKind::Agg(fi, args, order), t.ty, t.nullable)
    }

    /// `unnest e as x [keep empty] [with ordinality as i]`.
    pub(super) fn unnest_step(&mut self, u: &ast::Unnest, span: Span) {
        let cx = self.row_ctx();
        let list = self.expr(&u.expr, &cx);
        if list.is_error() {
            return;
        }
        let (list, element) = match list.ty {
            Type::List(e) => (list, *e),
            Type::Map(_) => match self.map_entries(list) {
                Some(entries) => {
                    let Type::List(e) = entries.ty else { return };
                    (entries, *e)
                }
                None => return,
            },
            other => {
                self.err(
                    Diagnostic::error(
                        Code::E0225,
                        u.expr.span,
                        format!("`unnest` takes a list or a map, this is {other}"),
                    )
                    .label(format!("{other}"))
                    .help("unnest a column of type `list<T>` or `map<K, V>`"),
                );
                return;
            }
        };
        let name = self.canonical_name(&u.name);
        let ordinality = u.ordinality.as_ref().map(|i| (self.canonical_name(i), i.span));
        let existing: Vec<String> = self.model_build().cols.iter().map(|c| c.name.clone()).collect();
        for (n, at) in std::iter::once((name.clone(), u.name.span)).chain(ordinality.clone()) {
            if existing.contains(&n) {
                self.err(
                    Diagnostic::error(Code::E0225, at, format!("column `{n}` already exists"))
                        .label("named again here")
                        .help("an unnest names new columns: choose another name"),
                );
                return;
            }
        }
        if let Some((i, at)) = &ordinality
            && *i == name
        {
            self.err(
                Diagnostic::error(Code::E0225, *at, format!("the element and its position are both `{i}`"))
                    .label("named twice")
                    .help("write e.g. `unnest defs as d with ordinality as d_index`"),
            );
            return;
        }
        self.note_column_def(&name, u.name.span, &texpr(TExprKind::Lit(Value::Null), element, true));
        let spec = UnnestSpec {
            element: name.clone(),
            ordinality: ordinality.as_ref().map(|(i, _)| i.clone()),
            keep_empty: u.keep_empty,
        };
        let mb = self.model_build();
        let alias = mb.fresh_alias();
        mb.push_step(StepIr::Derive(alias.clone(), vec![(name.clone(), list)]));
        mb.push_step(StepIr::Unnest(alias.clone(), spec));
        mb.cols.push(Col {
            name: name.clone(),
            ty: element,
            nullable: true,
            qual: Some(alias.clone()),
        });
        if let Some((i, _)) = &ordinality {
            mb.cols.push(Col {
                name: i.clone(),
                ty: Type::Int64,
                nullable: u.keep_empty,
                qual: Some(alias.clone()),
            });
        }
        // each row repeats once per element: a key of the rows stays one with the position
        mb.unique_keys = match &ordinality {
            Some((i, _)) => mb
                .unique_keys
                .iter()
                .map(|k| k.iter().cloned().chain([i.clone()]).collect())
                .collect(),
            None => vec![],
        };
        mb.single_row = false;
        // aggregates of the other columns would count them once per element (E0206)
        mb.adhoc.push(Adhoc {
            unnest: true,
            name: format!("unnest {name}"),
            alias,
            cols: vec![],
            fans_out: true,
            repeated: false,
            span,
        });
    }

    /// A map's entries as a list of `struct<key, value>` (the standard library's `map_entries`).
    fn map_entries(&mut self, map: TExpr) -> Option<TExpr> {
        let cands = self.func_idx.get("map_entries").cloned().unwrap_or_default();
        for fi in cands {
            if let Some((ty, args)) = self.match_sig(fi, std::slice::from_ref(&map)) {
                let nullable = map.nullable;
                return Some(texpr(TExprKind::Call(fi, args), ty, nullable));
            }
        }
        self.err(Diagnostic::error(
            Code::E0104,
            Span::default(),
            "the standard library has no `map_entries`",
        ));
        None
    }
}
