//! `steward approve RUN STEP [--comment T]` and `steward reject …`: decide
//! on a waiting `approval` step from any terminal.

use std::path::Path;

use chrono::{SecondsFormat, Utc};

use crate::kind::Decision;
use crate::outcome::RunStatus;
use crate::store::RunStore;

use super::exit;

/// Arguments of `approve` and `reject`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The waiting run (`steward history --status waiting`).
    run: String,
    /// The `approval` step.
    step: String,
    /// Why; kept in the audit trail.
    #[arg(long, short = 'm', value_name = "TEXT")]
    comment: Option<String>,
}

pub fn run(
    project_dir: Option<&Path>,
    store: Option<&str>,
    args: Args,
    approved: bool,
) -> anyhow::Result<u8> {
    let (_project, store) = match super::project_store(project_dir, store) {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    let detail = match super::stored(&store, &args.run, store.get_run(&args.run)) {
        Ok(d) => d,
        Err(code) => return Ok(code),
    };
    let status = detail.run.status;
    if !matches!(status, RunStatus::Waiting | RunStatus::Running) {
        let interrupted = status == RunStatus::Interrupted;
        let hint =
            interrupted.then_some("`steward resume RUN` continues it; decide once it waits again");
        let what = if interrupted {
            "was interrupted".to_owned()
        } else {
            format!("has ended ({status})")
        };
        super::print_error(
            &format!("run {} {what}: no approval is waiting", args.run),
            hint,
        );
        return Ok(exit::INVALID);
    }
    let me = crate::trigger::detect(|k| std::env::var(k).ok()).actor;
    let decision = Decision {
        approved,
        by: me,
        comment: args.comment.filter(|c| !c.trim().is_empty()),
        via: "cli".into(),
        decided_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    };
    match store.decide(&args.run, &args.step, &decision) {
        Ok(Ok(())) => {
            let verdict = if approved { "approved" } else { "rejected" };
            super::write_stdout(&format!(
                "{verdict} step `{}` of run {}",
                args.step, args.run
            ))?;
            Ok(exit::OK)
        }
        Ok(Err(refusal)) => {
            let waiting: Vec<&str> = detail
                .approvals
                .iter()
                .filter(|a| a.decision.is_none())
                .map(|a| a.step.as_str())
                .collect();
            let hint = (!waiting.is_empty() && !waiting.contains(&args.step.as_str()))
                .then(|| format!("waiting for approval: {}", waiting.join(", ")));
            super::print_error(&refusal.to_string(), hint.as_deref());
            Ok(exit::INVALID)
        }
        Err(e) => {
            super::print_error(&e.to_string(), None);
            Ok(exit::FAILED)
        }
    }
}
