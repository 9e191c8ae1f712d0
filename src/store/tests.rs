use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::schema::MIGRATIONS;
use super::*;
use crate::chain::verify;
use crate::events::{EventSink, OutputStream, Trigger};
use crate::outcome::{RunOutcome, RunStatus, SkipReason, StepOutcome, StepStatus};

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn started(run_id: &str, runbook: &str, started_at: &str) -> RunEvent {
    RunEvent::RunStarted {
        run_id: run_id.into(),
        runbook: runbook.into(),
        source_path: "runbooks/x.yaml".into(),
        source_sha256: "ab".into(),
        inputs: json!({"target": "prod"}),
        trigger: Trigger {
            kind: "cli".into(),
            actor: "ann".into(),
            origin: None,
        },
        started_at: started_at.into(),
        parent: None,
    }
}

fn finished(status: RunStatus) -> RunEvent {
    RunEvent::RunFinished(RunOutcome {
        status,
        duration_ms: 5,
        outputs: json!({"a": 1}),
        error: None,
    })
}

/// Records a small run through a [`StoreSink`].
fn record_run(store: &Arc<SqliteStore>, id: &str, runbook: &str, started_at: &str, lines: usize) {
    let sink = StoreSink::new(store.clone(), id);
    sink.emit(&started(id, runbook, started_at));
    sink.emit(&RunEvent::AttemptStarted {
        step: "one".into(),
        attempt: 1,
        item: None,
        detail: "echo".into(),
    });
    for i in 0..lines {
        sink.emit(&RunEvent::Output {
            step: "one".into(),
            stream: OutputStream::Stdout,
            line: format!("line {i}"),
        });
    }
    sink.emit(&RunEvent::StepFinished {
        step: "one".into(),
        outcome: StepOutcome {
            duration_ms: 3,
            outputs: json!({"x": "y"}),
            result: json!({"stdout": "line 0"}),
            ..StepOutcome::new(StepStatus::Succeeded, 1)
        },
    });
    sink.emit(&RunEvent::StepFinished {
        step: "two".into(),
        outcome: StepOutcome::skipped(SkipReason::WhenFalse, "`when: false` is false".into()),
    });
    sink.emit(&finished(RunStatus::Succeeded));
    assert_eq!(sink.error(), None);
}

#[test]
fn migrates_an_empty_database_and_reopens_it() {
    let dir = temp();
    let path = dir.path().join("a/b/steward.db");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    assert!(store.list_runs(&RunFilter::default()).unwrap().is_empty());
}

#[test]
fn upgrades_data_of_the_first_schema() {
    let dir = temp();
    let path = dir.path().join("steward.db");
    // A database as the first release left it, written with its own SQL.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(
            r#"PRAGMA user_version = 1;
            INSERT INTO runs (id, runbook, status, trigger_kind, actor, source_path,
                source_sha256, inputs_json, started_at, started_ms, finished_at, duration_ms)
            VALUES ('r1', 'deploy', 'succeeded', 'cli', 'ann', 'runbooks/deploy.yaml', 'ab',
                '{}', '2026-01-01T00:00:00Z', 1767225600000, '2026-01-01T00:00:01Z', 1000);
            INSERT INTO steps (run_id, step_id, ord, status, attempts, duration_ms, result_json)
            VALUES ('r1', 'build', 1, 'succeeded', 1, 900,
                '{"event":"attempt_finished","step":"build","exit_code":0}');
            INSERT INTO events (run_id, seq, line) VALUES ('r1', 1, '{}');
            INSERT INTO logs (run_id, step_id, stream, line) VALUES ('r1', 'build', 'stdout', 'ok');"#,
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    let run = store.get_run("r1").unwrap().unwrap();
    assert_eq!(run.run.status, RunStatus::Succeeded);
    assert_eq!(run.run.parent_run_id, None);
    let build = &run.steps[0];
    // The last attempt moved to its own column; the result is unknown.
    assert_eq!(build.attempt.as_ref().unwrap()["exit_code"], 0);
    assert_eq!(build.outcome.result, serde_json::Value::Null);
    assert_eq!(store.logs("r1").unwrap().len(), 1);
    assert_eq!(store.audit_lines("r1").unwrap().len(), 1);
    drop(store);
    // A build that knows fewer migrations: a clear error, not a downgrade.
    let err = SqliteStore::open_with(&path, &MIGRATIONS[..1])
        .err()
        .unwrap();
    assert!(
        matches!(err, StoreError::TooNew { found, .. } if found == MIGRATIONS.len() as i64),
        "{err}"
    );
    assert!(err.to_string().contains("steward.db"));
}

