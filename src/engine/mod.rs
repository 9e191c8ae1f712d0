//! The engine: runs a [`Plan`]: ready steps scheduled up to `max_parallel`,
//! retried, timed out, cancelled; then undo, `on_failure` and `finally`.
//! It reports through [`RunEvent`]s only.

mod attempt;
pub mod context;
mod dry_run;
mod run;
mod section;
mod shared;
mod step_runner;

use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::events::{ParentRun, Status, Trigger};
use crate::plan::Plan;
use crate::secrets::SecretStore;

pub use dry_run::{DryRun, DryStep, dry_run};
pub use run::execute;

/// A validated request to run a plan.
pub struct RunRequest {
    /// The plan.
    pub plan: Arc<Plan>,
    /// Inputs, already checked by [`crate::inputs::resolve_inputs`].
    pub inputs: IndexMap<String, serde_json::Value>,
    /// The runbook's secrets, loaded.
    pub secrets: SecretStore,
    /// What started the run.
    pub trigger: Trigger,
    /// The folder shell steps run in.
    pub workdir: PathBuf,
    /// The run's id.
    pub run_id: String,
    /// Who hosts the run: concurrency keys, approvals, child runs.
    pub control: Arc<dyn crate::kind::Control>,
    /// The run that started this one, for a child run.
    pub parent: Option<ParentRun>,
    /// What an interrupted run had done, when this continues it.
    pub resume: Option<Resume>,
}

/// What a run whose process died had done, for `steward resume`.
#[derive(Debug, Clone)]
pub struct Resume {
    /// Who resumes it.
    pub by: Trigger,
    /// When the run first started.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Steps that had finished: kept, not run again.
    pub finished: std::collections::HashMap<String, StepRecord>,
    /// Attempts already started by the steps that had not finished.
    pub attempts: std::collections::HashMap<String, u32>,
}

/// Two levels of stopping: the first Ctrl-C stops the steps and goes on to
/// `finally`; the second stops `finally` too. Besides, a host may interrupt
/// a run: it stops as if its process had died, and `steward resume`
/// continues it.
#[derive(Clone, Default)]
pub struct Cancel {
    /// Stops the run's steps; `finally` still runs.
    pub run: CancellationToken,
    /// Stops everything.
    pub all: CancellationToken,
    /// Interrupts the run: its running steps are killed and nothing more of
    /// it is recorded (no final status), so it shows as `interrupted` once
    /// its lease is free. Handled by its host.
    pub interrupt: CancellationToken,
}

/// A step's record at the end of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    /// Final status.
    pub status: Status,
    /// Attempts made.
    pub attempts: u32,
    /// Total time.
    pub duration_ms: u64,
    /// Its `result` (redacted), `null` when it didn't run.
    pub result: serde_json::Value,
    /// Its outputs (redacted).
    pub outputs: serde_json::Value,
    /// Why it failed or was skipped.
    pub error: Option<String>,
    /// Skipped because a step it needs failed (so its dependents skip too).
    #[serde(skip)]
    pub blocked: bool,
}

impl StepRecord {
    /// A step that didn't run.
    pub fn skipped(reason: String, blocked: bool) -> Self {
        StepRecord {
            status: Status::Skipped,
            attempts: 0,
            duration_ms: 0,
            result: serde_json::Value::Null,
            outputs: serde_json::json!({}),
            error: Some(reason),
            blocked,
        }
    }
}

/// The whole run, as `--output json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Run id.
    pub run_id: String,
    /// Runbook name.
    pub runbook: String,
    /// Final status.
    pub status: Status,
    /// RFC 3339.
    pub started_at: String,
    /// Total time.
    pub duration_ms: u64,
    /// Inputs, redacted.
    pub inputs: serde_json::Value,
    /// Every step that has a record, in plan order.
    pub steps: IndexMap<String, StepRecord>,
    /// The run's outputs.
    pub outputs: serde_json::Value,
    /// Why the run failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests;
