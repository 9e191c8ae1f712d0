//! What the host tells, and may ask, whoever hosts it: the CLI answers at
//! the terminal, the server writes its log. The host itself does no
//! terminal I/O.

use std::sync::Arc;

use chrono::{SecondsFormat, Utc};

use crate::kind::Decision;
use crate::store::{Refusal, RunStore, StoreError};

/// The edge a [`Runner`](super::Runner) reports to.
pub trait Console: Send + Sync {
    /// A problem that does not stop the run (a child run's records are
    /// incomplete, say).
    fn problem(&self, run_id: &str, message: &str);

    /// An `approval` step waits for a decision (polled from the store);
    /// `answer` records one like any other, so the first decision made,
    /// here or elsewhere, counts.
    fn approval_waiting(&self, waiting: &Waiting<'_>, answer: Answer);
}

/// An `approval` step waiting for a decision.
#[derive(Debug, Clone, Copy)]
pub struct Waiting<'a> {
    /// Run id.
    pub run_id: &'a str,
    /// Step id.
    pub step: &'a str,
    /// The step's message, rendered.
    pub message: &'a str,
    /// Whether whoever started the run may decide (the approvers name
    /// them, or name nobody).
    pub may_decide: bool,
}

/// Records a decision on one waiting step, made by whoever started the run.
pub struct Answer {
    pub(super) store: Arc<dyn RunStore>,
    pub(super) run_id: String,
    pub(super) step: String,
    pub(super) by: String,
}

impl Answer {
    /// Who decides: whoever started the run.
    pub fn by(&self) -> &str {
        &self.by
    }

    /// Records the decision, made `via` (`terminal`, say); a refusal when
    /// the step no longer waits or they may not decide.
    pub fn record(
        &self,
        approved: bool,
        comment: Option<String>,
        via: &str,
    ) -> Result<Result<(), Refusal>, StoreError> {
        let decision = Decision {
            approved,
            by: self.by.clone(),
            comment,
            via: via.to_owned(),
            decided_at: now(),
        };
        self.store.decide(&self.run_id, &self.step, &decision)
    }
}

/// Now, as decisions record it.
pub(super) fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests;
