//! One run from start to finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use indexmap::IndexMap;

use super::section::run_section;
use super::step_runner::{Shared, run_step};
use super::{Cancel, RunReport, RunRequest, StepRecord};
use crate::events::{EventSink, RunEvent, Status};
use crate::plan::Step;

/// Runs a plan to its end and reports it. Never panics on bad input: every
/// problem becomes a failed step or a failed run with a message.
pub async fn execute(request: RunRequest, events: Arc<dyn EventSink>, cancel: Cancel) -> RunReport {
    let plan = request.plan.clone();
    let mut shared = Shared::new(&request, events.clone());
    let mut inputs_shown = serde_json::to_value(&request.inputs).unwrap_or_default();
    shared.redactor.redact_json(&mut inputs_shown);

    events.emit(&RunEvent::RunStarted {
        run_id: request.run_id.clone(),
        runbook: plan.name.clone(),
        source_path: plan.source_path.clone(),
        source_sha256: plan.source_sha256.clone(),
        inputs: inputs_shown.clone(),
        trigger: request.trigger.clone(),
        started_at: shared.started_at.to_rfc3339(),
    });

    let mut records: IndexMap<String, StepRecord> = IndexMap::new();
    let mut error = None;
    let status = match shared.prepare() {
        Err(e) => {
            error = Some(e);
            Status::Failed
        }
        Ok(()) => {
            let shared = Arc::new(shared);
            let status = run_phases(&shared, &cancel, &mut records, &mut error).await;
            return finish(&shared, request.run_id, status, records, error, inputs_shown).await;
        }
    };
    let shared = Arc::new(shared);
    finish(&shared, request.run_id, status, records, error, inputs_shown).await
}

async fn run_phases(
    shared: &Arc<Shared>,
    cancel: &Cancel,
    records: &mut IndexMap<String, StepRecord>,
    error: &mut Option<String>,
) -> Status {
    let main = cancel.run.child_token();
    let timed_out = Arc::new(AtomicBool::new(false));
    let timer = shared.plan.timeout.map(|limit| {
        let main = main.clone();
        let timed_out = timed_out.clone();
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            timed_out.store(true, Ordering::SeqCst);
            main.cancel();
        })
    });

    let steps: Vec<Arc<Step>> = shared.plan.steps.iter().cloned().map(Arc::new).collect();
    let outcome = run_section(shared, &steps, &main).await;
    if let Some(timer) = timer {
        timer.abort();
    }
    for (step, record) in steps.iter().zip(&outcome.records) {
        records.insert(step.id.clone(), record.clone());
    }

    let mut status = if timed_out.load(Ordering::SeqCst) {
        *error = shared.plan.timeout.map(|t| format!("the run timed out after {}", crate::step::human(t)));
        Status::TimedOut
    } else if main.is_cancelled() {
        *error = Some("the run was cancelled".into());
        Status::Cancelled
    } else if let Some((id, r)) = steps
        .iter()
        .zip(&outcome.records)
        .find(|(s, r)| r.status == Status::Failed && !s.continue_on_error)
    {
        *error = Some(format!("step `{}` failed: {}", id.id, r.error.clone().unwrap_or_default()));
        Status::Failed
    } else {
        Status::Succeeded
    };
    shared.set_status(status);

    if status == Status::Failed {
        // Compensate: the undo of each step that succeeded, newest first.
        let undos: Vec<Arc<Step>> = outcome
            .completed
            .iter()
            .rev()
            .filter(|&&i| outcome.records[i].status == Status::Succeeded)
            .filter_map(|&i| steps[i].undo.as_ref().map(|u| Arc::new((**u).clone())))
            .collect();
        if !undos.is_empty() {
            shared.events.emit(&RunEvent::Phase { phase: "undo".into() });
            for undo in undos {
                let record = run_step(shared.clone(), undo.clone(), cancel.all.child_token()).await;
                records.insert(undo.id.clone(), record);
            }
        }
        if !shared.plan.on_failure.is_empty() {
            shared.events.emit(&RunEvent::Phase { phase: "on_failure".into() });
            let steps: Vec<Arc<Step>> = shared.plan.on_failure.iter().cloned().map(Arc::new).collect();
            let outcome = run_section(shared, &steps, &cancel.all.child_token()).await;
            for (step, record) in steps.iter().zip(outcome.records) {
                records.insert(step.id.clone(), record);
            }
        }
    }
    if !shared.plan.finally.is_empty() {
        shared.events.emit(&RunEvent::Phase { phase: "finally".into() });
        let steps: Vec<Arc<Step>> = shared.plan.finally.iter().cloned().map(Arc::new).collect();
        let outcome = run_section(shared, &steps, &cancel.all.child_token()).await;
        for (step, record) in steps.iter().zip(outcome.records) {
            records.insert(step.id.clone(), record);
        }
    }
    if status == Status::Succeeded && cancel.run.is_cancelled() {
        status = Status::Cancelled;
    }
    status
}

async fn finish(
    shared: &Arc<Shared>,
    run_id: String,
    mut status: Status,
    records: IndexMap<String, StepRecord>,
    mut error: Option<String>,
    inputs: serde_json::Value,
) -> RunReport {
    let mut outputs = serde_json::Map::new();
    if status == Status::Succeeded {
        let ctx = shared.context(None, None, None);
        for (name, value) in &shared.plan.outputs {
            match shared.renderer.value(value, &ctx) {
                Ok(v) => {
                    outputs.insert(name.clone(), v);
                }
                Err(e) => {
                    status = Status::Failed;
                    error = Some(shared.redact(&format!("output `{name}`: {e}")));
                    break;
                }
            }
        }
    }
    let mut outputs = serde_json::Value::Object(outputs);
    shared.redactor.redact_json(&mut outputs);
    let duration_ms = shared.started.elapsed().as_millis() as u64;
    shared.events.emit(&RunEvent::RunFinished {
        status,
        duration_ms,
        outputs: outputs.clone(),
        error: error.clone(),
    });
    RunReport {
        run_id,
        runbook: shared.plan.name.clone(),
        status,
        started_at: shared.started_at.to_rfc3339(),
        duration_ms,
        inputs,
        steps: records,
        outputs,
        error,
    }
}
