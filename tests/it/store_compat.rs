//! A run store written by an older build is still read, verified and
//! resumed: `tests/fixtures/store-v1` holds what the steward of commit
//! 3f2e9e1 left after a run that succeeded, one that failed and one killed
//! (SIGKILL) in the middle of a step (its README says how it was made).
//! Each test works on a copy.

use crate::support::Project;

const SUCCEEDED: &str = "01a23d3d-3f14-76ac-be49-fbb9f1c6e6dc";
const FAILED: &str = "01a23d3d-3f51-7767-b900-20c693057de5";
const INTERRUPTED: &str = "01a23d3d-3f8f-720b-9bab-a9be92286645";

fn fixture() -> Project {
    Project::copy_of("tests/fixtures/store-v1")
}

/// `(id, runbook, status)` of each run in `history`, newest first.
fn runs(p: &Project) -> Vec<(String, String, String)> {
    p.history(&[])
        .iter()
        .map(|r| {
            let field = |name: &str| r[name].as_str().unwrap_or_default().to_owned();
            (field("id"), field("runbook"), field("status"))
        })
        .collect()
}

fn row(id: &str, runbook: &str, status: &str) -> (String, String, String) {
    (id.to_owned(), runbook.to_owned(), status.to_owned())
}

#[test]
fn history_lists_the_old_runs_with_their_statuses() {
    let p = fixture();
    assert_eq!(
        runs(&p),
        [
            row(INTERRUPTED, "resumable", "interrupted"),
            row(FAILED, "broken", "failed"),
            row(SUCCEEDED, "greet", "succeeded"),
        ]
    );
    let history = p.history(&[]);
    let greet = &history[2];
    assert_eq!(greet["inputs"]["who"], "fixture");
    assert_eq!(greet["outputs"]["greeting"], "hello fixture");
    assert_eq!(greet["trigger_kind"], "cli");
    assert_eq!(greet["actor"], "root");
    assert!(
        history[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("step `check` failed")),
        "{}",
        history[1]
    );

    assert_eq!(p.runs_with_status("interrupted"), [INTERRUPTED]);
    assert_eq!(p.runs_with_status("failed"), [FAILED]);

    let table = p.test().arg("history").run().stdout;
    for (id, status) in [
        (INTERRUPTED, "interrupted"),
        (FAILED, "failed"),
        (SUCCEEDED, "succeeded"),
    ] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(id) && l.contains(status)),
            "{table}"
        );
    }
}

#[test]
fn show_and_audit_verify_handle_each_old_run() {
    let p = fixture();
    let steps = |id: &str| -> Vec<(String, String, u64)> {
        p.show(id)["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| {
                (
                    s["step"].as_str().unwrap_or_default().to_owned(),
                    s["status"].as_str().unwrap_or_default().to_owned(),
                    s["attempts"].as_u64().unwrap_or_default(),
                )
            })
            .collect()
    };
    let step = |id: &str, status: &str, attempts| (id.to_owned(), status.to_owned(), attempts);
    assert_eq!(
        steps(SUCCEEDED),
        [step("hello", "succeeded", 1), step("shout", "succeeded", 1)]
    );
    assert_eq!(
        steps(FAILED),
        [
            step("prepare", "succeeded", 1),
            step("check", "failed", 2),
            step("never", "skipped", 0),
            step("cleanup", "succeeded", 1),
        ]
    );
    assert_eq!(
        steps(INTERRUPTED),
        [step("first", "succeeded", 1), step("wait", "running", 1)]
    );
    assert_eq!(p.show(INTERRUPTED)["status"], "interrupted");
    assert_eq!(
        p.show(SUCCEEDED)["steps"][0]["outputs"]["line"],
        "hello fixture"
    );

    for (id, status) in [
        (SUCCEEDED, "succeeded"),
        (FAILED, "failed"),
        (INTERRUPTED, "interrupted"),
    ] {
        p.test()
            .args(["show", id])
            .stdout_contains(&format!("status:   {status}\n"))
            .run();
        p.test()
            .args(["audit", "verify", id])
            .stdout_contains("chain intact in the run store and the audit file")
            .run();
    }
    p.test()
        .args(["logs", SUCCEEDED])
        .stdout_contains("hello | hello fixture\n")
        .run();
}

#[test]
fn the_old_interrupted_run_resumes_and_its_trail_stays_verifiable() {
    let p = fixture();
    // The step the run was killed in waits for this file.
    p.write("go", "");
    let report = p
        .test()
        .args(["resume", INTERRUPTED, "--output", "json"])
        .run()
        .stdout_json();
    assert_eq!(report["run_id"], INTERRUPTED);
    assert_eq!(report["status"], "succeeded", "{report:#}");
    assert_eq!(report["inputs"]["who"], "fixture", "the stored inputs");
    assert_eq!(report["steps"]["first"]["attempts"], 1);
    assert_eq!(report["steps"]["wait"]["attempts"], 2, "a second attempt");
    assert_eq!(report["steps"]["last"]["status"], "succeeded");
    assert_eq!(
        report["outputs"]["word"], "first for fixture",
        "a finished step's outputs are kept"
    );
    assert!(!p.exists("first.count"), "a finished step is not run again");
    assert_eq!(p.lines("wait.count"), ["ran"], "the interrupted step ran");
    assert_eq!(p.lines("last.count"), ["first for fixture"]);

    assert_eq!(
        runs(&p),
        [
            row(INTERRUPTED, "resumable", "succeeded"),
            row(FAILED, "broken", "failed"),
            row(SUCCEEDED, "greet", "succeeded"),
        ]
    );
    for id in [INTERRUPTED, FAILED, SUCCEEDED] {
        p.test().args(["audit", "verify", id]).run();
    }
    let events = p.audit_events(INTERRUPTED);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "run_started").count(), 1);
    let resumed = events.iter().find(|e| e["event"] == "run_resumed");
    assert_eq!(resumed.expect("a run_resumed event")["finished_steps"], 1);
    assert_eq!(kinds.last(), Some(&"run_finished"));
    p.test()
        .args(["resume", INTERRUPTED])
        .status(2)
        .stderr_contains("has ended (succeeded)")
        .run();
}