#[test]
fn records_a_run_its_steps_logs_and_a_verifiable_trail() {
    let dir = temp();
    let store = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    record_run(
        &store,
        "r1",
        "deploy",
        "2026-01-01T00:00:00Z",
        LOG_LINES_PER_STEP + 5,
    );
    let detail = store.get_run("r1").unwrap().unwrap();
    assert_eq!(detail.run.status, RunStatus::Succeeded);
    assert_eq!(detail.run.inputs, json!({"target": "prod"}));
    assert_eq!(detail.run.outputs, Some(json!({"a": 1})));
    let steps: Vec<_> = detail
        .steps
        .iter()
        .map(|s| (&*s.step, s.outcome.status))
        .collect();
    assert_eq!(
        steps,
        [("one", StepStatus::Succeeded), ("two", StepStatus::Skipped)]
    );
    assert_eq!(detail.steps[0].outcome.outputs, json!({"x": "y"}));

    let logs = store.logs("r1").unwrap();
    assert_eq!(logs.len(), LOG_LINES_PER_STEP, "only the tail is kept");
    assert_eq!(logs[0].line, "line 5");
    assert_eq!(
        logs[LOG_LINES_PER_STEP - 1].line,
        format!("line {}", LOG_LINES_PER_STEP + 4)
    );

    let lines = store.audit_lines("r1").unwrap();
    assert_eq!(lines.len(), 5, "every event but output lines");
    let text: String = lines.iter().map(|l| format!("{}\n", l.line)).collect();
    let report = verify(text.as_bytes()).unwrap();
    assert_eq!(report.events, 5);
    let after = store.audit_lines_after("r1", lines[2].seq).unwrap();
    assert_eq!(
        after,
        lines[3..].to_vec(),
        "a follower reads only what is new"
    );
    assert!(
        store
            .audit_lines_after("r1", lines[4].seq)
            .unwrap()
            .is_empty()
    );
    assert!(store.get_run("nope").unwrap().is_none());
}

#[test]
fn lists_newest_first_with_filters_and_prunes_old_runs() {
    let dir = temp();
    let store = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    record_run(&store, "old", "deploy", "2020-01-01T00:00:00Z", 1);
    record_run(&store, "mid", "backup", "2025-06-01T00:00:00Z", 1);
    let now = chrono::Utc::now().to_rfc3339();
    record_run(&store, "new", "deploy", &now, 1);
    let lease = store.claim_run("live").unwrap().unwrap();
    assert!(
        store.claim_run("live").unwrap().is_none(),
        "one owner at a time"
    );
    let live = StoreSink::new(store.clone(), "live");
    live.emit(&started("live", "deploy", "2019-01-01T00:00:00Z"));

    let ids = |f: RunFilter| -> Vec<String> {
        store
            .list_runs(&f)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect()
    };
    assert_eq!(ids(RunFilter::default()), ["new", "mid", "old", "live"]);
    let deploy = RunFilter {
        runbook: Some("deploy".into()),
        ..RunFilter::default()
    };
    assert_eq!(ids(deploy), ["new", "old", "live"]);
    let running = RunFilter {
        status: Some(RunStatus::Running),
        ..RunFilter::default()
    };
    assert_eq!(ids(running.clone()), ["live"]);
    let interrupted = RunFilter {
        status: Some(RunStatus::Interrupted),
        ..RunFilter::default()
    };
    assert!(ids(interrupted.clone()).is_empty());
    let one = RunFilter {
        limit: Some(1),
        ..RunFilter::default()
    };
    assert_eq!(ids(one), ["new"]);

    let pruned = store.prune(Duration::from_secs(30 * 86_400)).unwrap();
    assert_eq!(pruned, ["old", "mid"], "a running run is kept");
    assert_eq!(ids(RunFilter::default()), ["new", "live"]);
    assert!(store.audit_lines("old").unwrap().is_empty());

    // Its owner gone (as after `kill -9`), the run shows as interrupted.
    drop(lease);
    assert!(ids(running).is_empty());
    assert_eq!(ids(interrupted), ["live"]);
    assert_eq!(
        store.get_run("live").unwrap().unwrap().run.status,
        RunStatus::Interrupted
    );
    assert!(store.logs("old").unwrap().is_empty());
}

