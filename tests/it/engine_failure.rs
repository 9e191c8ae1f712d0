//! Failure handling: downstream steps skipped with the reason, independent
//! branches unaffected, `continue_on_error`, saga-style `undo` in reverse
//! order of completion, then `on_failure`, then `finally`.

use crate::support::Project;

#[test]
fn a_failure_skips_what_needs_it_and_independent_branches_still_run() {
    let p = Project::with_runbook(
        "branches",
        r#"
steps:
  - id: fails
    shell: exit 2
  - id: child
    needs: [fails]
    shell: touch child.marker
  - id: grandchild
    needs: [child]
    shell: touch grandchild.marker
  - id: independent
    needs: []
    shell: sleep 0.3; touch independent.marker
  - id: after_independent
    needs: [independent]
    shell: touch after_independent.marker
"#,
    );
    let out = p.run_json("branches", &[]);
    out.expect_code(1);
    assert_eq!(out.run_status(), "failed");
    assert_eq!(out.status("fails"), "failed");
    assert_eq!(out.status("child"), "skipped");
    assert_eq!(out.attempts("child"), 0);
    assert!(
        out.error("child").contains("`fails`") && out.error("child").contains("failed"),
        "the reason names the failed step: {}",
        out.error("child")
    );
    assert_eq!(out.status("grandchild"), "skipped");
    assert!(
        out.error("grandchild").contains("`child`"),
        "{}",
        out.error("grandchild")
    );
    assert!(!p.exists("child.marker") && !p.exists("grandchild.marker"));

    assert_eq!(out.status("independent"), "succeeded");
    assert_eq!(out.status("after_independent"), "succeeded");
    assert!(p.exists("independent.marker") && p.exists("after_independent.marker"));
    assert!(
        out.stderr
            .contains("child skipped: needs `fails`, which failed"),
        "{}",
        out.stderr
    );
}

#[test]
fn continue_on_error_lets_dependents_run_and_the_run_succeed() {
    let p = Project::with_runbook(
        "tolerant",
        r#"
steps:
  - id: optional
    continue_on_error: true
    shell: echo "cache miss" >&2; exit 1
  - id: next
    shell: echo "{{ steps.optional.status }}" > next.marker
"#,
    );
    let out = p.run_json("tolerant", &[]);
    out.expect_code(0);
    assert_eq!(out.run_status(), "succeeded");
    assert_eq!(out.status("optional"), "failed");
    assert!(out.error("optional").contains("cache miss"));
    assert_eq!(out.status("next"), "succeeded");
    assert_eq!(
        p.read("next.marker").trim(),
        "failed",
        "dependents see the failure"
    );
}

const SAGA: &str = r#"
inputs:
  fail: { type: bool, default: true }
steps:
  - id: slow_first
    needs: []
    shell: |
      sleep 0.4; echo slow_first >> log; echo '{"id": "res-1"}'
    outputs:
      resource: "{{ result.json.id }}"
    undo:
      id: undo_slow_first
      shell: echo "undo_slow_first {{ steps.slow_first.outputs.resource }}" >> log
  - id: fast_second
    needs: []
    shell: echo fast_second >> log
    undo:
      id: undo_fast_second
      shell: echo undo_fast_second >> log
  - id: breaks
    needs: [slow_first, fast_second]
    shell: |
      echo breaks >> log
      {% if inputs.fail %}exit 9{% endif %}
    undo:
      id: undo_breaks
      shell: echo undo_breaks >> log
  - id: never
    shell: echo never >> log
    undo:
      id: undo_never
      shell: echo undo_never >> log
on_failure:
  - id: alert
    shell: echo "on_failure {{ run.status }}" >> log
finally:
  - id: report
    shell: echo "finally {{ run.status }}" >> log
"#;

