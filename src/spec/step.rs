//! A step, as written in a runbook or a step template.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::scalar::{FromScalar, OneOrMany, Scalar, StrOr};
use super::spanned::Spanned;

/// One step: common fields, and exactly one kind (`shell`, `sleep`, `http`,
/// `notify`, `sql`, `approval`, `runbook` or `uses`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Unique id, `[a-z0-9_-]+`; `steps.<id>` reads its result.
    pub id: Option<Spanned<String>>,
    /// A human-readable name for the terminal and reports.
    pub name: Option<String>,
    /// Steps that must finish first; default: the step above. `[]`: none.
    pub needs: Option<Vec<Spanned<String>>>,
    /// An expression; when false the step is skipped.
    pub when: Option<Spanned<Scalar>>,
    /// How to retry a failed attempt.
    pub retry: Option<RetrySpec>,
    /// How long one attempt may take, e.g. `30s`, `10m`.
    pub timeout: Option<Spanned<Scalar>>,
    /// A compensating step, run (newest first) when the run fails.
    pub undo: Option<Box<StepSpec>>,
    /// A failure of this step doesn't fail the run.
    pub continue_on_error: Option<bool>,
    /// An expression giving a list (or a literal list): the step runs once
    /// per element, read as `item`.
    pub for_each: Option<Spanned<serde_json::Value>>,
    /// Expressions over `result` that must all hold, else the attempt fails.
    pub assert: Option<OneOrMany<Spanned<String>>>,
    /// Named outputs: templates over `result`, read as `steps.<id>.outputs`.
    #[serde(default)]
    pub outputs: IndexMap<Spanned<String>, Spanned<serde_json::Value>>,
    /// Run a script with bash (`-eo pipefail`) or another interpreter.
    pub shell: Option<Spanned<StrOr<ShellSpec>>>,
    /// Wait for a duration, e.g. `10s`.
    pub sleep: Option<Spanned<Scalar>>,
    /// Send an HTTP request and check its answer: `http: URL` or
    /// `{ method, url, headers, json, expect_status, … }`.
    pub http: Option<Spanned<StrOr<super::http::HttpSpec>>>,
    /// Send a message to one channel: `slack`, `webhook`, `pagerduty` or `email`.
    pub notify: Option<Spanned<super::notify::NotifySpec>>,
    /// Run SQL on PostgreSQL: a `query` with `params`, or a `script`.
    pub sql: Option<Spanned<super::sql::SqlSpec>>,
    /// Wait until someone approves (or rejects) the run going on:
    /// `approval: MESSAGE` or `{ message, approvers, timeout }`.
    pub approval: Option<Spanned<StrOr<ApprovalSpec>>>,
    /// Run another runbook of the project as a child run and wait for it;
    /// its inputs go in `inputs:`.
    pub runbook: Option<Spanned<String>>,
    /// Inputs of the `runbook` started by this step (templates in this
    /// runbook's context).
    #[serde(default)]
    pub inputs: IndexMap<Spanned<String>, Spanned<serde_json::Value>>,
    /// Expand a step template from `steps/<name>.yaml`.
    pub uses: Option<Spanned<String>>,
    /// Parameters of the `uses` template (templates in the caller's context).
    #[serde(default, rename = "with")]
    pub with: IndexMap<Spanned<String>, Spanned<serde_json::Value>>,
}

/// A `shell` step in full form.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShellSpec {
    /// The script (a template; interpolated values are shell-quoted).
    pub run: Spanned<String>,
    /// Working directory (a template).
    pub cwd: Option<Spanned<String>>,
    /// Extra environment variables (templates).
    #[serde(default)]
    pub env: IndexMap<Spanned<String>, Spanned<String>>,
    /// The interpreter and its flags, e.g. `python3` or `sh -e`; the script
    /// is passed with `-c`. Default: `bash -eo pipefail`.
    pub interpreter: Option<Spanned<String>>,
}

impl FromScalar for ShellSpec {
    fn from_scalar(run: String) -> Self {
        ShellSpec {
            run: Spanned::new(Default::default(), run),
            cwd: None,
            env: IndexMap::new(),
            interpreter: None,
        }
    }
}

/// An `approval` step in full form.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSpec {
    /// What is to be approved (a template), shown to the approvers.
    pub message: Spanned<String>,
    /// Who may decide (user names as `steward approve` sees them, the CI
    /// actor, a chat user); default: anyone who can reach the run store.
    #[serde(default)]
    pub approvers: Vec<Spanned<String>>,
    /// How long to wait for a decision, e.g. `30m`; then the step fails. A
    /// template (`{{ inputs.wait }}`) is rendered when the step starts; empty:
    /// no limit.
    pub timeout: Option<Spanned<Scalar>>,
}

impl FromScalar for ApprovalSpec {
    fn from_scalar(message: String) -> Self {
        ApprovalSpec {
            message: Spanned::new(Default::default(), message),
            approvers: Vec::new(),
            timeout: None,
        }
    }
}

/// A retry policy.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Total attempts, at least 1 (default 1: no retry).
    pub attempts: Option<Spanned<Scalar>>,
    /// Wait before the second attempt, e.g. `2s` (default `1s`).
    pub delay: Option<Spanned<Scalar>>,
    /// `fixed` (default) or `exponential` (the delay doubles each time).
    pub backoff: Option<Spanned<Scalar>>,
    /// Upper bound for an exponential delay.
    pub max_delay: Option<Spanned<Scalar>>,
    /// Randomise delays (full jitter) so that many runs don't retry in step.
    pub jitter: Option<Spanned<Scalar>>,
    /// Which failures are retried; default: all. Failed asserts are always
    /// retried, so that `retry` polls until a condition holds.
    pub on: Option<Vec<Spanned<RetryOnSpec>>>,
    /// Bound on the whole retry loop, e.g. `5m`.
    pub deadline: Option<Spanned<Scalar>>,
}

/// A kind of failure to retry.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RetryOnSpec {
    /// The attempt timed out.
    Timeout,
    /// A connection could not be made (network step kinds).
    Connect,
    /// A shell step exited with one of these codes.
    ExitCode(Vec<i32>),
    /// An HTTP answer had one of these statuses (`503`, `5xx`).
    Status(Vec<Scalar>),
}
