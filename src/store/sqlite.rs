//! The embedded run store: one SQLite file (WAL, a busy timeout so that
//! several processes can share it), its schema migrated on open.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params};

use super::schema::{MIGRATIONS, migrate};
use super::{
    AuditLine, LOG_LINES_PER_STEP, LogLine, RunDetail, RunFilter, RunRecord, RunStore,
    SqliteOptions, StepRecord, StoreError,
};
use crate::events::{OutputStream, RunEvent};

/// How long a statement waits for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`RunStore`] in one SQLite file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating it and its folder if needed) the database at `path`
    /// and applies the migrations it lacks.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, MIGRATIONS)
    }

    /// [`open`](Self::open) with options (`synchronous`…).
    pub fn open_with_options(path: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        Self::open_configured(path, MIGRATIONS, options)
    }

    /// [`open`](Self::open) with a given list of migrations (tests of
    /// upgrades from an older schema).
    pub(crate) fn open_with(path: &Path, migrations: &[&str]) -> Result<Self, StoreError> {
        Self::open_configured(path, migrations, SqliteOptions::default())
    }

    fn open_configured(
        path: &Path,
        migrations: &[&str],
        options: SqliteOptions,
    ) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let err = |ctx| move |e| classify(path, ctx, e);
        let mut conn = Connection::open(path).map_err(err("can't open"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(err("can't set the busy timeout"))?;
        // NORMAL (the default) in WAL mode: a commit survives a crash of the
        // process (not necessarily a power cut) and costs no fsync per
        // transaction. OFF never syncs; FULL syncs at every commit. Set
        // before the switch to WAL, which syncs a new file otherwise.
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {}; PRAGMA foreign_keys = ON;",
            options.synchronous.pragma()
        ))
        .map_err(err("can't configure"))?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
            .map_err(err("can't switch to WAL"))?;
        migrate(&mut conn, path, migrations)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// How long a statement waits for another process's lock before
    /// failing with [`StoreError::Locked`] (default 10 s).
    pub fn set_busy_timeout(&self, timeout: Duration) -> Result<(), StoreError> {
        self.conn()
            .busy_timeout(timeout)
            .map_err(self.err("can't set the busy timeout"))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(self.err("can't read the schema version"))
    }

    /// The connection's `PRAGMA synchronous` (0 off, 1 normal, 2 full).
    #[cfg(test)]
    pub(super) fn synchronous_level(&self) -> i64 {
        self.conn()
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap()
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| classify(&self.path, context, e)
    }
}

/// Names a damaged or locked database as such; anything else with its context.
pub(super) fn classify(path: &Path, context: &'static str, source: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    match source.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            StoreError::Corrupt { path, source }
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Locked { path, source }
        }
        _ => StoreError::Sqlite {
            path,
            context,
            source,
        },
    }
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn json(value: &serde_json::Value) -> Result<String, StoreError> {
    Ok(serde_json::to_string(value)?)
}

fn parse_json(text: Option<String>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

const RUN_COLUMNS: &str = "id, runbook, status, trigger_kind, actor, origin, source_path, \
     source_sha256, inputs_json, started_at, finished_at, duration_ms, outputs_json, error";

fn run_row(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: row.get(0)?,
        runbook: row.get(1)?,
        status: row.get(2)?,
        trigger_kind: row.get(3)?,
        actor: row.get(4)?,
        origin: row.get(5)?,
        source_path: row.get(6)?,
        source_sha256: row.get(7)?,
        inputs: parse_json(row.get(8)?).unwrap_or(serde_json::Value::Null),
        started_at: row.get(9)?,
        finished_at: row.get(10)?,
        duration_ms: row
            .get::<_, Option<i64>>(11)?
            .map(|d| u64::try_from(d).unwrap_or(0)),
        outputs: parse_json(row.get(12)?),
        error: row.get(13)?,
    })
}

fn step_row(row: &Row<'_>) -> rusqlite::Result<StepRecord> {
    Ok(StepRecord {
        step: row.get(0)?,
        status: row.get(1)?,
        attempts: row.get(2)?,
        duration_ms: row
            .get::<_, Option<i64>>(3)?
            .map(|d| u64::try_from(d).unwrap_or(0)),
        result: parse_json(row.get(4)?),
        outputs: parse_json(row.get(5)?),
        error: row.get(6)?,
    })
}

