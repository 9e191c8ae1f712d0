//! The runbook file, as written.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::step::{RetrySpec, StepSpec};
use crate::syntax::{FromScalar, OneOrMany, Scalar, StrOr};
use crate::syntax::{Lenient, Spanned};

/// A runbook: typed inputs, steps that form a DAG, and what to do when
/// something fails.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Steward runbook")]
pub struct RunbookSpec {
    /// The runbook's name; defaults to the file name without `.yaml`.
    pub name: Option<Spanned<String>>,
    /// What the runbook does, shown by `steward list`.
    pub description: Option<String>,
    /// Free-form labels for finding runbooks.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Typed inputs, given with `-i name=value` or by a trigger.
    #[serde(default)]
    pub inputs: IndexMap<Spanned<String>, Lenient<InputSpec>>,
    /// Names of the secrets the runbook uses, read from the environment or
    /// the secrets file; their values are never shown.
    #[serde(default)]
    pub secrets: Vec<Spanned<String>>,
    /// Values computed once at the start of a run (templates over inputs,
    /// secrets, env, run and earlier vars), read as `vars.<name>`.
    #[serde(default)]
    pub vars: IndexMap<Spanned<String>, Spanned<serde_json::Value>>,
    /// Environment variables for every shell step (templates).
    #[serde(default)]
    pub env: IndexMap<Spanned<String>, Spanned<String>>,
    /// A key (template) that allows one run at a time among runs with the
    /// same rendered key, e.g. `deploy-{{ inputs.env }}`.
    pub concurrency: Option<Spanned<StrOr<ConcurrencySpec>>>,
    /// How long the whole run may take, e.g. `30m`.
    pub timeout: Option<Spanned<Scalar>>,
    /// How many steps may run at once; default: all that are ready.
    pub max_parallel: Option<Spanned<Scalar>>,
    /// Defaults for every step.
    #[serde(default)]
    pub defaults: DefaultsSpec,
    /// What may start this runbook besides the CLI.
    #[serde(default)]
    pub triggers: TriggersSpec,
    /// The steps, run top to bottom unless `needs` says otherwise.
    #[serde(default)]
    pub steps: Vec<Lenient<StepSpec>>,
    /// The run's outputs: name → template over `steps`, `inputs`, `vars`.
    #[serde(default)]
    pub outputs: IndexMap<Spanned<String>, Spanned<serde_json::Value>>,
    /// Steps run when the run fails, after the `undo` steps.
    #[serde(default)]
    pub on_failure: Vec<Lenient<StepSpec>>,
    /// Steps run at the end of every run, whatever its status.
    #[serde(default, rename = "finally")]
    pub finally: Vec<Lenient<StepSpec>>,
}

/// A declared input.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// `string` (the default), `int`, `number` or `bool`.
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    /// What the input means, shown by `steward list`.
    pub description: Option<String>,
    /// The value when none is given; makes the input optional.
    pub default: Option<Spanned<serde_json::Value>>,
    /// Whether a value must be given (default: true when there is no default).
    pub required: Option<bool>,
    /// The only values allowed.
    #[serde(rename = "enum")]
    pub allowed: Option<Spanned<Vec<serde_json::Value>>>,
    /// A regular expression the whole value must match (strings only).
    pub pattern: Option<Spanned<String>>,
}

/// `concurrency: key` or `concurrency: { key, on_conflict }`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConcurrencySpec {
    /// The key template; runs with the same rendered key run one at a time.
    pub key: String,
    /// `wait` (default) for the other run to end, or `fail` at once.
    pub on_conflict: Option<Spanned<String>>,
}

impl FromScalar for ConcurrencySpec {
    fn from_scalar(key: String) -> Self {
        ConcurrencySpec {
            key,
            on_conflict: None,
        }
    }
}

/// Defaults applied to every step that doesn't say otherwise.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultsSpec {
    /// The retry policy of every step.
    pub retry: Option<RetrySpec>,
    /// The timeout of every step.
    pub timeout: Option<Spanned<Scalar>>,
}

/// Triggers other than the CLI.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggersSpec {
    /// Cron schedules, e.g. `"0 3 * * *"`.
    pub schedule: Option<OneOrMany<Spanned<StrOr<ScheduleSpec>>>>,
    /// A chat-ops slash command.
    pub chat: Option<ChatTriggerSpec>,
}

/// A schedule: a cron expression, or one with a time zone and catch-up.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Five-field cron expression.
    pub cron: String,
    /// IANA time zone, default UTC.
    pub timezone: Option<String>,
    /// Run the last missed tick when the server starts.
    #[serde(default)]
    pub catch_up: bool,
    /// Inputs for scheduled runs.
    #[serde(default)]
    pub inputs: IndexMap<String, serde_json::Value>,
}

impl FromScalar for ScheduleSpec {
    fn from_scalar(cron: String) -> Self {
        ScheduleSpec {
            cron,
            timezone: None,
            catch_up: false,
            inputs: IndexMap::new(),
        }
    }
}

/// A chat-ops command that starts this runbook.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatTriggerSpec {
    /// The command word, e.g. `deploy` for `/runbook deploy`.
    pub command: Option<String>,
    /// Users, `@groups` or `#channels` allowed to start it.
    #[serde(default)]
    pub allow: Vec<String>,
}
