//! The `sleep` step kind.

use crate::outcome::FailureClass;
use crate::plan::SleepStep;

use crate::duration::human;
use crate::kind::{Attempt, Execute, StepContext};

impl Execute for SleepStep {
    fn describe(&self, _ctx: &StepContext<'_>) -> Result<String, String> {
        Ok(format!("sleep {}", human(self.duration)))
    }

    async fn execute(&self, ctx: &StepContext<'_>) -> Attempt {
        tokio::select! {
            () = tokio::time::sleep(self.duration) => Attempt {
                result: serde_json::json!({ "slept_ms": self.duration.as_millis() as u64 }),
                failure: None,
                exit_code: None,
                output: None,
            },
            () = ctx.cancel.cancelled() => Attempt::failed(FailureClass::Other, "cancelled"),
        }
    }
}
