//! Scheduling one list of steps: a step starts as soon as every step it
//! needs has ended, up to `max_parallel` at a time.

use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::StepRecord;
use super::shared::Shared;
use super::step_runner::run_step;
use crate::events::{RunEvent, Status};
use crate::plan::Step;

/// The records of a list of steps and the order they ended in.
pub struct SectionOutcome {
    /// One record per step, by index.
    pub records: Vec<StepRecord>,
    /// Indices of the steps that ran, in the order they ended.
    pub completed: Vec<usize>,
}

/// Whether a step's end stops the steps that need it. In cleanup lists
/// (`on_failure`, `finally`) nothing does: every cleanup step runs.
fn blocks(step: &Step, record: &StepRecord, cleanup: bool) -> bool {
    if cleanup {
        return false;
    }
    match record.status {
        Status::Failed => !step.continue_on_error,
        Status::Skipped => record.blocked,
        Status::Cancelled | Status::TimedOut => true,
        _ => false,
    }
}

/// Runs the steps; returns when every one has a record. Every ready step is
/// started at once; `max_parallel` is enforced per attempt, run-wide.
pub async fn run_section(
    shared: &Arc<Shared>,
    steps: &[Arc<Step>],
    cancel: &CancellationToken,
    cleanup: bool,
) -> SectionOutcome {
    let n = steps.len();
    let mut records: Vec<Option<StepRecord>> = vec![None; n];
    let mut started = vec![false; n];
    let mut completed = Vec::with_capacity(n);
    let mut running: JoinSet<(usize, StepRecord)> = JoinSet::new();
    let mut tasks = std::collections::HashMap::new();
    loop {
        let mut progressed = false;
        for i in 0..n {
            if started[i] {
                continue;
            }
            let step = &steps[i];
            if !step.needs.iter().all(|&j| records[j].is_some()) {
                continue;
            }
            // Finished before the run was interrupted: kept as it was.
            if let Some(done) = shared.finished.get(&step.id) {
                started[i] = true;
                progressed = true;
                completed.push(i);
                records[i] = Some(done.clone());
                continue;
            }
            let blocker = step.needs.iter().find(|&&j| {
                records[j]
                    .as_ref()
                    .is_some_and(|r| blocks(&steps[j], r, cleanup))
            });
            let skip = match blocker {
                Some(&j) => {
                    let why = match records[j].as_ref().map(|r| r.status) {
                        Some(Status::Failed) => "failed",
                        Some(Status::Cancelled | Status::TimedOut) => "was stopped",
                        _ => "was skipped",
                    };
                    Some(format!("needs `{}`, which {why}", steps[j].id))
                }
                None if cancel.is_cancelled() => {
                    Some("the run was stopped before it started".to_owned())
                }
                None => None,
            };
            started[i] = true;
            progressed = true;
            match skip {
                Some(reason) => {
                    let record = StepRecord::skipped(reason, true);
                    shared.record(&step.id, &record);
                    shared.events.emit(&RunEvent::StepFinished {
                        step: step.id.clone(),
                        status: Status::Skipped,
                        attempts: 0,
                        duration_ms: 0,
                        error: record.error.clone(),
                        outputs: None,
                        result: serde_json::Value::Null,
                    });
                    records[i] = Some(record);
                }
                None => {
                    let shared = shared.clone();
                    let step = step.clone();
                    let token = cancel.child_token();
                    let handle =
                        running.spawn(async move { (i, run_step(shared, step, token).await) });
                    tasks.insert(handle.id(), i);
                }
            }
        }
        if progressed {
            continue;
        }
        match running.join_next_with_id().await {
            Some(Ok((_, (i, record)))) => {
                completed.push(i);
                records[i] = Some(record);
            }
            Some(Err(e)) => {
                // A panicking step task is a bug; its step fails, the run goes on.
                tracing::error!(error = %e, "step task ended abnormally");
                if let Some(&i) = tasks.get(&e.id()) {
                    records[i] = Some(StepRecord {
                        status: Status::Failed,
                        attempts: 0,
                        duration_ms: 0,
                        result: serde_json::Value::Null,
                        outputs: serde_json::json!({}),
                        error: Some(format!("internal error: {e}")),
                        blocked: false,
                    });
                }
            }
            None => break,
        }
    }
    SectionOutcome {
        records: records
            .into_iter()
            .map(|r| r.unwrap_or_else(|| StepRecord::skipped("never became ready".into(), true)))
            .collect(),
        completed,
    }
}
