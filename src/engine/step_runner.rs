//! One step: `when`, `for_each`, attempts with timeout, assert and retry,
//! then outputs.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use minijinja::Value;
use tokio_util::sync::CancellationToken;

use super::StepRecord;
use super::context::{Renderer, StepsView, to_json};
use super::retry::{FailureClass, GiveUp, RetryDecision};
use crate::events::{EventSink, RunEvent, Status, Trigger};
use crate::plan::{ForEach, Plan, Step};
use crate::secrets::Redactor;
use crate::step::{Attempt, Failure, StepContext, human};

/// What every step of a run shares.
pub struct Shared {
    /// Run id.
    pub run_id: String,
    /// The plan.
    pub plan: Arc<Plan>,
    /// Templates, parsed once.
    pub renderer: Renderer,
    /// Masks secrets.
    pub redactor: Redactor,
    /// Where events go.
    pub events: Arc<dyn EventSink>,
    /// `steps` of the template context.
    pub steps: Arc<StepsView>,
    /// `inputs`.
    pub inputs: Value,
    /// `secrets`.
    pub secrets: Value,
    /// `env`: the process environment.
    pub env: Value,
    /// `vars`.
    pub vars: Value,
    /// The runbook's `env:`, rendered.
    pub run_env: Vec<(String, String)>,
    /// Where shell steps run.
    pub workdir: PathBuf,
    /// What started the run.
    pub trigger: Trigger,
    /// When it started.
    pub started: Instant,
    /// When it started, wall clock.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// The run's status so far (`run.status` in `finally`).
    pub status: Mutex<Status>,
    /// Attempt slots when `max_parallel` is set: every attempt (of any step
    /// or `for_each` item) holds one while it runs.
    pub slots: Option<Arc<tokio::sync::Semaphore>>,
    /// Connection pools and other per-run resources of the step kinds.
    pub resources: crate::step::Resources,
    /// Why the run's steps are being stopped (its timeout), if known.
    pub stop_reason: Mutex<Option<String>>,
}

impl Shared {
    /// The shared state of a new run.
    pub fn new(request: &super::RunRequest, events: Arc<dyn EventSink>) -> Self {
        let plan = request.plan.clone();
        let ids: Vec<String> = plan
            .all_steps()
            .flat_map(|s| {
                std::iter::once(s.id.clone()).chain(s.undo.as_ref().map(|u| u.id.clone()))
            })
            .collect();
        let secrets: indexmap::IndexMap<&str, &str> = request.secrets.iter().collect();
        Shared {
            run_id: request.run_id.clone(),
            plan,
            renderer: Renderer::default(),
            redactor: run_redactor(&request.secrets),
            events,
            steps: Arc::new(StepsView::new(ids)),
            inputs: Value::from_serialize(&request.inputs),
            secrets: Value::from_serialize(&secrets),
            env: Value::from_serialize(
                std::env::vars().collect::<indexmap::IndexMap<String, String>>(),
            ),
            vars: Value::from_serialize(serde_json::json!({})),
            run_env: Vec::new(),
            workdir: request.workdir.clone(),
            trigger: request.trigger.clone(),
            started: Instant::now(),
            started_at: chrono::Utc::now(),
            status: Mutex::new(Status::Running),
            slots: request.plan.max_parallel.map(|n| {
                Arc::new(tokio::sync::Semaphore::new(
                    n.clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
                ))
            }),
            resources: crate::step::Resources::default(),
            stop_reason: Mutex::new(None),
        }
    }

    /// Renders vars and the run's environment, in order.
    pub fn prepare(&mut self) -> Result<(), String> {
        let mut vars = serde_json::Map::new();
        for (name, value) in &self.plan.vars {
            self.vars = Value::from_serialize(&vars);
            let ctx = self.context(None, None, None);
            let v = self
                .renderer
                .value(value, &ctx)
                .map_err(|e| self.redact(&format!("var `{name}`: {e}")))?;
            vars.insert(name.clone(), v);
        }
        self.vars = Value::from_serialize(&vars);
        let ctx = self.context(None, None, None);
        let mut env = Vec::new();
        for (name, t) in &self.plan.env {
            let v = self
                .renderer
                .render(t, &ctx)
                .map_err(|e| self.redact(&format!("env `{name}`: {e}")))?;
            env.push((name.clone(), v));
        }
        self.run_env = env;
        Ok(())
    }

    /// The template context.
    pub fn context(
        &self,
        item: Option<&Value>,
        params: Option<&Value>,
        result: Option<&Value>,
    ) -> Value {
        let status = self.status.lock().map(|s| *s).unwrap_or(Status::Running);
        let run = minijinja::context! {
            id => self.run_id,
            runbook => self.plan.name,
            trigger => Value::from_serialize(&self.trigger),
            status => status.as_str(),
            started_at => self.started_at.to_rfc3339(),
            elapsed => human(self.started.elapsed()),
        };
        minijinja::context! {
            inputs => self.inputs,
            vars => self.vars,
            secrets => self.secrets,
            env => self.env,
            steps => Value::from_dyn_object(self.steps.clone()),
            run => run,
            item => item.cloned(),
            params => params.cloned(),
            result => result.cloned(),
        }
    }

