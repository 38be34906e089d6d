//! Declared types: type expressions (`int64`, `decimal(15, 2)`, `list<T>`, `struct<a: T, …>`,
//! `map<K, V>`) and the workspace's `type` aliases.

use super::*;
use crate::codes::Code;
use crate::diag::{Diagnostic, did_you_mean};
use crate::syntax::ast;
use crate::types::{StructField, TYPE_NAMES, Type};

/// A `type` alias and, once resolved, its type (`Some(None)`: it has an error, reported).
pub(super) struct AliasSlot<'a> {
    decl: &'a ast::TypeAlias,
    resolved: Option<Option<Type>>,
}

impl<'a> Checker<'a> {
    /// Registers the workspace's `type` aliases (a built-in type's name is E0101), then
    /// resolves each once, where its errors are reported.
    pub(super) fn declare_type_aliases(&mut self, items: &[&'a ast::Item]) {
        let mut seen = HashMap::new();
        for it in items {
            let ast::Item::TypeAlias(a) = it else { continue };
            let name = a.name.text.to_lowercase();
            if Type::from_name(&name).is_some() || TYPE_NAMES.contains(&name.as_str()) {
                self.err(
                    Diagnostic::error(Code::E0101, a.name.span, format!("`{name}` is a built-in type"))
                        .label("declared again")
                        .help("give the alias another name"),
                );
                continue;
            }
            if self.dup_check(&mut seen, &name, a.name.span, "type") {
                continue;
            }
            self.type_aliases.insert(
                name,
                AliasSlot {
                    decl: a,
                    resolved: None,
                },
            );
        }
        let mut names: Vec<(String, Span)> = self
            .type_aliases
            .iter()
            .map(|(n, a)| (n.clone(), a.decl.span))
            .collect();
        names.sort_by_key(|(_, span)| (span.file, span.start));
        for (name, _) in names {
            self.alias_type(&name);
        }
    }

    /// The type an alias stands for, resolved on first use (None: it has an error, reported
    /// at its declaration).
    fn alias_type(&mut self, name: &str) -> Option<Type> {
        let slot = self.type_aliases.get(name)?;
        if let Some(done) = slot.resolved {
            return done;
        }
        let decl = slot.decl;
        if let Some(at) = self.resolving_aliases.iter().position(|n| n == name) {
            let cycle = self.resolving_aliases[at..].join(" → ");
            self.err(
                Diagnostic::error(
                    Code::E0113,
                    decl.name.span,
                    format!("type `{name}` is made of itself: {cycle} → {name}"),
                )
                .label("in a cycle")
                .help("write the nested type out, or break the cycle"),
            );
            if let Some(s) = self.type_aliases.get_mut(name) {
                s.resolved = Some(None);
            }
            return None;
        }
        self.resolving_aliases.push(name.to_string());
        let ty = self.type_of(&decl.ty);
        self.resolving_aliases.pop();
        if let Some(s) = self.type_aliases.get_mut(name) {
            // a cycle through this alias already marked it broken
            s.resolved.get_or_insert(ty);
            return s.resolved.flatten();
        }
        ty
    }

    /// The type a type expression names; None when it has an error (reported).
    pub(super) fn type_of(&mut self, t: &ast::TypeExpr) -> Option<Type> {
        match t {
            ast::TypeExpr::Decimal(p, s, span) => {
                if *p < 1 || *p > 38 || *s < 0 || s > p {
                    self.err(
                        Diagnostic::error(
                            Code::E0105,
                            *span,
                            format!("decimal({p}, {s}) is not a valid decimal type"),
                        )
                        .label("invalid precision or scale")
                        .help("precision is 1 to 38 and scale is 0 to the precision"),
                    );
                    return None;
                }
                Some(Type::Decimal(*p as u8, *s as i8))
            }
            ast::TypeExpr::List(element, _) => Some(Type::list(self.type_of(element)?)),
            ast::TypeExpr::Map(key, value, span) => {
                let (k, v) = (self.type_of(key), self.type_of(value));
                let (k, v) = (k?, v?);
                if k.is_nested() {
                    self.err(
                        Diagnostic::error(Code::E0226, key.span(), format!("a map's key is {k}"))
                            .label("not a scalar type")
                            .help("a map's keys are scalars (strings, numbers, dates); a list of structs holds other pairs"),
                    );
                    return None;
                }
                let _ = span;
                Some(Type::map(k, v))
            }
            ast::TypeExpr::Struct(fields, span) => {
                if fields.is_empty() {
                    self.err(
                        Diagnostic::error(Code::E0105, *span, "a struct without fields")
                            .label("no fields")
                            .help("name its fields: `struct<name: string, line: int64>`"),
                    );
                    return None;
                }
                let mut seen = HashMap::new();
                let mut out = vec![];
                let mut ok = true;
                for (name, ty) in fields {
                    let n = self.canonical_name(name);
                    ok &= !self.dup_check(&mut seen, &n, name.span, "field");
                    match self.type_of(ty) {
                        Some(ty) => out.push(StructField { name: n, ty }),
                        None => ok = false,
                    }
                }
                ok.then(|| Type::structure(out))
            }
            ast::TypeExpr::Named(n) => {
                let lower = n.text.to_lowercase();
                if let Some(t) = Type::from_name(&lower) {
                    return Some(t);
                }
                if self.type_aliases.contains_key(&lower) {
                    let decl = self.type_aliases.get(&lower).map(|a| a.decl);
                    if let Some(decl) = decl {
                        self.note(n.span, Some(decl.name.span), index::RefKind::Type, |c| {
                            format!("```sem\n{}\n```", c.text_of(decl.span))
                        });
                    }
                    return self.alias_type(&lower);
                }
                let mut d =
                    Diagnostic::error(Code::E0105, n.span, format!("unknown type `{}`", n.text)).label("not a type");
                let known: Vec<String> = TYPE_NAMES
                    .iter()
                    .map(|s| s.to_string())
                    .chain(self.type_aliases.keys().cloned())
                    .collect();
                d = d.help(match n.text.as_str() {
                    "decimal" => "decimal takes a precision and a scale: `decimal(15, 2)`".into(),
                    "int" | "integer" | "bigint" | "long" => "integer types are `int32` and `int64`".into(),
                    "double" | "float" | "real" => "the floating-point type is `float64`".into(),
                    "text" | "varchar" | "str" => "the text type is `string`".into(),
                    "array" => "a list is written `list<T>`, e.g. `list<string>`".into(),
                    "list" => "a list names its elements' type: `list<string>`".into(),
                    "struct" => "a struct names its fields: `struct<name: string, line: int64>`".into(),
                    "map" => "a map names its key and value types: `map<string, string>`".into(),
                    other => did_you_mean(other, known.iter().map(String::as_str))
                        .unwrap_or_else(|| format!("types are {}", TYPE_NAMES.join(", "))),
                });
                self.err(d);
                None
            }
        }
    }
}
