//! The engine's requests, served from the run store: concurrency keys
//! (file locks a dead process gives up), approval decisions (rows any
//! process may write), child runs (runs of this runner).

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::console::now;
use super::prepare::{Lookup, PrepareError, Problem, Request, prepare};
use super::{Answer, Forward, Launch, Runner, Waiting};
use crate::engine::Cancel;
use crate::events::{EventSink, RunEvent};
use crate::kind::{
    ApprovalWait, BoxFuture, ChildOutcome, ChildRun, Control, ControlError, Decision, Guard,
};

/// How often the store is asked whether a key is free or a decision made.
const POLL: Duration = Duration::from_millis(200);

/// How often a decision is looked for once a wait is long: a server with
/// a thousand runs waiting for approvals then asks its store a thousand
/// times a second, not five thousand.
const SLOW_POLL: Duration = Duration::from_secs(1);
/// How long a wait is polled at [`POLL`], for prompt answers to a decision
/// made right after the request.
const FAST_FOR: Duration = Duration::from_secs(30);

/// The pause before the next look for a decision, after `waited`.
fn decision_poll(waited: Duration) -> Duration {
    if waited < FAST_FOR { POLL } else { SLOW_POLL }
}

/// Sleeps one poll interval; `false` when cancelled first.
async fn pause(cancel: &CancellationToken) -> bool {
    pause_for(POLL, cancel).await
}

/// Sleeps `interval`; `false` when cancelled first.
async fn pause_for(interval: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(interval) => true,
        () = cancel.cancelled() => false,
    }
}

impl Control for Runner {
    fn acquire<'a>(
        &'a self,
        run_id: &'a str,
        key: &'a str,
        wait: bool,
        events: &'a dyn EventSink,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Guard, ControlError>> {
        Box::pin(async move {
            let started = Instant::now();
            let mut announced = false;
            loop {
                let held = match self.store.try_concurrency_key(key, run_id) {
                    Ok(Ok(lease)) => {
                        events.emit(&RunEvent::ConcurrencyAcquired {
                            key: key.to_owned(),
                            waited_ms: started.elapsed().as_millis() as u64,
                        });
                        return Ok(Box::new(lease) as Guard);
                    }
                    Ok(Err(held)) => held,
                    Err(e) => return Err(ControlError::Store(Box::new(e))),
                };
                // A child run shares the keys of the runs it was started by:
                // they hold them for as long as it lasts, and waiting for
                // them would never end.
                if let Some(holder) = held.holder.as_deref()
                    && self.is_ancestor(holder, run_id)
                {
                    events.emit(&RunEvent::ConcurrencyAcquired {
                        key: key.to_owned(),
                        waited_ms: 0,
                    });
                    return Ok(Box::new(()) as Guard);
                }
                let holder = held
                    .holder
                    .as_deref()
                    .map(|h| format!("run {h}"))
                    .unwrap_or_else(|| "another run".into());
                if !wait {
                    return Err(ControlError::KeyHeld {
                        key: key.to_owned(),
                        holder,
                    });
                }
                if !announced {
                    announced = true;
                    events.emit(&RunEvent::ConcurrencyWaiting {
                        key: key.to_owned(),
                        holder: held.holder,
                    });
                }
                if !pause(cancel).await {
                    return Err(ControlError::CancelledWaitingForKey {
                        key: key.to_owned(),
                        holder,
                    });
                }
            }
        })
    }

    fn decision<'a>(
        &'a self,
        wait: ApprovalWait<'a>,
    ) -> BoxFuture<'a, Result<Decision, ControlError>> {
        Box::pin(async move {
            let me = self.trigger.actor.clone();
            if self.options.yes {
                return Ok(Decision {
                    approved: true,
                    by: me,
                    comment: Some("pre-approved with --yes".into()),
                    via: "pre-approved".into(),
                    decided_at: now(),
                });
            }
            let waiting = Waiting {
                run_id: wait.run_id,
                step: wait.step,
                message: wait.message,
                may_decide: wait.approvers.is_empty() || wait.approvers.contains(&me),
            };
            let answer = Answer {
                store: self.store.clone(),
                run_id: wait.run_id.to_owned(),
                step: wait.step.to_owned(),
                by: me,
            };
            self.console.approval_waiting(&waiting, answer);
            let since = std::time::Instant::now();
            loop {
                match self.store.decision(wait.run_id, wait.step) {
                    Ok(Some(decision)) => return Ok(decision),
                    Ok(None) => {}
                    Err(e) => return Err(ControlError::Store(Box::new(e))),
                }
                if !pause_for(decision_poll(since.elapsed()), wait.cancel).await {
                    return Err(ControlError::CancelledWaitingForApproval);
                }
            }
        })
    }

    fn run_child(&self, child: ChildRun) -> BoxFuture<'_, Result<ChildOutcome, ControlError>> {
        Box::pin(async move {
            let launch = self
                .child_launch(&child)
                .map_err(|e| ControlError::Child(refusal(&child, &e)))?;
            let run_id = launch.run_id.clone();
            let cancel = Cancel {
                run: child.cancel.clone(),
                all: child.stop_all.clone(),
                interrupt: child.interrupt.clone(),
            };
            let finished = self
                .launch(launch, cancel)
                .await
                .map_err(|e| ControlError::Child(e.to_string()))?;
            for problem in &finished.problems {
                self.console.problem(&run_id, problem);
            }
            Ok(ChildOutcome {
                run_id,
                outcome: finished.report.outcome,
            })
        })
    }
}

