//! What the engine and the step kinds ask of whoever hosts the run: the run
//! store's concurrency keys and approval decisions, and child runs. The
//! engine itself knows nothing of stores, terminals or projects.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

use crate::events::{EventSink, ParentRun};
use crate::outcome::RunOutcome;
use serde::Serialize;

/// A boxed future, for the object-safe [`Control`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something held for as long as it lives (a concurrency key).
pub type Guard = Box<dyn Send + Sync>;

/// An `approval` step waiting for a decision.
pub struct ApprovalWait<'a> {
    /// Run id.
    pub run_id: &'a str,
    /// Step id.
    pub step: &'a str,
    /// The message, rendered.
    pub message: &'a str,
    /// Who may decide; empty: anyone.
    pub approvers: &'a [String],
    /// Fires when the step is stopped.
    pub cancel: &'a CancellationToken,
}

/// A child run to start and wait for.
pub struct ChildRun {
    /// Who starts it.
    pub parent: ParentRun,
    /// The runbook's name.
    pub runbook: String,
    /// Its inputs, rendered.
    pub inputs: IndexMap<String, serde_json::Value>,
    /// Stops the child run's steps (its `finally` still runs).
    pub cancel: CancellationToken,
    /// Stops all of the child run, `finally` included.
    pub stop_all: CancellationToken,
    /// Interrupts the child run (with its parent): nothing more of it is
    /// recorded, so both can be resumed.
    pub interrupt: CancellationToken,
    /// The parent's events: the child's progress is shown under the step.
    pub events: Arc<dyn EventSink>,
}

/// How a child run ended.
#[derive(Debug, Clone)]
pub struct ChildOutcome {
    /// Its id.
    pub run_id: String,
    /// How it ended.
    pub outcome: RunOutcome,
}

/// Who approved or rejected an `approval` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Approved (else rejected).
    pub approved: bool,
    /// Who decided.
    pub by: String,
    /// Their comment.
    pub comment: Option<String>,
    /// How: `terminal`, `cli`, `pre-approved`, `api`, `slack`…
    pub via: String,
    /// RFC 3339.
    pub decided_at: String,
}

/// Why the host could not do what the run asked.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Another run holds the concurrency key, and the runbook says
    /// `on_conflict: fail`.
    #[error("{holder} holds the concurrency key `{key}` (on_conflict: fail)")]
    KeyHeld {
        /// The key.
        key: String,
        /// Who holds it (`run <id>`, or `another run`).
        holder: String,
    },
    /// Stopped while waiting for a concurrency key.
    #[error("cancelled while waiting for the concurrency key `{key}` ({holder} holds it)")]
    CancelledWaitingForKey {
        /// The key.
        key: String,
        /// Who holds it.
        holder: String,
    },
    /// Stopped while waiting for a decision.
    #[error("cancelled while waiting for approval")]
    CancelledWaitingForApproval,
    /// The run store failed.
    #[error(transparent)]
    Store(Box<dyn std::error::Error + Send + Sync>),
    /// The child run could not be prepared or recorded; the message says
    /// why, in the parent step's terms.
    #[error("{0}")]
    Child(String),
    /// This host has no run store, which the request needs.
    #[error("{0} need a run store (run with `steward run`)")]
    Unsupported(&'static str),
}

/// The host of a run.
pub trait Control: Send + Sync {
    /// Takes the concurrency key `key` for `run_id`. With `wait`, waits
    /// (emitting `concurrency_waiting` once) until the holder ends; without,
    /// fails at once when it is held.
    fn acquire<'a>(
        &'a self,
        run_id: &'a str,
        key: &'a str,
        wait: bool,
        events: &'a dyn EventSink,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Guard, ControlError>>;

    /// Waits for a decision on an approval step.
    fn decision<'a>(
        &'a self,
        wait: ApprovalWait<'a>,
    ) -> BoxFuture<'a, Result<Decision, ControlError>>;

    /// Runs a child run to its end.
    fn run_child(&self, child: ChildRun) -> BoxFuture<'_, Result<ChildOutcome, ControlError>>;
}

/// A host without a run store (library use, tests of single runs): a
/// concurrency key is always free, and approvals and child runs fail with
/// a message saying why.
pub struct Standalone;

impl Control for Standalone {
    fn acquire<'a>(
        &'a self,
        _run_id: &'a str,
        _key: &'a str,
        _wait: bool,
        _events: &'a dyn EventSink,
        _cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Guard, ControlError>> {
        Box::pin(async { Ok(Box::new(()) as Guard) })
    }

    fn decision<'a>(
        &'a self,
        _wait: ApprovalWait<'a>,
    ) -> BoxFuture<'a, Result<Decision, ControlError>> {
        Box::pin(async { Err(ControlError::Unsupported("approvals")) })
    }

    fn run_child(&self, _child: ChildRun) -> BoxFuture<'_, Result<ChildOutcome, ControlError>> {
        Box::pin(async { Err(ControlError::Unsupported("child runs")) })
    }
}
