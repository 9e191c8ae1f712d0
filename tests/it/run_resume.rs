//! `kill -9` in the middle of a run, then `steward resume`: finished steps
//! are not run again, the interrupted one runs as a new attempt, and the
//! audit chain goes on unbroken, recording who resumed the run.

use std::time::Duration;

use crate::support::{Project, unindent, wait_for};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// Each step appends to its own count file; `two` hangs until `go` exists.
const RESUMABLE: &str = r#"
steps:
  - id: one
    shell: echo ran >> one.count; echo first
    outputs:
      word: "{{ result.stdout | trim }}"
  - id: two
    shell: |
      echo ran >> two.count
      echo $$ > two.pid
      while [ ! -f go ]; do sleep 0.05; done
  - id: three
    shell: echo {{ steps.one.outputs.word }} >> three.count
outputs:
  word: "{{ steps.one.outputs.word }}"
"#;

#[test]
fn a_killed_run_is_interrupted_and_resumes_where_it_stopped() {
    let p = Project::with_runbook("resumable", RESUMABLE);
    let run = p.spawn(&["run", "resumable"]);
    wait_for("step two to start", Duration::from_secs(30), || {
        p.exists("two.pid")
    });
    let running = p.history(&["--status", "running"]);
    assert_eq!(running.len(), 1, "{running:?}");
    let id = running[0]["id"].as_str().unwrap().to_owned();

    // kill -9: no handler runs, nothing is flushed by steward.
    kill(Pid::from_raw(run.id() as i32), Signal::SIGKILL).unwrap();
    let killed = run.wait(Duration::from_secs(10));
    assert_eq!(killed.code, -1, "killed by a signal");
    // The step's own process group outlived steward: end it (we started it).
    let group: i32 = p.read("two.pid").trim().parse().unwrap();
    let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);

    let interrupted = p.history(&["--status", "interrupted"]);
    assert_eq!(interrupted.len(), 1);
    assert_eq!(interrupted[0]["id"], id.as_str());
    let table = p.steward(&["history"]);
    assert!(table.stdout.contains("interrupted"), "{}", table.stdout);

    p.write("go", "");
    let resumed = p.steward(&["resume", &id, "--output", "json"]);
    resumed.expect_code(0);
    let report = resumed.stdout_json();
    assert_eq!(report["run_id"], id.as_str());
    assert_eq!(report["status"], "succeeded");
    assert_eq!(
        report["outputs"]["word"], "first",
        "a finished step's outputs are kept"
    );
    assert_eq!(report["steps"]["two"]["attempts"], 2, "a new attempt");

    assert_eq!(p.lines("one.count").len(), 1, "not run again");
    assert_eq!(
        p.lines("two.count").len(),
        2,
        "the interrupted step ran again"
    );
    assert_eq!(p.lines("three.count"), ["first"]);

    // One unbroken chain, in the store and in the file, with the resume.
    let verify = p.steward(&["audit", "verify", &id]);
    verify.expect_code(0);
    assert!(
        verify.stdout.contains("the run store and the audit file"),
        "{}",
        verify.stdout
    );
    let events = p.audit_events(&id);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "run_started").count(), 1);
    let resumed_event = events.iter().find(|e| e["event"] == "run_resumed").unwrap();
    assert_eq!(resumed_event["finished_steps"], 1);
    assert!(
        resumed_event["by"]["actor"]
            .as_str()
            .is_some_and(|a| !a.is_empty())
    );
    assert_eq!(kinds.last(), Some(&"run_finished"));
    let export = p.steward(&["audit", "export", &id]);
    assert_eq!(
        format!("{}\n", export.stdout.trim_end()),
        p.read(&format!(".steward/runs/{id}/audit.jsonl")),
        "the store's copy is the file, byte for byte"
    );

    let show = p.show(&id);
    assert_eq!(show["status"], "succeeded");
    // Only an interrupted run resumes.
    let again = p.steward(&["resume", &id]);
    again.expect_code(2);
    assert!(
        again.stderr.contains("has ended (succeeded)"),
        "{}",
        again.stderr
    );
}

#[test]
fn resume_refuses_unknown_and_live_runs() {
    let p = Project::with_runbook("resumable", RESUMABLE);
    let unknown = p.steward(&["resume", "no-such-run"]);
    unknown.expect_code(2);
    assert!(
        unknown.stderr.contains("no run `no-such-run`"),
        "{}",
        unknown.stderr
    );

    let run = p.spawn(&["run", "resumable"]);
    wait_for("step two to start", Duration::from_secs(30), || {
        p.exists("two.pid")
    });
    let id = p.history(&["--status", "running"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let live = p.steward(&["resume", &id]);
    live.expect_code(2);
    assert!(live.stderr.contains("is still running"), "{}", live.stderr);
    p.write("go", "");
    run.wait(Duration::from_secs(30)).expect_code(0);
}

#[test]
fn a_tampered_store_row_fails_audit_verify() {
    let p = Project::with_runbook(
        "quick",
        &unindent(
            r#"
            steps:
              - id: a
                shell: echo hello
            "#,
        ),
    );
    let id = p.run_json("quick", &[]).run_id();
    p.steward(&["audit", "verify", &id]).expect_code(0);
    let db = rusqlite::Connection::open(p.path().join(".steward/steward.db")).unwrap();
    let changed = db
        .execute(
            "UPDATE events SET line = replace(line, '\"status\":\"succeeded\"', '\"status\":\"failed\"') \
             WHERE run_id = ?1 AND line LIKE '%run_finished%'",
            [&id],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);
    let out = p.steward(&["audit", "verify", &id]);
    out.expect_code(1);
    assert!(out.stderr.contains("run store"), "{}", out.stderr);
}

/// The interrupted run of `tests/fixtures/store-schema3-skips.sql`.
const OLD_INTERRUPTED: &str = "01a23d4f-dae1-7719-812f-39c082fc67f9";

/// A project whose store is `tests/fixtures/store-schema3-skips.sql`.
fn project_with_the_schema3_store() -> Project {
    let p = Project::new();
    std::fs::create_dir_all(p.file(".steward")).unwrap();
    let sql = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/store-schema3-skips.sql"
    ));
    rusqlite::Connection::open(p.file(".steward/steward.db"))
        .unwrap()
        .execute_batch(sql)
        .unwrap();
    p
}

