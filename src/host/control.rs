//! The engine's requests, served from the run store: concurrency keys
//! (file locks a dead process gives up), approval decisions (rows any
//! process may write), child runs (runs of this runner).

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

use super::{Forward, Launch, Runner};
use crate::engine::Cancel;
use crate::events::{EventSink, RunEvent};
use crate::inputs::{RawInput, resolve_inputs};
use crate::kind::{ApprovalWait, BoxFuture, ChildOutcome, ChildRun, Control, Decision, Guard};
use crate::secrets::SecretStore;
use crate::store::RunStore;

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

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Control for Runner {
    fn acquire<'a>(
        &'a self,
        run_id: &'a str,
        key: &'a str,
        wait: bool,
        events: &'a dyn EventSink,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Guard, String>> {
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
                    Err(e) => return Err(e.to_string()),
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
                    return Err(format!(
                        "{holder} holds the concurrency key `{key}` (on_conflict: fail)"
                    ));
                }
                if !announced {
                    announced = true;
                    events.emit(&RunEvent::ConcurrencyWaiting {
                        key: key.to_owned(),
                        holder: held.holder,
                    });
                }
                if !pause(cancel).await {
                    return Err(format!(
                        "cancelled while waiting for the concurrency key `{key}` ({holder} holds it)"
                    ));
                }
            }
        })
    }

    fn decision<'a>(&'a self, wait: ApprovalWait<'a>) -> BoxFuture<'a, Result<Decision, String>> {
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
            let may_decide = wait.approvers.is_empty() || wait.approvers.contains(&me);
            if self.options.interactive && may_decide && std::io::stdin().is_terminal() {
                ask(self.store.clone(), wait.run_id, wait.step, wait.message, me);
            } else if self.options.approval_hint {
                let _ = writeln!(
                    anstream::stderr(),
                    "waiting for approval: steward approve {} {} [--comment TEXT] (or steward reject …)",
                    wait.run_id,
                    wait.step
                );
            }
            let since = std::time::Instant::now();
            loop {
                match self.store.decision(wait.run_id, wait.step) {
                    Ok(Some(decision)) => return Ok(decision),
                    Ok(None) => {}
                    Err(e) => return Err(e.to_string()),
                }
                if !pause_for(decision_poll(since.elapsed()), wait.cancel).await {
                    return Err("cancelled while waiting for approval".into());
                }
            }
        })
    }

    fn run_child(&self, child: ChildRun) -> BoxFuture<'_, Result<ChildOutcome, String>> {
        Box::pin(async move {
            let launch = self.child_launch(&child)?;
            let run_id = launch.run_id.clone();
            let cancel = Cancel {
                run: child.cancel.clone(),
                all: child.stop_all.clone(),
                interrupt: child.interrupt.clone(),
            };
            let finished = self.launch(launch, cancel).await?;
            for problem in &finished.problems {
                say_problem(problem);
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

    /// Compiles the child's runbook and checks its inputs and secrets.
    fn child_launch(&self, child: &ChildRun) -> Result<Launch, String> {
        let path = self
            .project
            .find_runbook(&child.runbook)
            .map_err(|e| e.to_string())?;
        let (library, _) = self.project.library().map_err(|e| e.to_string())?;
        let compile = |inputs: Option<&IndexMap<String, serde_json::Value>>| {
            let (report, plan) = self
                .project
                .compile_file_with(&path, &library, inputs)
                .map_err(|e| e.to_string())?;
            plan.ok_or_else(|| {
                let first = report
                    .diagnostics
                    .first()
                    .map(|d| d.message.clone())
                    .unwrap_or_default();
                let with = if inputs.is_some() {
                    "with these inputs, "
                } else {
                    ""
                };
                format!(
                    "runbook `{}` ({}) is invalid: {with}{first}",
                    child.runbook, report.path
                )
            })
        };
        // First with the declared defaults, for the inputs' declarations;
        // then with the values given, which typed fields may read.
        let declared = compile(None)?;
        let raw = child
            .inputs
            .iter()
            .map(|(k, v)| (k.clone(), RawInput::Json(v.clone())))
            .collect();
        let inputs = resolve_inputs(&declared.inputs, &raw).map_err(|problems| {
            let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
            format!("inputs of `{}`: {}", child.runbook, all.join("; "))
        })?;
        let plan = compile(Some(&inputs))?;
        let secrets = SecretStore::from_env(&plan.secrets, self.options.secrets_file.as_deref())
            .map_err(|e| e.to_string())?;
        Ok(Launch {
            plan: Arc::new(plan),
            inputs,
            secrets,
            run_id: uuid::Uuid::now_v7().to_string(),
            parent: Some(child.parent.clone()),
            resume: None,
            display: Box::new(Forward::new(
                child.events.clone(),
                &child.parent.step,
                &child.runbook,
            )),
        })
    }
}

/// Asks at the terminal, in a thread of its own (a read of stdin can't be
/// cancelled); the answer goes to the store like any other decision, so a
/// decision made elsewhere first wins and the question is moot.
fn ask(store: Arc<dyn RunStore>, run_id: &str, step: &str, message: &str, me: String) {
    let (run_id, step) = (run_id.to_owned(), step.to_owned());
    let _ = writeln!(
        anstream::stderr(),
        "approval needed for `{step}`: {message}\n  approve? [y/N, then an optional comment] (or from another terminal: steward approve {run_id} {step})"
    );
    let spawned = std::thread::Builder::new()
        .name("steward-approval".into())
        .spawn(move || {
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line).is_err() {
                return;
            }
            let line = line.trim();
            let (answer, comment) = line.split_once(' ').unwrap_or((line, ""));
            let approved = matches!(answer.to_ascii_lowercase().as_str(), "y" | "yes");
            let decision = Decision {
                approved,
                by: me,
                comment: (!comment.trim().is_empty()).then(|| comment.trim().to_owned()),
                via: "terminal".into(),
                decided_at: now(),
            };
            match store.decide(&run_id, &step, &decision) {
                Ok(Ok(())) => {}
                Ok(Err(refusal)) => {
                    let _ = writeln!(anstream::stderr(), "{refusal}");
                }
                Err(e) => say_problem(&e.to_string()),
            }
        });
    if spawned.is_err() {
        let _ = writeln!(
            anstream::stderr(),
            "can't ask at this terminal; use steward approve"
        );
    }
}

/// A problem that does not stop the run, said on stderr.
fn say_problem(message: &str) {
    let line = crate::diagnostic::Diagnostic::whole_file(message).headline();
    let _ = write!(anstream::stderr().lock(), "{line}");
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