#[test]
fn undo_runs_newest_completion_first_then_on_failure_then_finally() {
    let p = Project::with_runbook("saga", SAGA);
    let out = p.run_json("saga", &[]);
    out.expect_code(1);
    assert_eq!(out.status("breaks"), "failed");
    assert_eq!(out.status("never"), "skipped");
    assert_eq!(
        p.lines("log"),
        [
            // fast_second completes before slow_first although it is
            // written after it: undo follows completion, newest first.
            "fast_second",
            "slow_first",
            "breaks",
            "undo_slow_first res-1",
            "undo_fast_second",
            "on_failure failed",
            "finally failed",
        ],
        "the failed and the skipped steps are not compensated"
    );
    assert_eq!(out.status("undo_slow_first"), "succeeded");
    assert_eq!(out.status("undo_fast_second"), "succeeded");
    assert_eq!(out.status("alert"), "succeeded");
    assert_eq!(out.status("report"), "succeeded");
    let steps = out.report()["steps"].as_object().unwrap();
    assert!(!steps.contains_key("undo_breaks") || out.status("undo_breaks") != "succeeded");
    assert!(!steps.contains_key("undo_never") || out.status("undo_never") != "succeeded");
    let phases: Vec<&str> = out
        .stderr
        .lines()
        .filter_map(|l| l.split_once(" -- ").map(|(_, phase)| phase))
        .collect();
    assert_eq!(phases, ["undo", "on_failure", "finally"], "{}", out.stderr);
}

#[test]
fn on_success_no_undo_and_no_on_failure_run() {
    let p = Project::with_runbook("saga", SAGA);
    let out = p.run_json("saga", &["-i", "fail=false"]);
    out.expect_code(0);
    assert_eq!(
        p.lines("log"),
        [
            "fast_second",
            "slow_first",
            "breaks",
            "never",
            "finally succeeded"
        ]
    );
    let steps = out.report()["steps"].as_object().unwrap();
    for id in ["undo_slow_first", "undo_fast_second", "alert"] {
        assert!(
            !steps.contains_key(id) || out.status(id) == "skipped",
            "`{id}` must not run on success"
        );
    }
}

#[test]
fn a_failing_undo_does_not_stop_the_other_compensations() {
    let p = Project::with_runbook(
        "undo-fails",
        r#"
steps:
  - id: one
    shell: "true"
    undo:
      id: undo_one
      shell: echo undo_one >> log
  - id: two
    shell: "true"
    undo:
      id: undo_two
      shell: echo undo_two >> log; exit 5
  - id: three
    shell: exit 1
finally:
  - id: fin
    shell: echo fin >> log
"#,
    );
    let out = p.run_json("undo-fails", &[]);
    out.expect_code(1);
    assert_eq!(out.status("undo_two"), "failed");
    assert_eq!(p.lines("log"), ["undo_two", "undo_one", "fin"]);
}

#[test]
fn a_run_timeout_is_compensated_like_a_failure() {
    let p = Project::with_runbook(
        "timeout-saga",
        r#"
timeout: 800ms
steps:
  - id: create
    shell: echo create >> log
    undo:
      id: delete
      shell: echo "delete ({{ run.status }})" >> log
  - id: hang
    shell: sleep 30
on_failure:
  - id: alert
    shell: echo alert >> log
finally:
  - id: fin
    shell: echo fin >> log
"#,
    );
    let out = p.run_json("timeout-saga", &[]);
    out.expect_code(3);
    assert_eq!(out.run_status(), "timed_out");
    assert_eq!(
        p.lines("log"),
        ["create", "delete (timed_out)", "alert", "fin"]
    );
}

#[test]
fn cleanup_steps_all_run_and_a_failing_finally_fails_the_run() {
    let p = Project::with_runbook(
        "cleanup",
        r#"
steps:
  - id: work
    shell: echo work >> log
finally:
  - id: first_cleanup
    shell: echo first_cleanup >> log; exit 1
  - id: second_cleanup
    shell: echo second_cleanup >> log
"#,
    );
    let out = p.run_json("cleanup", &[]);
    out.expect_code(1);
    assert_eq!(out.run_status(), "failed");
    assert_eq!(
        p.lines("log"),
        ["work", "first_cleanup", "second_cleanup"],
        "a failed cleanup step does not block the next one"
    );
    let error = out.report()["error"].as_str().unwrap_or_default();
    assert!(error.contains("first_cleanup"), "{error}");
}

#[test]
fn a_failing_run_output_triggers_the_failure_handling() {
    let p = Project::with_runbook(
        "bad-output",
        r#"
steps:
  - id: make
    shell: echo made >> log
    undo:
      id: unmake
      shell: echo unmake >> log
outputs:
  missing: "{{ steps.make.outputs.nothing }}"
on_failure:
  - id: alert
    shell: echo alert >> log
"#,
    );
    let out = p.run_json("bad-output", &[]);
    out.expect_code(1);
    assert_eq!(p.lines("log"), ["made", "unmake", "alert"]);
}
