//! The run store through the binary: `history`, `show`, `logs`,
//! `audit export`, `prune`, `--store`, and a damaged database.

use crate::support::Project;
use serde_json::Value;

const DEPLOY: &str = r#"
inputs:
  target: { type: string, default: staging }
steps:
  - id: build
    shell: echo "building for {{ inputs.target }}"; echo warn >&2
  - id: ship
    shell: echo shipped
"#;

const BROKEN: &str = r#"
steps:
  - id: boom
    shell: echo "about to fail"; exit 4
"#;

fn project() -> Project {
    let p = Project::with_runbook("deploy", DEPLOY);
    p.runbook("broken", BROKEN);
    p
}

fn history(p: &Project, args: &[&str]) -> Vec<String> {
    p.history(args)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_run_is_stored_with_its_steps_logs_and_audit_trail() {
    let p = project();
    let id = p.run_json("deploy", &["-i", "target=prod"]).run_id();

    let runs = p.history(&[]);
    assert_eq!(runs[0]["id"], id.as_str());
    assert_eq!(runs[0]["runbook"], "deploy");
    assert_eq!(runs[0]["status"], "succeeded");
    assert_eq!(runs[0]["trigger_kind"], "cli");
    let table = p.steward(&["history"]);
    table.expect_code(0);
    assert!(table.stdout.starts_with("RUN"), "{}", table.stdout);
    assert!(table.stdout.contains(&id) && table.stdout.contains("succeeded"));

    let shown = p.show(&id);
    assert_eq!(shown["inputs"]["target"], "prod");
    let steps: Vec<(&str, &str)> = shown["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(steps, [("build", "succeeded"), ("ship", "succeeded")]);
    assert_eq!(shown["steps"][0]["attempts"], 1);
    let text = p.steward(&["show", &id]);
    text.expect_code(0);
    assert!(
        text.stdout.contains("STEP") && text.stdout.contains("ship"),
        "{}",
        text.stdout
    );

    let logs = p.steward(&["logs", &id]);
    logs.expect_code(0);
    assert!(
        logs.stdout.contains("build | building for prod"),
        "{}",
        logs.stdout
    );
    assert!(logs.stdout.contains("build ! warn"), "{}", logs.stdout);
    assert!(logs.stdout.contains("ship | shipped"), "{}", logs.stdout);
    let only = p.steward(&["logs", &id, "--step", "ship"]);
    assert_eq!(only.stdout.trim(), "ship | shipped");

    let export = p.steward(&["audit", "export", &id]);
    export.expect_code(0);
    let events: Vec<Value> = export
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .collect();
    let file_events = p.audit_events(&id);
    assert_eq!(
        events, file_events,
        "the store holds the same events as the file"
    );
    let file = p.write("exported.jsonl", &export.stdout);
    let verified = p.audit_verify(&["--file", file.to_str().unwrap()]);
    verified.expect_code(0);
    assert!(verified.stdout.starts_with("ok:"), "{}", verified.stdout);

    // A changed byte in the export is caught.
    let tampered = export.stdout.replacen("shipped", "shippes", 1);
    assert_ne!(tampered, export.stdout);
    let file = p.write("tampered.jsonl", &tampered);
    p.audit_verify(&["--file", file.to_str().unwrap()])
        .expect_code(1);
}

#[test]
fn history_filters_by_runbook_status_and_limit() {
    let p = project();
    let first = p.run_json("deploy", &[]).run_id();
    let failed = p.run_json("broken", &[]);
    failed.expect_code(1);
    let failed = failed.run_id();
    let last = p.run_json("deploy", &[]).run_id();

    assert_eq!(
        history(&p, &[]),
        [last.as_str(), failed.as_str(), first.as_str()]
    );
    assert_eq!(
        history(&p, &["--runbook", "deploy"]),
        [last.as_str(), first.as_str()]
    );
    assert_eq!(history(&p, &["--status", "failed"]), [failed.as_str()]);
    assert_eq!(history(&p, &["--limit", "1"]), [last]);
    assert!(history(&p, &["--runbook", "nope"]).is_empty());

    let shown = p.show(&failed);
    assert_eq!(shown["status"], "failed");
    assert_eq!(shown["steps"][0]["status"], "failed");
    assert_eq!(shown["steps"][0]["result"]["exit_code"], 4);

    let missing = p.steward(&["show", "no-such-run"]);
    missing.expect_code(2);
    assert!(
        missing.stderr.contains("no run `no-such-run`"),
        "{}",
        missing.stderr
    );
}

#[test]
fn prune_deletes_old_runs_and_their_folders() {
    let p = project();
    let old = p.run_json("deploy", &[]).run_id();
    let new = p.run_json("deploy", &[]).run_id();

    let none = p.steward(&["prune", "--older-than", "30d"]);
    none.expect_code(0);
    assert_eq!(none.stdout.trim(), "pruned 0 runs");

    // Age one run by 40 days.
    let db = rusqlite::Connection::open(p.file(".steward/steward.db")).unwrap();
    let forty_days_ms: i64 = 40 * 86_400 * 1000;
    db.execute(
        "UPDATE runs SET started_ms = started_ms - ?1 WHERE id = ?2",
        rusqlite::params![forty_days_ms, old],
    )
    .unwrap();
    drop(db);

    let pruned = p.steward(&["prune", "--older-than", "30d"]);
    pruned.expect_code(0);
    assert_eq!(pruned.stdout.trim(), "pruned 1 run");
    assert_eq!(history(&p, &[]), [new.as_str()]);
    assert!(!p.audit_path(&old).exists(), "its run folder is gone");
    assert!(p.audit_path(&new).exists());
    p.steward(&["audit", "export", &old]).expect_code(2);

    p.steward(&["prune", "--older-than", "soon"]).expect_code(2);
}

#[test]
fn a_corrupted_store_is_a_clear_error_and_nothing_runs() {
    let p = project();
    let earlier = p.run_json("deploy", &[]).run_id();
    let db = p.file(".steward/steward.db");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::write(&db, "this is not a database, just garbage ".repeat(300)).unwrap();

    for args in [
        &["run", "deploy"][..],
        &["history"],
        &["show", &earlier],
        &["logs", &earlier],
    ] {
        let out = p.steward(args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.all_output());
        assert!(
            out.stderr.contains("steward.db"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("not a valid SQLite database"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
    assert_eq!(p.run_ids(), [earlier.as_str()], "the run did not start");
    // The earlier run's file trail is untouched.
    p.audit_verify(&[&earlier]).expect_code(0);
}

#[test]
fn store_flag_and_env_select_another_file() {
    let p = project();
    let other = p.file("elsewhere/runs.db");
    let url = format!("sqlite://{}", other.display());
    let id = p
        .run_with("deploy", &["--output", "json", "--store", &url], |t| t)
        .run_id();
    assert!(other.exists());
    assert!(history(&p, &[]).is_empty(), "the default store has no run");
    assert_eq!(
        history(&p, &["--store", other.to_str().unwrap()]),
        [id.as_str()]
    );

    let out = p
        .test()
        .args(["history", "--output", "json"])
        .env("STEWARD_STORE", &url)
        .run();
    assert!(out.stdout.contains(&id), "{}", out.stdout);

    let bad = p.steward(&["history", "--store", "postgres://db/steward"]);
    bad.expect_code(2);
    assert!(
        bad.stderr
            .contains("unsupported run store `postgres://db/steward`"),
        "{}",
        bad.stderr
    );
    let bad = p.steward(&["run", "deploy", "--store", "redis://x"]);
    bad.expect_code(2);
    assert!(p.run_ids().len() == 1, "nothing ran with a bad store");
}

#[test]
fn a_new_store_is_migrated_to_the_latest_schema() {
    let p = project();
    p.steward(&["history"]).expect_code(0);
    let db = rusqlite::Connection::open(p.file(".steward/steward.db")).unwrap();
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert!(version >= 1);
    let mode: String = db
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        tables,
        [
            "approvals",
            "events",
            "logs",
            "plans",
            "runs",
            "schedule_ticks",
            "steps"
        ]
    );

    // A store from a newer steward is refused, not damaged.
    db.execute_batch("PRAGMA user_version = 999").unwrap();
    drop(db);
    let out = p.steward(&["history"]);
    out.expect_code(1);
    assert!(out.stderr.contains("schema version 999"), "{}", out.stderr);
}
