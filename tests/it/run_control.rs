//! What runs ask of the run store while they run: approvals decided from a
//! second process, concurrency keys across processes, and child runs.

use std::time::Duration;

use crate::support::{self, Project, Spawned, unindent, wait_for};

mod child_runs;
mod concurrency;

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
