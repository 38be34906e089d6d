//! Templates: parameterized models, expanded when a workspace is loaded, before checking.
//! `model m = t(args)` becomes the model the template's body gives with each parameter
//! replaced by its argument: a relation (`from`, `join`, `union`), a column name (wherever
//! the name stands, `r.x` included), an expression, or a typed value. Each instance is then
//! checked as any model; a diagnostic in the template's body also points at the instance.

use super::ast::*;
use crate::codes::Code;
use crate::diag::{Diagnostic, did_you_mean};
use crate::span::{FileId, Span};
use std::collections::HashMap;

/// What a parameter stands for in one instance.
#[derive(Clone)]
enum Arg {
    /// A relation or column name: replaces the parameter's name wherever it stands.
    Name(String),
    /// An expression (or a typed value): replaces the parameter where it stands alone.
    Expr(Expr),
}

/// Expands every instance in `files` (templates may be in any file of the workspace);
/// gives the diagnostics of instances whose arguments do not fit.
pub fn expand(files: &mut [(FileId, File)]) -> Vec<Diagnostic> {
    let mut diags = vec![];
    let mut templates: HashMap<String, Template> = HashMap::new();
    for (_, f) in files.iter() {
        for it in &f.items {
            let Item::Template(t) = it else { continue };
            let name = t.body.name.text.to_lowercase();
            if let Some(first) = templates.get(&name) {
                diags.push(
                    Diagnostic::error(
                        Code::E0101,
                        t.body.name.span,
                        format!("template `{name}` is declared twice"),
                    )
                    .label("declared again")
                    .with(first.body.name.span, "first declared here")
                    .help("rename one of them"),
                );
                continue;
            }
            templates.insert(name, t.clone());
        }
    }
    for (_, f) in files.iter_mut() {
        for it in f.items.iter_mut() {
            let Item::Model(m) = it else { continue };
            let Some(inst) = m.instance.clone() else { continue };
            // an instance left unexpanded is in error (said here), and checked no further
            let Some(t) = templates.get(&inst.template.text.to_lowercase()) else {
                let help = did_you_mean(&inst.template.text, templates.keys().map(String::as_str))
                    .unwrap_or_else(|| "declare it: `template name(rel, key: column) from rel { … }`".into());
                diags.push(
                    Diagnostic::error(
                        Code::E0103,
                        inst.template.span,
                        format!("no template `{}`", inst.template.text),
                    )
                    .label("not a template")
                    .help(help),
                );
                continue;
            };
            match bind(t, &inst) {
                Ok(args) => instantiate(m, t, &args),
                Err(d) => diags.extend(d),
            }
        }
    }
    diags
}

/// Each parameter's argument: positional ones in order, then named ones, then defaults.
fn bind(t: &Template, inst: &InstanceOf) -> Result<HashMap<String, Arg>, Vec<Diagnostic>> {
    let mut diags = vec![];
    let name = &t.body.name.text;
    let refuse = |span: Span, msg: String, help: String| {
        Diagnostic::error(Code::E0203, span, msg)
            .label("in this instance")
            .with(t.body.name.span, "the template")
            .help(help)
    };
    let signature = || {
        let params: Vec<String> = t.params.iter().map(|p| p.name.text.clone()).collect();
        format!("`{name}({})`", params.join(", "))
    };
    let mut given: HashMap<String, &Expr> = HashMap::new();
    let mut named_seen = false;
    for (i, (named, value)) in inst.args.iter().enumerate() {
        let param = match named {
            Some(n) => {
                named_seen = true;
                match t.params.iter().find(|p| p.name.text.eq_ignore_ascii_case(&n.text)) {
                    Some(p) => p,
                    None => {
                        let help = did_you_mean(&n.text, t.params.iter().map(|p| p.name.text.as_str()))
                            .unwrap_or_else(|| format!("the template is {}", signature()));
                        diags.push(refuse(n.span, format!("`{name}` has no parameter `{}`", n.text), help));
                        continue;
                    }
                }
            }
            None if named_seen => {
                diags.push(refuse(
                    value.span,
                    "a positional argument after a named one".into(),
                    "give positional arguments first, then `name = value`".into(),
                ));
                continue;
            }
            None => match t.params.get(i) {
                Some(p) => p,
                None => {
                    diags.push(refuse(
                        value.span,
                        format!("`{name}` takes {} argument(s)", t.params.len()),
                        format!("the template is {}", signature()),
                    ));
                    continue;
                }
            },
        };
        let key = param.name.text.to_lowercase();
        if given.insert(key, value).is_some() {
            diags.push(refuse(
                value.span,
                format!("`{}` is given twice", param.name.text),
                "give each parameter once".into(),
            ));
        }
    }
    let mut args = HashMap::new();
    for p in &t.params {
        let key = p.name.text.to_lowercase();
        let Some(value) = given.get(&key).copied().or(p.default.as_ref()) else {
            diags.push(refuse(
                inst.span,
                format!("`{name}` needs an argument for `{}`", p.name.text),
                format!("the template is {}", signature()),
            ));
            continue;
        };
        let arg = match &p.kind {
            ParamKind::Relation | ParamKind::Column => match &value.kind {
                ExprKind::Path(parts) if parts.len() == 1 => Arg::Name(parts[0].text.clone()),
                _ => {
                    let what = if matches!(p.kind, ParamKind::Relation) {
                        "a source or model"
                    } else {
                        "a column"
                    };
                    diags.push(refuse(
                        value.span,
                        format!("`{}` takes the name of {what}", p.name.text),
                        format!("write a name, e.g. `{name}(…, {}, …)`", p.name.text),
                    ));
                    continue;
                }
            },
            ParamKind::Expr => Arg::Expr(value.clone()),
            // a value of the declared type: cast, so the instance is checked with that type
            ParamKind::Value(ty) => Arg::Expr(Expr {
                kind: ExprKind::Cast(Box::new(value.clone()), ty.clone()),
                span: value.span,
            }),
        };
        args.insert(key, arg);
    }
    if diags.is_empty() { Ok(args) } else { Err(diags) }
}

