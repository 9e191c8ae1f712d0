//! One run from start to finish: vars, the main steps, outputs; on failure
//! the undo steps and `on_failure`; then `finally`, always.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use indexmap::IndexMap;

use super::section::{SectionOutcome, run_section};
use super::shared::Shared;
use super::step_runner::run_step;
use super::{Cancel, RunReport, RunRequest};
use crate::events::{EventSink, RunEvent};
use crate::outcome::{RunOutcome, RunStatus, StepOutcome, StepStatus};
use crate::plan::Step;

/// Runs a plan to its end and reports it. Never panics on bad input: every
/// problem becomes a failed step or a failed run with a message.
pub async fn execute(request: RunRequest, events: Arc<dyn EventSink>, cancel: Cancel) -> RunReport {
    let plan = request.plan.clone();
    let mut shared = Shared::new(&request, events.clone());
    let mut inputs_shown = serde_json::to_value(&request.inputs).unwrap_or_default();
    shared.redactor.redact_json(&mut inputs_shown);

    match &request.resume {
        Some(resume) => events.emit(&RunEvent::RunResumed {
            by: resume.by.clone(),
            finished_steps: resume.finished.len(),
        }),
        None => events.emit(&RunEvent::RunStarted {
            run_id: request.run_id.clone(),
            runbook: plan.name.clone(),
            source_path: plan.source_path.clone(),
            source_sha256: plan.source_sha256.clone(),
            inputs: inputs_shown.clone(),
            trigger: request.trigger.clone(),
            started_at: shared.started_at.to_rfc3339(),
            parent: request.parent.clone(),
        }),
    }

    let mut run = RunState {
        steps: IndexMap::new(),
        outcome: RunOutcome {
            status: RunStatus::Succeeded,
            duration_ms: 0,
            outputs: serde_json::json!({}),
            error: None,
        },
    };
    shared.stop_all = cancel.all.clone();
    shared.interrupt = cancel.interrupt.clone();
    let prepared = shared.prepare();
    let shared = Arc::new(shared);
    match prepared {
        Ok(()) => match concurrency_key(&shared, &cancel).await {
            // Held until the run (its `finally` included) has ended.
            Ok(_key) => run_phases(&shared, &cancel, &mut run).await,
            Err((status, e)) => run.fail(status, e),
        },
        Err(e) => run.fail(RunStatus::Failed, e),
    }

    let RunState { steps, mut outcome } = run;
    shared.redactor.redact_json(&mut outcome.outputs);
    outcome.duration_ms = shared.started.elapsed().as_millis() as u64;
    shared.events.emit(&RunEvent::RunFinished(outcome.clone()));
    RunReport {
        run_id: request.run_id,
        runbook: shared.plan.name.clone(),
        started_at: shared.started_at.to_rfc3339(),
        inputs: inputs_shown,
        steps,
        outcome,
    }
}

/// Takes the run's concurrency key, if it has one: waits for it, or fails
/// at once with `on_conflict: fail`.
async fn concurrency_key(
    shared: &Shared,
    cancel: &Cancel,
) -> Result<Option<crate::kind::Guard>, (RunStatus, String)> {
    let Some(concurrency) = &shared.plan.concurrency else {
        return Ok(None);
    };
    let ctx = shared.context(None, None, None);
    let key = shared
        .renderer
        .render(&concurrency.key, &ctx)
        .map_err(|e| {
            (
                RunStatus::Failed,
                shared.redact(&format!("concurrency key: {e}")),
            )
        })?;
    let wait = concurrency.on_conflict == crate::plan::OnConflict::Wait;
    let guard = shared
        .control
        .acquire(
            &shared.run_id,
            &key,
            wait,
            shared.events.as_ref(),
            &cancel.run,
        )
        .await
        .map_err(|e| {
            let status = if cancel.run.is_cancelled() {
                RunStatus::Cancelled
            } else {
                RunStatus::Failed
            };
            (status, shared.redact(&e.to_string()))
        })?;
    Ok(Some(guard))
}

/// The run so far: its steps' outcomes and its own (its duration is set at
/// the end).
struct RunState {
    steps: IndexMap<String, StepOutcome>,
    outcome: RunOutcome,
}

impl RunState {
    /// The first failure decides the run's status and message.
    fn fail(&mut self, status: RunStatus, error: String) {
        if self.outcome.status == RunStatus::Succeeded {
            self.outcome.status = status;
            self.outcome.error = Some(error);
        }
    }

    fn keep(&mut self, steps: &[Arc<Step>], section: &SectionOutcome) {
        for (step, outcome) in steps.iter().zip(&section.outcomes) {
            self.steps.insert(step.id.clone(), outcome.clone());
        }
    }
}

