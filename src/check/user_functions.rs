//! Functions of the workspace: `fn name(p: T, …) -> R = expr`. Each is checked once where it
//! is declared (its parameters typed, its body reading only them), then inlined at every
//! call: the call's arguments, cast to the parameters' types, stand where the body names
//! the parameters. No recursion; no aggregate or window in a body (the caller may pass one).

use super::*;
use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::span::Span;

/// The parameters of the function whose body is being checked, bound to what stands for
/// them: placeholders where it is declared, the call's arguments where it is called.
pub(super) struct Frame {
    pub(super) function: String,
    pub(super) params: Vec<(String, TExpr)>,
}

impl<'a> Checker<'a> {
    /// Registers the workspace's functions (a name the standard library or another
    /// function has is E0101), then checks each declaration once.
    pub(super) fn declare_functions(&mut self, items: &[&'a ast::Item]) {
        let mut seen: HashMap<String, Span> = HashMap::new();
        for it in items {
            let ast::Item::Function(f) = it else { continue };
            let name = f.name.text.to_lowercase();
            if self.func_idx.contains_key(&name) {
                self.err(
                    Diagnostic::error(
                        Code::E0101,
                        f.name.span,
                        format!("`{name}` is a function of the standard library"),
                    )
                    .label("declared again")
                    .help("give the function another name (`semc functions` lists the standard library's)"),
                );
                continue;
            }
            if self.dup_check(&mut seen, &name, f.name.span, "function") {
                continue;
            }
            if f.body.is_none() {
                self.declare_host_function(&name, f);
            }
            self.user_fns.insert(name, f);
        }
        let mut declared: Vec<(String, &'a ast::Function)> =
            self.user_fns.iter().map(|(n, f)| (n.clone(), *f)).collect();
        declared.sort_by_key(|(_, f)| (f.span.file, f.span.start));
        for (name, f) in declared {
            self.check_function(&name, f);
        }
    }

    /// An `extern fn`: a signature of the program's functions whose engine function is the
    /// host's, of the same name (its types checked by [`Self::check_function`]).
    fn declare_host_function(&mut self, name: &str, f: &'a ast::Function) {
        let before = self.diags.len();
        let (types, ret) = (self.param_types(f), self.type_of(&f.ret));
        self.diags.truncate(before);
        let (Some(types), Some(ret)) = (types, ret) else { return };
        self.host_fns.insert(name.to_string(), self.funcs.len());
        self.funcs.push(crate::syntax::Signature {
            name: name.to_string(),
            aggregate: false,
            window: false,
            args: types.iter().map(|_| crate::syntax::stdlib::ArgClass::Any).collect(),
            variadic: false,
            ret: crate::syntax::stdlib::ReturnRule::Fixed(ret),
            engine: name.to_string(),
            engine_const: None,
            props: Default::default(),
            doc: f.doc.clone().unwrap_or_default(),
            host: Some((f.name.span, types)),
        });
    }

    /// The declared parameter types, or None when one is not a type (reported).
    fn param_types(&mut self, f: &ast::Function) -> Option<Vec<Type>> {
        let types: Vec<Option<Type>> = f.params.iter().map(|(_, t)| self.type_of(t)).collect();
        types.into_iter().collect()
    }

    /// A declaration: its types, its parameters unique, its body typed against them and
    /// returning its declared type.
    fn check_function(&mut self, name: &str, f: &'a ast::Function) {
        let hover = function_hover(self, f);
        self.note(f.name.span, Some(f.name.span), index::RefKind::Function, |_| hover);
        let mut seen: HashMap<String, Span> = HashMap::new();
        for (p, _) in &f.params {
            let n = self.canonical_name(p);
            self.dup_check(&mut seen, &n, p.span, "parameter");
        }
        let (Some(types), Some(ret)) = (self.param_types(f), self.type_of(&f.ret)) else {
            return;
        };
        let Some(body_expr) = &f.body else {
            // a host function: its types are all there is to check
            return;
        };
        let params = f
            .params
            .iter()
            .zip(types)
            .map(|((p, _), ty)| {
                let n = self.canonical_name(p);
                let placeholder = texpr(
                    TExprKind::Col {
                        qual: Some(format!("__{name}")),
                        name: n.clone(),
                    },
                    ty,
                    true,
                );
                (n, placeholder)
            })
            .collect();
        let Some(body) = self.inline_body(name, f, params) else {
            return;
        };
        if !returns(body.ty, ret) {
            self.err(
                Diagnostic::error(
                    Code::E0203,
                    body_expr.span,
                    format!("`{name}` declares `-> {ret}`, but its body is {}", body.ty),
                )
                .label(format!("{}", body.ty))
                .with(f.ret.span(), "declared here")
                .help(format!(
                    "declare `-> {}`, or cast the body: `cast(… as {ret})`",
                    body.ty
                )),
            );
        }
    }

    /// The body of `f` typed with its parameters bound to `params`; None when it has an
    /// error (or calls itself). Diagnostics of the body are the caller's to keep or drop.
    fn inline_body(&mut self, name: &str, f: &'a ast::Function, params: Vec<(String, TExpr)>) -> Option<TExpr> {
        self.fn_frames.push(Frame {
            function: name.to_string(),
            params,
        });
        let body_cx = Ctx {
            path: vec![],
            source: None,
            alias: None,
            source_only: false,
            agg: AggMode::Row,
        };
        let Some(body) = &f.body else {
            self.fn_frames.pop();
            return None;
        };
        let body = self.expr(body, &body_cx);
        self.fn_frames.pop();
        (!body.is_error()).then_some(body)
    }

    /// A call of the workspace's function `f`: its body with the call's arguments in place
    /// of its parameters, cast to the declared return type.
    pub(super) fn call_user_function(
        &mut self,
        name: &ast::Ident,
        f: &'a ast::Function,
        args: &[ast::Expr],
        span: Span,
        cx: &Ctx,
    ) -> TExpr {
        let n = name.text.to_lowercase();
        let hover = function_hover(self, f);
        self.note(name.span, Some(f.name.span), index::RefKind::Function, |_| hover);
        if self.fn_frames.iter().any(|fr| fr.function == n) {
            let chain: Vec<String> = self.fn_frames.iter().map(|fr| format!("`{}`", fr.function)).collect();
            self.err(
                Diagnostic::error(Code::E0112, name.span, format!("`{n}` calls itself ({} → `{n}`)", chain.join(" → ")))
                    .label("called again here")
                    .with(f.name.span, "declared here")
                    .help("a function is inlined at each call, so it cannot call itself, directly or through another: write the steps as models"),
            );
            return ty_err();
        }
        if args.len() != f.params.len() {
            let sig: Vec<String> = f
                .params
                .iter()
                .map(|(p, t)| format!("{}: {}", p.text, self.text_of(t.span())))
                .collect();
            self.err(
                Diagnostic::error(
                    Code::E0203,
                    span,
                    format!("`{n}` takes {} argument(s), not {}", f.params.len(), args.len()),
                )
                .label("wrong arguments")
                .with(f.name.span, "declared here")
                .help(format!("`{n}({})`", sig.join(", "))),
            );
            return ty_err();
        }
        let targs: Vec<TExpr> = args.iter().map(|a| self.expr(a, cx)).collect();
        if targs.iter().any(TExpr::is_error) {
            return ty_err();
        }
        let before = self.diags.len();
        let (types, ret) = (self.param_types(f), self.type_of(&f.ret));
        // a type that is not one was reported at the declaration
        self.diags.truncate(before);
        let (Some(types), Some(ret)) = (types, ret) else {
            return ty_err();
        };
        let mut params = vec![];
        for (((p, _), ty), (a, arg)) in f.params.iter().zip(types).zip(targs.into_iter().zip(args)) {
            let value = if a.ty == ty || a.ty == Type::Null {
                a
            } else if a.ty.widens_to(ty) || (ty == Type::Float64 && a.ty.is_numeric()) {
                // a lossless widening, or any number as a float64 (as the standard library's
                // float64 arguments take them)
                let nullable = a.nullable;
                texpr(TExprKind::Cast(Box::new(a), ty), ty, nullable)
            } else {
                let text = self.text_of(arg.span).to_string();
                self.err(
                    Diagnostic::error(
                        Code::E0203,
                        arg.span,
                        format!("`{n}`'s parameter `{}` is {ty}, but this is {}", p.text, a.ty),
                    )
                    .label(format!("{}", a.ty))
                    .with(p.span, "the parameter")
                    .help(format!("cast it: `cast({text} as {ty})`")),
                );
                return ty_err();
            };
            params.push((self.canonical_name(p), value));
        }
        if f.body.is_none() {
            // the host's function, called with the arguments as declared
            let Some(fi) = self.host_fns.get(&n).copied() else {
                return ty_err();
            };
            let args = params.into_iter().map(|(_, v)| v).collect();
            return texpr(TExprKind::Call(fi, args), ret, true);
        }
        // the body's own errors were reported once, at the declaration
        let before = self.diags.len();
        let body = self.inline_body(&n, f, params);
        // (but a cycle through another function is found only here: said once)
        let recursion: Vec<Diagnostic> = self.diags.drain(before..).filter(|d| d.code == Code::E0112).collect();
        for d in recursion {
            if !self
                .diags
                .iter()
                .any(|e| e.code == d.code && e.primary.span == d.primary.span)
            {
                self.diags.push(d);
            }
        }
        let Some(body) = body else { return ty_err() };
        match body.ty == ret || body.ty == Type::Null {
            true => texpr(body.kind, ret, body.nullable),
            false if body.ty.widens_to(ret) => {
                let nullable = body.nullable;
                texpr(TExprKind::Cast(Box::new(body), ret), ret, nullable)
            }
            false => ty_err(),
        }
    }

    /// A name inside a function's body: one of its parameters, else an error (a body reads
    /// nothing else). None outside a body.
    pub(super) fn parameter(&mut self, id: &ast::Ident) -> Option<TExpr> {
        let frame = self.fn_frames.last()?;
        let n = self.canonical_name(id);
        if let Some((_, t)) = frame.params.iter().find(|(p, _)| *p == n) {
            return Some(t.clone());
        }
        let function = frame.function.clone();
        let names: Vec<String> = frame.params.iter().map(|(p, _)| p.clone()).collect();
        let help = match crate::diag::did_you_mean(&n, names.iter().map(String::as_str)) {
            Some(close) => close,
            None => "a function reads only its parameters: pass what it needs as an argument".into(),
        };
        self.err(
            Diagnostic::error(
                Code::E0102,
                id.span,
                format!("`{n}` is not a parameter of `{function}`"),
            )
            .label("unknown here")
            .help(help),
        );
        Some(ty_err())
    }
}

/// Whether a body of type `body` returns the declared `ret` (equal, null, or widened).
fn returns(body: Type, ret: Type) -> bool {
    body == ret || body == Type::Null || body.widens_to(ret)
}

/// Hover text: the declaration as written, with its `##` doc.
fn function_hover(c: &Checker, f: &ast::Function) -> String {
    let text = c.text_of(f.span).to_string();
    match &f.doc {
        Some(d) => format!("```sem\n{text}\n```\n\n{d}"),
        None => format!("```sem\n{text}\n```"),
    }
}
