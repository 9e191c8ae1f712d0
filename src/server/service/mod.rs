//! The server's service: what the API, webhooks, Slack and the scheduler
//! ask of the server, with typed errors each of them words its own way.
//! It starts runs (prepared by [`host::prepare`](crate::host::prepare),
//! each hosted by its own [`Runner`](crate::host::Runner) on the server's
//! task tracker), cancels the runs it hosts, records approval decisions
//! and reads the run store. It knows nothing of HTTP.

mod start;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::task::JoinError;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::engine::Cancel;
use crate::kind::Decision;
use crate::plan::Plan;
use crate::project::{Project, ProjectError};
use crate::server::metrics::Metrics;
use crate::store::{Refusal, RunDetail, RunFilter, RunRecord, RunStore, StoreError};

pub(crate) use start::{Start, StartError};

/// Starts, cancels and decides on runs; reads the store.
pub(crate) struct Service {
    project: Project,
    store: Arc<dyn RunStore>,
    /// Where the store is (for messages).
    store_path: PathBuf,
    /// The secrets file runs load their secrets from, besides the
    /// environment.
    secrets_file: Option<PathBuf>,
    /// Runs hosted by this server, by id.
    running: Mutex<HashMap<String, Cancel>>,
    tasks: TaskTracker,
    /// Set once a stop signal came: no new runs.
    stopping: CancellationToken,
    /// The counters hosted runs feed.
    metrics: Arc<Metrics>,
}

/// A read or write the service could not do.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// The run store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The project's files can't be read.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The blocking task doing it ended unexpectedly.
    #[error("{0}")]
    Task(#[from] JoinError),
}

/// Runs `f` where blocking is fine (the store and the project's files are
/// read synchronously).
pub(crate) async fn blocking<T, E>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<JoinError> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await?
}

impl Service {
    /// The service of `project`, recording in `store` (at `store_path`).
    pub(crate) fn new(
        project: Project,
        store: Arc<dyn RunStore>,
        store_path: PathBuf,
        secrets_file: Option<PathBuf>,
        metrics: Arc<Metrics>,
    ) -> Service {
        Service {
            project,
            store,
            store_path,
            secrets_file,
            running: Mutex::new(HashMap::new()),
            tasks: TaskTracker::new(),
            stopping: CancellationToken::new(),
            metrics,
        }
    }

    /// The project.
    pub(crate) fn project(&self) -> &Project {
        &self.project
    }

    /// The run store.
    pub(crate) fn store(&self) -> &Arc<dyn RunStore> {
        &self.store
    }

    /// The tasks that end before the server does (hosted runs, messages to
    /// Slack, the scheduler).
    pub(crate) fn tasks(&self) -> &TaskTracker {
        &self.tasks
    }

    /// Fires when the server stops taking new runs.
    pub(crate) fn stopping(&self) -> &CancellationToken {
        &self.stopping
    }

    /// Whether the server stopped taking new runs.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// How many runs this server hosts now.
    pub(crate) fn hosted(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// No new runs from now on; [`wait`](Self::wait) then waits for the
    /// tasks going on.
    pub(crate) fn stop(&self) {
        self.stopping.cancel();
        self.tasks.close();
    }

    /// Waits until every task has ended (after [`stop`](Self::stop)).
    pub(crate) async fn wait(&self) {
        self.tasks.wait().await;
    }

    /// Stops every hosted run as if the server had died: its steps are
    /// killed, its record is left unfinished (`interrupted`) and its lease
    /// released.
    pub(crate) fn interrupt_all(&self) {
        if let Ok(running) = self.running.lock() {
            for cancel in running.values() {
                cancel.interrupt.cancel();
            }
        }
    }

    /// The project's runbooks that compile (with their defaults), in file
    /// order.
    pub(crate) fn valid_plans(&self) -> Result<Vec<Plan>, ProjectError> {
        let (library, _) = self.project.library()?;
        let mut plans = Vec::new();
        for path in self.project.runbook_files() {
            if let Ok((_, Some(plan))) = self.project.compile_file(&path, &library) {
                plans.push(plan);
            }
        }
        Ok(plans)
    }

    /// [`valid_plans`](Self::valid_plans), off the async threads.
    pub(crate) async fn plans(self: &Arc<Self>) -> Result<Vec<Plan>, Failure> {
        let me = self.clone();
        blocking(move || Ok(me.valid_plans()?)).await
    }

    /// A stored run with its steps, approvals and child runs.
    pub(crate) async fn run(&self, id: &str) -> Result<Option<RunDetail>, Failure> {
        let (store, id) = (self.store.clone(), id.to_owned());
        blocking(move || Ok(store.get_run(&id)?)).await
    }

    /// Stored runs, newest first.
    pub(crate) async fn runs(&self, filter: RunFilter) -> Result<Vec<RunRecord>, Failure> {
        let store = self.store.clone();
        blocking(move || Ok(store.list_runs(&filter)?)).await
    }

    /// Cancels a run this server hosts; false when it hosts no such run.
    pub(crate) fn cancel(&self, id: &str) -> bool {
        let cancel = self.running.lock().ok().and_then(|r| r.get(id).cloned());
        match cancel {
            Some(cancel) => {
                cancel.run.cancel();
                true
            }
            None => false,
        }
    }

    /// Records a decision on a waiting `approval` step, whichever process
    /// hosts its run; a refusal when it waits no more or the person may
    /// not decide.
    pub(crate) async fn decide(
        &self,
        run_id: &str,
        step: &str,
        decision: &Decision,
    ) -> Result<Result<(), Refusal>, Failure> {
        let store = self.store.clone();
        let (run_id, step, decision) = (run_id.to_owned(), step.to_owned(), decision.clone());
        blocking(move || Ok(store.decide(&run_id, &step, &decision)?)).await
    }
}
