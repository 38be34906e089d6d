//! The workspace `policy { }` block.

use super::*;
use crate::codes::Code;
use crate::diag::{Diagnostic, did_you_mean};
use crate::syntax::ast::{self, ExprKind};
use std::collections::HashMap;

impl<'a> Checker<'a> {
    pub(super) fn policy(&mut self, p: &ast::Policy) {
        let mut seen = HashMap::new();
        for e in &p.entries {
            let key = e.key.text.as_str();
            if self.dup_check(&mut seen, key, e.key.span, "policy setting") {
                continue;
            }
            let bad = |msg: &str| Diagnostic::error(Code::E0107, e.span, msg.to_string()).label("here");
            match (key, &e.value) {
                ("identifiers", ast::PolicyValue::Name(n)) if n.text == "lower" || n.text == "exact" => {
                    self.policy.lower_identifiers = n.text == "lower";
                }
                ("identifiers", _) => self.err(
                    bad("`identifiers` is `lower` or `exact`")
                        .help("write `identifiers = lower` or `identifiers = exact`"),
                ),
                ("strict", ast::PolicyValue::Bool(b)) => self.policy.strict = *b,
                ("trust_declared", ast::PolicyValue::Bool(b)) => self.policy.trust_declared = *b,
                ("trust_declared", _) => {
                    self.err(bad("`trust_declared` is `true` or `false`").help("write `trust_declared = true`"))
                }
                ("strict", _) => self.err(bad("`strict` is `true` or `false`").help("write `strict = true`")),
                ("allow", ast::PolicyValue::List(items)) => {
                    const STEPS: &[&str] = &[
                        "where",
                        "select",
                        "derive",
                        "join",
                        "aggregate",
                        "sort",
                        "limit",
                        "distinct",
                        "union",
                        "keep",
                        "closure",
                    ];
                    let mut allow = vec![];
                    for it in items {
                        match &it.kind {
                            ExprKind::Path(parts) if parts.len() == 1 && STEPS.contains(&parts[0].text.as_str()) => {
                                allow.push(parts[0].text.clone())
                            }
                            _ => {
                                let text = self.ws.map.text(it.span).to_string();
                                let mut d = Diagnostic::error(Code::E0107, it.span, format!("`{text}` is not a step"))
                                    .label("unknown step");
                                d = d.help(
                                    did_you_mean(&text, STEPS.iter().copied())
                                        .unwrap_or_else(|| format!("steps are {}", STEPS.join(", "))),
                                );
                                self.err(d);
                            }
                        }
                    }
                    self.policy.allow = Some(allow);
                }
                ("allow", _) => {
                    self.err(bad("`allow` is a list of steps").help("write `allow = [where, select, aggregate]`"))
                }
                ("max_reader_version", ast::PolicyValue::Int(v)) => self.policy.max_reader_version = Some(*v),
                ("max_writer_version", ast::PolicyValue::Int(v)) => self.policy.max_writer_version = Some(*v),
                ("max_reader_version" | "max_writer_version", _) => {
                    self.err(bad("the version is an integer").help("write e.g. `max_reader_version = 3`"))
                }
                _ => {
                    const KEYS: &[&str] = &[
                        "identifiers",
                        "strict",
                        "trust_declared",
                        "allow",
                        "max_reader_version",
                        "max_writer_version",
                    ];
                    let d = Diagnostic::error(Code::E0107, e.key.span, format!("unknown policy setting `{key}`"))
                        .label("unknown setting");
                    let h = did_you_mean(key, KEYS.iter().copied())
                        .unwrap_or_else(|| format!("settings are {}", KEYS.join(", ")));
                    self.err(d.help(h));
                }
            }
        }
    }
}