#[test]
fn a_corrupted_file_is_a_clear_error() {
    let dir = temp();
    let path = dir.path().join("steward.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let err = SqliteStore::open(&path).err().unwrap();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn store_urls() {
    let dir = temp();
    let db = dir.path().join("x.db");
    let url = format!("sqlite://{}", db.display());
    assert_eq!(open(dir.path(), Some(&url)).unwrap().path(), db);
    assert_eq!(
        open(dir.path(), None).unwrap().path(),
        dir.path().join(".steward/steward.db")
    );
    let err = open(dir.path(), Some("postgres://h/db")).err().unwrap();
    assert!(matches!(err, StoreError::Unsupported(_)));
}

#[test]
fn a_lock_held_too_long_is_a_clear_error_and_loses_nothing() {
    let dir = temp();
    let path = dir.path().join("steward.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    record_run(&store, "r1", "deploy", "2026-01-01T00:00:00Z", 1);
    store.set_busy_timeout(Duration::from_millis(50)).unwrap();

    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let err = store
        .record("r1", &finished(RunStatus::Failed), None)
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()));
    other.execute_batch("ROLLBACK").unwrap();

    // Reads work again, and the earlier run is intact.
    let run = store.get_run("r1").unwrap().unwrap();
    assert_eq!(run.run.status, RunStatus::Succeeded);
    // A second store on the same file (another process) opens without
    // migrating again.
    let second = SqliteStore::open(&path).unwrap();
    assert_eq!(second.list_runs(&RunFilter::default()).unwrap().len(), 1);
}

#[test]
fn store_url_options_parse() {
    let url = "sqlite://x.db?synchronous=off";
    let off = SqliteOptions::from_query(url, "synchronous=off").unwrap();
    assert_eq!(off.synchronous, Synchronous::Off);
    let full = SqliteOptions::from_query(url, "synchronous=FULL").unwrap();
    assert_eq!(full.synchronous, Synchronous::Full);
    let none = SqliteOptions::from_query(url, "").unwrap();
    assert_eq!(none, SqliteOptions::default());
    assert_eq!(none.synchronous, Synchronous::Normal);

    let err = SqliteOptions::from_query(url, "sync=off").unwrap_err();
    assert!(matches!(err, StoreError::BadOption { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("`sync`") && text.contains(url), "{text}");
    let err = SqliteOptions::from_query(url, "synchronous=fast").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("`fast`") && text.contains("synchronous"),
        "{text}"
    );
}

#[test]
fn store_url_options_set_the_pragma() {
    let dir = temp();
    let db = dir.path().join("x.db");
    let level = |spec: Option<&str>| open(dir.path(), spec).unwrap().synchronous_level();
    let url = |query: &str| format!("sqlite://{}{query}", db.display());
    assert_eq!(level(None), 1, "NORMAL by default");
    assert_eq!(level(Some(&db.display().to_string())), 1);
    assert_eq!(level(Some(&url(""))), 1);
    assert_eq!(level(Some(&url("?synchronous=off"))), 0);
    assert_eq!(level(Some(&url("?synchronous=normal"))), 1);
    assert_eq!(level(Some(&url("?synchronous=full"))), 2);
    // The query is not part of the file name.
    assert_eq!(
        open(dir.path(), Some(&url("?synchronous=off")))
            .unwrap()
            .path(),
        db
    );
    assert!(!dir.path().join("x.db?synchronous=off").exists());

    let err = open(dir.path(), Some(&url("?journal=memory")))
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::BadOption { .. }), "{err:?}");
    assert!(err.to_string().contains("`journal`"), "{err}");
    let err = open(dir.path(), Some("sqlite://?synchronous=off"))
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Unsupported(_)), "{err:?}");
}