impl RunStore for SqliteStore {
    fn record(
        &self,
        run_id: &str,
        event: &RunEvent,
        audit: Option<&AuditLine>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("can't start a transaction"))?;
        self.apply(&tx, run_id, event, audit)?;
        tx.commit().map_err(self.err("can't commit an event"))
    }

    fn record_batch(
        &self,
        run_id: &str,
        batch: &[(RunEvent, Option<AuditLine>)],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("can't start a transaction"))?;
        for (event, audit) in batch {
            self.apply(&tx, run_id, event, audit.as_ref())?;
        }
        tx.commit().map_err(self.err("can't commit events"))
    }

    fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        let conn = self.conn();
        let read = self.err("can't list runs");
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE (?1 IS NULL OR runbook = ?1) \
                 AND (?2 IS NULL OR status = ?2) ORDER BY started_ms DESC, id DESC LIMIT ?3"
            ))
            .map_err(&read)?;
        let limit = filter.limit.map_or(-1, |l| int(l as u64));
        let rows = stmt
            .query_map(params![filter.runbook, filter.status, limit], run_row)
            .map_err(&read)?;
        rows.collect::<Result<_, _>>().map_err(read)
    }

    fn get_run(&self, run_id: &str) -> Result<Option<RunDetail>, StoreError> {
        let conn = self.conn();
        let read = self.err("can't read a run");
        let run = conn
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                [run_id],
                run_row,
            )
            .optional()
            .map_err(&read)?;
        let Some(run) = run else { return Ok(None) };
        let mut stmt = conn
            .prepare(
                "SELECT step_id, status, attempts, duration_ms, result_json, outputs_json, \
                 error FROM steps WHERE run_id = ?1 ORDER BY ord",
            )
            .map_err(&read)?;
        let steps = stmt
            .query_map([run_id], step_row)
            .map_err(&read)?
            .collect::<Result<_, _>>()
            .map_err(&read)?;
        Ok(Some(RunDetail { run, steps }))
    }

    fn audit_lines(&self, run_id: &str) -> Result<Vec<AuditLine>, StoreError> {
        let conn = self.conn();
        let read = self.err("can't read audit events");
        let mut stmt = conn
            .prepare("SELECT seq, line FROM events WHERE run_id = ?1 ORDER BY seq")
            .map_err(&read)?;
        let rows = stmt
            .query_map([run_id], |r| {
                Ok(AuditLine {
                    seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                    line: r.get(1)?,
                })
            })
            .map_err(&read)?;
        rows.collect::<Result<_, _>>().map_err(read)
    }

    fn logs(&self, run_id: &str) -> Result<Vec<LogLine>, StoreError> {
        let conn = self.conn();
        let read = self.err("can't read logs");
        let mut stmt = conn
            .prepare("SELECT step_id, stream, line FROM logs WHERE run_id = ?1 ORDER BY id")
            .map_err(&read)?;
        let rows = stmt
            .query_map([run_id], |r| {
                Ok(LogLine {
                    step: r.get(0)?,
                    stream: r.get(1)?,
                    line: r.get(2)?,
                })
            })
            .map_err(&read)?;
        rows.collect::<Result<_, _>>().map_err(read)
    }

    fn prune(&self, older_than: Duration) -> Result<Vec<String>, StoreError> {
        let cutoff = Utc::now().timestamp_millis()
            - i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX / 2);
        let mut conn = self.conn();
        let write = self.err("can't prune runs");
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&write)?;
        let ids: Vec<String> = {
            let mut stmt = tx
                .prepare(
                    "SELECT id FROM runs WHERE started_ms < ?1 \
                     AND status NOT IN ('running', 'pending') ORDER BY started_ms",
                )
                .map_err(&write)?;
            let rows = stmt.query_map([cutoff], |r| r.get(0)).map_err(&write)?;
            rows.collect::<Result<_, _>>().map_err(&write)?
        };
        for id in &ids {
            for table in ["logs", "events", "steps"] {
                tx.execute(&format!("DELETE FROM {table} WHERE run_id = ?1"), [id])
                    .map_err(&write)?;
            }
            tx.execute("DELETE FROM runs WHERE id = ?1", [id])
                .map_err(&write)?;
        }
        tx.commit().map_err(write)?;
        Ok(ids)
    }
}

/// Keeps the last `LOG_LINES_PER_STEP` log lines of a step.
fn trim_logs(tx: &rusqlite::Transaction<'_>, run_id: &str, step: &str) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "DELETE FROM logs WHERE run_id = ?1 AND step_id = ?2 AND id <= \
         (SELECT id FROM logs WHERE run_id = ?1 AND step_id = ?2 \
          ORDER BY id DESC LIMIT 1 OFFSET ?3)",
    )?
    .execute(params![run_id, step, int(LOG_LINES_PER_STEP as u64)])
}

