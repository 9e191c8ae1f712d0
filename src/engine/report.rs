//! The JSON of a [`RunReport`] (`run --output json`, the API's answer to
//! `?wait=true`): its fields in their order, each step's `result`,
//! `outputs` and `error` always written (`null` when there is none), the
//! run's `error` only when there is one. A step's skip reason is not in it.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::RunReport;
use crate::outcome::{RunStatus, StepOutcome, StepStatus};

#[derive(serde::Serialize)]
struct Report<'a> {
    run_id: &'a str,
    runbook: &'a str,
    status: RunStatus,
    started_at: &'a str,
    duration_ms: u64,
    inputs: &'a serde_json::Value,
    steps: Steps<'a>,
    outputs: &'a serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

struct Steps<'a>(&'a indexmap::IndexMap<String, StepOutcome>);

#[derive(serde::Serialize)]
struct Step<'a> {
    status: StepStatus,
    attempts: u32,
    duration_ms: u64,
    result: &'a serde_json::Value,
    outputs: &'a serde_json::Value,
    error: Option<&'a str>,
}

impl Serialize for Steps<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (id, o) in self.0 {
            let step = Step {
                status: o.status,
                attempts: o.attempts,
                duration_ms: o.duration_ms,
                result: &o.result,
                outputs: &o.outputs,
                error: o.error.as_deref(),
            };
            map.serialize_entry(id, &step)?;
        }
        map.end()
    }
}

impl Serialize for RunReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Report {
            run_id: &self.run_id,
            runbook: &self.runbook,
            status: self.outcome.status,
            started_at: &self.started_at,
            duration_ms: self.outcome.duration_ms,
            inputs: &self.inputs,
            steps: Steps(&self.steps),
            outputs: &self.outcome.outputs,
            error: self.outcome.error.as_deref(),
        }
        .serialize(serializer)
    }
}
