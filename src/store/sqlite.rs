//! The embedded run store: one SQLite file (WAL, a busy timeout so that
//! several processes can share it), its schema migrated on open.

use crate::kind::Decision;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params};

use super::record;
use super::schema::{MIGRATIONS, migrate};
use super::{
    AuditLine, Held, Lease, LogLine, Refusal, RunDetail, RunFilter, RunRecord, RunStore,
    SqliteOptions, StepRecord, StoreError, approvals, columns, locks, ticks,
};
use crate::events::RunEvent;
use crate::outcome::{RunStatus, SkipReason, StepOutcome, StepStatus};

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
        // Plans that don't depend on bound values: otherwise SQLite
        // re-prepares the cached per-step statements (their plans looked at
        // a bound value) at every execution, most of the store's cost per
        // step. Rewriting those statements is the cleaner cure.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(err("can't configure"))?;
        // NORMAL (the default) in WAL mode: a commit survives a crash of the
        // process (not necessarily a power cut) and costs no fsync per
        // transaction. OFF never syncs; FULL syncs at every commit. Set
        // before the switch to WAL, which syncs a new file otherwise.
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {}; PRAGMA foreign_keys = ON;",
            options.synchronous.pragma()
        ))
        .map_err(err("can't configure"))?;
        // WAL is a property of the file: switch once, not at every open, as
        // the switch needs a lock that a busy second process may not get.
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(err("can't read the journal mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            switch_to_wal(&conn).map_err(err("can't switch to WAL"))?;
        }
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

/// Switches a new database to WAL. Two processes creating the store at once
/// can both try; the loser's `SQLITE_BUSY` may come without the busy
/// handler, so it retries for a while.
fn switch_to_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mut tries = 0;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(e)
                if tries < 100
                    && matches!(
                        e.sqlite_error_code(),
                        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                    ) =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Names a damaged or locked database as such, and a value this build
/// can't read; anything else with its context.
pub(super) fn classify(path: &Path, context: &'static str, source: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    if let Some(unknown) = columns::unknown_name(&source) {
        return StoreError::UnknownValue {
            path,
            source: unknown.clone(),
        };
    }
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

fn parse_json(text: Option<String>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

const RUN_COLUMNS: &str = "id, runbook, status, trigger_kind, actor, origin, source_path, \
     source_sha256, inputs_json, started_at, finished_at, duration_ms, outputs_json, error, \
     parent_run_id, parent_step";

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
        parent_run_id: row.get(14)?,
        parent_step: row.get(15)?,
    })
}

const STEP_COLUMNS: &str = "step_id, status, attempts, duration_ms, result_json, outputs_json, \
     error, attempt_json, skip_reason";

