//! `runbook`: starts another runbook of the project as a child run with
//! its own id, linked to this run, and waits for it. The step's `result` is
//! the child's `run_id`, `status` and `outputs`; a child that doesn't
//! succeed fails the step.

use indexmap::IndexMap;

use crate::events::ParentRun;
use crate::kind::ChildRun;
use crate::kind::{Attempt, DescribeError, Failure, StepContext};

use super::RunbookStep;
use crate::outcome::{FailureClass, RunStatus};

impl RunbookStep {
    fn inputs(&self, ctx: &StepContext<'_>) -> Result<IndexMap<String, serde_json::Value>, String> {
        let mut inputs = IndexMap::new();
        for (name, value) in &self.inputs {
            let v = ctx
                .renderer
                .value(value, ctx.ctx)
                .map_err(|e| format!("input `{name}`: {e}"))?;
            inputs.insert(name.clone(), v);
        }
        Ok(inputs)
    }
}

impl RunbookStep {
    pub(super) fn describe_attempt(&self, ctx: &StepContext<'_>) -> Result<String, DescribeError> {
        let inputs = self.inputs(ctx).map_err(|e| ctx.cannot_describe(e))?;
        let shown: Vec<String> = inputs
            .iter()
            .map(|(k, v)| {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                format!("{k}={}", ctx.redactor.redact(&v))
            })
            .collect();
        Ok(format!("runbook {} {}", self.name, shown.join(" "))
            .trim_end()
            .to_owned())
    }

    pub(super) async fn run_attempt(&self, ctx: &StepContext<'_>) -> Attempt {
        let inputs = match self.inputs(ctx) {
            Ok(i) => i,
            Err(e) => return Attempt::failed(FailureClass::Other, e.to_string()),
        };
        let child = ChildRun {
            parent: ParentRun {
                run_id: ctx.run_id.to_owned(),
                step: ctx.step_id.to_owned(),
            },
            runbook: self.name.clone(),
            inputs,
            cancel: ctx.cancel.child_token(),
            stop_all: ctx.stop_all.child_token(),
            interrupt: ctx.interrupt.child_token(),
            events: ctx.events.clone(),
        };
        let (run_id, outcome) = match ctx.control.run_child(child).await {
            Ok(ended) => (ended.run_id, ended.outcome),
            Err(e) => return Attempt::failed(FailureClass::Other, e.to_string()),
        };
        let result = serde_json::json!({
            "run_id": run_id,
            "status": outcome.status.as_str(),
            "outputs": outcome.outputs,
        });
        let failure = (outcome.status != RunStatus::Succeeded).then(|| Failure {
            class: FailureClass::Other,
            message: format!(
                "child run {} of `{}` {}{}",
                run_id,
                self.name,
                outcome.status,
                outcome.error.map(|e| format!(": {e}")).unwrap_or_default()
            ),
        });
        Attempt {
            result,
            failure,
            exit_code: None,
            output: None,
        }
    }
}