#[test]
fn a_tick_is_recorded_once_and_only_forwards() {
    use chrono::{TimeZone, Utc};
    let dir = temp();
    let path = dir.path().join("steward.db");
    // Two handles on one file: two servers sharing the store.
    let a = SqliteStore::open(&path).unwrap();
    let b = SqliteStore::open(&path).unwrap();
    let t = |s| Utc.with_ymd_and_hms(2026, 1, 1, 3, 0, s).unwrap();
    assert_eq!(a.last_tick("backup", "0 3 * * * UTC").unwrap(), None);

    assert!(a.advance_tick("backup", "0 3 * * * UTC", t(0)).unwrap());
    // The same tick again, from either server: the loser skips it.
    assert!(!b.advance_tick("backup", "0 3 * * * UTC", t(0)).unwrap());
    assert!(!a.advance_tick("backup", "0 3 * * * UTC", t(0)).unwrap());
    // Never backwards.
    assert!(
        !b.advance_tick("backup", "0 3 * * * UTC", t(0) - chrono::Duration::days(1))
            .unwrap()
    );
    assert_eq!(b.last_tick("backup", "0 3 * * * UTC").unwrap(), Some(t(0)));
    // A later tick goes forward; other schedules and runbooks are apart.
    assert!(b.advance_tick("backup", "0 3 * * * UTC", t(1)).unwrap());
    assert!(a.advance_tick("backup", "0 4 * * * UTC", t(0)).unwrap());
    assert!(a.advance_tick("report", "0 3 * * * UTC", t(0)).unwrap());
    assert_eq!(a.last_tick("backup", "0 3 * * * UTC").unwrap(), Some(t(1)));
    assert_eq!(a.last_tick("backup", "0 4 * * * UTC").unwrap(), Some(t(0)));
}

#[test]
fn concurrent_servers_fire_each_tick_once() {
    use chrono::{TimeZone, Utc};
    let dir = temp();
    let path = dir.path().join("steward.db");
    SqliteStore::open(&path).unwrap();
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let won: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                scope.spawn(move || {
                    let store = SqliteStore::open(&path).unwrap();
                    (0..50)
                        .filter(|i| {
                            let tick = base + chrono::Duration::seconds(*i);
                            store.advance_tick("tick", "* * * * * * UTC", tick).unwrap()
                        })
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Each of the 50 ticks was won by exactly one of the four.
    assert_eq!(won.iter().sum::<usize>(), 50, "{won:?}");
}

#[test]
fn upgrades_a_second_schema_store_with_its_runs() {
    let dir = temp();
    let path = dir.path().join("steward.db");
    let old = SqliteStore::open_with(&path, &MIGRATIONS[..2]).unwrap();
    assert_eq!(old.schema_version().unwrap(), 2);
    drop(old);
    // A run as the second schema's build wrote it, with its own SQL.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            r#"INSERT INTO runs (id, runbook, status, trigger_kind, actor, source_path,
                source_sha256, inputs_json, started_at, started_ms, finished_at, duration_ms,
                outputs_json)
            VALUES ('r1', 'deploy', 'succeeded', 'cli', 'ann', 'runbooks/deploy.yaml', 'ab',
                '{}', '2026-01-01T00:00:00Z', 1767225600000, '2026-01-01T00:00:01Z', 5, '{}');
            INSERT INTO steps (run_id, step_id, ord, status, attempts, duration_ms, error)
            VALUES ('r1', 'two', 1, 'skipped', 0, 0, '`when: false` is false');"#,
        )
        .unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    let run = store.get_run("r1").unwrap().unwrap();
    assert_eq!(run.run.status, RunStatus::Succeeded);
    assert_eq!(
        run.steps[0].outcome.skip_reason,
        Some(SkipReason::WhenFalse)
    );
    assert_eq!(store.last_tick("deploy", "@daily UTC").unwrap(), None);
    let tick = chrono::Utc::now();
    assert!(store.advance_tick("deploy", "@daily UTC", tick).unwrap());
    assert_eq!(
        store
            .last_tick("deploy", "@daily UTC")
            .unwrap()
            .map(|t| t.timestamp_millis()),
        Some(tick.timestamp_millis())
    );
}

/// A store as the build before skip reasons were stored left it (schema
/// version 3, made by a real `steward run`: see the fixture's header).
const THIRD_SCHEMA_STORE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/store-schema3-skips.sql"
));

