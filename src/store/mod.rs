//! The run store: every run, step, log excerpt and audit event as a durable
//! record, fed from the engine's event stream by [`StoreSink`].
//!
//! [`RunStore`] is the interface the CLI uses; [`SqliteStore`] is the
//! embedded default at `.steward/steward.db`. A PostgreSQL store will
//! implement the same trait.

#[cfg(test)]
mod approval_tests;
mod approvals;
mod columns;
mod locks;
mod options;
mod record;
mod schema;
mod sink;
mod sqlite;
#[cfg(test)]
mod tests;
mod ticks;

use crate::kind::Decision;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::events::RunEvent;
use crate::outcome::{RunStatus, StepOutcome, UnknownName};

pub use locks::Lease;
pub use options::{SqliteOptions, Synchronous};
pub use sink::StoreSink;
pub use sqlite::SqliteStore;

/// How many log lines are kept per step (the newest).
pub const LOG_LINES_PER_STEP: usize = 1_000;

/// Why the store could not be read or written. Every message names the
/// database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is not a SQLite database, or is damaged.
    #[error("the run store {} is not a valid SQLite database (corrupted?): {source}", path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// Another process holds a lock on the database for too long.
    #[error("the run store {} is locked by another process: {source}", path.display())]
    Locked {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was created by a newer steward.
    #[error(
        "the run store {} has schema version {found}, this steward knows up to {known}: upgrade steward",
        path.display()
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// Any other database failure.
    #[error("the run store {}: {context}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A lock file beside the database could not be used.
    #[error("the run store {}: can't use its lock files: {source}", path.display())]
    Lock {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The folder of the database could not be created.
    #[error("can't create the folder of the run store {}: {source}", path.display())]
    Folder {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `--store` / `STEWARD_STORE` names a store this build cannot open.
    #[error("unsupported run store `{0}`: give a path or sqlite://PATH")]
    Unsupported(String),
    /// A `sqlite://` URL with an unknown option or a bad value.
    #[error("run store `{url}`: {problem}")]
    BadOption {
        /// The store URL as given.
        url: String,
        /// Which option or value is wrong.
        problem: String,
    },
    /// A value could not be (de)serialised.
    #[error("run store data: {0}")]
    Json(#[from] serde_json::Error),
    /// A stored status or skip reason this build does not know (a newer
    /// steward wrote it, or the row is damaged).
    #[error("the run store {}: {source}", path.display())]
    UnknownValue {
        /// The database file.
        path: PathBuf,
        /// The name found.
        #[source]
        source: UnknownName,
    },
}

/// One audit line, exactly as the file trail writes it (without the newline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLine {
    /// Its sequence number in the run's chain.
    pub seq: u64,
    /// The line.
    pub line: String,
}

/// Which runs [`RunStore::list_runs`] returns.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only runs of this runbook.
    pub runbook: Option<String>,
    /// Only runs with this status (`interrupted` ones are found among the
    /// `running` and `waiting` rows).
    pub status: Option<RunStatus>,
    /// Only children of this run.
    pub parent: Option<String>,
    /// At most this many (the newest).
    pub limit: Option<usize>,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// Run id.
    pub id: String,
    /// Runbook name.
    pub runbook: String,
    /// `running` or `waiting` until the run finishes, then its final
    /// status; `interrupted` when its process died.
    pub status: RunStatus,
    /// What started it: `cli`, `ci`…
    pub trigger_kind: String,
    /// Who started it.
    pub actor: String,
    /// Where from (a CI job link…).
    pub origin: Option<String>,
    /// The runbook file.
    pub source_path: String,
    /// sha256 of the runbook's source.
    pub source_sha256: String,
    /// Resolved inputs, secrets redacted.
    pub inputs: serde_json::Value,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339, once finished.
    pub finished_at: Option<String>,
    /// Total time, once finished.
    pub duration_ms: Option<u64>,
    /// The run's outputs, once finished.
    pub outputs: Option<serde_json::Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// The run that started this one (a `runbook` step), if any.
    pub parent_run_id: Option<String>,
    /// The parent's step.
    pub parent_step: Option<String>,
}

/// A stored step: its last known state. Its JSON (`show --output json`,
/// the API) is flat: the step's id, its outcome with `null` for what is not
/// known yet (`duration_ms` until it ends) or is empty (`result`,
/// `outputs`), and its last attempt; no skip reason.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// Step id.
    pub step: String,
    /// Its outcome, once it ended; while it runs or waits: its status
    /// (`running`, `waiting`), the attempts started, and nothing more.
    pub outcome: StepOutcome,
    /// The last finished attempt (`attempt_finished` as JSON).
    pub attempt: Option<serde_json::Value>,
}

