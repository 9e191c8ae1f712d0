//! `runbook` steps: linked child runs, checked at compile time, and sharing
//! the concurrency key their parent holds.

use super::*;

const PARENT: &str = r#"
inputs:
  who: { type: string, default: world }
steps:
  - id: call
    runbook: greet
    inputs:
      name: "{{ inputs.who }}"
  - id: after
    shell: echo {{ steps.call.result.outputs.greeting }} > greeting.txt
outputs:
  child: "{{ steps.call.result.run_id }}"
"#;

const CHILD: &str = r#"
inputs:
  name: { type: string }
  fail: { type: bool, default: false }
steps:
  - id: say
    shell: echo "hello {{ inputs.name }}"; test "{{ inputs.fail }}" = false
    outputs:
      text: "{{ result.stdout | trim }}"
outputs:
  greeting: "{{ steps.say.outputs.text }}"
"#;

#[test]
fn a_runbook_step_starts_a_linked_child_run() {
    let p = Project::with_runbook("parent", PARENT);
    p.runbook("greet", CHILD);
    let out = p.run_json("parent", &["-i", "who=ops"]);
    out.expect_code(0);
    assert_eq!(p.read("greeting.txt").trim(), "hello ops");
    let child = out.report()["outputs"]["child"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(out.step("call")["result"]["status"], "succeeded");

    let shown = p.show(&child);
    assert_eq!(shown["runbook"], "greet");
    assert_eq!(shown["parent_run_id"], out.run_id().as_str());
    assert_eq!(shown["parent_step"], "call");
    let parent = p.show(&out.run_id());
    assert_eq!(parent["children"][0]["id"], child.as_str());
    let text = p.steward(&["show", &out.run_id()]);
    assert!(
        text.stdout.contains(&format!(
            "child:    run {child} of greet (step call): succeeded"
        )),
        "{}",
        text.stdout
    );
    let history = p.steward(&["history"]);
    assert!(
        history.stdout.contains("greet (child of step call)"),
        "{}",
        history.stdout
    );
    p.steward(&["audit", "verify", &child]).expect_code(0);
    // The child's output is shown under the parent's step.
    let logs = p.steward(&["logs", &out.run_id(), "--step", "call"]);
    assert!(
        logs.stdout.contains("greet › say | hello ops"),
        "{}",
        logs.stdout
    );

    p.runbook(
        "parent2",
        &PARENT.replace("name: \"{{ inputs.who }}\"", "name: x\n      fail: true"),
    );
    let failed = p.run_json("parent2", &[]);
    failed.expect_code(1);
    assert!(
        failed.error("call").contains("failed"),
        "{}",
        failed.error("call")
    );
    assert_eq!(failed.status("after"), "skipped");
}

#[test]
fn runbook_steps_are_checked_at_compile_time() {
    let p = Project::with_runbook(
        "a",
        &unindent(
            r#"
            steps:
              - id: to-b
                runbook: b
            "#,
        ),
    );
    p.runbook(
        "b",
        &unindent(
            r#"
            steps:
              - id: to-c
                runbook: c
            "#,
        ),
    );
    p.runbook(
        "c",
        &unindent(
            r#"
            steps:
              - id: back
                runbook: a
            "#,
        ),
    );
    p.runbook(
        "d",
        &unindent(
            r#"
            steps:
              - id: x
                runbook: greet
                inputs: { nmae: y }
              - id: y
                runbook: nope
            "#,
        ),
    );
    p.runbook("greet", CHILD);
    let out = p.steward(&["validate"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("runbook cycle: a → b → c → a"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("runbook `greet` has no input `nmae`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `name`?"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("runbook `greet` needs input `name`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("no runbook `nope` in this project"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_child_run_shares_the_concurrency_key_its_parent_holds() {
    // Without sharing, the child would wait for its own parent forever (or,
    // with `on_conflict: fail`, fail at once).
    let p = Project::with_runbook(
        "parent",
        &unindent(
            r#"
            concurrency: deploy-production
            steps:
              - id: call
                runbook: child
            "#,
        ),
    );
    p.runbook(
        "child",
        &unindent(
            r#"
            concurrency: { key: deploy-production, on_conflict: fail }
            steps:
              - id: work
                shell: touch child-ran
            "#,
        ),
    );
    let out = p.run_json("parent", &[]);
    out.expect_code(0);
    assert!(p.exists("child-ran"));
    // Another run is still kept out while the parent holds the key.
    p.runbook(
        "slow",
        &unindent(
            r#"
            concurrency: deploy-production
            steps:
              - id: wait
                shell: while [ ! -f go ]; do sleep 0.05; done
            "#,
        ),
    );
    let holder = p.spawn(&["run", "slow"]);
    wait_for("the holder to run", LIMIT, || {
        !p.runs_with_status("running").is_empty()
    });
    let refused = p.run_json("child", &[]);
    refused.expect_code(1);
    assert!(
        refused.report()["error"]
            .as_str()
            .unwrap()
            .contains("holds the concurrency key `deploy-production` (on_conflict: fail)"),
        "{}",
        refused.stdout
    );
    p.write("go", "");
    holder.wait(LIMIT).expect_code(0);
}
