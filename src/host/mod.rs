//! Hosting runs: what `steward run`, `steward resume`, `steward serve` and
//! child runs share. [`prepare`] turns a run request into a run ready to
//! launch (or a typed [`PrepareError`]); a [`Runner`] opens the run's audit
//! trail and store records, holds the run's lease (so a dead process shows
//! as `interrupted`), and serves the engine's
//! [`Control`](crate::kind::Control) requests: concurrency keys, approvals
//! and child runs. What it says or asks goes through the [`Console`] its
//! edge gives it: the host does no terminal I/O.

mod console;
mod control;
mod forward;
mod gate;
mod prepare;
mod resume;

use std::path::PathBuf;
use std::sync::{Arc, Weak};

use indexmap::IndexMap;

use crate::audit::AuditSink;
use crate::chain::AuditError;
use crate::engine::{self, Cancel, Resume, RunReport, RunRequest};
use crate::events::{EventSink, Fanout, ParentRun, Trigger};
use crate::outcome::RunStatus;
use crate::plan::Plan;
use crate::project::Project;
use crate::secrets::SecretStore;
use crate::store::{RunStore, StoreError, StoreSink};

pub use console::{Answer, Console, Waiting};
pub use forward::Forward;
pub use prepare::{Lookup, PrepareError, Prepared, Problem, Request, prepare};
pub use resume::{ResumeError, prepare_resume};

/// How runs are hosted.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--yes`: approval steps are approved by the person who started the
    /// run, recorded as pre-approved.
    pub yes: bool,
    /// A secrets file (`--secrets-file` or steward.yaml's).
    pub secrets_file: Option<PathBuf>,
}

/// Hosts runs of one project with one run store.
pub struct Runner {
    project: Project,
    store: Arc<dyn RunStore>,
    store_path: PathBuf,
    options: Options,
    /// Who started the top-level run (child runs inherit it).
    trigger: Trigger,
    /// Where problems go and approvals are asked.
    console: Arc<dyn Console>,
    me: Weak<Runner>,
}

/// A run ready to start (or to resume).
pub struct Launch {
    /// The plan.
    pub plan: Arc<Plan>,
    /// Inputs, resolved.
    pub inputs: IndexMap<String, serde_json::Value>,
    /// Secrets, loaded.
    pub secrets: SecretStore,
    /// Run id.
    pub run_id: String,
    /// The parent of a child run.
    pub parent: Option<ParentRun>,
    /// What an interrupted run had done.
    pub resume: Option<Resume>,
    /// Where progress is shown.
    pub display: Box<dyn EventSink>,
}

/// Why a run could not start: it can't be recorded.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// Another live process holds the run's lease.
    #[error("run {0} is being run by another live process")]
    Busy(String),
    /// The run store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run's folder (for its audit trail) can't be made.
    #[error("can't create the run folder {}: {source}", dir.display())]
    RunFolder {
        /// The folder.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The plan can't be saved as JSON.
    #[error("{0}")]
    Plan(serde_json::Error),
    /// The audit trail can't be opened.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// A run that ended, and what could not be recorded of it.
pub struct Finished {
    /// The report.
    pub report: RunReport,
    /// The file audit trail.
    pub audit_path: PathBuf,
    /// Problems writing the trail or the store (the records are incomplete).
    pub problems: Vec<String>,
}

impl Runner {
    /// A runner for `project` recording in `store` (at `store_path`).
    pub fn new(
        project: Project,
        store: Arc<dyn RunStore>,
        store_path: PathBuf,
        trigger: Trigger,
        options: Options,
        console: Arc<dyn Console>,
    ) -> Arc<Runner> {
        Arc::new_cyclic(|me| Runner {
            project,
            store,
            store_path,
            options,
            trigger,
            console,
            me: me.clone(),
        })
    }

    /// The run store.
    pub fn store(&self) -> &Arc<dyn RunStore> {
        &self.store
    }

    /// Who started the run.
    pub fn trigger(&self) -> &Trigger {
        &self.trigger
    }

    /// The audit file of a run.
    pub fn audit_path(&self, run_id: &str) -> PathBuf {
        self.project
            .root
            .join(".steward")
            .join("runs")
            .join(run_id)
            .join("audit.jsonl")
    }

    /// Runs (or resumes) a run to its end. Fails before starting anything
    /// when the run can't be recorded. When `cancel.interrupt` fires, its
    /// steps are killed and the record is left unfinished: the report says
    /// `interrupted` and the lease is released, so `steward resume` can
    /// continue it.
    pub async fn launch(&self, launch: Launch, cancel: Cancel) -> Result<Finished, LaunchError> {
        let Launch {
            plan,
            inputs,
            secrets,
            run_id,
            parent,
            resume,
            display,
        } = launch;
        let Some(lease) = self.store.claim_run(&run_id)? else {
            return Err(LaunchError::Busy(run_id));
        };
        let audit_path = self.audit_path(&run_id);
        if let Some(dir) = audit_path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| LaunchError::RunFolder {
                dir: dir.to_owned(),
                source,
            })?;
        }
        let stored = Arc::new(StoreSink::new(self.store.clone(), run_id.clone()));
        let audit = match &resume {
            Some(_) => {
                let lines = self.store.audit_lines(&run_id)?;
                AuditSink::resume(&audit_path, &lines, Some(stored.clone()))
            }
            None => {
                let plan_json = serde_json::to_string(&*plan).map_err(LaunchError::Plan)?;
                self.store.save_plan(&run_id, &plan_json)?;
                AuditSink::create(&audit_path, Some(stored.clone()))
            }
        }?;
        let audit = Arc::new(audit);
        let events: Arc<dyn EventSink> = Arc::new(gate::Gate::new(
            Fanout::default()
                .with(audit.clone())
                .with(BoxedSink(display)),
            cancel.interrupt.clone(),
        ));
        let control: Arc<dyn crate::kind::Control> = match self.me.upgrade() {
            Some(me) => me,
            None => Arc::new(crate::kind::Standalone),
        };
        let request = RunRequest {
            plan,
            inputs,
            secrets,
            trigger: self.trigger.clone(),
            workdir: self.project.root.clone(),
            run_id,
            control,
            parent,
            resume,
        };
        let interrupter = {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                cancel.interrupt.cancelled().await;
                // The gate is already closed: the steps' ends go unrecorded.
                cancel.run.cancel();
                cancel.all.cancel();
            })
        };
        let mut report = engine::execute(request, events, cancel.clone()).await;
        interrupter.abort();
        if cancel.interrupt.is_cancelled() {
            report.outcome.status = RunStatus::Interrupted;
            report.outcome.error = Some(format!(
                "the run was interrupted; `steward resume {}` continues it",
                report.run_id
            ));
        }
        let mut problems = Vec::new();
        if let Some(e) = audit.error() {
            problems.push(format!(
                "the audit trail {} is incomplete: {e}",
                audit_path.display()
            ));
        }
        // Waits for the store's writer to commit the last events.
        if let Some(e) = tokio::task::block_in_place(|| stored.error()) {
            problems.push(format!(
                "the run store {} is incomplete: {e}",
                self.store_path.display()
            ));
        }
        drop(lease);
        Ok(Finished {
            report,
            audit_path,
            problems,
        })
    }
}

struct BoxedSink(Box<dyn EventSink>);

impl EventSink for BoxedSink {
    fn emit(&self, event: &crate::events::RunEvent) {
        self.0.emit(event);
    }
}
