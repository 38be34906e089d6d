//! The one Substrait plan: each output's lowered logical plan as a root, named as Substrait
//! names nested columns, over one function-extension table in a stable order.

use super::{Lowerer, Providers};
use crate::ir::Program;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion_substrait::logical_plan::producer::{DefaultSubstraitProducer, SubstraitProducer};
use substrait::proto::extensions::simple_extension_declaration::MappingType;
use substrait::proto::{Plan, PlanRel, RelRoot, plan_rel};

/// A root's names as Substrait lists them: each column and, depth first, its struct fields
/// (within lists and maps too).
fn root_names(field: &datafusion::arrow::datatypes::Field, skip_self: bool, names: &mut Vec<String>) {
    if !skip_self {
        names.push(field.name().clone());
    }
    match field.data_type() {
        DataType::Struct(fields) => fields.iter().for_each(|f| root_names(f, false, names)),
        DataType::List(element) | DataType::LargeList(element) => root_names(element, true, names),
        DataType::Map(entries, _) => {
            if let DataType::Struct(kv) = entries.data_type() {
                kv.iter().for_each(|f| root_names(f, true, names));
            }
        }
        _ => {}
    }
}

/// Lowers the outputs (all, or those named) to one Substrait plan, one root per output,
/// sharing one function-extension table. Returns the plan and the outputs' logical plans.
pub fn to_substrait(
    program: &Program,
    providers: &Providers,
    state: &SessionState,
    only: &[String],
) -> Result<(Plan, Vec<LogicalPlan>)> {
    let lw = Lowerer::new(program, providers, state);
    let mut producer = DefaultSubstraitProducer::new(state);
    let mut relations = vec![];
    let mut plans = vec![];
    for o in program.selected(only) {
        let plan = lw.output_plan(o)?;
        let rel = producer.handle_plan(&plan)?;
        let mut names = vec![];
        for f in plan.schema().fields() {
            root_names(f, false, &mut names);
        }
        relations.push(PlanRel {
            rel_type: Some(plan_rel::RelType::Root(RelRoot {
                input: Some(*rel),
                names,
            })),
        });
        plans.push(plan);
    }
    // the producer keeps its functions in a hash map: in anchor order, the plan is the same
    // bytes on every run
    let mut extensions: Vec<substrait::proto::extensions::SimpleExtensionDeclaration> =
        producer.get_extensions().into();
    extensions.sort_by_key(|e| match &e.mapping_type {
        Some(MappingType::ExtensionFunction(f)) => (0, f.function_anchor),
        Some(MappingType::ExtensionType(t)) => (1, t.type_anchor),
        Some(MappingType::ExtensionTypeVariation(v)) => (2, v.type_variation_anchor),
        None => (3, 0),
    });
    let plan = Plan {
        version: Some(substrait::version::version_with_producer("semc")),
        extensions,
        relations,
        ..Default::default()
    };
    Ok((plan, plans))
}

/// One output's root as a plan of its own (the Substrait consumer takes one root at a time).
pub fn single_root(plan: &Plan, i: usize) -> Option<Plan> {
    let rel = plan.relations.get(i)?.clone();
    Some(Plan {
        relations: vec![rel],
        ..plan.clone()
    })
}
