//! The `sleep` step kind: `sleep: 10s` waits that long (a duration, or a
//! template over `inputs`/`params` resolved when the run starts).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::human;
use crate::kind::compile::values;
use crate::kind::{Attempt, CompileCx, DescribeError, Kind, StepContext};
use crate::outcome::FailureClass;
use crate::syntax::{Scalar, Spanned};

/// A compiled `sleep` step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SleepStep {
    /// How long.
    #[serde(with = "crate::duration::millis")]
    pub duration: Duration,
}

impl Kind for SleepStep {
    const KEY: &'static str = "sleep";
    type Spec = Scalar;

    fn compile(spec: &Spanned<Scalar>, cx: &mut CompileCx<'_, '_>) -> Option<Self> {
        values::duration(spec, cx.params, cx.diagnostics).map(|duration| SleepStep { duration })
    }

    fn describe(&self, _ctx: &StepContext<'_>) -> Result<String, DescribeError> {
        Ok(self.source())
    }

    fn source(&self) -> String {
        format!("sleep {}", human(self.duration))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_sleep_step_reads_back() {
        let step: SleepStep = serde_json::from_str(r#"{"duration":1500}"#).expect("stored form");
        assert_eq!(step.duration, Duration::from_millis(1500));
        assert_eq!(step.source(), "sleep 1.5s");
    }
}