#[test]
fn reads_the_skipped_steps_of_a_third_schema_store() {
    let dir = temp();
    let path = dir.path().join("steward.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(THIRD_SCHEMA_STORE)
        .unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);

    let runs: Vec<_> = store
        .list_runs(&RunFilter::default())
        .unwrap()
        .into_iter()
        .map(|r| (r.runbook, r.status))
        .collect();
    assert_eq!(
        runs,
        [
            ("skips".to_owned(), RunStatus::Interrupted),
            ("broken".to_owned(), RunStatus::Failed),
            ("fine".to_owned(), RunStatus::Succeeded),
        ]
    );
    let skips = |id: &str| -> Vec<(String, StepStatus, Option<SkipReason>)> {
        let detail = store.get_run(id).unwrap().unwrap();
        let lines = store.audit_lines(id).unwrap();
        let text: String = lines.iter().map(|l| format!("{}\n", l.line)).collect();
        verify(text.as_bytes()).unwrap();
        detail
            .steps
            .into_iter()
            .map(|s| (s.step, s.outcome.status, s.outcome.skip_reason))
            .collect()
    };
    use SkipReason::*;
    use StepStatus::*;
    let step = |id: &str, status, reason| (id.to_owned(), status, reason);
    assert_eq!(
        skips("01a23d4f-da9c-7289-a387-44f4bb53198e"),
        [
            step("hello", Succeeded, None),
            step("cond", Skipped, Some(WhenFalse)),
        ]
    );
    assert_eq!(
        skips("01a23d4f-dac3-7531-b131-da1d0e98ed97"),
        [
            step("boom", Failed, None),
            step("later", Skipped, Some(NeedFailed)),
            step("always", Succeeded, None),
        ]
    );
    assert_eq!(
        skips("01a23d4f-dae1-7719-812f-39c082fc67f9"),
        [
            step("bad", Failed, None),
            step("cond", Skipped, Some(WhenFalse)),
            step("after_cond", Succeeded, None),
            step("after_bad", Skipped, Some(NeedFailed)),
            step("after_after", Skipped, Some(NeedSkipped)),
            step("hang", Running, None),
        ]
    );
    // Its records show as they did.
    let fine = store
        .get_run("01a23d4f-da9c-7289-a387-44f4bb53198e")
        .unwrap()
        .unwrap();
    let shown = serde_json::to_value(&fine).unwrap();
    assert_eq!(shown["steps"][1]["status"], "skipped");
    assert_eq!(shown["steps"][1]["outputs"], serde_json::Value::Null);
    assert_eq!(shown["steps"][1].get("skip_reason"), None);
    assert_eq!(shown["outputs"], json!({"word": "hello"}));
}

