//! The engine: runs a [`Plan`]: ready steps scheduled up to `max_parallel`,
//! retried, timed out, cancelled; then undo, `on_failure` and `finally`.
//! It reports through [`RunEvent`]s only.

mod attempt;
pub mod context;
mod dry_run;
mod report;
mod run;
mod section;
mod shared;
mod step_runner;

use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

use crate::events::{ParentRun, Trigger};
use crate::outcome::{RunOutcome, StepOutcome};
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
    pub finished: std::collections::HashMap<String, StepOutcome>,
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

/// The whole run: what `--output json` prints (its JSON is written in
/// `engine/report.rs`) and what the API's `?wait=true` answers.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Run id.
    pub run_id: String,
    /// Runbook name.
    pub runbook: String,
    /// RFC 3339.
    pub started_at: String,
    /// Inputs, redacted.
    pub inputs: serde_json::Value,
    /// Every step that has an outcome, in plan order.
    pub steps: IndexMap<String, StepOutcome>,
    /// How the run ended.
    pub outcome: RunOutcome,
}

#[cfg(test)]
mod tests;