    /// Masks secrets in a message.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text).into_owned()
    }

    /// Publishes a step's record to `steps.<id>`.
    pub fn record(&self, id: &str, record: &StepRecord) {
        self.steps.set(
            id,
            &serde_json::json!({
                "status": record.status.as_str(),
                "attempts": record.attempts,
                "result": record.result,
                "outputs": record.outputs,
                "error": record.error,
                "duration_ms": record.duration_ms,
            }),
        );
    }

    /// Why running steps are being stopped, for their records.
    pub fn stop_reason(&self) -> String {
        self.stop_reason
            .lock()
            .ok()
            .and_then(|r| r.clone())
            .unwrap_or_else(|| "stopped: the run was cancelled".to_owned())
    }

    /// Records why the run's steps are being stopped.
    pub fn set_stop_reason(&self, reason: String) {
        if let Ok(mut r) = self.stop_reason.lock() {
            r.get_or_insert(reason);
        }
    }

    /// Sets the run's status as `run.status` shows it.
    pub fn set_status(&self, status: Status) {
        if let Ok(mut s) = self.status.lock() {
            *s = status;
        }
    }
}

/// Masks the secrets' values, and also the form a value takes once
/// shell-quoted into a script (`it's` → `it'\''s`), which the script shown
/// by `describe` (terminal, audit trail, dry run) holds instead of the value.
fn run_redactor(secrets: &crate::secrets::SecretStore) -> Redactor {
    let quoted = secrets.iter().map(|(_, v)| v.replace('\'', r"'\''"));
    // And its URL-encoded forms, as a URL or a form of an `http` step holds it.
    let encoded = secrets
        .iter()
        .flat_map(|(_, v)| crate::step::http::encoded_forms(v));
    // And its SQL-literal forms (`it''s`, `a\\b`), as a `sql` step's query holds it.
    let sql = secrets.iter().flat_map(|(_, v)| {
        [
            v.replace('\'', "''"),
            v.replace('\\', r"\\").replace('\'', "''"),
        ]
    });
    Redactor::new(
        secrets
            .iter()
            .map(|(_, v)| v.to_owned())
            .chain(quoted)
            .chain(encoded)
            .chain(sql),
    )
    .unwrap_or_else(|_| secrets.redactor().clone())
}

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
    });
    record
}

