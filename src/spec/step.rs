//! A step, as written in a runbook or a step template.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::kind::Kind;
use crate::syntax::{OneOrMany, Scalar, Spanned};

macro_rules! step_spec {
    ($($(#[doc = $doc:literal])* $key:ident : $variant:ident($ty:path),)*) => {
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
            $($(#[doc = $doc])* pub $key: Option<Spanned<<$ty as Kind>::Spec>>,)*
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
    };
}

crate::kinds::with_kinds!(step_spec);

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
