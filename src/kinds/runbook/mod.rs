//! The `runbook` step kind: a child run of another runbook of the project
//! (`runbook: NAME` with `inputs:`), linked to this run both ways.

mod compile;
mod run;

use serde::{Deserialize, Serialize};

use crate::kind::{Attempt, CompileCx, DescribeError, Kind, StepContext};
use crate::syntax::Spanned;
use crate::template::TemplatedValue as Value;

/// A compiled `runbook` step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunbookStep {
    /// The child runbook's name.
    pub name: String,
    /// Its inputs, rendered when the step starts.
    pub inputs: Vec<(String, Value)>,
}

impl Kind for RunbookStep {
    const KEY: &'static str = "runbook";
    type Spec = String;

    fn compile(spec: &Spanned<String>, cx: &mut CompileCx<'_, '_>) -> Option<Self> {
        compile::compile(spec, cx)
    }

    fn describe(&self, ctx: &StepContext<'_>) -> Result<String, DescribeError> {
        self.describe_attempt(ctx)
    }

    fn source(&self) -> String {
        format!("runbook {}", self.name)
    }

    async fn execute(&self, ctx: &StepContext<'_>) -> Attempt {
        self.run_attempt(ctx).await
    }
}
