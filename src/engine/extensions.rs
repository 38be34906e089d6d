//! How semc's own plan nodes travel in Substrait: each as an `ExtensionSingleRel` named by
//! its node ([`ClosureSpec::NAME`], [`UnnestSpec::NAME`]), its settings as JSON; its input
//! travels as the relation's input.

use super::closure::ClosureNode;
use super::unnest::UnnestNode;
use crate::ir::{ClosureSpec, UnnestSpec};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::UserDefinedLogicalNode;
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct SemcSerializer;

fn to_json(spec: &impl serde::Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(spec).map_err(|e| DataFusionError::External(Box::new(e)))
}

fn from_json<T: serde::de::DeserializeOwned>(name: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| DataFusionError::Plan(format!("{name}: {e}")))
}

impl datafusion::logical_expr::registry::SerializerRegistry for SemcSerializer {
    fn serialize_logical_plan(&self, node: &dyn UserDefinedLogicalNode) -> Result<Vec<u8>> {
        if let Some(c) = node.as_any().downcast_ref::<ClosureNode>() {
            return to_json(&c.spec);
        }
        if let Some(u) = node.as_any().downcast_ref::<UnnestNode>() {
            return to_json(&u.spec);
        }
        Err(DataFusionError::NotImplemented(format!(
            "no Substrait form for {}",
            node.name()
        )))
    }

    /// The node over a placeholder input: the consumer gives it its real input next.
    fn deserialize_logical_plan(&self, name: &str, bytes: &[u8]) -> Result<Arc<dyn UserDefinedLogicalNode>> {
        match name {
            ClosureSpec::NAME => Ok(Arc::new(ClosureNode::placeholder(from_json(name, bytes)?)?)),
            UnnestSpec::NAME => Ok(Arc::new(UnnestNode::placeholder(from_json(name, bytes)?)?)),
            _ => Err(DataFusionError::Plan(format!(
                "the plan has an extension semc does not know: {name}"
            ))),
        }
    }
}
