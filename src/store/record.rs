//! Writing one event of a run into the SQLite tables, inside the caller's
//! transaction.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Transaction, params};

use super::{AuditLine, LOG_LINES_PER_STEP, approvals};
use crate::events::{OutputStream, ParentRun, RunEvent, Trigger};
use crate::kind::Decision;
use crate::outcome::{RunOutcome, RunStatus, StepOutcome, StepStatus};

/// What can go wrong writing an event.
#[derive(Debug, thiserror::Error)]
pub(super) enum Error {
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Writes one event and its audit line.
pub(super) fn apply(
    tx: &Transaction<'_>,
    run_id: &str,
    event: &RunEvent,
    audit: Option<&AuditLine>,
) -> Result<(), Error> {
    let run = Run { tx, id: run_id };
    match event {
        RunEvent::RunStarted {
            runbook,
            source_path,
            source_sha256,
            inputs,
            trigger,
            started_at,
            parent,
            ..
        } => run.started(&NewRun {
            runbook,
            source_path,
            source_sha256,
            inputs,
            trigger,
            started_at,
            parent: parent.as_ref(),
        })?,
        RunEvent::RunResumed { .. } => run.resumed()?,
        RunEvent::ConcurrencyWaiting { .. } => run.set_status(RunStatus::Waiting)?,
        RunEvent::ConcurrencyAcquired { .. } => run.set_status(RunStatus::Running)?,
        RunEvent::ApprovalRequested {
            step,
            message,
            approvers,
        } => run.approval_requested(step, message, approvers)?,
        RunEvent::ApprovalDecided {
            step,
            approved,
            by,
            comment,
            via,
            decided_at,
        } => run.approval_decided(
            step,
            &Decision {
                approved: *approved,
                by: by.clone(),
                comment: comment.clone(),
                via: via.clone(),
                decided_at: decided_at.clone(),
            },
        )?,
        RunEvent::AttemptStarted { step, attempt, .. } => run.attempt_started(step, *attempt)?,
        RunEvent::Output { step, stream, line } => run.output(step, *stream, line)?,
        RunEvent::AttemptFinished { step, .. } => run.attempt_finished(step, event)?,
        RunEvent::StepFinished { step, outcome } => run.step_finished(step, outcome)?,
        RunEvent::Phase { .. } => {}
        RunEvent::RunFinished(outcome) => run.finished(outcome)?,
    }
    if let Some(audit) = audit {
        run.audit_line(audit)?;
    }
    Ok(())
}

/// The columns a run starts with.
struct NewRun<'a> {
    runbook: &'a str,
    source_path: &'a str,
    source_sha256: &'a str,
    inputs: &'a serde_json::Value,
    trigger: &'a Trigger,
    started_at: &'a str,
    parent: Option<&'a ParentRun>,
}

/// One run's rows, written inside the caller's transaction: one method per
/// kind of event.
struct Run<'a> {
    tx: &'a Transaction<'a>,
    id: &'a str,
}

