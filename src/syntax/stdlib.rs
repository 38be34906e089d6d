//! The standard library's signatures, parsed from `stdlib/functions.sem`: argument
//! classes, return rules and properties are data there, enums here.

use super::*;
pub use crate::signature::*;
use pest::Parser;

/// Parses the embedded standard library. It ships with the binary and is tested, so an
/// error here is a build defect: it is returned as text for an internal error.
pub fn parse_stdlib(text: &str) -> Result<Vec<Signature>, String> {
    let pairs = SemParser::parse(Rule::stdlib_file, text).map_err(|e| e.to_string())?;
    let mut out = vec![];
    for sig in pairs
        .flat_map(|p| p.into_inner())
        .filter(|p| p.as_rule() == Rule::signature)
    {
        let at = sig.as_str().lines().next().unwrap_or("").to_string();
        let line = sig.as_span().start_pos().line_col().0;
        let doc = text
            .lines()
            .nth(line.saturating_sub(2))
            .and_then(|l| l.strip_prefix("##"))
            .map(|d| d.trim().to_string())
            .unwrap_or_default();
        let bad = |what: &str| format!("stdlib: {what} in `{at}`");
        let mut s = Signature {
            name: String::new(),
            aggregate: false,
            window: false,
            args: vec![],
            variadic: false,
            ret: ReturnRule::Common,
            engine: String::new(),
            engine_const: None,
            props: FunctionProps::default(),
            doc,
            host: None,
        };
        for x in sig.into_inner() {
            match x.as_rule() {
                Rule::k_aggregate_fn => s.aggregate = true,
                Rule::k_window_fn => s.window = true,
                Rule::ident => s.name = x.as_str().to_string(),
                Rule::arg_ty => s
                    .args
                    .push(ArgClass::parse(x.as_str()).ok_or_else(|| bad("unknown argument class"))?),
                Rule::variadic => s.variadic = true,
                Rule::ret_ty => {
                    let mut it = x.into_inner();
                    let n = it.next().map(|n| n.as_str().to_string()).unwrap_or_default();
                    let a = it.next().and_then(|a| a.as_str().parse().ok());
                    s.ret = ReturnRule::parse(&n, a).ok_or_else(|| bad("unknown return rule"))?;
                }
                Rule::string_lit if s.engine.is_empty() => s.engine = unescape(x.as_str()),
                Rule::string_lit => s.engine_const = Some(unescape(x.as_str())),
                Rule::sig_props => {
                    for p in x.into_inner() {
                        let mut it = p.into_inner();
                        let name = it.next().map(|n| n.as_str()).unwrap_or_default();
                        let arg = it.next().and_then(|a| a.as_str().parse::<usize>().ok());
                        let props = &mut s.props;
                        match (name, arg) {
                            ("distinct", None) => props.distinct = true,
                            ("repeat_safe", None) => props.repeat_safe = true,
                            ("counts_rows", None) => props.counts_rows = true,
                            ("never_null", None) => props.never_null = true,
                            ("hex", None) => props.hex = true,
                            ("ties", None) => props.ties = true,
                            ("units", None) => props.units = true,
                            ("ordered", None) => props.ordered = true,
                            ("algorithm", None) => props.algorithm = true,
                            ("literal", Some(n)) if props.literal.add(n) => {}
                            ("positive", Some(n)) if props.positive.add(n) => {}
                            ("nonzero", Some(n)) if props.nonzero.add(n) => {}
                            ("not_negative", Some(n)) if props.not_negative.add(n) => {}
                            ("regex", Some(n)) if props.regex.add(n) => {}
                            ("digest_size", Some(n)) if props.digest_size.add(n) => {}
                            _ => return Err(bad("unknown property")),
                        }
                    }
                }
                _ => {}
            }
        }
        out.push(s);
    }
    Ok(out)
}
