//! `approval` steps in the SQLite store: the request a waiting run records,
//! the decision another process (`steward approve`) adds to it.

use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{ApprovalRecord, Refusal};
use crate::kind::Decision;

fn decision_of(row: &Row<'_>, at: usize) -> rusqlite::Result<Option<Decision>> {
    let verdict: Option<String> = row.get(at)?;
    Ok(match verdict {
        None => None,
        Some(v) => Some(Decision {
            approved: v == "approved",
            by: row.get::<_, Option<String>>(at + 1)?.unwrap_or_default(),
            comment: row.get(at + 2)?,
            via: row.get::<_, Option<String>>(at + 3)?.unwrap_or_default(),
            decided_at: row.get::<_, Option<String>>(at + 4)?.unwrap_or_default(),
        }),
    })
}

/// Records a request; a decision made for an earlier request of the same
/// step that an `approval_decided` already consumed is cleared, an
/// unconsumed one (made while the run's process was dead) is kept.
pub(super) fn request(
    tx: &Transaction<'_>,
    run_id: &str,
    step: &str,
    message: &str,
    approvers: &[String],
    at: &str,
) -> rusqlite::Result<()> {
    let approvers = serde_json::to_string(approvers).unwrap_or_else(|_| "[]".into());
    tx.prepare_cached(
        "INSERT INTO approvals (run_id, step_id, message, approvers_json, requested_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (run_id, step_id) DO UPDATE SET \
         message = excluded.message, approvers_json = excluded.approvers_json, \
         requested_at = excluded.requested_at, \
         decision = CASE WHEN consumed = 1 THEN NULL ELSE decision END, \
         decided_by = CASE WHEN consumed = 1 THEN NULL ELSE decided_by END, \
         comment = CASE WHEN consumed = 1 THEN NULL ELSE comment END, \
         via = CASE WHEN consumed = 1 THEN NULL ELSE via END, \
         decided_at = CASE WHEN consumed = 1 THEN NULL ELSE decided_at END, \
         consumed = 0",
    )?
    .execute(params![run_id, step, message, approvers, at])?;
    Ok(())
}

/// Marks the decision as acted on (the run recorded `approval_decided`).
/// The engine's own decisions (`--yes`, a timeout) are written here too, so
/// that `show` has every decision in one place.
pub(super) fn consume(
    tx: &Transaction<'_>,
    run_id: &str,
    step: &str,
    decision: &Decision,
) -> rusqlite::Result<()> {
    write_decision(tx, run_id, step, decision, "consumed = 1,", "")
}

/// Writes a decision's columns; `set` and `condition` add to the statement.
fn write_decision(
    tx: &Transaction<'_>,
    run_id: &str,
    step: &str,
    decision: &Decision,
    set: &str,
    condition: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(&format!(
        "UPDATE approvals SET {set} \
         decision = ?3, decided_by = ?4, comment = ?5, via = ?6, decided_at = ?7 \
         WHERE run_id = ?1 AND step_id = ?2 {condition}"
    ))?
    .execute(params![
        run_id,
        step,
        if decision.approved {
            "approved"
        } else {
            "rejected"
        },
        decision.by,
        decision.comment,
        decision.via,
        decision.decided_at
    ])?;
    Ok(())
}

/// Whether the run has requests without a decision.
pub(super) fn any_pending(tx: &Transaction<'_>, run_id: &str) -> rusqlite::Result<bool> {
    tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM approvals WHERE run_id = ?1 AND consumed = 0)")?
        .query_row([run_id], |r| r.get(0))
}

/// A decision not yet consumed.
pub(super) fn pending_decision(
    conn: &rusqlite::Connection,
    run_id: &str,
    step: &str,
) -> rusqlite::Result<Option<Decision>> {
    conn.prepare_cached(
        "SELECT decision, decided_by, comment, via, decided_at FROM approvals \
         WHERE run_id = ?1 AND step_id = ?2 AND consumed = 0",
    )?
    .query_row([run_id, step], |r| decision_of(r, 0))
    .optional()
    .map(Option::flatten)
}

/// Takes a decision on a pending request, if the person may decide.
pub(super) fn decide(
    tx: &Transaction<'_>,
    run_id: &str,
    step: &str,
    decision: &Decision,
) -> rusqlite::Result<Result<(), Refusal>> {
    let found = tx
        .query_row(
            "SELECT approvers_json, consumed, decision, decided_by FROM approvals \
             WHERE run_id = ?1 AND step_id = ?2",
            [run_id, step],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            },
        )
        .optional()?;
    let not_waiting = || Refusal::NotWaiting {
        run: run_id.to_owned(),
        step: step.to_owned(),
    };
    let Some((approvers, consumed, verdict, by)) = found else {
        return Ok(Err(not_waiting()));
    };
    if let Some(verdict) = verdict {
        return Ok(Err(Refusal::AlreadyDecided {
            step: step.to_owned(),
            approved: verdict == "approved",
            by: by.unwrap_or_default(),
        }));
    }
    if consumed {
        return Ok(Err(not_waiting()));
    }
    let approvers: Vec<String> = serde_json::from_str(&approvers).unwrap_or_default();
    if !approvers.is_empty() && !approvers.iter().any(|a| a == &decision.by) {
        return Ok(Err(Refusal::NotAnApprover {
            step: step.to_owned(),
            who: decision.by.clone(),
            approvers,
        }));
    }
    write_decision(tx, run_id, step, decision, "", "AND decision IS NULL")?;
    Ok(Ok(()))
}

/// Every request of a run, in the order they were made.
pub(super) fn of_run(
    conn: &rusqlite::Connection,
    run_id: &str,
) -> rusqlite::Result<Vec<ApprovalRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT step_id, message, approvers_json, requested_at, decision, decided_by, \
         comment, via, decided_at FROM approvals WHERE run_id = ?1 ORDER BY requested_at",
    )?;
    let rows = stmt.query_map([run_id], |r| {
        Ok(ApprovalRecord {
            step: r.get(0)?,
            message: r.get(1)?,
            approvers: serde_json::from_str(&r.get::<_, String>(2)?).unwrap_or_default(),
            requested_at: r.get(3)?,
            decision: decision_of(r, 4)?,
        })
    })?;
    rows.collect()
}
