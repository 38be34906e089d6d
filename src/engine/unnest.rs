//! The unnest step: `unnest e as x [keep empty] [with ordinality as i]`. The rows so far
//! carry the list (or a map's entries) as their last column; the result has one row per
//! element, the element in the list's place, every other column repeated, and the
//! element's position (from 1) last.
//!
//! datafusion-substrait 55 has no form for DataFusion's `Unnest`, so the step is a logical
//! [`UnnestNode`] that travels in the one Substrait plan as an `ExtensionSingleRel`
//! ([`super::extensions`]); before optimizing, [`ExpandUnnest`] (an analyzer rule of every
//! semc session, the cluster's included) turns it into DataFusion's own `Unnest`, so the
//! optimizer and the physical planner treat it as theirs.

use crate::ir::UnnestSpec;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, DFSchemaRef, DataFusionError, Result, ScalarValue, UnnestOptions};
use datafusion::functions_nested::expr_fn::{cardinality, range};
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, LogicalPlanBuilder, UserDefinedLogicalNodeCore, cast, lit, when,
};
use datafusion::optimizer::AnalyzerRule;
use std::fmt;
use std::sync::Arc;

/// The prefix of the columns an unnest computes before it names them.
const UNNESTED: &str = "__semc_unnest_";

/// The unnest as a logical plan node: its input's last column is the list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnnestNode {
    pub spec: UnnestSpec,
    pub input: LogicalPlan,
    schema: DFSchemaRef,
}

impl PartialOrd for UnnestNode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.spec.partial_cmp(&other.spec)
    }
}

impl UnnestNode {
    pub fn new(spec: UnnestSpec, input: LogicalPlan) -> Result<UnnestNode> {
        let schema = expand(&spec, input.clone())?.schema().clone();
        Ok(UnnestNode { spec, input, schema })
    }

    /// The node over an input of one list column of nulls (the consumer gives it its real
    /// input next).
    pub fn placeholder(spec: UnnestSpec) -> Result<UnnestNode> {
        let list = DataType::List(Arc::new(Field::new("item", DataType::Null, true)));
        let placeholder = LogicalPlan::EmptyRelation(datafusion::logical_expr::EmptyRelation {
            produce_one_row: false,
            schema: Arc::new(DFSchema::try_from(Schema::new(vec![Field::new(
                &spec.element,
                list,
                true,
            )]))?),
        });
        UnnestNode::new(spec, placeholder)
    }

    /// The node as a plan.
    pub fn into_plan(self) -> LogicalPlan {
        LogicalPlan::Extension(Extension { node: Arc::new(self) })
    }
}

/// DataFusion's plan for the step: the list's empties made null (`keep empty`) and its
/// positions listed beside it, both unnested together, and named as the step says.
fn expand(spec: &UnnestSpec, input: LogicalPlan) -> Result<LogicalPlan> {
    let schema = input.schema().clone();
    let last = schema
        .fields()
        .len()
        .checked_sub(1)
        .ok_or_else(|| DataFusionError::Internal("an unnest reads a list".into()))?;
    let (qualifier, field) = schema.qualified_field(last);
    let qualifier = qualifier.cloned();
    let list = Expr::Column(Column::new(qualifier.clone(), field.name()));
    let mut exprs: Vec<Expr> = schema.columns().into_iter().take(last).map(Expr::Column).collect();
    let element = if spec.keep_empty {
        // an empty list gives one row, as a null list does under `preserve_nulls`
        let null = Expr::Literal(ScalarValue::try_from(field.data_type())?, None);
        when(cardinality(list.clone()).eq(lit(0u64)), null).otherwise(list.clone())?
    } else {
        list.clone()
    };
    // unnested under names of their own, then named as the step says: DataFusion's
    // projection pushdown takes a qualified `t1.d` and an unqualified `d` for one name
    let mut names = vec![(format!("{UNNESTED}{}", spec.element), spec.element.clone())];
    exprs.push(element.alias(&names[0].0));
    if let Some(i) = &spec.ordinality {
        let n = cast(cardinality(list), DataType::Int64);
        names.push((format!("{UNNESTED}{i}"), i.clone()));
        exprs.push(range(lit(1i64), n + lit(1i64), lit(1i64)).alias(&names[1].0));
    }
    let unnested: Vec<Column> = names.iter().map(|(inner, _)| Column::from_name(inner)).collect();
    let options = UnnestOptions::new().with_preserve_nulls(spec.keep_empty);
    let plan = LogicalPlanBuilder::from(input)
        .project(exprs)?
        .unnest_columns_with_options(unnested.clone(), options)?
        .build()?;
    // the other columns keep their qualifiers; the element and its position take the list's
    let named: Vec<Expr> = plan
        .schema()
        .columns()
        .into_iter()
        .map(
            |c| match names.iter().find(|(inner, _)| *inner == c.name && c.relation.is_none()) {
                Some((_, name)) => Expr::Column(c).alias_qualified(qualifier.clone(), name),
                None => Expr::Column(c),
            },
        )
        .collect();
    LogicalPlanBuilder::from(plan).project(named)?.build()
}

impl UserDefinedLogicalNodeCore for UnnestNode {
    fn name(&self) -> &str {
        UnnestSpec::NAME
    }
    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }
    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }
    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }
    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Unnest: {}", self.spec)
    }
    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, mut inputs: Vec<LogicalPlan>) -> Result<Self> {
        let input = inputs
            .pop()
            .ok_or_else(|| DataFusionError::Internal("an unnest has one input".into()))?;
        UnnestNode::new(self.spec.clone(), input)
    }
}

/// Turns every [`UnnestNode`] into DataFusion's own plan for it, before the optimizer runs.
#[derive(Debug, Default)]
pub struct ExpandUnnest;

impl AnalyzerRule for ExpandUnnest {
    fn name(&self) -> &str {
        "semc_expand_unnest"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up(|p| match &p {
            LogicalPlan::Extension(e) => match e.node.as_any().downcast_ref::<UnnestNode>() {
                Some(u) => Ok(Transformed::yes(expand(&u.spec, u.input.clone())?)),
                None => Ok(Transformed::no(p)),
            },
            _ => Ok(Transformed::no(p)),
        })
        .map(|t| t.data)
    }
}
