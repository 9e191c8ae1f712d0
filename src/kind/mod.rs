//! The step-kind contract: what a kind gets to run one attempt
//! ([`StepContext`]), what it reports ([`Attempt`]), the trait it implements
//! ([`Kind`]), and what it may ask of the run's host ([`Control`]) and of
//! the run's shared resources ([`Resources`]).

pub mod compile;
mod control;
mod resources;

pub use compile::CompileCx;
pub use control::{
    ApprovalWait, BoxFuture, ChildOutcome, ChildRun, Control, ControlError, Decision, Guard,
    Standalone,
};
pub use resources::Resources;

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::events::EventSink;
use crate::outcome::FailureClass;
use crate::secrets::Redactor;
use crate::syntax::Spanned;
use crate::template::Renderer;

/// Everything a step kind gets to run one attempt.
pub struct StepContext<'a> {
    /// The run's id.
    pub run_id: &'a str,
    /// The step's id.
    pub step_id: &'a str,
    /// Renders the step's templates.
    pub renderer: &'a Renderer,
    /// The template context of this attempt.
    pub ctx: &'a minijinja::Value,
    /// The folder steps run in (the project).
    pub workdir: &'a Path,
    /// The run-level environment (`env:` of the runbook), rendered.
    pub env: &'a [(String, String)],
    /// Cancelled on Ctrl-C, on the run's timeout or the attempt's.
    pub cancel: &'a CancellationToken,
    /// Where live output goes.
    pub events: &'a Arc<dyn EventSink>,
    /// Masks secret values.
    pub redactor: &'a Redactor,
    /// Connection pools and other per-run resources.
    pub resources: &'a Resources,
    /// The run's host (approvals, child runs).
    pub control: &'a dyn Control,
    /// Fires when everything must stop, cleanup included.
    pub stop_all: &'a CancellationToken,
    /// Fires when the run is interrupted: a child run is interrupted with it.
    pub interrupt: &'a CancellationToken,
}

/// Why a step can't say what its attempt will do (a template that does not
/// render, a URL that does not parse…). Made by [`StepContext::cannot_describe`],
/// so its text is masked by the run's redactor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DescribeError(String);

impl StepContext<'_> {
    /// `why`, masked, as the reason the step can't be described.
    pub fn cannot_describe(&self, why: impl std::fmt::Display) -> DescribeError {
        DescribeError(self.redactor.redact(&why.to_string()).into_owned())
    }
}

/// How an attempt went, as a step kind reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The step's `result`.
    pub result: serde_json::Value,
    /// Why it failed, when it did.
    pub failure: Option<Failure>,
    /// A shell step's exit code.
    pub exit_code: Option<i32>,
    /// The tail of its output, for the audit trail.
    pub output: Option<String>,
}

/// A failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Which kind of failure (decides retries).
    pub class: FailureClass,
    /// What happened, for the operator.
    pub message: String,
}

impl Attempt {
    /// A failed attempt with no result.
    pub fn failed(class: FailureClass, message: impl Into<String>) -> Self {
        Attempt {
            result: serde_json::Value::Null,
            failure: Some(Failure {
                class,
                message: message.into(),
            }),
            exit_code: None,
            output: None,
        }
    }
}

/// One step kind, implemented by its compiled form: the YAML it reads
/// (`Spec`, under the key `KEY`), how that compiles, and how an attempt is
/// described and run. Each kind lives in its own folder under `src/kinds/`
/// and is registered by one line in the table there.
pub trait Kind: Sized {
    /// The YAML key that selects the kind (`shell`, `http`, …).
    const KEY: &'static str;

    /// What the YAML says under the key (a field of the step's spec, and of
    /// the JSON Schema).
    type Spec;

    /// Compiles the YAML; `None` when it has problems (recorded in `cx`).
    fn compile(spec: &Spanned<Self::Spec>, cx: &mut CompileCx<'_, '_>) -> Option<Self>;

    /// What the attempt will do, rendered, for `--dry-run` and the audit trail.
    fn describe(&self, ctx: &StepContext<'_>) -> Result<String, DescribeError>;

    /// The unrendered text of what the step does, for a dry run when it
    /// depends on values known only at run time.
    fn source(&self) -> String;

    /// Runs one attempt; stops promptly when `ctx.cancel` fires.
    fn execute(&self, ctx: &StepContext<'_>) -> impl Future<Output = Attempt> + Send;

    /// What a failed `assert` judged, when the kind can say it in a line.
    fn explain(_result: &serde_json::Value) -> Option<String> {
        None
    }

    /// The other forms a secret's value takes once this kind puts it where
    /// it goes (shell-quoted, URL-encoded…): the run masks these too.
    fn secret_forms(_secret: &str) -> Vec<String> {
        Vec::new()
    }
}
