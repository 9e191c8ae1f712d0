//! The attempts of one step (or one `for_each` item): timeout, assert,
//! retry with backoff, outputs.

use std::sync::Arc;
use std::time::Instant;

use minijinja::Value;
use tokio_util::sync::CancellationToken;

use super::shared::Shared;
use crate::duration::human;
use crate::events::RunEvent;
use crate::kind::{Attempt, Failure, StepContext};
use crate::outcome::{FailureClass, StepOutcome, StepStatus};
use crate::plan::Step;
use crate::retry::{GiveUp, RetryDecision};

/// The attempts of a step (or of one `for_each` item) until one succeeds or
/// the retry policy gives up.
pub(super) async fn attempts(
    shared: &Arc<Shared>,
    step: &Step,
    item: Option<(usize, Value)>,
    params: Option<&Value>,
    cancel: &CancellationToken,
) -> StepOutcome {
    let first = Instant::now();
    let item_index = item.as_ref().map(|(i, _)| *i);
    let item_value = item.map(|(_, v)| v);
    let ctx = shared.context(item_value.as_ref(), params, None);
    // A resumed run's interrupted step goes on with a new attempt.
    let mut attempt = 1 + shared.prior_attempts.get(&step.id).copied().unwrap_or(0);
    loop {
        let slot = match &shared.slots {
            Some(slots) => tokio::select! {
                permit = slots.clone().acquire_owned() => permit.ok(),
                () = cancel.cancelled() => {
                    let waited = Attempt::failed(FailureClass::Other, "");
                    return end(StepStatus::Cancelled, attempt - 1, waited, "cancelled while waiting for a free slot (max_parallel)".into());
                }
            },
            None => None,
        };
        let started = Instant::now();
        let attempt_cancel = cancel.child_token();
        let step_ctx = shared.step_context(step, &ctx, &attempt_cancel);
        let detail = match step.kind.describe(&step_ctx) {
            Ok(d) => d,
            Err(e) => return StepOutcome::failed(attempt - 1, e.to_string()),
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
            None => (StepStatus::Succeeded, None),
            Some(_) if stopped => (StepStatus::Cancelled, None),
            Some(f) => {
                let d = step
                    .retry
                    .decide(attempt, first.elapsed(), &f.class, &mut rand::rng());
                (StepStatus::Failed, Some(d))
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
            (StepStatus::Succeeded, _) => {
                let ctx = ctx_with_result(shared, &item_value, params, &outcome);
                let mut outputs = serde_json::Map::new();
                for (name, value) in &step.outputs {
                    match shared.renderer.value(value, &ctx) {
                        Ok(v) => {
                            outputs.insert(name.clone(), v);
                        }
                        Err(e) => {
                            return end(
                                StepStatus::Failed,
                                attempt,
                                outcome,
                                format!("output `{name}`: {e}"),
                            );
                        }
                    }
                }
                return StepOutcome {
                    result: outcome.result,
                    outputs: serde_json::Value::Object(outputs),
                    ..StepOutcome::new(StepStatus::Succeeded, attempt)
                };
            }
            (_, Some(RetryDecision::RetryAfter(wait))) => {
                drop(slot);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = cancel.cancelled() => {
                        return end(StepStatus::Cancelled, attempt, outcome, "cancelled while waiting to retry".into());
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
                    _ if status == StepStatus::Cancelled => shared.stop_reason(),
                    _ => message,
                };
                return end(status, attempt, outcome, why);
            }
        }
    }
}

fn end(status: StepStatus, attempts: u32, outcome: Attempt, error: String) -> StepOutcome {
    StepOutcome {
        result: outcome.result,
        error: Some(error),
        ..StepOutcome::new(status, attempts)
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
