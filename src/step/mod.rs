//! Step kinds, one module per YAML key, all behind [`crate::kind::Execute`].

pub mod approval;
pub mod http;
pub mod notify;
pub mod runbook;
pub mod shell;
pub mod sleep;
pub mod sql;

use crate::duration::human;
use crate::kind::{Attempt, Execute, StepContext};
use crate::plan::StepKind;

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
