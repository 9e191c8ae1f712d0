//! One step: `when`, `for_each`, then its attempts; publishes its record.

use std::sync::Arc;
use std::time::Instant;

use minijinja::Value;
use tokio_util::sync::CancellationToken;

use super::StepRecord;
use super::attempt::attempts;
use super::shared::Shared;
use crate::events::{RunEvent, Status};
use crate::plan::{ForEach, Step};
use crate::template::to_json;

/// Runs one step to its end and publishes its record.
pub async fn run_step(
    shared: Arc<Shared>,
    step: Arc<Step>,
    cancel: CancellationToken,
) -> StepRecord {
    let started = Instant::now();
    let mut record = run_step_inner(&shared, &step, &cancel).await;
    record.duration_ms = started.elapsed().as_millis() as u64;
    shared.redactor.redact_json(&mut record.result);
    shared.redactor.redact_json(&mut record.outputs);
    record.error = record.error.map(|e| shared.redact(&e));
    shared.record(&step.id, &record);
    shared.events.emit(&RunEvent::StepFinished {
        step: step.id.clone(),
        status: record.status,
        attempts: record.attempts,
        duration_ms: record.duration_ms,
        error: record.error.clone(),
        outputs: (record.outputs != serde_json::json!({})).then(|| record.outputs.clone()),
        result: record.result.clone(),
    });
    record
}

pub(super) fn failed(attempts: u32, error: String) -> StepRecord {
    StepRecord {
        status: Status::Failed,
        attempts,
        duration_ms: 0,
        result: serde_json::Value::Null,
        outputs: serde_json::json!({}),
        error: Some(error),
        blocked: false,
    }
}

async fn run_step_inner(
    shared: &Arc<Shared>,
    step: &Arc<Step>,
    cancel: &CancellationToken,
) -> StepRecord {
    let base = shared.context(None, None, None);
    let params = match &step.template {
        Some(t) => {
            let mut map = serde_json::Map::new();
            for (name, value) in &t.params {
                match shared.renderer.value(value, &base) {
                    Ok(v) => {
                        map.insert(name.clone(), v);
                    }
                    Err(e) => return failed(0, format!("parameter `{name}`: {e}")),
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
                return StepRecord::skipped(format!("`when: {}` is false", when.source), false);
            }
            Err(e) => return failed(0, format!("`when`: {e}")),
        }
    }
    let items = match &step.for_each {
        None => return attempts(shared, step, None, params.as_ref(), cancel).await,
        Some(ForEach::Expr(expr)) => {
            let ctx = shared.context(None, params.as_ref(), None);
            match shared.renderer.eval(expr, &ctx).map(|v| to_json(&v)) {
                Ok(Ok(serde_json::Value::Array(items))) => items,
                Ok(Ok(other)) => return failed(0, format!("`for_each` gave {other}, not a list")),
                Ok(Err(e)) | Err(e) => return failed(0, format!("`for_each`: {e}")),
            }
        }
        Some(ForEach::Items(values)) => {
            let ctx = shared.context(None, params.as_ref(), None);
            let mut items = Vec::new();
            for v in values {
                match shared.renderer.value(v, &ctx) {
                    Ok(v) => items.push(v),
                    Err(e) => return failed(0, format!("`for_each`: {e}")),
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
) -> StepRecord {
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
    let mut done: Vec<(usize, StepRecord)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(r) => done.push(r),
            Err(e) => done.push((usize::MAX, failed(0, format!("internal error: {e}")))),
        }
    }
    done.sort_by_key(|(i, _)| *i);
    let status = if done.iter().any(|(_, r)| r.status == Status::Cancelled) {
        Status::Cancelled
    } else if done.iter().any(|(_, r)| r.status == Status::Failed) {
        Status::Failed
    } else {
        Status::Succeeded
    };
    let error = done
        .iter()
        .find(|(_, r)| r.status != Status::Succeeded)
        .map(|(i, r)| format!("item {i}: {}", r.error.clone().unwrap_or_default()));
    StepRecord {
        status,
        attempts: done.iter().map(|(_, r)| r.attempts).max().unwrap_or(0),
        duration_ms: 0,
        result: serde_json::Value::Array(done.iter().map(|(_, r)| r.result.clone()).collect()),
        outputs: serde_json::Value::Array(done.iter().map(|(_, r)| r.outputs.clone()).collect()),
        error,
        blocked: false,
    }
}
