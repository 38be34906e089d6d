//! The standard library's signatures, parsed from `stdlib/functions.sem`.

use super::*;

use pest::Parser;

// ---------------------------------------------------------------- stdlib signatures

/// A function signature from `stdlib/functions.sem`.
#[derive(Debug, Clone)]
pub struct Signature {
    pub name: String,
    pub aggregate: bool,
    pub args: Vec<String>,
    pub variadic: bool,
    pub ret: (String, Option<usize>),
    pub engine: String,
    pub engine_const: Option<String>,
}

/// Parses the embedded standard library. It ships with the binary and is tested, so an
/// error here is a build defect: it is returned as text for an internal error.
pub fn parse_stdlib(text: &str) -> Result<Vec<Signature>, String> {
    let pairs = SemParser::parse(Rule::stdlib_file, text).map_err(|e| e.to_string())?;
    let mut out = vec![];
    for sig in pairs
        .flat_map(|p| p.into_inner())
        .filter(|p| p.as_rule() == Rule::signature)
    {
        let mut s = Signature {
            name: String::new(),
            aggregate: false,
            args: vec![],
            variadic: false,
            ret: (String::new(), None),
            engine: String::new(),
            engine_const: None,
        };
        for x in sig.into_inner() {
            match x.as_rule() {
                Rule::k_aggregate_fn => s.aggregate = true,
                Rule::ident => s.name = x.as_str().to_string(),
                Rule::arg_ty => s.args.push(x.as_str().to_string()),
                Rule::variadic => s.variadic = true,
                Rule::ret_ty => {
                    let mut it = x.into_inner();
                    let n = it.next().map(|n| n.as_str().to_string()).unwrap_or_default();
                    let a = it.next().and_then(|a| a.as_str().parse().ok());
                    s.ret = (n, a);
                }
                Rule::string_lit if s.engine.is_empty() => s.engine = unescape(x.as_str()),
                Rule::string_lit => s.engine_const = Some(unescape(x.as_str())),
                _ => {}
            }
        }
        out.push(s);
    }
    Ok(out)
}
