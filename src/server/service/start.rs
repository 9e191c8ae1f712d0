//! Starting a run in the server: prepared through the host's one path,
//! then hosted by a [`Runner`] of its own on the server's task tracker,
//! with its `Cancel` kept for cancel requests and shutdown.

use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use tokio::sync::oneshot;
use tokio::task::JoinError;

use super::{Service, blocking};
use crate::engine::Cancel;
use crate::events::{EventSink, Fanout, RunEvent, Trigger};
use crate::host::{
    self, Answer, Console, Finished, LaunchError, Lookup, PrepareError, Prepared, Problem, Request,
    Runner, Waiting,
};
use crate::server::log::log;
use crate::server::metrics::MetricsSink;

/// A request to start a runbook by name.
pub(crate) struct Start {
    /// The runbook's name (never a path).
    pub(crate) runbook: String,
    /// The inputs given, unchecked.
    pub(crate) inputs: IndexMap<String, serde_json::Value>,
    /// Who starts it.
    pub(crate) trigger: Trigger,
}

/// A run that started: its record is in the store.
pub(crate) struct Started {
    /// Its id.
    pub(crate) run_id: String,
    /// Its end.
    pub(crate) done: oneshot::Receiver<Result<Finished, LaunchError>>,
}

/// Why a run was not started.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    /// The server is stopping.
    #[error("the server is shutting down; no new runs")]
    Stopping,
    /// The request or the runbook is refused.
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    /// The run can't be recorded.
    #[error(transparent)]
    Launch(#[from] LaunchError),
    /// The run ended before it started.
    #[error("the run did not start")]
    NotStarted,
    /// The blocking task preparing it ended unexpectedly.
    #[error("{0}")]
    Task(#[from] JoinError),
}

impl StartError {
    /// What went wrong, in one line (the API's `error`; Slack's and the
    /// scheduler's headline).
    pub(crate) fn headline(&self) -> String {
        match self {
            StartError::Prepare(PrepareError::UnknownRunbook { name, .. }) => {
                format!("no runbook `{name}`")
            }
            StartError::Prepare(PrepareError::Invalid {
                runbook, report, ..
            }) => format!(
                "runbook `{runbook}` is invalid ({}); `steward validate` shows why",
                report.path
            ),
            StartError::Prepare(e @ PrepareError::Refused { runbook, .. }) => {
                match (self.request_problems().len(), e.secrets_problem()) {
                    (0, Some(secrets)) => secrets.to_string(),
                    (n, _) => {
                        format!("{n} problem(s) with the inputs of `{runbook}`; nothing was run")
                    }
                }
            }
            other => other.to_string(),
        }
    }

    /// Each problem behind the headline, one line each: the diagnostics of
    /// an invalid runbook, the problems of the inputs.
    pub(crate) fn details(&self) -> Vec<String> {
        match self {
            StartError::Prepare(PrepareError::Invalid { report, .. }) => report
                .diagnostics
                .iter()
                .map(|d| d.message.clone())
                .collect(),
            _ => self
                .request_problems()
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }

    /// The problems of a refused request's inputs (its secrets aside).
    pub(crate) fn request_problems(&self) -> Vec<&Problem> {
        match self {
            StartError::Prepare(PrepareError::Refused { problems, .. }) => problems
                .iter()
                .filter(|p| !matches!(p, Problem::Secrets(_)))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The console of the server's runs: problems go to its log; approvals
/// are given through the API or Slack.
struct Log;

impl Console for Log {
    fn problem(&self, run_id: &str, message: &str) {
        log(&format!("run {run_id}: {message}"));
    }

    fn approval_waiting(&self, _waiting: &Waiting<'_>, _answer: Answer) {}
}

/// Drops the run's events but says when it started (its record is then in
/// the store) and logs its start and end.
struct Notify {
    run_id: String,
    started: Mutex<Option<oneshot::Sender<()>>>,
}

impl EventSink for Notify {
    fn emit(&self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted {
                run_id,
                runbook,
                trigger,
                ..
            } => {
                log(&format!(
                    "run {run_id} of {runbook} started by {}",
                    trigger.actor
                ));
                if let Some(tx) = self.started.lock().ok().and_then(|mut s| s.take()) {
                    let _ = tx.send(());
                }
            }
            RunEvent::RunFinished(outcome) => {
                log(&format!("run {} finished: {}", self.run_id, outcome.status));
            }
            _ => {}
        }
    }
}

impl Service {
    /// Prepares the run `start` asks for: the runbook found by name,
    /// compiled, its inputs checked and its secrets loaded. Refused once
    /// the server is stopping.
    pub(crate) async fn prepare(self: &Arc<Self>, start: Start) -> Result<Prepared, StartError> {
        if self.is_stopping() {
            return Err(StartError::Stopping);
        }
        let me = self.clone();
        blocking(move || {
            let request = Request::new(start.runbook, Lookup::Name, start.trigger)
                .json_inputs(&start.inputs)
                .secrets_file(me.secrets_file.clone());
            Ok(host::prepare(&me.project, request)?)
        })
        .await
    }

    /// Starts a prepared run hosted by this server, `watchers` seeing its
    /// events too; returns once its record is in the store.
    pub(crate) async fn launch(
        self: &Arc<Self>,
        prepared: Prepared,
        watchers: Fanout,
    ) -> Result<Started, StartError> {
        let run_id = prepared.run_id.clone();
        let options = host::Options {
            yes: false,
            secrets_file: self.secrets_file.clone(),
        };
        let runner = Runner::new(
            self.project.clone(),
            self.store.clone(),
            self.store_path.clone(),
            prepared.trigger.clone(),
            options,
            Arc::new(Log),
        );
        let (started_tx, started_rx) = oneshot::channel();
        let metrics = MetricsSink {
            metrics: self.metrics.clone(),
            runbook: prepared.plan.name.clone(),
        };
        let launch = prepared.launch(Box::new(watchers.with(metrics).with(Notify {
            run_id: run_id.clone(),
            started: Mutex::new(Some(started_tx)),
        })));
        let cancel = Cancel::default();
        if let Ok(mut running) = self.running.lock() {
            running.insert(run_id.clone(), cancel.clone());
        }
        let (done_tx, done) = oneshot::channel::<Result<Finished, LaunchError>>();
        let me = self.clone();
        let id = run_id.clone();
        self.tasks.spawn(async move {
            let result = runner.launch(launch, cancel).await;
            if let Ok(mut running) = me.running.lock() {
                running.remove(&id);
            }
            match &result {
                Ok(finished) => {
                    for p in &finished.problems {
                        log(&format!("run {id}: {p}"));
                    }
                }
                Err(e) => log(&format!("run {id} did not start: {e}")),
            }
            let _ = done_tx.send(result);
        });

        if started_rx.await.is_err() {
            // The run ended before it started: it could not be recorded.
            return Err(match done.await {
                Ok(Err(e)) => StartError::Launch(e),
                _ => StartError::NotStarted,
            });
        }
        Ok(Started { run_id, done })
    }
}