/// The model `m` made from `t` with `args` in place of its parameters.
fn instantiate(m: &mut Model, t: &Template, args: &HashMap<String, Arg>) {
    let body = &t.body;
    let mut from = body.from.clone();
    rename(&mut from, args);
    m.from = from;
    m.steps = body.steps.clone();
    for s in &mut m.steps {
        step(&mut s.kind, args);
    }
    m.contract = body.contract.clone();
    m.incremental = body.incremental;
    if m.doc.is_none() {
        m.doc = body.doc.clone();
    }
    if let Some(i) = m.instance.as_mut() {
        i.expanded = true;
        i.template_span = body.span;
        i.template_name_span = body.name.span;
    }
}

/// A name that is a relation or column parameter becomes its argument.
fn rename(id: &mut Ident, args: &HashMap<String, Arg>) {
    if id.quoted {
        return;
    }
    if let Some(Arg::Name(n)) = args.get(&id.text.to_lowercase()) {
        id.text = n.clone();
    }
}

fn step(kind: &mut StepKind, args: &HashMap<String, Arg>) {
    let named = |list: &mut Vec<NamedExpr>| {
        for n in list.iter_mut() {
            if let Some(id) = n.name.as_mut() {
                rename(id, args);
            }
            expr(&mut n.expr, args);
        }
    };
    match kind {
        StepKind::Where(e) => expr(e, args),
        StepKind::Select(l) | StepKind::Derive(l) | StepKind::Aggregate(l) => named(l),
        StepKind::GroupBy(keys, aggs) => {
            named(keys);
            named(aggs);
        }
        StepKind::Join(j) => {
            rename(&mut j.target, args);
            for (a, b) in &mut j.on {
                expr(a, args);
                expr(b, args);
            }
            j.filters.iter_mut().for_each(|f| expr(f, args));
        }
        StepKind::Sort(keys) => keys.iter_mut().for_each(|k| expr(&mut k.expr, args)),
        StepKind::Union(id) => rename(id, args),
        StepKind::Keep { per, by, .. } => {
            per.iter_mut().for_each(|e| expr(e, args));
            by.iter_mut().for_each(|k| expr(&mut k.expr, args));
        }
        StepKind::Closure(c) => {
            for id in [&mut c.from, &mut c.to, &mut c.reached, &mut c.depth] {
                rename(id, args);
            }
            c.per.iter_mut().for_each(|k| rename(k, args));
        }
        StepKind::Unnest(u) => {
            expr(&mut u.expr, args);
            rename(&mut u.name, args);
            if let Some(i) = u.ordinality.as_mut() {
                rename(i, args);
            }
        }
        StepKind::Limit(_) | StepKind::Distinct => {}
    }
}

fn expr(e: &mut Expr, args: &HashMap<String, Arg>) {
    match &mut e.kind {
        ExprKind::Path(parts) => {
            if let [only] = parts.as_slice()
                && !only.quoted
                && let Some(Arg::Expr(value)) = args.get(&only.text.to_lowercase())
            {
                *e = value.clone();
                return;
            }
            parts.iter_mut().for_each(|p| rename(p, args));
        }
        ExprKind::Call(_, xs) | ExprKind::List(xs) => xs.iter_mut().for_each(|x| expr(x, args)),
        ExprKind::Window(w) => {
            w.args.iter_mut().for_each(|x| expr(x, args));
            w.partition.iter_mut().for_each(|x| expr(x, args));
            w.order.iter_mut().for_each(|k| expr(&mut k.expr, args));
        }
        ExprKind::Binary(_, a, b) | ExprKind::Like(a, b, _) => {
            expr(a, args);
            expr(b, args);
        }
        ExprKind::Not(a)
        | ExprKind::Neg(a)
        | ExprKind::IsNull(a, _)
        | ExprKind::Cast(a, _)
        | ExprKind::Member(a, _) => expr(a, args),
        ExprKind::Index(a, b) => {
            expr(a, args);
            expr(b, args);
        }
        ExprKind::Struct(fields) => fields.iter_mut().for_each(|(_, x)| expr(x, args)),
        ExprKind::Ordered(call, keys) => {
            expr(call, args);
            keys.iter_mut().for_each(|k| expr(&mut k.expr, args));
        }
        ExprKind::InList(a, xs, _) => {
            expr(a, args);
            xs.iter_mut().for_each(|x| expr(x, args));
        }
        ExprKind::Between(a, lo, hi, _) => {
            expr(a, args);
            expr(lo, args);
            expr(hi, args);
        }
        ExprKind::Case(arms, other) => {
            for (c, v) in arms.iter_mut() {
                expr(c, args);
                expr(v, args);
            }
            if let Some(o) = other {
                expr(o, args);
            }
        }
        ExprKind::Lit(_) | ExprKind::Error => {}
    }
}
