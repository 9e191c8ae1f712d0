//! Scheduling one list of steps: a step starts as soon as every step it
//! needs has ended, up to `max_parallel` at a time.

use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::shared::Shared;
use super::step_runner::run_step;
use crate::events::RunEvent;
use crate::outcome::{SkipReason, StepOutcome, StepStatus};
use crate::plan::Step;

/// The outcomes of a list of steps and the order they ended in.
pub struct SectionOutcome {
    /// One outcome per step, by index.
    pub outcomes: Vec<StepOutcome>,
    /// Indices of the steps that ran, in the order they ended.
    pub completed: Vec<usize>,
}

/// Why a step is skipped because of the step it needs, in a word and in
/// words.
fn blocked_by(need: &Step, outcome: &StepOutcome) -> (SkipReason, String) {
    let (reason, why) = match outcome.status {
        StepStatus::Failed => (SkipReason::NeedFailed, "failed"),
        StepStatus::Cancelled => (SkipReason::NeedStopped, "was stopped"),
        _ => (SkipReason::NeedSkipped, "was skipped"),
    };
    (reason, format!("needs `{}`, which {why}", need.id))
}

/// Runs the steps; returns when every one has an outcome. Every ready step is
/// started at once; `max_parallel` is enforced per attempt, run-wide.
pub async fn run_section(
    shared: &Arc<Shared>,
    steps: &[Arc<Step>],
    cancel: &CancellationToken,
    cleanup: bool,
) -> SectionOutcome {
    let n = steps.len();
    let mut outcomes: Vec<Option<StepOutcome>> = vec![None; n];
    let mut started = vec![false; n];
    let mut completed = Vec::with_capacity(n);
    let mut running: JoinSet<(usize, StepOutcome)> = JoinSet::new();
    let mut tasks = std::collections::HashMap::new();
    loop {
        let mut progressed = false;
        for i in 0..n {
            if started[i] {
                continue;
            }
            let step = &steps[i];
            if !step.needs.iter().all(|&j| outcomes[j].is_some()) {
                continue;
            }
            // Finished before the run was interrupted: kept as it was.
            if let Some(done) = shared.finished.get(&step.id) {
                started[i] = true;
                progressed = true;
                completed.push(i);
                outcomes[i] = Some(done.clone());
                continue;
            }
            // In cleanup lists (`on_failure`, `finally`) nothing blocks:
            // every cleanup step runs.
            let blocker = step.needs.iter().find_map(|&j| {
                let need = outcomes[j].as_ref()?;
                (!cleanup && need.blocks(steps[j].continue_on_error))
                    .then(|| blocked_by(&steps[j], need))
            });
            let skip = match blocker {
                Some(skip) => Some(skip),
                None if cancel.is_cancelled() => Some((
                    SkipReason::RunStopped,
                    "the run was stopped before it started".to_owned(),
                )),
                None => None,
            };
            started[i] = true;
            progressed = true;
            match skip {
                Some((reason, why)) => {
                    let outcome = StepOutcome::skipped(reason, why);
                    shared.record(&step.id, &outcome);
                    shared.events.emit(&RunEvent::StepFinished {
                        step: step.id.clone(),
                        outcome: outcome.clone(),
                    });
                    outcomes[i] = Some(outcome);
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
            Some(Ok((_, (i, outcome)))) => {
                completed.push(i);
                outcomes[i] = Some(outcome);
            }
            Some(Err(e)) => {
                // A panicking step task is a bug; its step fails, the run goes on.
                tracing::error!(error = %e, "step task ended abnormally");
                if let Some(&i) = tasks.get(&e.id()) {
                    outcomes[i] = Some(StepOutcome::failed(0, format!("internal error: {e}")));
                }
            }
            None => break,
        }
    }
    SectionOutcome {
        outcomes: outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    StepOutcome::skipped(SkipReason::NeverReady, "never became ready".into())
                })
            })
            .collect(),
        completed,
    }
}
