//! One step: `when`, `for_each`, then its attempts; publishes its outcome.

use std::sync::Arc;
use std::time::Instant;

use minijinja::Value;
use tokio_util::sync::CancellationToken;

use super::attempt::attempts;
use super::shared::Shared;
use crate::events::RunEvent;
use crate::outcome::{SkipReason, StepOutcome, StepStatus};
use crate::plan::{ForEach, Step};
use crate::template::to_json;

/// Runs one step to its end and publishes its outcome.
pub async fn run_step(
    shared: Arc<Shared>,
    step: Arc<Step>,
    cancel: CancellationToken,
) -> StepOutcome {
    let started = Instant::now();
    let mut outcome = run_step_inner(&shared, &step, &cancel).await;
    outcome.duration_ms = started.elapsed().as_millis() as u64;
    shared.redactor.redact_json(&mut outcome.result);
    shared.redactor.redact_json(&mut outcome.outputs);
    outcome.error = outcome.error.map(|e| shared.redact(&e));
    shared.record(&step.id, &outcome);
    shared.events.emit(&RunEvent::StepFinished {
        step: step.id.clone(),
        outcome: outcome.clone(),
    });
    outcome
}

async fn run_step_inner(
    shared: &Arc<Shared>,
    step: &Arc<Step>,
    cancel: &CancellationToken,
) -> StepOutcome {
    let base = shared.context(None, None, None);
    let params = match &step.template {
        Some(t) => {
            let mut map = serde_json::Map::new();
            for (name, value) in &t.params {
                match shared.renderer.value(value, &base) {
                    Ok(v) => {
                        map.insert(name.clone(), v);
                    }
                    Err(e) => return StepOutcome::failed(0, format!("parameter `{name}`: {e}")),
                }
            }
            Some(Value::from_serialize(&map))
        }
        None => None,
    };
    if let Some(when) = &step.when {
        let ctx = shared.context(None, params.as_ref(), None);
        match shared.renderer.eval(when, &ctx) {
            Ok(v) if v.is_true() => {}
            Ok(_) => {
                let why = format!("`when: {}` is false", when.source);
                return StepOutcome::skipped(SkipReason::WhenFalse, why);
            }
            Err(e) => return StepOutcome::failed(0, format!("`when`: {e}")),
        }
    }
    let items = match &step.for_each {
        None => return attempts(shared, step, None, params.as_ref(), cancel).await,
        Some(ForEach::Expr(expr)) => {
            let ctx = shared.context(None, params.as_ref(), None);
            match shared.renderer.eval(expr, &ctx).map(|v| to_json(&v)) {
                Ok(Ok(serde_json::Value::Array(items))) => items,
                Ok(Ok(other)) => {
                    return StepOutcome::failed(0, format!("`for_each` gave {other}, not a list"));
                }
                Ok(Err(e)) | Err(e) => return StepOutcome::failed(0, format!("`for_each`: {e}")),
            }
        }
        Some(ForEach::Items(values)) => {
            let ctx = shared.context(None, params.as_ref(), None);
            let mut items = Vec::new();
            for v in values {
                match shared.renderer.value(v, &ctx) {
                    Ok(v) => items.push(v),
                    Err(e) => return StepOutcome::failed(0, format!("`for_each`: {e}")),
                }
            }
            items
        }
    };
    for_each(shared, step, items, params, cancel).await
}

async fn for_each(
    shared: &Arc<Shared>,
    step: &Arc<Step>,
    items: Vec<serde_json::Value>,
    params: Option<Value>,
    cancel: &CancellationToken,
) -> StepOutcome {
    let mut set = tokio::task::JoinSet::new();
    for (index, item) in items.into_iter().enumerate() {
        let (shared, step, params, cancel) =
            (shared.clone(), step.clone(), params.clone(), cancel.clone());
        set.spawn(async move {
            let item = (index, Value::from_serialize(&item));
            (
                index,
                attempts(&shared, &step, Some(item), params.as_ref(), &cancel).await,
            )
        });
    }
    let mut done: Vec<(usize, StepOutcome)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(r) => done.push(r),
            Err(e) => done.push((
                usize::MAX,
                StepOutcome::failed(0, format!("internal error: {e}")),
            )),
        }
    }
    done.sort_by_key(|(i, _)| *i);
    let status = if done.iter().any(|(_, o)| o.status == StepStatus::Cancelled) {
        StepStatus::Cancelled
    } else if done.iter().any(|(_, o)| o.status == StepStatus::Failed) {
        StepStatus::Failed
    } else {
        StepStatus::Succeeded
    };
    let error = done
        .iter()
        .find(|(_, o)| o.status != StepStatus::Succeeded)
        .map(|(i, o)| format!("item {i}: {}", o.error.clone().unwrap_or_default()));
    StepOutcome {
        error,
        result: serde_json::Value::Array(done.iter().map(|(_, o)| o.result.clone()).collect()),
        outputs: serde_json::Value::Array(done.iter().map(|(_, o)| o.outputs.clone()).collect()),
        ..StepOutcome::new(
            status,
            done.iter().map(|(_, o)| o.attempts).max().unwrap_or(0),
        )
    }
}
