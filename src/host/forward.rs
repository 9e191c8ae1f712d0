//! A child run's progress, shown under its parent's `runbook` step.

use std::sync::Arc;

use crate::events::{EventSink, OutputStream, RunEvent};
use crate::render::describe;

/// Turns a child run's events into output lines of the parent's step.
pub struct Forward {
    parent: Arc<dyn EventSink>,
    step: String,
    runbook: String,
}

impl Forward {
    /// Lines go to `parent`'s events as output of its step `step`.
    pub fn new(parent: Arc<dyn EventSink>, step: &str, runbook: &str) -> Self {
        Forward {
            parent,
            step: step.to_owned(),
            runbook: runbook.to_owned(),
        }
    }
}

impl EventSink for Forward {
    fn emit(&self, event: &RunEvent) {
        let (stream, line) = match event {
            RunEvent::Output { step, stream, line } => {
                (*stream, format!("{} › {step} | {line}", self.runbook))
            }
            RunEvent::AttemptStarted { .. } => return,
            other => match describe(other) {
                Some(text) => (OutputStream::Stdout, format!("{} › {text}", self.runbook)),
                None => return,
            },
        };
        self.parent.emit(&RunEvent::Output {
            step: self.step.clone(),
            stream,
            line,
        });
    }
}
