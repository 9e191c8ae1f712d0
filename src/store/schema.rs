//! The SQLite schema as a list of migrations. `PRAGMA user_version` is the
//! number of migrations applied; each runs in its own transaction together
//! with the version bump. Never edit a released script: append a new one.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;
use super::sqlite::classify;

/// Migration `i` takes the database from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: runs, steps, audit events, logs.
    r"
CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    runbook       TEXT NOT NULL,
    status        TEXT NOT NULL,
    trigger_kind  TEXT NOT NULL,
    actor         TEXT NOT NULL,
    origin        TEXT,
    source_path   TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    inputs_json   TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    started_ms    INTEGER NOT NULL,
    finished_at   TEXT,
    duration_ms   INTEGER,
    outputs_json  TEXT,
    error         TEXT
);
CREATE INDEX runs_started ON runs (started_ms DESC, id DESC);
CREATE INDEX runs_runbook ON runs (runbook, started_ms DESC);

CREATE TABLE steps (
    run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id      TEXT NOT NULL,
    ord          INTEGER NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    duration_ms  INTEGER,
    result_json  TEXT,
    outputs_json TEXT,
    error        TEXT,
    PRIMARY KEY (run_id, step_id)
);
CREATE INDEX steps_ord ON steps (run_id, ord);

CREATE TABLE events (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    line   TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE logs (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id TEXT NOT NULL,
    stream  TEXT NOT NULL,
    line    TEXT NOT NULL
);
CREATE INDEX logs_step ON logs (run_id, step_id, id);
",
    // 2: child runs, the plan of each run (for resume), approvals; a step's
    // `result_json` is now its result, its last attempt moves to `attempt_json`.
    r"
ALTER TABLE runs ADD COLUMN parent_run_id TEXT;
ALTER TABLE runs ADD COLUMN parent_step TEXT;
CREATE INDEX runs_parent ON runs (parent_run_id);

ALTER TABLE steps ADD COLUMN attempt_json TEXT;
UPDATE steps SET attempt_json = result_json, result_json = NULL;

CREATE TABLE plans (
    run_id    TEXT PRIMARY KEY,
    plan_json TEXT NOT NULL
);

CREATE TABLE approvals (
    run_id         TEXT NOT NULL,
    step_id        TEXT NOT NULL,
    message        TEXT NOT NULL,
    approvers_json TEXT NOT NULL,
    requested_at   TEXT NOT NULL,
    decision       TEXT CHECK (decision IN ('approved', 'rejected')),
    decided_by     TEXT,
    comment        TEXT,
    via            TEXT,
    decided_at     TEXT,
    consumed       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, step_id)
);
",
    // 3: the last tick handled of each runbook schedule, so that `steward
    // serve` misses ticks only while it is down and two servers sharing the
    // store don't both fire one.
    r"
CREATE TABLE schedule_ticks (
    runbook     TEXT NOT NULL,
    schedule    TEXT NOT NULL,
    tick_ms     INTEGER NOT NULL,
    tick_at     TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (runbook, schedule)
);
",
    // 4: why a skipped step was skipped (`when_false`, `need_failed`…), so
    // that `resume` knows whether it blocks the steps that need it. NULL for
    // other steps, and for skips recorded before (read from their words).
    r"
ALTER TABLE steps ADD COLUMN skip_reason TEXT;
",
];

/// Applies the scripts of `migrations` the database lacks, each in its own
/// transaction with the version bump.
pub(crate) fn migrate(
    conn: &mut Connection,
    path: &Path,
    migrations: &[&str],
) -> Result<(), StoreError> {
    let err = |ctx| move |e| classify(path, ctx, e);
    let known = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    // Up to date (the usual case): no write lock taken.
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err("can't read the schema version"))?;
    if current == known {
        return Ok(());
    }
    loop {
        // Re-read under the write lock: another process may have migrated.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err("can't start a migration"))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err("can't read the schema version"))?;
        if version > known {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known,
            });
        }
        let Some(script) = usize::try_from(version)
            .ok()
            .and_then(|v| migrations.get(v))
        else {
            return Ok(());
        };
        tx.execute_batch(script)
            .map_err(err("can't apply a schema migration"))?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))
            .map_err(err("can't set the schema version"))?;
        tx.commit()
            .map_err(err("can't commit a schema migration"))?;
    }
}