/// `steward ARGS… --output json`, which must exit with `code`, parsed.
fn steward_json(p: &Project, args: &[&str], code: i32) -> serde_json::Value {
    let args: Vec<&str> = args.iter().copied().chain(["--output", "json"]).collect();
    let out = p.steward(&args);
    out.expect_code(code);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// A store written by the build before skip reasons were stored (schema 3,
/// see the fixture's header): its runs are listed, shown and verified as
/// they were, and its interrupted run resumes with each recorded skip
/// blocking the steps that need it as before: `x_needs_blocked` needs a
/// step skipped after a failure, `y_needs_cond` one skipped by its `when`.
#[test]
fn a_store_of_the_previous_schema_is_read_and_resumed() {
    let p = project_with_the_schema3_store();
    let history = |status: &str| steward_json(&p, &["history", "--status", status], 0);

    let interrupted = history("interrupted");
    assert_eq!(interrupted.as_array().unwrap().len(), 1);
    assert_eq!(interrupted[0]["id"], OLD_INTERRUPTED);
    let failed = history("failed");
    assert_eq!(failed[0]["runbook"], "broken");
    assert_eq!(failed[0]["error"], "step `boom` failed: exit code 1");
    for run in ["succeeded", "failed", "interrupted"].map(history) {
        let id = run[0]["id"].as_str().unwrap();
        let verify = p.steward(&["audit", "verify", id]);
        verify.expect_code(0);
        assert!(verify.stdout.contains("chain intact"), "{}", verify.stdout);
    }
    let show = steward_json(&p, &["show", OLD_INTERRUPTED], 0);
    assert_eq!(show["status"], "interrupted");
    let steps: Vec<(&str, &str)> = show["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("bad", "failed"),
            ("cond", "skipped"),
            ("after_cond", "succeeded"),
            ("after_bad", "skipped"),
            ("after_after", "skipped"),
            ("hang", "running"),
        ]
    );
    assert_eq!(show["steps"][1]["error"], "`when: false` is false");
    assert_eq!(show["steps"][5]["duration_ms"], serde_json::Value::Null);

    p.write("go", "");
    let report = steward_json(&p, &["resume", OLD_INTERRUPTED], 1);
    assert_eq!(report["status"], "failed");
    assert_eq!(report["error"], "step `bad` failed: exit code 3");
    let step = |id: &str| {
        let s = &report["steps"][id];
        (s["status"].as_str().unwrap(), s["error"].as_str())
    };
    assert_eq!(step("hang"), ("succeeded", None));
    assert_eq!(report["steps"]["hang"]["attempts"], 2);
    let after_a_skip = Some("needs `after_bad`, which was skipped");
    assert_eq!(step("x_needs_blocked"), ("skipped", after_a_skip));
    assert_eq!(step("y_needs_cond"), ("succeeded", None));
    assert_eq!(
        step("after_after"),
        ("skipped", after_a_skip),
        "as recorded"
    );
    p.steward(&["audit", "verify", OLD_INTERRUPTED])
        .expect_code(0);
}

/// `resume` goes by a skip's stored reason, not by the words of its error:
/// with the `when`-skipped `cond` recorded as skipped after a failure,
/// `y_needs_cond` is skipped too.
#[test]
fn resume_goes_by_the_stored_skip_reason() {
    let p = project_with_the_schema3_store();
    // Any command brings the store to the current schema.
    p.steward(&["history"]).expect_code(0);
    let changed = rusqlite::Connection::open(p.file(".steward/steward.db"))
        .unwrap()
        .execute(
            "UPDATE steps SET skip_reason = 'need_failed' WHERE run_id = ?1 AND step_id = 'cond'",
            [OLD_INTERRUPTED],
        )
        .unwrap();
    assert_eq!(changed, 1);

    p.write("go", "");
    let report = steward_json(&p, &["resume", OLD_INTERRUPTED], 1);
    assert_eq!(report["steps"]["y_needs_cond"]["status"], "skipped");
    assert_eq!(
        report["steps"]["y_needs_cond"]["error"],
        "needs `cond`, which was skipped"
    );
    assert_eq!(report["steps"]["hang"]["status"], "succeeded");
}