impl Serialize for StepRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            step: &'a str,
            status: crate::outcome::StepStatus,
            attempts: u32,
            duration_ms: Option<u64>,
            result: Option<&'a serde_json::Value>,
            attempt: Option<&'a serde_json::Value>,
            outputs: Option<&'a serde_json::Value>,
            error: Option<&'a str>,
        }
        let o = &self.outcome;
        Shown {
            step: &self.step,
            status: o.status,
            attempts: o.attempts,
            duration_ms: o.status.has_ended().then_some(o.duration_ms),
            result: (!o.result.is_null()).then_some(&o.result),
            attempt: self.attempt.as_ref(),
            outputs: o.has_outputs().then_some(&o.outputs),
            error: o.error.as_deref(),
        }
        .serialize(serializer)
    }
}

/// A run with its steps, in the order they started.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDetail {
    /// The run.
    #[serde(flatten)]
    pub run: RunRecord,
    /// Its steps.
    pub steps: Vec<StepRecord>,
    /// Its `approval` steps' requests and decisions.
    pub approvals: Vec<ApprovalRecord>,
    /// The runs its `runbook` steps started.
    pub children: Vec<RunRecord>,
}

/// An `approval` step's request and, once made, its decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalRecord {
    /// Step id.
    pub step: String,
    /// What is to be approved.
    pub message: String,
    /// Who may decide; empty: anyone.
    pub approvers: Vec<String>,
    /// RFC 3339.
    pub requested_at: String,
    /// The decision, once made.
    pub decision: Option<Decision>,
}

/// Why a decision was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The run has no such step waiting for approval.
    #[error("step `{step}` of run {run} is not waiting for an approval")]
    NotWaiting {
        /// Run id.
        run: String,
        /// Step id.
        step: String,
    },
    /// Someone decided first.
    #[error("step `{step}` was already {} by {by}", if *approved { "approved" } else { "rejected" })]
    AlreadyDecided {
        /// Step id.
        step: String,
        /// Their decision.
        approved: bool,
        /// Who.
        by: String,
    },
    /// The person is not among the step's approvers.
    #[error("{who} may not decide on step `{step}`: its approvers are {}", approvers.join(", "))]
    NotAnApprover {
        /// Step id.
        step: String,
        /// Who tried.
        who: String,
        /// Who may.
        approvers: Vec<String>,
    },
}

/// Who holds a concurrency key, when it is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The holding run's id, when it could be read.
    pub holder: Option<String>,
}

/// One stored output line of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// Step id.
    pub step: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// The line (redacted at the source).
    pub line: String,
}

/// Durable run records. Methods take `&self`; implementations are shared
/// between threads.
pub trait RunStore: Send + Sync {
    /// Records one event of `run_id` in one transaction, with its audit line
    /// (none for output lines). A `run_started` creates the run; a step's
    /// record is final once its `step_finished` is recorded.
    fn record(
        &self,
        run_id: &str,
        event: &RunEvent,
        audit: Option<&AuditLine>,
    ) -> Result<(), StoreError>;

    /// Records several events of a run in order, as one commit where the
    /// store can.
    fn record_batch(
        &self,
        run_id: &str,
        batch: &[(RunEvent, Option<AuditLine>)],
    ) -> Result<(), StoreError> {
        for (event, audit) in batch {
            self.record(run_id, event, audit.as_ref())?;
        }
        Ok(())
    }

    /// Runs, newest first.
    fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError>;

    /// One run with its steps, if stored.
    fn get_run(&self, run_id: &str) -> Result<Option<RunDetail>, StoreError>;

    /// A run's audit lines, in order.
    fn audit_lines(&self, run_id: &str) -> Result<Vec<AuditLine>, StoreError>;

