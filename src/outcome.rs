//! How steps and runs end: the words every floor shares.
//!
//! A step ends with one [`StepOutcome`] and a run with one [`RunOutcome`]:
//! the engine reports them, the events carry them, the store keeps them and
//! the renderers show them. Statuses and skip reasons are enums inside the
//! crate; their names (`succeeded`, `timed_out`, `when_false`…) are what the
//! JSON, the SQL rows and the templates hold, and [`FromStr`] reads them
//! back with an [`UnknownName`] error for a name this build does not know.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What kind of failure an attempt ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The attempt timed out.
    Timeout,
    /// A process exited with this non-zero code.
    ExitCode(i32),
    /// A connection could not be made (refused, DNS, TLS handshake…).
    Connect,
    /// An HTTP answer had an unexpected status.
    HttpStatus(u16),
    /// An `assert` expression was false.
    Assert,
    /// Anything else.
    Other,
}

/// A status or skip reason name this build does not know (a row written by
/// a newer steward, or a damaged one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}`")]
pub struct UnknownName {
    /// What was read: `step status`, `run status`, `skip reason`.
    pub what: &'static str,
    /// The name as found.
    pub name: String,
}

/// A unit enum with one snake_case name per variant (as serde writes it),
/// `as_str`, `Display` and `FromStr`.
macro_rules! named {
    ($(#[$meta:meta])* pub enum $name:ident ($what:literal) {
        $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &[$name] = &[$($name::$variant,)+];

            /// The name as JSON, SQL rows and templates have it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            fn from_str(name: &str) -> Result<Self, UnknownName> {
                match name {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownName {
                        what: $what,
                        name: name.to_owned(),
                    }),
                }
            }
        }
    };
}

named! {
    /// Where a step is, or how it ended.
    pub enum StepStatus ("step status") {
        /// An attempt runs (a stored step that has not ended).
        Running = "running",
        /// Waits for an approval (a stored step that has not ended).
        Waiting = "waiting",
        /// Done, well.
        Succeeded = "succeeded",
        /// Done, badly (its last attempt failed, or it could not start).
        Failed = "failed",
        /// Not run: see its [`SkipReason`].
        Skipped = "skipped",
        /// Stopped by Ctrl-C, SIGTERM, a cancel request or the run's
        /// `timeout`.
        Cancelled = "cancelled",
    }
}

impl StepStatus {
    /// Whether the step has ended (it is not running or waiting).
    pub fn has_ended(self) -> bool {
        !matches!(self, StepStatus::Running | StepStatus::Waiting)
    }
}

named! {
    /// Where a run is, or how it ended.
    pub enum RunStatus ("run status") {
        /// Running.
        Running = "running",
        /// Waiting for an approval or a concurrency key.
        Waiting = "waiting",
        /// Done, well.
        Succeeded = "succeeded",
        /// Done, badly.
        Failed = "failed",
        /// Stopped by Ctrl-C, SIGTERM or a cancel request.
        Cancelled = "cancelled",
        /// Stopped because the run's `timeout` passed.
        TimedOut = "timed_out",
        /// Its process died (`kill -9`, a crash, a reboot) or its host
        /// interrupted it: `steward resume` continues it.
        Interrupted = "interrupted",
    }
}

impl RunStatus {
    /// Whether the run has ended: it is not running or waiting (an
    /// interrupted run has ended until it is resumed).
    pub fn has_ended(self) -> bool {
        !matches!(self, RunStatus::Running | RunStatus::Waiting)
    }
}

named! {
    /// Why a step did not run.
    pub enum SkipReason ("skip reason") {
        /// Its `when` was false. The steps that need it run.
        WhenFalse = "when_false",
        /// A step it needs failed.
        NeedFailed = "need_failed",
        /// A step it needs was stopped (cancelled, or the run timed out).
        NeedStopped = "need_stopped",
        /// A step it needs was skipped for a reason that blocks.
        NeedSkipped = "need_skipped",
        /// The run was stopped before the step could start.
        RunStopped = "run_stopped",
        /// Its needs never ended (a bug guard: the scheduler should never
        /// leave a step behind).
        NeverReady = "never_ready",
    }
}

impl SkipReason {
    /// Whether the steps that need the skipped step are skipped too: every
    /// reason but a false `when`.
    pub fn blocks(self) -> bool {
        self != SkipReason::WhenFalse
    }
}

