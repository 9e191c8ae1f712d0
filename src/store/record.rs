//! Writing one event of a run into the SQLite tables, inside the caller's
//! transaction.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Transaction, params};

use super::{AuditLine, LOG_LINES_PER_STEP, approvals};
use crate::events::{OutputStream, RunEvent, Status};
use crate::kind::Decision;

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

/// Keeps the last `LOG_LINES_PER_STEP` log lines of a step.
fn trim_logs(tx: &Transaction<'_>, run_id: &str, step: &str) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "DELETE FROM logs WHERE run_id = ?1 AND step_id = ?2 AND id <= \
         (SELECT id FROM logs WHERE run_id = ?1 AND step_id = ?2 \
          ORDER BY id DESC LIMIT 1 OFFSET ?3)",
    )?
    .execute(params![run_id, step, int(LOG_LINES_PER_STEP as u64)])
}

fn set_run_status(tx: &Transaction<'_>, run_id: &str, status: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE runs SET status = ?2 WHERE id = ?1")?
        .execute(params![run_id, status])?;
    Ok(())
}

fn set_step_status(
    tx: &Transaction<'_>,
    run_id: &str,
    step: &str,
    status: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE steps SET status = ?3 WHERE run_id = ?1 AND step_id = ?2")?
        .execute(params![run_id, step, status])?;
    Ok(())
}

/// Writes one event and its audit line.
pub(super) fn apply(
    tx: &Transaction<'_>,
    run_id: &str,
    event: &RunEvent,
    audit: Option<&AuditLine>,
) -> Result<(), Error> {
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
        } => {
            let started_ms = DateTime::parse_from_rfc3339(started_at)
                .map_or_else(|_| Utc::now().timestamp_millis(), |t| t.timestamp_millis());
            tx.prepare_cached(
                "INSERT INTO runs (id, runbook, status, trigger_kind, actor, origin, \
                 source_path, source_sha256, inputs_json, started_at, started_ms, \
                 parent_run_id, parent_step) \
                 VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                run_id,
                runbook,
                trigger.kind,
                trigger.actor,
                trigger.origin,
                source_path,
                source_sha256,
                serde_json::to_string(inputs)?,
                started_at,
                started_ms,
                parent.as_ref().map(|p| &p.run_id),
                parent.as_ref().map(|p| &p.step),
            ])?;
        }
        RunEvent::RunResumed { .. } => {
            tx.prepare_cached(
                "UPDATE runs SET status = 'running', finished_at = NULL, duration_ms = NULL, \
                 error = NULL WHERE id = ?1",
            )?
            .execute([run_id])?;
        }
        RunEvent::ConcurrencyWaiting { .. } => set_run_status(tx, run_id, "waiting")?,
        RunEvent::ConcurrencyAcquired { .. } => set_run_status(tx, run_id, "running")?,
        RunEvent::ApprovalRequested {
            step,
            message,
            approvers,
        } => {
            approvals::request(tx, run_id, step, message, approvers, &now())?;
            set_step_status(tx, run_id, step, "waiting")?;
            set_run_status(tx, run_id, "waiting")?;
        }
        RunEvent::ApprovalDecided {
            step,
            approved,
            by,
            comment,
            via,
            decided_at,
        } => {
            let decision = Decision {
                approved: *approved,
                by: by.clone(),
                comment: comment.clone(),
                via: via.clone(),
                decided_at: decided_at.clone(),
            };
            approvals::consume(tx, run_id, step, &decision)?;
            set_step_status(tx, run_id, step, "running")?;
            if !approvals::any_pending(tx, run_id)? {
                set_run_status(tx, run_id, "running")?;
            }
        }
        RunEvent::AttemptStarted { step, attempt, .. } => {
            tx.prepare_cached(
                "INSERT INTO steps (run_id, step_id, ord, status, attempts) VALUES \
                 (?1, ?2, (SELECT COALESCE(MAX(ord), 0) + 1 FROM steps WHERE run_id = ?1), \
                 'running', ?3) ON CONFLICT (run_id, step_id) DO UPDATE SET \
                 status = 'running', attempts = MAX(attempts, excluded.attempts)",
            )?
            .execute(params![run_id, step, attempt])?;
        }
        RunEvent::Output { step, stream, line } => {
            let stream = match stream {
                OutputStream::Stdout => "stdout",
                OutputStream::Stderr => "stderr",
            };
            tx.prepare_cached(
                "INSERT INTO logs (run_id, step_id, stream, line) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![run_id, step, stream, line])?;
            // Trim to the last lines now and then (and when the step ends),
            // not on every line.
            if tx.last_insert_rowid() % 256 == 0 {
                trim_logs(tx, run_id, step)?;
            }
        }
        RunEvent::AttemptFinished { step, .. } => {
            tx.prepare_cached(
                "UPDATE steps SET attempt_json = ?3 WHERE run_id = ?1 AND step_id = ?2",
            )?
            .execute(params![run_id, step, serde_json::to_string(event)?])?;
        }
        RunEvent::StepFinished {
            step,
            status,
            attempts,
            duration_ms,
            error,
            outputs,
            result,
        } => {
            let outputs = outputs.as_ref().map(serde_json::to_string).transpose()?;
            let result = (!result.is_null())
                .then(|| serde_json::to_string(result))
                .transpose()?;
            tx.prepare_cached(
                "INSERT INTO steps (run_id, step_id, ord, status, attempts, duration_ms, \
                 outputs_json, error, result_json) VALUES (?1, ?2, \
                 (SELECT COALESCE(MAX(ord), 0) + 1 FROM steps WHERE run_id = ?1), \
                 ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (run_id, step_id) DO UPDATE SET \
                 status = excluded.status, attempts = excluded.attempts, \
                 duration_ms = excluded.duration_ms, outputs_json = excluded.outputs_json, \
                 error = excluded.error, result_json = excluded.result_json",
            )?
            .execute(params![
                run_id,
                step,
                status.as_str(),
                attempts,
                int(*duration_ms),
                outputs,
                error,
                result
            ])?;
            trim_logs(tx, run_id, step)?;
        }
        RunEvent::Phase { .. } => {}
        RunEvent::RunFinished {
            status,
            duration_ms,
            outputs,
            error,
        } => {
            // A run that stops without a verdict (its process is going away
            // mid-run) stays resumable.
            let status = match status {
                Status::Interrupted => "running",
                other => other.as_str(),
            };
            tx.prepare_cached(
                "UPDATE runs SET status = ?2, finished_at = ?3, duration_ms = ?4, \
                 outputs_json = ?5, error = ?6 WHERE id = ?1",
            )?
            .execute(params![
                run_id,
                status,
                now(),
                int(*duration_ms),
                serde_json::to_string(outputs)?,
                error
            ])?;
        }
    }
    if let Some(audit) = audit {
        tx.prepare_cached("INSERT INTO events (run_id, seq, line) VALUES (?1, ?2, ?3)")?
            .execute(params![
                run_id,
                int(audit.seq),
                audit.line.trim_end_matches('\n')
            ])?;
    }
    Ok(())
}
