//! `approval`: the run waits until someone approves or rejects it: at the
//! terminal that started it, with `steward approve|reject` from any other,
//! or pre-approved with `--yes`. A rejection or a timeout fails the step.

use chrono::{SecondsFormat, Utc};

use crate::duration::human;
use crate::events::RunEvent;
use crate::kind::ApprovalWait;
use crate::kind::Decision;
use crate::kind::{Attempt, DescribeError, Failure, StepContext};

use super::ApprovalStep;
use crate::outcome::FailureClass;

impl ApprovalStep {
    pub(super) fn describe_attempt(&self, ctx: &StepContext<'_>) -> Result<String, DescribeError> {
        let message = ctx
            .renderer
            .render(&self.message, ctx.ctx)
            .map_err(|e| ctx.cannot_describe(e))?;
        Ok(format!("approval: {}", ctx.redactor.redact(&message)))
    }

    pub(super) async fn run_attempt(&self, ctx: &StepContext<'_>) -> Attempt {
        let message = match ctx.renderer.render(&self.message, ctx.ctx) {
            Ok(m) => ctx.redactor.redact(&m).into_owned(),
            Err(e) => return Attempt::failed(FailureClass::Other, format!("message: {e}")),
        };
        let limit = match (&self.timeout, &self.timeout_from) {
            (Some(limit), _) => Some(*limit),
            (None, Some(template)) => match ctx.renderer.render(template, ctx.ctx) {
                Ok(text) if text.trim().is_empty() => None,
                Ok(text) => match crate::duration::parse(&text) {
                    Ok(limit) => Some(limit),
                    Err(e) => {
                        let e = ctx.redactor.redact(&e.to_string()).into_owned();
                        return Attempt::failed(
                            FailureClass::Other,
                            format!("timeout: bad duration: {e}"),
                        );
                    }
                },
                Err(e) => return Attempt::failed(FailureClass::Other, format!("timeout: {e}")),
            },
            (None, None) => None,
        };
        ctx.events.emit(&RunEvent::ApprovalRequested {
            step: ctx.step_id.to_owned(),
            message: message.clone(),
            approvers: self.approvers.clone(),
        });
        let wait = ctx.control.decision(ApprovalWait {
            run_id: ctx.run_id,
            step: ctx.step_id,
            message: &message,
            approvers: &self.approvers,
            cancel: ctx.cancel,
        });
        let decided = match limit {
            Some(limit) => match tokio::time::timeout(limit, wait).await {
                Ok(decided) => decided,
                Err(_) => {
                    let why = format!("no decision within {}", human(limit));
                    record(ctx, &timed_out(&why));
                    return Attempt {
                        failure: Some(Failure {
                            class: FailureClass::Timeout,
                            message: why,
                        }),
                        ..Attempt::failed(FailureClass::Timeout, "")
                    };
                }
            },
            None => wait.await,
        };
        let decision = match decided {
            Ok(d) => d,
            Err(e) => return Attempt::failed(FailureClass::Other, e.to_string()),
        };
        record(ctx, &decision);
        let result = serde_json::json!({
            "approved": decision.approved,
            "approved_by": decision.approved.then(|| decision.by.clone()),
            "decided_by": decision.by,
            "comment": decision.comment,
            "via": decision.via,
        });
        let failure = (!decision.approved).then(|| Failure {
            class: FailureClass::Other,
            message: match &decision.comment {
                Some(c) => format!("rejected by {}: {c}", decision.by),
                None => format!("rejected by {}", decision.by),
            },
        });
        Attempt {
            result,
            failure,
            exit_code: None,
            output: None,
        }
    }
}

fn timed_out(why: &str) -> Decision {
    Decision {
        approved: false,
        by: "steward".to_owned(),
        comment: Some(why.to_owned()),
        via: "timeout".to_owned(),
        decided_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    }
}

fn record(ctx: &StepContext<'_>, d: &Decision) {
    ctx.events.emit(&RunEvent::ApprovalDecided {
        step: ctx.step_id.to_owned(),
        approved: d.approved,
        by: d.by.clone(),
        comment: d
            .comment
            .as_deref()
            .map(|c| ctx.redactor.redact(c).into_owned()),
        via: d.via.clone(),
        decided_at: d.decided_at.clone(),
    });
}
