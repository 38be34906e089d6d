//! Host functions: `extern fn name(a: T, …) -> R` in a workspace declares a function the
//! program running semc implements — registered from Rust with [`register`], or from Python
//! with `semc.register_function` — so checking stays static and offline, and a run calls
//! the host's code. Every session semc makes has every registered function; a run whose
//! workspace declares one that is not registered, or registered with another result type,
//! stops before anything runs (E0415).

use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::ir::Program;
use crate::run::Failure;
use datafusion::logical_expr::ScalarUDF;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

static REGISTERED: RwLock<BTreeMap<String, Arc<ScalarUDF>>> = RwLock::new(BTreeMap::new());

/// Registers `udf` for every session semc makes from now on, under its name (lower case, as
/// `.sem` names functions); a function of the same name registered before is replaced.
pub fn register(udf: ScalarUDF) {
    if let Ok(mut all) = REGISTERED.write() {
        all.insert(udf.name().to_lowercase(), Arc::new(udf));
    }
}

/// Every registered host function.
pub fn registered() -> Vec<Arc<ScalarUDF>> {
    REGISTERED
        .read()
        .map(|all| all.values().cloned().collect())
        .unwrap_or_default()
}

/// A host function's own failure (its error, as the host gave it).
#[derive(Debug)]
pub struct HostFunctionFailed(pub String);

impl std::fmt::Display for HostFunctionFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HostFunctionFailed {}

/// Every `extern fn` of `program` is registered, with the result type it declares (E0415
/// at its declaration otherwise).
pub fn check_registered(program: &Program) -> Result<(), Failure> {
    let all = REGISTERED.read().map(|a| a.clone()).unwrap_or_default();
    let mut diags = vec![];
    for sig in &program.functions {
        let Some((at, params)) = &sig.host else { continue };
        let at = *at;
        let crate::syntax::stdlib::ReturnRule::Fixed(declared) = sig.ret else {
            continue;
        };
        let Some(udf) = all.get(&sig.name) else {
            let known: Vec<&str> = all.keys().map(String::as_str).collect();
            diags.push(
                Diagnostic::error(Code::E0415, at, format!("host function `{}` is not registered", sig.name))
                    .label("declared `extern` here")
                    .help(if known.is_empty() {
                        "register it before running: `semc::host::register(udf)` in Rust, `semc.register_function(\"name\", fn, returns=\"type\")` in Python".to_string()
                    } else {
                        format!("registered: {}", known.join(", "))
                    }),
            );
            continue;
        };
        // the engine asks a function its result type from its argument types (the declared
        // parameters': calls cast to them): the host's must be the one declared
        let args: Vec<datafusion::arrow::datatypes::DataType> = params.iter().map(|t| t.to_arrow()).collect();
        match udf.return_type(&args) {
            Ok(t) if t == declared.to_arrow() => {}
            got => diags.push(
                Diagnostic::error(
                    Code::E0415,
                    at,
                    format!(
                        "host function `{}` gives {}, not the {declared} it is declared with",
                        sig.name,
                        got.map(|t| crate::types::Type::from_arrow(&t)
                            .map(|t| t.to_string())
                            .unwrap_or_else(|| t.to_string()))
                            .unwrap_or_else(|e| e.to_string())
                    ),
                )
                .label("declared here")
                .help("register it with the declared result type, or declare the type it gives"),
            ),
        }
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Failure::User(diags))
    }
}