fn failed(attempts: u32, error: String) -> StepRecord {
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

/// The attempts of a step (or of one `for_each` item) until one succeeds or
/// the retry policy gives up.
async fn attempts(
    shared: &Arc<Shared>,
    step: &Step,
    item: Option<(usize, Value)>,
    params: Option<&Value>,
    cancel: &CancellationToken,
) -> StepRecord {
    let first = Instant::now();
    let item_index = item.as_ref().map(|(i, _)| *i);
    let item_value = item.map(|(_, v)| v);
    let ctx = shared.context(item_value.as_ref(), params, None);
    let mut attempt = 1u32;
    loop {
        let slot = match &shared.slots {
            Some(slots) => tokio::select! {
                permit = slots.clone().acquire_owned() => permit.ok(),
                () = cancel.cancelled() => {
                    let waited = Attempt::failed(FailureClass::Other, "");
                    return end(Status::Cancelled, attempt - 1, waited, "cancelled while waiting for a free slot (max_parallel)".into());
                }
            },
            None => None,
        };
        let started = Instant::now();
        let attempt_cancel = cancel.child_token();
        let step_ctx = StepContext {
            run_id: &shared.run_id,
            step_id: &step.id,
            renderer: &shared.renderer,
            ctx: &ctx,
            workdir: &shared.workdir,
            env: &shared.run_env,
            cancel: &attempt_cancel,
            events: shared.events.as_ref(),
            redactor: &shared.redactor,
            resources: &shared.resources,
        };
        let detail = match step.kind.describe(&step_ctx) {
            Ok(d) => d,
            Err(e) => return failed(attempt - 1, e),
        };
        shared.events.emit(&RunEvent::AttemptStarted {
            step: step.id.clone(),
            attempt,
            item: item_index,
            detail,
        });
        let mut outcome = run_attempt(step, &step_ctx, &attempt_cancel).await;
        let stopped = cancel.is_cancelled();
        if outcome.failure.is_none() {
            outcome.failure = check_asserts(
                shared,
                step,
                &ctx_with_result(shared, &item_value, params, &outcome),
            );
            // Say what the assert judged (an HTTP answer), so a poll that
            // never succeeds tells why.
            if let Some(failure) = outcome.failure.as_mut()
                && let Some(why) = step.kind.explain(&outcome.result)
            {
                failure.message = shared.redact(&format!("{}; {why}", failure.message));
            }
        }
        let elapsed = started.elapsed();
        let (status, decision) = match &outcome.failure {
            None => (Status::Succeeded, None),
            Some(_) if stopped => (Status::Cancelled, None),
            Some(f) => {
                let d = step
                    .retry
                    .decide(attempt, first.elapsed(), &f.class, &mut rand::rng());
                (Status::Failed, Some(d))
            }
        };
        let retry_in = match decision {
            Some(RetryDecision::RetryAfter(d)) => Some(d),
            _ => None,
        };
        shared.events.emit(&RunEvent::AttemptFinished {
            step: step.id.clone(),
            attempt,
            item: item_index,
            status,
            exit_code: outcome.exit_code,
            duration_ms: elapsed.as_millis() as u64,
            error: outcome.failure.as_ref().map(|f| f.message.clone()),
            retry_in_ms: retry_in.map(|d| d.as_millis() as u64),
            output: outcome.output.clone(),
        });
        match (status, decision) {
            (Status::Succeeded, _) => {
                let ctx = ctx_with_result(shared, &item_value, params, &outcome);
                let mut outputs = serde_json::Map::new();
                for (name, value) in &step.outputs {
                    match shared.renderer.value(value, &ctx) {
                        Ok(v) => {
                            outputs.insert(name.clone(), v);
                        }
                        Err(e) => {
                            return end(
                                Status::Failed,
                                attempt,
                                outcome,
                                format!("output `{name}`: {e}"),
                            );
                        }
                    }
                }
                return StepRecord {
                    status: Status::Succeeded,
                    attempts: attempt,
                    duration_ms: 0,
                    result: outcome.result,
                    outputs: serde_json::Value::Object(outputs),
                    error: None,
                    blocked: false,
                };
            }
            (_, Some(RetryDecision::RetryAfter(wait))) => {
                drop(slot);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = cancel.cancelled() => {
                        return end(Status::Cancelled, attempt, outcome, "cancelled while waiting to retry".into());
                    }
                }
                attempt += 1;
            }
            (status, decision) => {
                let message = outcome
                    .failure
                    .as_ref()
                    .map(|f| f.message.clone())
                    .unwrap_or_default();
                let why = match decision {
                    Some(RetryDecision::GiveUp(GiveUp::AttemptsExhausted)) if attempt > 1 => {
                        format!("{message} (after {attempt} attempts)")
                    }
                    Some(RetryDecision::GiveUp(GiveUp::DeadlineExceeded)) => {
                        format!("{message} (retry deadline reached after {attempt} attempts)")
                    }
                    Some(RetryDecision::GiveUp(GiveUp::NotRetryable))
                        if step.retry.attempts > 1 =>
                    {
                        format!("{message} (not retried: `retry.on` doesn't include this failure)")
                    }
                    _ if status == Status::Cancelled => shared.stop_reason(),
                    _ => message,
                };
                return end(status, attempt, outcome, why);
            }
        }
    }
}

fn end(status: Status, attempts: u32, outcome: Attempt, error: String) -> StepRecord {
    StepRecord {
        status,
        attempts,
        duration_ms: 0,
        result: outcome.result,
        outputs: serde_json::json!({}),
        error: Some(error),
        blocked: false,
    }
}

fn ctx_with_result(
    shared: &Shared,
    item: &Option<Value>,
    params: Option<&Value>,
    outcome: &Attempt,
) -> Value {
    let result = Value::from_serialize(&outcome.result);
    shared.context(item.as_ref(), params, Some(&result))
}

/// Runs the kind, stopping it when the step's timeout passes.
async fn run_attempt(step: &Step, ctx: &StepContext<'_>, cancel: &CancellationToken) -> Attempt {
    let execution = step.kind.execute(ctx);
    tokio::pin!(execution);
    let Some(limit) = step.timeout else {
        return execution.await;
    };
    tokio::select! {
        outcome = &mut execution => outcome,
        () = tokio::time::sleep(limit) => {
            cancel.cancel();
            let mut outcome = execution.await;
            outcome.failure = Some(Failure {
                class: FailureClass::Timeout,
                message: format!("timed out after {}", human(limit)),
            });
            outcome
        }
    }
}

fn check_asserts(shared: &Shared, step: &Step, ctx: &Value) -> Option<Failure> {
    for cond in &step.assert {
        match shared.renderer.eval(cond, ctx) {
            Ok(v) if v.is_true() => {}
            Ok(_) => {
                return Some(Failure {
                    class: FailureClass::Assert,
                    message: format!("assert failed: `{}`", cond.source),
                });
            }
            Err(e) => {
                return Some(Failure {
                    class: FailureClass::Assert,
                    message: shared.redact(&format!("assert `{}`: {e}", cond.source)),
                });
            }
        }
    }
    None
}