/// The first step of a list that failed without `continue_on_error`.
fn first_failure<'a>(
    steps: &'a [Arc<Step>],
    section: &'a SectionOutcome,
) -> Option<(&'a Step, &'a StepOutcome)> {
    section
        .completed
        .iter()
        .map(|&i| (&*steps[i], &section.outcomes[i]))
        .find(|(s, o)| o.status == StepStatus::Failed && !s.continue_on_error)
}

fn arcs(steps: &[Step]) -> Vec<Arc<Step>> {
    steps.iter().cloned().map(Arc::new).collect()
}

async fn run_phases(shared: &Arc<Shared>, cancel: &Cancel, run: &mut RunState) {
    let main = cancel.run.child_token();
    let timed_out = Arc::new(AtomicBool::new(false));
    let timer = shared.plan.timeout.map(|limit| {
        let (main, timed_out, shared) = (main.clone(), timed_out.clone(), shared.clone());
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            timed_out.store(true, Ordering::SeqCst);
            shared.set_stop_reason(format!(
                "stopped: the run timed out after {}",
                crate::duration::human(limit)
            ));
            main.cancel();
        })
    });
    let steps = arcs(&shared.plan.steps);
    let section = run_section(shared, &steps, &main, false).await;
    if let Some(timer) = timer {
        timer.abort();
    }
    run.keep(&steps, &section);

    if timed_out.load(Ordering::SeqCst) {
        let limit = shared
            .plan
            .timeout
            .map(crate::duration::human)
            .unwrap_or_default();
        run.fail(
            RunStatus::TimedOut,
            format!("the run timed out after {limit}"),
        );
    } else if main.is_cancelled() {
        run.fail(RunStatus::Cancelled, "the run was cancelled".into());
    } else if let Some((step, failed)) = first_failure(&steps, &section) {
        let why = failed.error.clone().unwrap_or_default();
        run.fail(
            RunStatus::Failed,
            format!("step `{}` failed: {why}", step.id),
        );
    } else {
        render_outputs(shared, run);
    }
    shared.set_status(run.outcome.status);

    // A failure (a timeout included) is compensated; a cancellation only
    // goes on to `finally`, as the operator asked to stop.
    if matches!(run.outcome.status, RunStatus::Failed | RunStatus::TimedOut) {
        let undos: Vec<Arc<Step>> = section
            .completed
            .iter()
            .rev()
            .filter(|&&i| section.outcomes[i].status == StepStatus::Succeeded)
            .filter_map(|&i| steps[i].undo.as_ref().map(|u| Arc::new((**u).clone())))
            .collect();
        if !undos.is_empty() {
            shared.events.emit(&RunEvent::Phase {
                phase: "undo".into(),
            });
            for undo in undos {
                let outcome = match shared.finished.get(&undo.id) {
                    Some(done) => done.clone(),
                    None => run_step(shared.clone(), undo.clone(), cancel.all.child_token()).await,
                };
                run.steps.insert(undo.id.clone(), outcome);
            }
        }
        if !shared.plan.on_failure.is_empty() {
            shared.events.emit(&RunEvent::Phase {
                phase: "on_failure".into(),
            });
            let steps = arcs(&shared.plan.on_failure);
            let section = run_section(shared, &steps, &cancel.all.child_token(), true).await;
            run.keep(&steps, &section);
        }
    }
    if !shared.plan.finally.is_empty() {
        shared.events.emit(&RunEvent::Phase {
            phase: "finally".into(),
        });
        let steps = arcs(&shared.plan.finally);
        let section = run_section(shared, &steps, &cancel.all.child_token(), true).await;
        run.keep(&steps, &section);
        if let Some((step, failed)) = first_failure(&steps, &section) {
            let why = failed.error.clone().unwrap_or_default();
            run.fail(
                RunStatus::Failed,
                format!("finally step `{}` failed: {why}", step.id),
            );
        }
    }
    if cancel.run.is_cancelled() {
        run.fail(RunStatus::Cancelled, "the run was cancelled".into());
    }
}

/// The run's outputs, rendered once the main steps succeeded; a failing one
/// fails the run (and so triggers the failure handling).
fn render_outputs(shared: &Shared, run: &mut RunState) {
    let ctx = shared.context(None, None, None);
    let mut outputs = serde_json::Map::new();
    for (name, value) in &shared.plan.outputs {
        match shared.renderer.value(value, &ctx) {
            Ok(v) => {
                outputs.insert(name.clone(), v);
            }
            Err(e) => {
                run.fail(
                    RunStatus::Failed,
                    shared.redact(&format!("output `{name}`: {e}")),
                );
                return;
            }
        }
    }
    run.outcome.outputs = serde_json::Value::Object(outputs);
}