/// A step's row: its outcome so far (`duration_ms`, `result`, `outputs` and
/// `error` are NULL until it ends). A skip recorded before its reason was
/// stored has its reason read from its words.
fn step_row(row: &Row<'_>) -> rusqlite::Result<StepRecord> {
    let status: StepStatus = row.get(1)?;
    let error: Option<String> = row.get(6)?;
    let skip_reason = match (status, row.get::<_, Option<SkipReason>>(8)?) {
        (StepStatus::Skipped, None) => Some(columns::skip_reason_from_words(error.as_deref())),
        (_, stored) => stored,
    };
    let mut outcome = StepOutcome {
        duration_ms: row
            .get::<_, Option<i64>>(3)?
            .map_or(0, |d| u64::try_from(d).unwrap_or(0)),
        result: parse_json(row.get(4)?).unwrap_or(serde_json::Value::Null),
        error,
        skip_reason,
        ..StepOutcome::new(status, row.get(2)?)
    };
    if let Some(outputs) = parse_json(row.get(5)?) {
        outcome.outputs = outputs;
    }
    Ok(StepRecord {
        step: row.get(0)?,
        outcome,
        attempt: parse_json(row.get(7)?),
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
        // `running`, `waiting` and `interrupted` are told apart by whether a
        // live process owns the run, so they are filtered after the query.
        let live_status = filter.status.filter(|s| {
            matches!(
                s,
                RunStatus::Running | RunStatus::Waiting | RunStatus::Interrupted
            )
        });
        let mut runs: Vec<RunRecord> = {
            let conn = self.conn();
            let read = self.err("can't list runs");
            // Only the filters given, so that SQLite can use the runbook and
            // parent indexes (`?1 IS NULL OR …` would defeat them).
            let mut clauses = Vec::new();
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::new();
            if let Some(runbook) = &filter.runbook {
                values.push(runbook);
                clauses.push(format!("runbook = ?{}", values.len()));
            }
            if let Some(parent) = &filter.parent {
                values.push(parent);
                clauses.push(format!("parent_run_id = ?{}", values.len()));
            }
            let limit = match (live_status, &filter.status) {
                (Some(_), _) => {
                    clauses.push("status IN ('running', 'waiting')".into());
                    -1
                }
                (None, status) => {
                    if let Some(status) = status {
                        values.push(status);
                        clauses.push(format!("status = ?{}", values.len()));
                    }
                    filter.limit.map_or(-1, |l| int(l as u64))
                }
            };
            let filters = if clauses.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", clauses.join(" AND "))
            };
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {RUN_COLUMNS} FROM runs {filters} \
                     ORDER BY started_ms DESC, id DESC LIMIT {limit}"
                ))
                .map_err(&read)?;
            let rows = stmt.query_map(values.as_slice(), run_row).map_err(&read)?;
            rows.collect::<Result<_, _>>().map_err(read)?
        };
        for run in &mut runs {
            self.mark_interrupted(run)?;
        }
        if let Some(wanted) = live_status {
            runs.retain(|r| r.status == wanted);
            if let Some(limit) = filter.limit {
                runs.truncate(limit);
            }
        }
        Ok(runs)
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
        let Some(mut run) = run else { return Ok(None) };
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {STEP_COLUMNS} FROM steps WHERE run_id = ?1 ORDER BY ord"
            ))
            .map_err(&read)?;
        let steps = stmt
            .query_map([run_id], step_row)
            .map_err(&read)?
            .collect::<Result<_, _>>()
            .map_err(&read)?;
        let approvals = approvals::of_run(&conn, run_id).map_err(&read)?;
        drop(stmt);
        drop(conn);
        self.mark_interrupted(&mut run)?;
        let children = self.list_runs(&RunFilter {
            parent: Some(run_id.to_owned()),
            ..RunFilter::default()
        })?;
        Ok(Some(RunDetail {
            run,
            steps,
            approvals,
            children,
        }))
    }

    fn audit_lines(&self, run_id: &str) -> Result<Vec<AuditLine>, StoreError> {
        self.audit_lines_after(run_id, 0)
    }

    fn audit_lines_after(&self, run_id: &str, after: u64) -> Result<Vec<AuditLine>, StoreError> {
        let conn = self.conn();
        let read = self.err("can't read audit events");
        let mut stmt = conn
            .prepare("SELECT seq, line FROM events WHERE run_id = ?1 AND seq > ?2 ORDER BY seq")
            .map_err(&read)?;
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(rusqlite::params![run_id, after], |r| {
                Ok(AuditLine {
                    seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                    line: r.get(1)?,
                })
            })
            .map_err(&read)?;
        rows.collect::<Result<_, _>>().map_err(read)
    }

    fn logs_after(&self, run_id: &str, cursor: i64) -> Result<(Vec<LogLine>, i64), StoreError> {
        let conn = self.conn();
        let read = self.err("can't read logs");
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, step_id, stream, line FROM logs WHERE run_id = ?1 AND id > ?2 \
                 ORDER BY id",
            )
            .map_err(&read)?;
        let mut last = cursor;
        let rows = stmt
            .query_map(params![run_id, cursor], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    LogLine {
                        step: r.get(1)?,
                        stream: r.get(2)?,
                        line: r.get(3)?,
                    },
                ))
            })
            .map_err(&read)?;
        let mut lines = Vec::new();
        for row in rows {
            let (id, line) = row.map_err(&read)?;
            last = last.max(id);
            lines.push(line);
        }
        Ok((lines, last))
    }

    fn save_plan(&self, run_id: &str, plan_json: &str) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO plans (run_id, plan_json) VALUES (?1, ?2) \
                 ON CONFLICT (run_id) DO UPDATE SET plan_json = excluded.plan_json",
                [run_id, plan_json],
            )
            .map(|_| ())
            .map_err(self.err("can't save the run's plan"))
    }

    fn load_plan(&self, run_id: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .query_row(
                "SELECT plan_json FROM plans WHERE run_id = ?1",
                [run_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("can't read the run's plan"))
    }

    fn claim_run(&self, run_id: &str) -> Result<Option<Lease>, StoreError> {
        locks::claim_run(&self.path, run_id)
    }

    fn run_alive(&self, run_id: &str) -> Result<bool, StoreError> {
        locks::run_alive(&self.path, run_id)
    }

    fn try_concurrency_key(
        &self,
        key: &str,
        run_id: &str,
    ) -> Result<Result<Lease, Held>, StoreError> {
        locks::try_key(&self.path, key, run_id)
    }

    fn decision(&self, run_id: &str, step: &str) -> Result<Option<Decision>, StoreError> {
        approvals::pending_decision(&self.conn(), run_id, step)
            .map_err(self.err("can't read an approval"))
    }

    fn decide(
        &self,
        run_id: &str,
        step: &str,
        decision: &Decision,
    ) -> Result<Result<(), Refusal>, StoreError> {
        let mut conn = self.conn();
        let write = self.err("can't record a decision");
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&write)?;
        let outcome = approvals::decide(&tx, run_id, step, decision).map_err(&write)?;
        tx.commit().map_err(write)?;
        Ok(outcome)
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
            for table in ["logs", "events", "steps", "approvals", "plans"] {
                tx.execute(&format!("DELETE FROM {table} WHERE run_id = ?1"), [id])
                    .map_err(&write)?;
            }
            tx.execute("DELETE FROM runs WHERE id = ?1", [id])
                .map_err(&write)?;
        }
        tx.commit().map_err(write)?;
        Ok(ids)
    }

    fn last_tick(
        &self,
        runbook: &str,
        schedule: &str,
    ) -> Result<Option<chrono::DateTime<Utc>>, StoreError> {
        ticks::last(&self.conn(), runbook, schedule)
            .map_err(self.err("can't read a schedule's last tick"))
    }

    fn advance_tick(
        &self,
        runbook: &str,
        schedule: &str,
        tick: chrono::DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        ticks::advance(&self.conn(), runbook, schedule, tick)
            .map_err(self.err("can't record a schedule's tick"))
    }
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
        record::apply(tx, run_id, event, audit).map_err(|e| match e {
            record::Error::Sql(e) => classify(&self.path, "can't record an event", e),
            record::Error::Json(e) => StoreError::Json(e),
        })
    }

    /// A run recorded as `running` or `waiting` whose process is gone is
    /// `interrupted`.
    fn mark_interrupted(&self, run: &mut RunRecord) -> Result<(), StoreError> {
        if matches!(run.status, RunStatus::Running | RunStatus::Waiting)
            && !self.run_alive(&run.id)?
        {
            run.status = RunStatus::Interrupted;
        }
        Ok(())
    }
}
