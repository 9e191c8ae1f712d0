//! A reusable step template, `steps/<name>.yaml`.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::step::StepSpec;
use crate::syntax::Spanned;

/// A step template: parameters and the step they fill in.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Steward step template")]
pub struct StepTemplateSpec {
    /// What the template does.
    pub description: Option<String>,
    /// Parameters, read as `params.<name>` inside `step`.
    #[serde(default)]
    pub params: IndexMap<Spanned<String>, ParamSpec>,
    /// The step; its `id` and common fields come from the step that uses it.
    pub step: StepSpec,
}

/// One template parameter.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    /// What the parameter means.
    pub description: Option<String>,
    /// Whether `with:` must give it (default: true when there is no default).
    pub required: Option<bool>,
    /// The value when `with:` doesn't give one.
    pub default: Option<serde_json::Value>,
    /// The parameter is a piece of shell script: values the caller
    /// interpolates into it are shell-quoted, so the template can insert it
    /// with `{{ params.x | raw }}` without opening an injection.
    #[serde(default)]
    pub script: bool,
}