impl SqliteStore {
    /// Writes one event (and its audit line) inside `tx`.
    fn apply(
        &self,
        tx: &rusqlite::Transaction<'_>,
        run_id: &str,
        event: &RunEvent,
        audit: Option<&AuditLine>,
    ) -> Result<(), StoreError> {
        let write = self.err("can't record an event");
        match event {
            RunEvent::RunStarted {
                runbook,
                source_path,
                source_sha256,
                inputs,
                trigger,
                started_at,
                ..
            } => {
                let started_ms = DateTime::parse_from_rfc3339(started_at)
                    .map_or_else(|_| Utc::now().timestamp_millis(), |t| t.timestamp_millis());
                tx.prepare_cached(
                    "INSERT INTO runs (id, runbook, status, trigger_kind, actor, origin, \
                     source_path, source_sha256, inputs_json, started_at, started_ms) \
                     VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(&write)?
                .execute(params![
                    run_id,
                    runbook,
                    trigger.kind,
                    trigger.actor,
                    trigger.origin,
                    source_path,
                    source_sha256,
                    json(inputs)?,
                    started_at,
                    started_ms
                ])
                .map_err(&write)?;
            }
            RunEvent::AttemptStarted { step, attempt, .. } => {
                tx.prepare_cached(
                    "INSERT INTO steps (run_id, step_id, ord, status, attempts) VALUES \
                     (?1, ?2, (SELECT COALESCE(MAX(ord), 0) + 1 FROM steps WHERE run_id = ?1), \
                     'running', ?3) ON CONFLICT (run_id, step_id) DO UPDATE SET \
                     status = 'running', attempts = MAX(attempts, excluded.attempts)",
                )
                .map_err(&write)?
                .execute(params![run_id, step, attempt])
                .map_err(&write)?;
            }
            RunEvent::Output { step, stream, line } => {
                let stream = match stream {
                    OutputStream::Stdout => "stdout",
                    OutputStream::Stderr => "stderr",
                };
                tx.prepare_cached(
                    "INSERT INTO logs (run_id, step_id, stream, line) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(&write)?
                .execute(params![run_id, step, stream, line])
                .map_err(&write)?;
                // Trim to the last lines now and then (and when the step
                // ends), not on every line.
                if tx.last_insert_rowid() % 256 == 0 {
                    trim_logs(tx, run_id, step).map_err(&write)?;
                }
            }
            RunEvent::AttemptFinished { step, .. } => {
                tx.prepare_cached(
                    "UPDATE steps SET result_json = ?3 WHERE run_id = ?1 AND step_id = ?2",
                )
                .map_err(&write)?
                .execute(params![run_id, step, serde_json::to_string(event)?])
                .map_err(&write)?;
            }
            RunEvent::StepFinished {
                step,
                status,
                attempts,
                duration_ms,
                error,
                outputs,
            } => {
                let outputs = outputs.as_ref().map(json).transpose()?;
                tx.prepare_cached(
                    "INSERT INTO steps (run_id, step_id, ord, status, attempts, duration_ms, \
                     outputs_json, error) VALUES (?1, ?2, \
                     (SELECT COALESCE(MAX(ord), 0) + 1 FROM steps WHERE run_id = ?1), \
                     ?3, ?4, ?5, ?6, ?7) ON CONFLICT (run_id, step_id) DO UPDATE SET \
                     status = excluded.status, attempts = excluded.attempts, \
                     duration_ms = excluded.duration_ms, outputs_json = excluded.outputs_json, \
                     error = excluded.error",
                )
                .map_err(&write)?
                .execute(params![
                    run_id,
                    step,
                    status.as_str(),
                    attempts,
                    int(*duration_ms),
                    outputs,
                    error
                ])
                .map_err(&write)?;
                trim_logs(tx, run_id, step).map_err(&write)?;
            }
            RunEvent::Phase { .. } => {}
            RunEvent::RunFinished {
                status,
                duration_ms,
                outputs,
                error,
            } => {
                tx.prepare_cached(
                    "UPDATE runs SET status = ?2, finished_at = ?3, duration_ms = ?4, \
                     outputs_json = ?5, error = ?6 WHERE id = ?1",
                )
                .map_err(&write)?
                .execute(params![
                    run_id,
                    status.as_str(),
                    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
                    int(*duration_ms),
                    json(outputs)?,
                    error
                ])
                .map_err(&write)?;
            }
        }
        if let Some(audit) = audit {
            tx.prepare_cached("INSERT INTO events (run_id, seq, line) VALUES (?1, ?2, ?3)")
                .map_err(&write)?
                .execute(params![
                    run_id,
                    int(audit.seq),
                    audit.line.trim_end_matches('\n')
                ])
                .map_err(&write)?;
        }
        Ok(())
    }
}
