//! Concurrency keys across processes: a second run with the same key waits for
//! the first, or fails at once with `on_conflict: fail`.

use super::*;

const LOCKED: &str = r#"
inputs:
  env: { type: string, default: staging }
concurrency: "deploy-{{ inputs.env }}"
steps:
  - id: work
    shell: |
      echo "start $PPID" >> spans
      while [ ! -f "go-$PPID" ] && [ ! -f go-all ]; do sleep 0.05; done
      echo "end $PPID" >> spans
"#;

#[test]
fn a_second_run_with_the_same_key_waits_for_the_first() {
    let p = Project::with_runbook("deploy", LOCKED);
    let first = p.spawn(&["run", "deploy"]);
    wait_for("the first run to start", LIMIT, || p.exists("spans"));
    let second = p.spawn(&["run", "deploy"]);
    wait_for("the second run to wait", LIMIT, || {
        !p.runs_with_status("waiting").is_empty()
    });
    assert_eq!(
        p.lines("spans").len(),
        1,
        "the second waits before any step"
    );
    // Another key does not wait.
    let other = p.spawn(&["run", "deploy", "-i", "env=production"]);
    wait_for("the other key's run to start", LIMIT, || {
        p.lines("spans").len() == 2
    });

    p.write("go-all", "");
    first.wait(LIMIT).expect_code(0);
    other.wait(LIMIT).expect_code(0);
    let second = second.wait(LIMIT);
    second.expect_code(0);
    assert!(
        second
            .stderr
            .contains("holds the concurrency key `deploy-staging`"),
        "{}",
        second.stderr
    );
    // The two staging runs never overlapped: the second started after the
    // first ended.
    let spans = p.lines("spans");
    let first_end = spans.iter().position(|l| l.starts_with("end")).unwrap();
    assert!(
        spans[first_end + 1..]
            .iter()
            .any(|l| l.starts_with("start")),
        "{spans:?}"
    );
}

#[test]
fn on_conflict_fail_fails_at_once() {
    let p = Project::with_runbook(
        "deploy",
        &LOCKED.replace(
            "concurrency: \"deploy-{{ inputs.env }}\"",
            "concurrency: { key: \"deploy-{{ inputs.env }}\", on_conflict: fail }",
        ),
    );
    let first = p.spawn(&["run", "deploy"]);
    wait_for("the first run to start", LIMIT, || p.exists("spans"));
    let second = p.run_json("deploy", &[]);
    second.expect_code(1);
    let error = second.report()["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("holds the concurrency key `deploy-staging` (on_conflict: fail)"),
        "{error}"
    );
    assert_eq!(p.lines("spans").len(), 1, "no step of the second run ran");
    p.write("go-all", "");
    first.wait(LIMIT).expect_code(0);
}
