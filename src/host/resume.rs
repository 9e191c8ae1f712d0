//! `steward resume RUN`: what an interrupted run had done, read back from
//! the run store, ready to go on with the plan it was started with.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::Launch;
use crate::engine::Resume;
use crate::events::{EventSink, Trigger};
use crate::outcome::{RunStatus, StepStatus};
use crate::plan::Plan;
use crate::secrets::SecretStore;
use crate::store::{RunStore, StoreError};

/// Why a run can't be resumed.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// No such run in the store.
    #[error("no run `{0}` in the run store")]
    NoSuchRun(String),
    /// A live process is running it.
    #[error("run {0} is still running (its process is alive)")]
    Alive(String),
    /// It ended.
    #[error("run {run} has ended ({status}); only an interrupted run can be resumed")]
    Ended {
        /// Run id.
        run: String,
        /// Its status.
        status: RunStatus,
    },
    /// The store has no plan for it (recorded by an older steward).
    #[error("run {0} has no stored plan (it was recorded by an older steward)")]
    NoPlan(String),
    /// The stored plan can't be read.
    #[error("run {run}: the stored plan is unreadable: {error}")]
    BadPlan {
        /// Run id.
        run: String,
        /// Why.
        error: String,
    },
    /// A secret is missing.
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A [`Launch`] that continues the interrupted run `run_id`: its stored
/// plan, inputs and finished steps; secrets loaded anew.
pub fn prepare_resume(
    store: &dyn RunStore,
    run_id: &str,
    by: Trigger,
    secrets_file: Option<&Path>,
    display: Box<dyn EventSink>,
) -> Result<Launch, ResumeError> {
    let detail = store
        .get_run(run_id)?
        .ok_or_else(|| ResumeError::NoSuchRun(run_id.to_owned()))?;
    match detail.run.status {
        RunStatus::Interrupted => {}
        RunStatus::Running | RunStatus::Waiting => {
            return Err(ResumeError::Alive(run_id.to_owned()));
        }
        status => {
            return Err(ResumeError::Ended {
                run: run_id.to_owned(),
                status,
            });
        }
    }
    let json = store
        .load_plan(run_id)?
        .ok_or_else(|| ResumeError::NoPlan(run_id.to_owned()))?;
    let plan: Plan = serde_json::from_str(&json).map_err(|e| ResumeError::BadPlan {
        run: run_id.to_owned(),
        error: e.to_string(),
    })?;
    let secrets = SecretStore::from_env(&plan.secrets, secrets_file)?;
    let inputs = match &detail.run.inputs {
        serde_json::Value::Object(map) => map.clone().into_iter().collect(),
        _ => Default::default(),
    };
    let mut finished = HashMap::new();
    let mut attempts = HashMap::new();
    // Ended steps are kept as the store has them (a skipped one with its
    // reason, which says whether it blocks the steps that need it); the
    // others run again, their attempts counted on.
    for step in &detail.steps {
        match step.outcome.status {
            StepStatus::Succeeded | StepStatus::Failed | StepStatus::Skipped => {
                finished.insert(step.step.clone(), step.outcome.clone());
            }
            StepStatus::Running | StepStatus::Waiting | StepStatus::Cancelled => {
                attempts.insert(step.step.clone(), step.outcome.attempts);
            }
        }
    }
    let started_at = chrono::DateTime::parse_from_rfc3339(&detail.run.started_at)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    let parent = match (&detail.run.parent_run_id, &detail.run.parent_step) {
        (Some(run_id), Some(step)) => Some(crate::events::ParentRun {
            run_id: run_id.clone(),
            step: step.clone(),
        }),
        _ => None,
    };
    Ok(Launch {
        plan: Arc::new(plan),
        inputs,
        secrets,
        run_id: run_id.to_owned(),
        parent,
        resume: Some(Resume {
            by,
            started_at,
            finished,
            attempts,
        }),
        display,
    })
}
