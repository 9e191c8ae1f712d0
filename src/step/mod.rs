//! Step kinds, one module per YAML key, all behind [`Execute`].

pub mod approval;
pub mod http;
pub mod notify;
mod resources;
pub mod runbook;
pub mod shell;
pub mod sleep;
pub mod sql;

pub use resources::Resources;

use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::engine::context::Renderer;
use crate::engine::retry::FailureClass;
use crate::events::EventSink;
use crate::plan::StepKind;
use crate::secrets::Redactor;

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
    pub events: &'a std::sync::Arc<dyn EventSink>,
    /// Masks secret values.
    pub redactor: &'a Redactor,
    /// Connection pools and other per-run resources.
    pub resources: &'a Resources,
    /// The run's host (approvals, child runs).
    pub control: &'a dyn crate::engine::control::Control,
    /// Fires when everything must stop, cleanup included.
    pub stop_all: &'a CancellationToken,
    /// Fires when the run is interrupted: a child run is interrupted with it.
    pub interrupt: &'a CancellationToken,
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

/// One step kind.
pub trait Execute {
    /// What the attempt will do, rendered, for `--dry-run` and the audit trail.
    fn describe(&self, ctx: &StepContext<'_>) -> Result<String, String>;

    /// Runs one attempt; stops promptly when `ctx.cancel` fires.
    fn execute(&self, ctx: &StepContext<'_>) -> impl Future<Output = Attempt> + Send;
}

impl StepKind {
    /// Describes the attempt (see [`Execute::describe`]).
    pub fn describe(&self, ctx: &StepContext<'_>) -> Result<String, String> {
        match self {
            StepKind::Shell(s) => s.describe(ctx),
            StepKind::Sleep(s) => s.describe(ctx),
            StepKind::Http(s) => s.describe(ctx),
            StepKind::Notify(s) => s.describe(ctx),
            StepKind::Sql(s) => s.describe(ctx),
            StepKind::Approval(s) => s.describe(ctx),
            StepKind::Runbook(s) => s.describe(ctx),
        }
    }

    /// The unrendered text of what the step does, for a dry run when it
    /// depends on values known only at run time.
    pub fn source(&self) -> String {
        match self {
            StepKind::Shell(s) => s.run.source.clone(),
            StepKind::Sleep(s) => format!("sleep {}", human(s.duration)),
            StepKind::Http(s) => format!("{} {}", s.method, s.url.source),
            StepKind::Notify(s) => format!(
                "notify {}: {}",
                s.channel.name(),
                s.text
                    .as_ref()
                    .map(|t| t.source.as_str())
                    .unwrap_or_default()
            ),
            StepKind::Sql(s) => s.run.text().source.clone(),
            StepKind::Approval(s) => format!("approval: {}", s.message.source),
            StepKind::Runbook(s) => format!("runbook {}", s.name),
        }
    }

    /// Runs one attempt (see [`Execute::execute`]).
    pub async fn execute(&self, ctx: &StepContext<'_>) -> Attempt {
        match self {
            StepKind::Shell(s) => s.execute(ctx).await,
            StepKind::Sleep(s) => s.execute(ctx).await,
            StepKind::Http(s) => s.execute(ctx).await,
            StepKind::Notify(s) => s.execute(ctx).await,
            StepKind::Sql(s) => s.execute(ctx).await,
            StepKind::Approval(s) => s.execute(ctx).await,
            StepKind::Runbook(s) => s.execute(ctx).await,
        }
    }

    /// What a failed `assert` judged, when the kind can say it in a line
    /// (an HTTP answer's status and the start of its body).
    pub fn explain(&self, result: &serde_json::Value) -> Option<String> {
        match self {
            StepKind::Http(_) => http::explain(result),
            _ => None,
        }
    }
}

/// A duration as operators write it: `1.5s`, `250ms`, `2m 3s`.
pub fn human(d: Duration) -> String {
    if d.as_millis() < 1000 {
        return format!("{}ms", d.as_millis());
    }
    if d.as_secs() < 60 {
        return format!("{:.1}s", d.as_secs_f64());
    }
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}
