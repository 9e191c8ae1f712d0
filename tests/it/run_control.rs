//! What runs ask of the run store while they run: approvals decided from a
//! second process, concurrency keys across processes, and child runs.

use std::time::Duration;

use crate::support;
use crate::support::{Project, Spawned, unindent, wait_for};

const LIMIT: Duration = Duration::from_secs(30);

fn gated(approvers: &str) -> String {
    format!(
        r#"
inputs:
  backup: {{ type: string, default: nightly }}
steps:
  - id: gate
    approval:
      message: "Restore {{{{ inputs.backup }}}} into production?"
      approvers: {approvers}
  - id: restore
    shell: touch restored
"#
    )
}

#[test]
fn a_waiting_run_is_approved_from_another_process() {
    let p = Project::with_runbook("restore", &gated(&format!("[{}, alice]", support::me())));
    let run = p.spawn(&["run", "restore", "--output", "json"]);
    wait_for("the run to wait", LIMIT, || {
        !p.runs_with_status("waiting").is_empty()
    });
    let id = p.runs_with_status("waiting").remove(0);
    let show = p.show(&id);
    assert_eq!(
        show["approvals"][0]["message"],
        "Restore nightly into production?"
    );
    assert!(!p.exists("restored"), "nothing runs before the decision");

    let wrong = p.steward(&["approve", &id, "restore"]);
    wrong.expect_code(2);
    assert!(
        wrong.stderr.contains("not waiting for an approval"),
        "{}",
        wrong.stderr
    );
    assert!(
        wrong.stderr.contains("waiting for approval: gate"),
        "{}",
        wrong.stderr
    );

    let ok = p.steward(&["approve", &id, "gate", "--comment", "checked the backup"]);
    ok.expect_code(0);
    let done = run.wait(LIMIT);
    done.expect_code(0);
    assert!(p.exists("restored"));
    let report = done.stdout_json();
    assert_eq!(
        report["steps"]["gate"]["result"]["approved_by"],
        support::me().as_str()
    );
    assert_eq!(
        report["steps"]["gate"]["result"]["comment"],
        "checked the backup"
    );

    let decided = p
        .audit_events(&id)
        .into_iter()
        .find(|e| e["event"] == "approval_decided")
        .unwrap();
    assert_eq!(decided["approved"], true);
    assert_eq!(decided["by"], support::me().as_str());
    assert_eq!(decided["via"], "cli");
    assert_eq!(decided["comment"], "checked the backup");
    // A second decision is refused: the first one stands.
    let late = p.steward(&["reject", &id, "gate"]);
    late.expect_code(2);
    assert!(
        late.stderr.contains("has ended (succeeded)"),
        "{}",
        late.stderr
    );
    let text = p.steward(&["show", &id]);
    assert!(
        text.stdout.contains(&format!(
            "approval: gate \"Restore nightly into production?\": approved by {} (cli)",
            support::me()
        )),
        "{}",
        text.stdout
    );
}

#[test]
fn at_a_terminal_the_run_asks() {
    // `script` gives the run a pseudo-terminal; the answer is typed ahead.
    let p = Project::with_runbook("restore", &gated("[]"));
    let steward = support::bin().display().to_string();
    let command = format!("{steward} --project {} run restore", p.path().display());
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &command, "/dev/null"])
        .current_dir(p.path());
    for var in support::AMBIENT_VARS {
        cmd.env_remove(var);
    }
    let done = Spawned::start(cmd, Some(b"y read the plan\n")).wait(LIMIT);
    assert_eq!(done.code, 0, "{}", done.stdout);
    assert!(done.stdout.contains("approve? [y/N"), "{}", done.stdout);
    assert!(p.exists("restored"));
    let id = p.runs_with_status("succeeded").remove(0);
    let decided = p
        .audit_events(&id)
        .into_iter()
        .find(|e| e["event"] == "approval_decided")
        .unwrap();
    assert_eq!(decided["via"], "terminal");
    assert_eq!(decided["comment"], "read the plan");
}

#[test]
fn logs_follow_prints_lines_until_the_run_ends() {
    let p = Project::with_runbook(
        "chatty",
        &unindent(
            r#"
            steps:
              - id: talk
                shell: |
                  echo before
                  while [ ! -f go ]; do sleep 0.05; done
                  echo after
            "#,
        ),
    );
    let run = p.spawn(&["run", "chatty"]);
    wait_for("the run to start", LIMIT, || {
        !p.runs_with_status("running").is_empty()
    });
    let id = p.runs_with_status("running").remove(0);
    let follow = p.spawn(&["logs", &id, "--follow"]);
    std::thread::sleep(Duration::from_millis(300));
    p.write("go", "");
    run.wait(LIMIT).expect_code(0);
    let followed = follow.wait(LIMIT);
    followed.expect_code(0);
    assert_eq!(followed.stdout, "talk | before\ntalk | after\n");
}

#[test]
fn a_rejection_fails_the_step_and_the_run() {
    let p = Project::with_runbook("restore", &gated("[]"));
    let run = p.spawn(&["run", "restore"]);
    wait_for("the run to wait", LIMIT, || {
        !p.runs_with_status("waiting").is_empty()
    });
    let id = p.runs_with_status("waiting").remove(0);
    p.steward(&["reject", &id, "gate", "-m", "wrong backup"])
        .expect_code(0);
    let done = run.wait(LIMIT);
    done.expect_code(1);
    assert!(!p.exists("restored"));
    assert!(done.stderr.contains("wrong backup"), "{}", done.stderr);
    let show = p.show(&id);
    assert_eq!(show["status"], "failed");
    let decision = &show["approvals"][0]["decision"];
    assert_eq!(decision["approved"], false);
    assert_eq!(decision["comment"], "wrong backup");
}

#[test]
fn only_approvers_may_decide() {
    let p = Project::with_runbook("restore", &gated("[alice, bob]"));
    let run = p.spawn(&["run", "restore"]);
    wait_for("the run to wait", LIMIT, || {
        !p.runs_with_status("waiting").is_empty()
    });
    let id = p.runs_with_status("waiting").remove(0);
    let refused = p.steward(&["approve", &id, "gate"]);
    refused.expect_code(2);
    assert!(
        refused.stderr.contains("its approvers are alice, bob"),
        "{}",
        refused.stderr
    );
    // Still waiting; stop it.
    assert_eq!(p.runs_with_status("waiting"), std::slice::from_ref(&id));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    run.wait(LIMIT).expect_code(3);
    assert!(!p.exists("restored"));
}

#[test]
fn yes_pre_approves_and_says_so_and_a_timeout_fails() {
    let p = Project::with_runbook("restore", &gated("[]"));
    let out = p.run_json("restore", &["--yes"]);
    out.expect_code(0);
    let decided = p
        .audit_events(&out.run_id())
        .into_iter()
        .find(|e| e["event"] == "approval_decided")
        .unwrap();
    assert_eq!(decided["via"], "pre-approved");
    assert_eq!(decided["comment"], "pre-approved with --yes");

    p.runbook(
        "slow",
        &unindent(
            r#"
            steps:
              - id: gate
                approval: { message: go?, timeout: 300ms }
              - id: after
                shell: touch after
            "#,
        ),
    );
    let out = p.run_json("slow", &[]);
    out.expect_code(1);
    assert!(
        out.error("gate").contains("no decision within 300ms"),
        "{}",
        out.error("gate")
    );
    assert!(!p.exists("after"));
}

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
