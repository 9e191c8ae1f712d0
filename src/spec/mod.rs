//! The serde model of runbook and step-template files, with positions.
//!
//! [`parse_runbook`] and [`parse_template`] never stop at the first problem:
//! they return what could be read and every problem found.

mod runbook;
mod step;
mod template_file;

pub use runbook::{
    ChatTriggerSpec, ConcurrencySpec, DefaultsSpec, InputSpec, RunbookSpec, ScheduleSpec,
    TriggersSpec,
};
pub use step::{RetryOnSpec, RetrySpec, StepSpec};
pub use template_file::{ParamSpec, StepTemplateSpec};

use crate::diagnostic::Diagnostic;
use crate::syntax::{parse, yaml};

/// Parses a runbook file. `None` when nothing usable could be read.
pub fn parse_runbook(source: &str) -> (Option<RunbookSpec>, Vec<Diagnostic>) {
    parse(source, "a runbook")
}

/// Parses a step-template file (`steps/<name>.yaml`).
pub fn parse_template(source: &str) -> (Option<StepTemplateSpec>, Vec<Diagnostic>) {
    parse(source, "a step template")
}

/// Parses `steward.yaml`.
pub fn parse_config(source: &str) -> (Option<crate::config::Config>, Vec<Diagnostic>) {
    if yaml::parse(source).is_ok_and(|n| n.is_none()) {
        return (Some(crate::config::Config::default()), Vec::new());
    }
    parse(source, "a project configuration")
}