    /// A run's audit lines after sequence number `after`, in order (for
    /// followers, which would otherwise read the whole trail each time).
    fn audit_lines_after(&self, run_id: &str, after: u64) -> Result<Vec<AuditLine>, StoreError> {
        let mut lines = self.audit_lines(run_id)?;
        lines.retain(|l| l.seq > after);
        Ok(lines)
    }

    /// A run's log lines in order (the last [`LOG_LINES_PER_STEP`] of each
    /// step), with a cursor for [`logs_after`](Self::logs_after).
    fn logs(&self, run_id: &str) -> Result<Vec<LogLine>, StoreError> {
        self.logs_after(run_id, 0).map(|(lines, _)| lines)
    }

    /// The log lines recorded after `cursor` (0: from the start) and the
    /// cursor to continue from (`steward logs --follow`).
    fn logs_after(&self, run_id: &str, cursor: i64) -> Result<(Vec<LogLine>, i64), StoreError>;

    /// Keeps the compiled plan of a run, so that `resume` runs what was
    /// started even if the runbook changed since.
    fn save_plan(&self, run_id: &str, plan_json: &str) -> Result<(), StoreError>;

    /// The plan saved for a run.
    fn load_plan(&self, run_id: &str) -> Result<Option<String>, StoreError>;

    /// Marks `run_id` as owned by this process for as long as the lease
    /// lives (a process that dies releases it); `None` when another live
    /// process owns it.
    fn claim_run(&self, run_id: &str) -> Result<Option<Lease>, StoreError>;

    /// Whether a live process owns the run.
    fn run_alive(&self, run_id: &str) -> Result<bool, StoreError>;

    /// Takes a concurrency key for `run_id` if no live run holds it.
    fn try_concurrency_key(
        &self,
        key: &str,
        run_id: &str,
    ) -> Result<Result<Lease, Held>, StoreError>;

    /// The decision on an `approval` step, once someone made it and no
    /// `approval_decided` event has consumed it yet.
    fn decision(&self, run_id: &str, step: &str) -> Result<Option<Decision>, StoreError>;

    /// Records a decision on a waiting `approval` step; the first decision
    /// wins.
    fn decide(
        &self,
        run_id: &str,
        step: &str,
        decision: &Decision,
    ) -> Result<Result<(), Refusal>, StoreError>;

    /// Deletes the runs that started more than `older_than` ago and are no
    /// longer running, with everything recorded for them; returns their ids.
    fn prune(&self, older_than: std::time::Duration) -> Result<Vec<String>, StoreError>;

    /// The last tick handled of a runbook's schedule (`schedule` names it),
    /// if one was recorded.
    fn last_tick(
        &self,
        runbook: &str,
        schedule: &str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError>;

    /// Records `tick` as the schedule's last handled tick if none is stored
    /// or the stored one is older, atomically: `true` when this call
    /// recorded it (fire it), `false` when another server already did.
    fn advance_tick(
        &self,
        runbook: &str,
        schedule: &str,
        tick: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError>;
}

/// The default store of a project: `.steward/steward.db`.
pub fn default_path(project_root: &Path) -> PathBuf {
    project_root.join(".steward").join("steward.db")
}

/// Opens the store `spec` names (a path, or `sqlite://PATH` with options
/// as a query string: `?synchronous=off|normal|full`; relative paths from
/// the current folder), or the project's default store.
pub fn open(project_root: &Path, spec: Option<&str>) -> Result<SqliteStore, StoreError> {
    let (path, options) = match spec.map(str::trim).filter(|s| !s.is_empty()) {
        None => (default_path(project_root), SqliteOptions::default()),
        Some(spec) => match spec.split_once("://") {
            Some(("sqlite", rest)) => {
                let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
                if path.is_empty() {
                    return Err(StoreError::Unsupported(spec.to_owned()));
                }
                (PathBuf::from(path), SqliteOptions::from_query(spec, query)?)
            }
            Some(_) => return Err(StoreError::Unsupported(spec.to_owned())),
            None => (PathBuf::from(spec), SqliteOptions::default()),
        },
    };
    SqliteStore::open_with_options(&path, options)
}