impl Run<'_> {
    /// `run_started`: the run's row, `running`.
    fn started(&self, new: &NewRun<'_>) -> Result<(), Error> {
        let started_ms = DateTime::parse_from_rfc3339(new.started_at)
            .map_or_else(|_| Utc::now().timestamp_millis(), |t| t.timestamp_millis());
        self.tx
            .prepare_cached(
                "INSERT INTO runs (id, runbook, status, trigger_kind, actor, origin, \
                 source_path, source_sha256, inputs_json, started_at, started_ms, \
                 parent_run_id, parent_step) \
                 VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                self.id,
                new.runbook,
                new.trigger.kind,
                new.trigger.actor,
                new.trigger.origin,
                new.source_path,
                new.source_sha256,
                serde_json::to_string(new.inputs)?,
                new.started_at,
                started_ms,
                new.parent.map(|p| &p.run_id),
                new.parent.map(|p| &p.step),
            ])?;
        Ok(())
    }

    /// `run_resumed`: `running` again, its end forgotten.
    fn resumed(&self) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE runs SET status = ?2, finished_at = NULL, duration_ms = NULL, \
                 error = NULL WHERE id = ?1",
            )?
            .execute(params![self.id, RunStatus::Running])?;
        Ok(())
    }

    fn set_status(&self, status: RunStatus) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached("UPDATE runs SET status = ?2 WHERE id = ?1")?
            .execute(params![self.id, status])?;
        Ok(())
    }

    fn set_step_status(&self, step: &str, status: StepStatus) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached("UPDATE steps SET status = ?3 WHERE run_id = ?1 AND step_id = ?2")?
            .execute(params![self.id, step, status])?;
        Ok(())
    }

    /// `approval_requested`: the request's row; the step and the run wait.
    fn approval_requested(
        &self,
        step: &str,
        message: &str,
        approvers: &[String],
    ) -> rusqlite::Result<()> {
        approvals::request(self.tx, self.id, step, message, approvers, &now())?;
        self.set_step_status(step, StepStatus::Waiting)?;
        self.set_status(RunStatus::Waiting)
    }

    /// `approval_decided`: the decision is consumed; the step runs again,
    /// and the run once no other approval waits.
    fn approval_decided(&self, step: &str, decision: &Decision) -> rusqlite::Result<()> {
        approvals::consume(self.tx, self.id, step, decision)?;
        self.set_step_status(step, StepStatus::Running)?;
        if !approvals::any_pending(self.tx, self.id)? {
            self.set_status(RunStatus::Running)?;
        }
        Ok(())
    }

    /// `attempt_started`: the step's row, `running`, created at its first
    /// attempt (its `ord` is the order steps started in).
    fn attempt_started(&self, step: &str, attempt: u32) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO steps (run_id, step_id, ord, status, attempts) VALUES \
                 (?1, ?2, (SELECT COALESCE(MAX(ord), 0) + 1 FROM steps WHERE run_id = ?1), \
                 ?4, ?3) ON CONFLICT (run_id, step_id) DO UPDATE SET \
                 status = excluded.status, attempts = MAX(attempts, excluded.attempts)",
            )?
            .execute(params![self.id, step, attempt, StepStatus::Running])?;
        Ok(())
    }

    /// `output`: one log line.
    fn output(&self, step: &str, stream: OutputStream, line: &str) -> rusqlite::Result<()> {
        let stream = match stream {
            OutputStream::Stdout => "stdout",
            OutputStream::Stderr => "stderr",
        };
        self.tx
            .prepare_cached(
                "INSERT INTO logs (run_id, step_id, stream, line) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![self.id, step, stream, line])?;
        // Trim to the last lines now and then (and when the step ends),
        // not on every line.
        if self.tx.last_insert_rowid() % 256 == 0 {
            self.trim_logs(step)?;
        }
        Ok(())
    }

    /// `attempt_finished`: kept whole, as the step's last attempt.
    fn attempt_finished(&self, step: &str, event: &RunEvent) -> Result<(), Error> {
        self.tx
            .prepare_cached(
                "UPDATE steps SET attempt_json = ?3 WHERE run_id = ?1 AND step_id = ?2",
            )?
            .execute(params![self.id, step, serde_json::to_string(event)?])?;
        Ok(())
    }

    /// `step_finished`: the step's final record (a skipped step's row is
    /// created here, with its reason), its logs trimmed. No outputs and a
    /// `null` result are stored as NULL.
    fn step_finished(&self, step: &str, outcome: &StepOutcome) -> Result<(), Error> {
        let outputs = outcome
            .has_outputs()
            .then(|| serde_json::to_string(&outcome.outputs))
            .transpose()?;
        let result = (!outcome.result.is_null())
            .then(|| serde_json::to_string(&outcome.result))
            .transpose()?;
        self.tx
            .prepare_cached(
                "INSERT INTO steps (run_id, step_id, ord, status, attempts, duration_ms, \
                 outputs_json, error, result_json, skip_reason) VALUES (?1, ?2, \
                 (SELECT COALESCE(MAX(ord), 0) + 1 FROM steps WHERE run_id = ?1), \
                 ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (run_id, step_id) DO UPDATE SET \
                 status = excluded.status, attempts = excluded.attempts, \
                 duration_ms = excluded.duration_ms, outputs_json = excluded.outputs_json, \
                 error = excluded.error, result_json = excluded.result_json, \
                 skip_reason = excluded.skip_reason",
            )?
            .execute(params![
                self.id,
                step,
                outcome.status,
                outcome.attempts,
                int(outcome.duration_ms),
                outputs,
                outcome.error,
                result,
                outcome.skip_reason,
            ])?;
        self.trim_logs(step)?;
        Ok(())
    }

    /// `run_finished`: the run's end. A run that stops without a verdict
    /// (its process is going away mid-run) stays resumable.
    fn finished(&self, outcome: &RunOutcome) -> Result<(), Error> {
        let status = match outcome.status {
            RunStatus::Interrupted => RunStatus::Running,
            other => other,
        };
        self.tx
            .prepare_cached(
                "UPDATE runs SET status = ?2, finished_at = ?3, duration_ms = ?4, \
                 outputs_json = ?5, error = ?6 WHERE id = ?1",
            )?
            .execute(params![
                self.id,
                status,
                now(),
                int(outcome.duration_ms),
                serde_json::to_string(&outcome.outputs)?,
                outcome.error
            ])?;
        Ok(())
    }

    /// The event's line of the audit chain.
    fn audit_line(&self, audit: &AuditLine) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached("INSERT INTO events (run_id, seq, line) VALUES (?1, ?2, ?3)")?
            .execute(params![
                self.id,
                int(audit.seq),
                audit.line.trim_end_matches('\n')
            ])?;
        Ok(())
    }

    /// Keeps the last `LOG_LINES_PER_STEP` log lines of a step.
    fn trim_logs(&self, step: &str) -> rusqlite::Result<usize> {
        self.tx
            .prepare_cached(
                "DELETE FROM logs WHERE run_id = ?1 AND step_id = ?2 AND id <= \
                 (SELECT id FROM logs WHERE run_id = ?1 AND step_id = ?2 \
                  ORDER BY id DESC LIMIT 1 OFFSET ?3)",
            )?
            .execute(params![self.id, step, int(LOG_LINES_PER_STEP as u64)])
    }
}