/// How a step ended (or, for a stored step that has not ended, where it
/// is): the one record of a step's end, from the engine to the store.
///
/// Its serde form is the audit trail's `step_finished` event (after the step
/// id), which is hashed and so never changes: `error` and `outputs` are left
/// out when empty, and `result` and `skip_reason` are not written at all
/// (the result can be large; the trail keeps its tail in
/// `attempt_finished`). The run report and the store have their own views.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepOutcome {
    /// Its status.
    pub status: StepStatus,
    /// Attempts made (or started, while it runs).
    pub attempts: u32,
    /// Total time.
    pub duration_ms: u64,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Its outputs (redacted): an object, `{}` when it has none; a list for
    /// a `for_each` step.
    #[serde(default = "no_outputs", skip_serializing_if = "is_no_outputs")]
    pub outputs: serde_json::Value,
    /// Its `result` (redacted, bounded by its kind); `null` when it didn't
    /// run.
    #[serde(skip)]
    pub result: serde_json::Value,
    /// Why it was skipped: set exactly when `status` is `skipped`.
    #[serde(skip)]
    pub skip_reason: Option<SkipReason>,
}

fn no_outputs() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

fn is_no_outputs(outputs: &serde_json::Value) -> bool {
    outputs.as_object().is_some_and(serde_json::Map::is_empty)
}

impl StepOutcome {
    /// A step that ended with `status` and nothing else known yet.
    pub fn new(status: StepStatus, attempts: u32) -> Self {
        StepOutcome {
            status,
            attempts,
            duration_ms: 0,
            error: None,
            outputs: no_outputs(),
            result: serde_json::Value::Null,
            skip_reason: None,
        }
    }

    /// A step that didn't run, and why (`error` says it in words).
    pub fn skipped(reason: SkipReason, error: String) -> Self {
        StepOutcome {
            error: Some(error),
            skip_reason: Some(reason),
            ..StepOutcome::new(StepStatus::Skipped, 0)
        }
    }

    /// A step that failed after `attempts` attempts (0: before its first).
    pub fn failed(attempts: u32, error: String) -> Self {
        StepOutcome {
            error: Some(error),
            ..StepOutcome::new(StepStatus::Failed, attempts)
        }
    }

    /// Whether it has outputs (`outputs` is not `{}`).
    pub fn has_outputs(&self) -> bool {
        !is_no_outputs(&self.outputs)
    }

    /// Whether the steps that need this one are skipped because of it.
    /// Cleanup lists (`on_failure`, `finally`) don't ask: every cleanup step
    /// runs.
    pub fn blocks(&self, continue_on_error: bool) -> bool {
        match self.status {
            StepStatus::Failed => !continue_on_error,
            StepStatus::Skipped => self.skip_reason.is_some_and(SkipReason::blocks),
            StepStatus::Cancelled => true,
            StepStatus::Succeeded | StepStatus::Running | StepStatus::Waiting => false,
        }
    }
}

/// How a run ended: what its `run_finished` event says, the heart of its
/// report, and what a parent learns of a child run.
///
/// Its serde form is the audit trail's `run_finished` event (after the
/// event's name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    /// Final status.
    pub status: RunStatus,
    /// Total time.
    pub duration_ms: u64,
    /// The run's outputs (redacted), `{}` unless its main steps succeeded.
    pub outputs: serde_json::Value,
    /// Why it failed, was cancelled or interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_serdes_and_read_back() {
        fn check<T>(all: &[T], name: fn(T) -> &'static str)
        where
            T: Copy + PartialEq + fmt::Debug + Serialize + FromStr<Err = UnknownName>,
        {
            for &value in all {
                let json = serde_json::to_value(value).unwrap();
                assert_eq!(json, name(value), "{value:?}");
                assert_eq!(name(value).parse::<T>(), Ok(value));
            }
        }
        check(StepStatus::ALL, StepStatus::as_str);
        check(RunStatus::ALL, RunStatus::as_str);
        check(SkipReason::ALL, SkipReason::as_str);
        assert_eq!(RunStatus::TimedOut.to_string(), "timed_out");
        let err = "pending".parse::<StepStatus>().unwrap_err();
        assert_eq!(err.to_string(), "unknown step status `pending`");
    }

    #[test]
    fn only_a_false_when_lets_dependents_run() {
        let lets_run: Vec<_> = SkipReason::ALL.iter().filter(|r| !r.blocks()).collect();
        assert_eq!(lets_run, [&SkipReason::WhenFalse]);
        let skipped = |r| StepOutcome::skipped(r, String::new());
        assert!(!skipped(SkipReason::WhenFalse).blocks(false));
        assert!(skipped(SkipReason::NeedFailed).blocks(false));
        assert!(StepOutcome::failed(1, String::new()).blocks(false));
        assert!(!StepOutcome::failed(1, String::new()).blocks(true));
        assert!(!StepOutcome::new(StepStatus::Succeeded, 1).blocks(false));
    }
}