impl Runner {
    /// Whether `ancestor` started `run_id`, directly or through other child
    /// runs (as recorded in the store).
    fn is_ancestor(&self, ancestor: &str, run_id: &str) -> bool {
        let mut current = run_id.to_owned();
        // Child runs can't form a cycle; the bound is only a safety net.
        for _ in 0..64 {
            match self.store.get_run(&current) {
                Ok(Some(detail)) => match detail.run.parent_run_id {
                    Some(parent) if parent == ancestor => return true,
                    Some(parent) => current = parent,
                    None => return false,
                },
                _ => return false,
            }
        }
        false
    }

    /// Prepares the child run: its runbook compiled with the inputs its
    /// parent gives, its secrets loaded; its progress shown inside the
    /// parent's step.
    fn child_launch(&self, child: &ChildRun) -> Result<Launch, PrepareError> {
        let mut request = Request::new(&child.runbook, Lookup::NameOrPath, self.trigger.clone())
            .json_inputs(&child.inputs)
            .secrets_file(self.options.secrets_file.clone());
        request.parent = Some(child.parent.clone());
        let prepared = prepare(&self.project, request)?;
        Ok(prepared.launch(Box::new(Forward::new(
            child.events.clone(),
            &child.parent.step,
            &child.runbook,
        ))))
    }
}

/// Why a child run was not started, as the parent's step says it.
fn refusal(child: &ChildRun, e: &PrepareError) -> String {
    match e {
        PrepareError::Invalid {
            report,
            with_inputs,
            ..
        } => {
            let first = report
                .diagnostics
                .first()
                .map(|d| d.message.clone())
                .unwrap_or_default();
            let with = if *with_inputs {
                "with these inputs, "
            } else {
                ""
            };
            format!(
                "runbook `{}` ({}) is invalid: {with}{first}",
                child.runbook, report.path
            )
        }
        PrepareError::Refused { problems, .. } => {
            let inputs: Vec<String> = problems
                .iter()
                .filter(|p| !matches!(p, Problem::Secrets(_)))
                .map(ToString::to_string)
                .collect();
            if inputs.is_empty() {
                e.secrets_problem()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            } else {
                format!("inputs of `{}`: {}", child.runbook, inputs.join("; "))
            }
        }
        PrepareError::UnknownRunbook { .. } | PrepareError::Project(_) => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_polled_fast_at_first_then_slowly() {
        assert_eq!(decision_poll(Duration::ZERO), POLL);
        assert_eq!(decision_poll(FAST_FOR - Duration::from_millis(1)), POLL);
        assert_eq!(decision_poll(FAST_FOR), SLOW_POLL);
        assert_eq!(decision_poll(Duration::from_secs(3600)), SLOW_POLL);
    }
}
