//! The event stream of a run. The engine knows nothing of terminals, files
//! or stores: it emits [`RunEvent`]s, and consumers (the audit trail, the
//! terminal renderer, the JSON report) subscribe through [`EventSink`].

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::outcome::{RunOutcome, StepOutcome, StepStatus};

/// What started a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// `cli`, `ci`, `api`, `chat`, `webhook` or `schedule`.
    pub kind: String,
    /// Who: the OS user, or the CI system's actor.
    pub actor: String,
    /// Where from: a CI job link, a chat channel…
    pub origin: Option<String>,
}

/// The run and step that started a child run (a `runbook` step).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParentRun {
    /// The parent's run id.
    pub run_id: String,
    /// The parent's `runbook` step.
    pub step: String,
}

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One thing that happened in a run. Every text in it is redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    /// The run began.
    RunStarted {
        /// Run id.
        run_id: String,
        /// Runbook name.
        runbook: String,
        /// The runbook file.
        source_path: String,
        /// sha256 of the runbook's source.
        source_sha256: String,
        /// Resolved inputs, secrets redacted.
        inputs: serde_json::Value,
        /// What started it.
        trigger: Trigger,
        /// RFC 3339.
        started_at: String,
        /// The run that started this one as a child, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<ParentRun>,
    },
    /// A run whose process died goes on (`steward resume`): its finished
    /// steps are kept, the others run (again).
    RunResumed {
        /// Who resumed it.
        by: Trigger,
        /// Steps already finished, not run again.
        finished_steps: usize,
    },
    /// The run waits for another run holding its concurrency key.
    ConcurrencyWaiting {
        /// The rendered key.
        key: String,
        /// The run holding it, when known.
        #[serde(skip_serializing_if = "Option::is_none")]
        holder: Option<String>,
    },
    /// The run holds its concurrency key.
    ConcurrencyAcquired {
        /// The rendered key.
        key: String,
        /// How long it waited.
        waited_ms: u64,
    },
    /// An `approval` step waits for a decision.
    ApprovalRequested {
        /// Step id.
        step: String,
        /// What is to be approved, rendered.
        message: String,
        /// Who may decide; empty: anyone.
        approvers: Vec<String>,
    },
    /// Someone approved or rejected an `approval` step.
    ApprovalDecided {
        /// Step id.
        step: String,
        /// Approved (else rejected).
        approved: bool,
        /// Who decided.
        by: String,
        /// Their comment.
        #[serde(skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
        /// How: `terminal`, `cli` (`steward approve`), `pre-approved`
        /// (`--yes`)…
        via: String,
        /// RFC 3339.
        decided_at: String,
    },
    /// An attempt of a step began.
    AttemptStarted {
        /// Step id.
        step: String,
        /// 1-based attempt number.
        attempt: u32,
        /// Index in `for_each`, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        item: Option<usize>,
        /// What runs, rendered and redacted (a script, a duration).
        detail: String,
    },
    /// A line of a step's output (not kept in the audit trail; its bounded
    /// tail is, in `attempt_finished`).
    Output {
        /// Step id.
        step: String,
        /// Which stream.
        stream: OutputStream,
        /// The line.
        line: String,
    },
    /// An attempt ended.
    AttemptFinished {
        /// Step id.
        step: String,
        /// 1-based attempt number.
        attempt: u32,
        /// Index in `for_each`, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        item: Option<usize>,
        /// `succeeded`, `failed`, `cancelled`.
        status: StepStatus,
        /// Exit code of a shell step.
        #[serde(skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// How long it took.
        duration_ms: u64,
        /// Why it failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// When it will be retried.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_in_ms: Option<u64>,
        /// The tail of its output (bounded).
        #[serde(skip_serializing_if = "Option::is_none")]
        output: Option<String>,
    },
    /// A step ended (after all its attempts), or was skipped.
    StepFinished {
        /// Step id.
        step: String,
        /// How it ended. Its `result` and skip reason are not in the audit
        /// trail (see [`StepOutcome`]); the run store keeps them, so that a
        /// resumed run can read `steps.<id>.result`.
        #[serde(flatten)]
        outcome: StepOutcome,
    },
    /// The run moved to its failure handling or its `finally` steps.
    Phase {
        /// `undo`, `on_failure` or `finally`.
        phase: String,
    },
    /// The run ended.
    RunFinished(RunOutcome),
}

/// A consumer of run events.
pub trait EventSink: Send + Sync {
    /// Receives one event, in order.
    fn emit(&self, event: &RunEvent);
}

/// Sends every event to several sinks, in order.
#[derive(Default)]
pub struct Fanout {
    sinks: Vec<Box<dyn EventSink>>,
}

impl Fanout {
    /// Adds a sink.
    pub fn with(mut self, sink: impl EventSink + 'static) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }
}

impl EventSink for Fanout {
    fn emit(&self, event: &RunEvent) {
        for sink in &self.sinks {
            sink.emit(event);
        }
    }
}

/// Keeps every event in memory (tests, reports).
#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<RunEvent>>,
}

impl Recorder {
    /// The events so far.
    pub fn events(&self) -> Vec<RunEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl EventSink for Recorder {
    fn emit(&self, event: &RunEvent) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event.clone());
        }
    }
}

impl<T: EventSink> EventSink for std::sync::Arc<T> {
    fn emit(&self, event: &RunEvent) {
        (**self).emit(event);
    }
}

#[cfg(test)]
mod tests;
