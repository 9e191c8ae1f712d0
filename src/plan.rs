//! The compiled plan: validated, typed, immutable and serialisable, so a run
//! can be resumed from a store by another process.

use std::time::Duration;

use indexmap::IndexMap;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};

use crate::kinds::StepKind;
use crate::retry::RetryPolicy;
use crate::template::{Expr, Template, TemplatedValue as Value};

/// A runbook ready to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// The runbook's name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// Labels.
    pub tags: Vec<String>,
    /// The file it was compiled from, as given.
    pub source_path: String,
    /// sha256 of the runbook's source text, for the audit trail.
    pub source_sha256: String,
    /// Declared inputs, in file order.
    pub inputs: IndexMap<String, InputDecl>,
    /// Names of the secrets the run needs.
    pub secrets: Vec<String>,
    /// Variables, computed in order at the start of a run.
    pub vars: Vec<(String, Value)>,
    /// Environment of every shell step.
    pub env: Vec<(String, Template)>,
    /// One run at a time per rendered key.
    pub concurrency: Option<Concurrency>,
    /// Bound on the whole run.
    #[serde(with = "crate::duration::millis_opt")]
    pub timeout: Option<Duration>,
    /// Bound on concurrently running steps; `None`: all that are ready.
    pub max_parallel: Option<usize>,
    /// What may start it besides the CLI.
    pub triggers: crate::spec::TriggersSpec,
    /// The main steps, in file order; `needs` index into this list.
    pub steps: Vec<Step>,
    /// Steps run when the run fails.
    pub on_failure: Vec<Step>,
    /// Steps run at the end of every run.
    pub finally: Vec<Step>,
    /// The run's outputs.
    pub outputs: Vec<(String, Value)>,
}

/// A declared input, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputDecl {
    /// The value type.
    #[serde(rename = "type")]
    pub kind: InputType,
    /// What it means.
    pub description: Option<String>,
    /// Used when no value is given.
    pub default: Option<serde_json::Value>,
    /// Whether a value must be given.
    pub required: bool,
    /// The only values allowed.
    #[serde(rename = "enum")]
    pub allowed: Option<Vec<serde_json::Value>>,
    /// A regular expression the whole value must match.
    pub pattern: Option<String>,
}

/// The type of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    /// Text.
    String,
    /// A whole number.
    Int,
    /// Any number.
    Number,
    /// `true` or `false`.
    Bool,
}

impl InputType {
    /// The names accepted in a runbook.
    pub const NAMES: &'static [&'static str] = &[
        "string", "int", "integer", "number", "float", "bool", "boolean",
    ];

    /// The type from its name in a runbook.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "string" => InputType::String,
            "int" | "integer" => InputType::Int,
            "number" | "float" => InputType::Number,
            "bool" | "boolean" => InputType::Bool,
            _ => return None,
        })
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Int => "int",
            InputType::Number => "number",
            InputType::Bool => "bool",
        }
    }
}

/// A concurrency key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Concurrency {
    /// The key, rendered at the start of a run.
    pub key: Template,
    /// What a second run with the same key does.
    pub on_conflict: OnConflict,
}

/// What a run does when another holds its concurrency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnConflict {
    /// Wait for the other run to end.
    Wait,
    /// Fail at once.
    Fail,
}

/// Which part of the runbook a step belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// `steps:`
    Main,
    /// `on_failure:`
    OnFailure,
    /// `finally:`
    Finally,
    /// A step's `undo:`
    Undo,
}

/// One compiled step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Where it belongs.
    pub section: Section,
    /// Indices (in its section's list) of the steps it needs.
    pub needs: Vec<usize>,
    /// Skip unless this holds.
    pub when: Option<Expr>,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Bound on one attempt.
    #[serde(with = "crate::duration::millis_opt")]
    pub timeout: Option<Duration>,
    /// Compensation run when the run fails after this step succeeded.
    pub undo: Option<Box<Step>>,
    /// A failure doesn't fail the run.
    pub continue_on_error: bool,
    /// Run once per item.
    pub for_each: Option<ForEach>,
    /// Conditions over `result`.
    pub assert: Vec<Expr>,
    /// Named outputs over `result`.
    pub outputs: Vec<(String, Value)>,
    /// The template it was expanded from, and its parameters.
    pub template: Option<TemplateUse>,
    /// What it does.
    pub kind: StepKind,
}

/// A `uses:` expansion.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TemplateUse {
    /// The template's name.
    pub name: String,
    /// Parameters, rendered in the caller's context, read as `params`.
    pub params: Vec<(String, Value)>,
}

/// What `for_each` iterates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForEach {
    /// An expression giving a list.
    Expr(Expr),
    /// A literal list.
    Items(Vec<Value>),
}

impl Plan {
    /// What `steward list --output json` and the API say of a runbook.
    pub fn summary(&self) -> serde_json::Value {
        let inputs: Vec<_> = self
            .inputs
            .iter()
            .map(|(name, i)| {
                serde_json::json!({
                    "name": name,
                    "type": i.kind.name(),
                    "description": i.description,
                    "default": i.default,
                    "required": i.required,
                    "enum": i.allowed,
                    "pattern": i.pattern,
                })
            })
            .collect();
        serde_json::json!({
            "name": self.name,
            "description": self.description,
            "path": self.source_path,
            "tags": self.tags,
            "inputs": inputs,
            "triggers": self.triggers,
            "steps": self.steps.len(),
        })
    }

    /// The main steps as a petgraph DAG: an edge `a → b` means `b` needs `a`.
    pub fn dag(&self) -> DiGraph<&Step, ()> {
        dag_of(&self.steps)
    }

    /// Every step of every section, with its section's index.
    pub fn all_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .chain(&self.on_failure)
            .chain(&self.finally)
    }
}

/// A section's steps as a DAG.
pub fn dag_of(steps: &[Step]) -> DiGraph<&Step, ()> {
    let mut graph = DiGraph::with_capacity(steps.len(), steps.len());
    let nodes: Vec<NodeIndex> = steps.iter().map(|s| graph.add_node(s)).collect();
    for (i, step) in steps.iter().enumerate() {
        for &need in &step.needs {
            graph.add_edge(nodes[need], nodes[i], ());
        }
    }
    graph
}
