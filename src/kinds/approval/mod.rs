//! The `approval` step kind: the run waits until someone approves or
//! rejects it (see `run.rs`).

mod compile;
mod run;

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::kind::{Attempt, CompileCx, DescribeError, Kind, StepContext};
use crate::syntax::{FromScalar, Scalar, Spanned, StrOr};
use crate::template::Template;

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

/// A compiled `approval` step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApprovalStep {
    /// What is to be approved.
    pub message: Template,
    /// Who may decide; empty: anyone.
    pub approvers: Vec<String>,
    /// How long to wait for a decision.
    #[serde(with = "crate::duration::millis_opt")]
    pub timeout: Option<Duration>,
    /// A `timeout` given as a template (`{{ inputs.ack_within }}`), rendered
    /// when the step starts: a duration, or empty for no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_from: Option<Template>,
}

impl Kind for ApprovalStep {
    const KEY: &'static str = "approval";
    type Spec = StrOr<ApprovalSpec>;

    fn compile(spec: &Spanned<StrOr<ApprovalSpec>>, cx: &mut CompileCx<'_, '_>) -> Option<Self> {
        compile::compile(
            spec,
            cx.checker,
            cx.scope,
            cx.params,
            cx.diagnostics,
            cx.refs,
        )
    }

    fn describe(&self, ctx: &StepContext<'_>) -> Result<String, DescribeError> {
        self.describe_attempt(ctx)
    }

    fn source(&self) -> String {
        format!("approval: {}", self.message.source)
    }

    async fn execute(&self, ctx: &StepContext<'_>) -> Attempt {
        self.run_attempt(ctx).await
    }
}
