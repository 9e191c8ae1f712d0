//! What every step of a run shares: the template context, the redactor,
//! events, resources and the run's status.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use minijinja::Value;

use super::context::StepsView;
use crate::duration::human;
use crate::events::{EventSink, Trigger};
use crate::outcome::{RunStatus, StepOutcome};
use crate::plan::Plan;
use crate::secrets::Redactor;
use crate::template::Renderer;

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
    pub status: Mutex<RunStatus>,
    /// Attempt slots when `max_parallel` is set: every attempt (of any step
    /// or `for_each` item) holds one while it runs.
    pub slots: Option<Arc<tokio::sync::Semaphore>>,
    /// Connection pools and other per-run resources of the step kinds.
    pub resources: crate::kind::Resources,
    /// Why the run's steps are being stopped (its timeout), if known.
    pub stop_reason: Mutex<Option<String>>,
    /// The run's host.
    pub control: Arc<dyn crate::kind::Control>,
    /// Fires on the second Ctrl-C: everything stops, cleanup included (a
    /// child run's too).
    pub stop_all: tokio_util::sync::CancellationToken,
    /// Fires when the run is interrupted (a child run is interrupted too).
    pub interrupt: tokio_util::sync::CancellationToken,
    /// Steps a resumed run had finished: not run again.
    pub finished: std::collections::HashMap<String, StepOutcome>,
    /// Attempts a resumed run's unfinished steps had started.
    pub prior_attempts: std::collections::HashMap<String, u32>,
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
        let (finished, prior_attempts, started_at) = match &request.resume {
            Some(r) => (r.finished.clone(), r.attempts.clone(), r.started_at),
            None => Default::default(),
        };
        let started_at = if request.resume.is_some() {
            started_at
        } else {
            chrono::Utc::now()
        };
        let shared = Shared {
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
            started_at,
            status: Mutex::new(RunStatus::Running),
            slots: request.plan.max_parallel.map(|n| {
                Arc::new(tokio::sync::Semaphore::new(
                    n.clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
                ))
            }),
            resources: crate::kind::Resources::default(),
            stop_reason: Mutex::new(None),
            control: request.control.clone(),
            stop_all: tokio_util::sync::CancellationToken::new(),
            interrupt: tokio_util::sync::CancellationToken::new(),
            finished,
            prior_attempts,
        };
        for (id, outcome) in &shared.finished {
            shared.record(id, outcome);
        }
        shared
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
        let status = self.status.lock().map(|s| *s).unwrap_or(RunStatus::Running);
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

    /// The context a step kind runs one attempt with.
    pub fn step_context<'a>(
        &'a self,
        step: &'a crate::plan::Step,
        ctx: &'a Value,
        cancel: &'a tokio_util::sync::CancellationToken,
    ) -> crate::kind::StepContext<'a> {
        crate::kind::StepContext {
            run_id: &self.run_id,
            step_id: &step.id,
            renderer: &self.renderer,
            ctx,
            workdir: &self.workdir,
            env: &self.run_env,
            cancel,
            events: &self.events,
            redactor: &self.redactor,
            resources: &self.resources,
            control: self.control.as_ref(),
            stop_all: &self.stop_all,
            interrupt: &self.interrupt,
        }
    }

    /// Masks secrets in a message.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text).into_owned()
    }

    /// Publishes a step's outcome to `steps.<id>`.
    pub fn record(&self, id: &str, outcome: &StepOutcome) {
        self.steps.set(
            id,
            &serde_json::json!({
                "status": outcome.status.as_str(),
                "attempts": outcome.attempts,
                "result": outcome.result,
                "outputs": outcome.outputs,
                "error": outcome.error,
                "duration_ms": outcome.duration_ms,
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
    pub fn set_status(&self, status: RunStatus) {
        if let Ok(mut s) = self.status.lock() {
            *s = status;
        }
    }
}

/// Masks the secrets' values, and also the forms a value takes once a
/// step kind puts it in place (shell-quoted into a script, URL-encoded,
/// a SQL literal), which what `describe` shows (terminal, audit trail, dry
/// run) holds instead of the value.
fn run_redactor(secrets: &crate::secrets::SecretStore) -> Redactor {
    Redactor::new(
        secrets
            .iter()
            .flat_map(|(_, v)| crate::kinds::secret_forms(v)),
    )
    .unwrap_or_else(|_| secrets.redactor().clone())
}
