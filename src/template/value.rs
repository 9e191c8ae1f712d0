//! Values whose strings are templates.

use serde::{Deserialize, Serialize};

use super::Template;

/// A value whose strings are templates (vars, outputs, `with:` parameters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplatedValue {
    /// A literal that needs no rendering.
    Literal(serde_json::Value),
    /// A template; one that is a sole `{{ expression }}` keeps its type.
    Template(Template),
    /// A list with templates inside.
    List(Vec<TemplatedValue>),
    /// A mapping with templates inside.
    Map(Vec<(String, TemplatedValue)>),
}