#[test]
fn a_skip_keeps_its_stored_reason_and_an_unknown_one_is_an_error() {
    let dir = temp();
    let path = dir.path().join("steward.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let sink = StoreSink::new(store.clone(), "r1");
    sink.emit(&started("r1", "deploy", "2026-01-01T00:00:00Z"));
    // Words that would read as a false `when`: the stored reason counts.
    sink.emit(&RunEvent::StepFinished {
        step: "late".into(),
        outcome: StepOutcome::skipped(SkipReason::RunStopped, "`when` never ran".into()),
    });
    sink.emit(&RunEvent::StepFinished {
        step: "one".into(),
        outcome: StepOutcome::new(StepStatus::Succeeded, 1),
    });
    assert_eq!(sink.error(), None);
    let reasons: Vec<_> = store
        .get_run("r1")
        .unwrap()
        .unwrap()
        .steps
        .into_iter()
        .map(|s| s.outcome.skip_reason)
        .collect();
    assert_eq!(reasons, [Some(SkipReason::RunStopped), None]);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let stored: String = conn
        .query_row(
            "SELECT skip_reason FROM steps WHERE step_id = 'late'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, "run_stopped");
    conn.execute(
        "UPDATE steps SET skip_reason = 'bored' WHERE step_id = 'late'",
        [],
    )
    .unwrap();
    let err = store.get_run("r1").unwrap_err();
    assert!(matches!(err, StoreError::UnknownValue { .. }), "{err:?}");
    assert!(
        err.to_string().contains("unknown skip reason `bored`"),
        "{err}"
    );
    conn.execute("UPDATE runs SET status = 'paused'", [])
        .unwrap();
    let err = store.list_runs(&RunFilter::default()).unwrap_err();
    assert!(
        err.to_string().contains("unknown run status `paused`"),
        "{err}"
    );
}

/// `show --output json`, `history --output json` and the API print these
/// records: pinned byte for byte.
#[test]
fn records_serialise_as_show_and_history_print_them() {
    let dir = temp();
    let store = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let sink = StoreSink::new(store.clone(), "r1");
    let mut start = started("r1", "deploy", "2026-01-01T00:00:00Z");
    if let RunEvent::RunStarted { parent, .. } = &mut start {
        *parent = Some(crate::events::ParentRun {
            run_id: "r0".into(),
            step: "sub".into(),
        });
    }
    sink.emit(&start);
    let attempt = |step: &str| RunEvent::AttemptStarted {
        step: step.into(),
        attempt: 1,
        item: None,
        detail: "echo".into(),
    };
    sink.emit(&attempt("one"));
    sink.emit(&RunEvent::AttemptFinished {
        step: "one".into(),
        attempt: 1,
        item: None,
        status: StepStatus::Succeeded,
        exit_code: Some(0),
        duration_ms: 3,
        error: None,
        retry_in_ms: None,
        output: Some("hi".into()),
    });
    sink.emit(&RunEvent::StepFinished {
        step: "one".into(),
        outcome: StepOutcome {
            duration_ms: 3,
            outputs: json!({"x": "y"}),
            result: json!({"stdout": "hi\n"}),
            ..StepOutcome::new(StepStatus::Succeeded, 1)
        },
    });
    sink.emit(&RunEvent::StepFinished {
        step: "two".into(),
        outcome: StepOutcome::skipped(SkipReason::WhenFalse, "`when: false` is false".into()),
    });
    sink.emit(&RunEvent::StepFinished {
        step: "bad".into(),
        outcome: StepOutcome {
            duration_ms: 9,
            result: json!({"exit_code": 1}),
            ..StepOutcome::failed(2, "exit code 1".into())
        },
    });
    sink.emit(&attempt("three"));
    sink.emit(&attempt("gate"));
    sink.emit(&RunEvent::ApprovalRequested {
        step: "gate".into(),
        message: "ship?".into(),
        approvers: vec![],
    });
    // `approval_requested` is committed before `emit` returns.
    let _lease = store.claim_run("r1").unwrap().unwrap();
    let mut live = store.get_run("r1").unwrap().unwrap();
    live.approvals[0].requested_at = "T".into();
    assert_eq!(
        serde_json::to_string_pretty(&live).unwrap(),
        r#"{
  "id": "r1",
  "runbook": "deploy",
  "status": "waiting",
  "trigger_kind": "cli",
  "actor": "ann",
  "origin": null,
  "source_path": "runbooks/x.yaml",
  "source_sha256": "ab",
  "inputs": {
    "target": "prod"
  },
  "started_at": "2026-01-01T00:00:00Z",
  "finished_at": null,
  "duration_ms": null,
  "outputs": null,
  "error": null,
  "parent_run_id": "r0",
  "parent_step": "sub",
  "steps": [
    {
      "step": "one",
      "status": "succeeded",
      "attempts": 1,
      "duration_ms": 3,
      "result": {
        "stdout": "hi\n"
      },
      "attempt": {
        "event": "attempt_finished",
        "step": "one",
        "attempt": 1,
        "status": "succeeded",
        "exit_code": 0,
        "duration_ms": 3,
        "output": "hi"
      },
      "outputs": {
        "x": "y"
      },
      "error": null
    },
    {
      "step": "two",
      "status": "skipped",
      "attempts": 0,
      "duration_ms": 0,
      "result": null,
      "attempt": null,
      "outputs": null,
      "error": "`when: false` is false"
    },
    {
      "step": "bad",
      "status": "failed",
      "attempts": 2,
      "duration_ms": 9,
      "result": {
        "exit_code": 1
      },
      "attempt": null,
      "outputs": null,
      "error": "exit code 1"
    },
    {
      "step": "three",
      "status": "running",
      "attempts": 1,
      "duration_ms": null,
      "result": null,
      "attempt": null,
      "outputs": null,
      "error": null
    },
    {
      "step": "gate",
      "status": "waiting",
      "attempts": 1,
      "duration_ms": null,
      "result": null,
      "attempt": null,
      "outputs": null,
      "error": null
    }
  ],
  "approvals": [
    {
      "step": "gate",
      "message": "ship?",
      "approvers": [],
      "requested_at": "T",
      "decision": null
    }
  ],
  "children": []
}"#
    );

    sink.emit(&RunEvent::RunFinished(RunOutcome {
        status: RunStatus::Failed,
        duration_ms: 20,
        outputs: json!({}),
        error: Some("step `bad` failed: exit code 1".into()),
    }));
    assert_eq!(sink.error(), None);
    let mut runs = store.list_runs(&RunFilter::default()).unwrap();
    runs[0].finished_at = Some("T".into());
    assert_eq!(
        serde_json::to_string(&runs).unwrap(),
        r#"[{"id":"r1","runbook":"deploy","status":"failed","trigger_kind":"cli","actor":"ann","origin":null,"source_path":"runbooks/x.yaml","source_sha256":"ab","inputs":{"target":"prod"},"started_at":"2026-01-01T00:00:00Z","finished_at":"T","duration_ms":20,"outputs":{},"error":"step `bad` failed: exit code 1","parent_run_id":"r0","parent_step":"sub"}]"#
    );
}
