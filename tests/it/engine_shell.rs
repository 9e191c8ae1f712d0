//! The `shell` step: bash `-eo pipefail`, `interpreter`, `cwd`, `env`;
//! bounded capture and `result.json`; timeouts that kill the whole process
//! group; context-aware escaping of interpolated values.

use std::time::Duration;

use crate::support::{
    OutsideFile, ProcessGuard, Project, assert_gone, pid_alive, read_pid, wait_until,
};

#[test]
fn a_step_timeout_kills_the_whole_process_group() {
    let p = Project::with_runbook(
        "hang",
        r#"
steps:
  - id: hang
    timeout: 1s
    shell: |
      sleep 300 &
      echo $! > child.pid
      wait
  - id: after
    shell: touch after.marker
"#,
    );
    let mut guard = ProcessGuard::new();
    let out = p.run_json("hang", &[]);
    let child = read_pid(&p.file("child.pid"));
    guard.watch(child, "sleep");
    out.expect_code(1);
    assert_eq!(out.status("hang"), "failed");
    assert!(
        out.error("hang").contains("timed out"),
        "{}",
        out.error("hang")
    );
    assert_eq!(out.attempts("hang"), 1);
    let ms = out.step("hang")["duration_ms"].as_u64().unwrap();
    assert!((1000..4000).contains(&ms), "stopped at the timeout: {ms}ms");
    assert_eq!(out.status("after"), "skipped");
    assert_gone(child, "the step's background child");
}

#[test]
fn a_child_that_ignores_sigterm_is_killed_too() {
    let p = Project::with_runbook(
        "stubborn",
        r#"
steps:
  - id: stubborn
    timeout: 300ms
    shell: |
      trap '' TERM
      sleep 300 &
      echo $! > child.pid
      wait
"#,
    );
    let mut guard = ProcessGuard::new();
    let out = p.run_json("stubborn", &[]);
    let child = read_pid(&p.file("child.pid"));
    guard.watch(child, "sleep");
    out.expect_code(1);
    assert!(out.error("stubborn").contains("timed out"));
    assert!(
        out.elapsed.as_secs_f64() < 10.0,
        "SIGKILL follows the grace: {:?}",
        out.elapsed
    );
    assert_gone(child, "a child ignoring SIGTERM");
}

#[test]
fn background_children_do_not_outlive_a_step_that_exits() {
    let p = Project::with_runbook(
        "leaves",
        r#"
steps:
  - id: leaves
    shell: |
      sleep 300 &
      echo $! > child.pid
      echo done
"#,
    );
    let mut guard = ProcessGuard::new();
    let out = p.run_json("leaves", &[]);
    let child = read_pid(&p.file("child.pid"));
    guard.watch(child, "sleep");
    out.expect_code(0);
    assert_eq!(out.step("leaves")["result"]["stdout"], "done\n");
    assert!(out.elapsed.as_secs_f64() < 5.0, "{:?}", out.elapsed);
    assert_gone(child, "a background child left by the script");
}

#[test]
fn bash_runs_with_errexit_and_pipefail_unless_another_interpreter_is_given() {
    let p = Project::with_runbook(
        "bash",
        r#"
steps:
  - id: errexit
    needs: []
    shell: |
      false
      touch errexit.marker
  - id: pipefail
    needs: []
    shell: false | true
  - id: plain_bash
    needs: []
    shell: { run: "false | true", interpreter: bash }
  - id: sh
    needs: []
    shell:
      run: echo "$0 in $(basename "$PWD") says $GREETING"
      interpreter: sh -e
      cwd: sub
      env: { GREETING: "hi {{ inputs.who }}" }
inputs:
  who: { type: string, default: "you and me" }
"#,
    );
    std::fs::create_dir(p.file("sub")).unwrap();
    let out = p.run_json("bash", &[]);
    out.expect_code(1);
    assert_eq!(out.status("errexit"), "failed");
    assert!(!p.exists("errexit.marker"), "-e stops at the first failure");
    assert_eq!(out.status("pipefail"), "failed", "pipefail");
    assert_eq!(out.status("plain_bash"), "succeeded");
    assert_eq!(out.status("sh"), "succeeded", "{}", out.error("sh"));
    assert_eq!(
        out.step("sh")["result"]["stdout"],
        "sh in sub says hi you and me\n"
    );
}

#[test]
fn runbook_env_and_run_ids_reach_the_script() {
    let p = Project::with_runbook(
        "env",
        r#"
env:
  REGION: "eu-{{ inputs.zone }}"
inputs:
  zone: { type: string, default: west }
steps:
  - id: show
    shell: echo "$REGION $STEWARD_STEP_ID $STEWARD_RUN_ID"
"#,
    );
    let out = p.run_json("env", &[]);
    out.expect_code(0);
    let stdout = out.step("show")["result"]["stdout"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(stdout, format!("eu-west show {}\n", out.run_id()));
}

#[test]
fn result_json_is_stdout_parsed_when_it_is_json() {
    let p = Project::with_runbook(
        "json",
        r#"
steps:
  - id: object
    needs: []
    shell: |
      echo '{"version": "1.4.2", "replicas": [1, 2, 3]}'
    outputs:
      version: "{{ result.json.version }}"
      second: "{{ result.json.replicas[1] }}"
  - id: array
    needs: []
    shell: |
      printf '[{"id": 1}, {"id": 2}]\n'
  - id: text
    needs: []
    shell: echo not json
"#,
    );
    let out = p.run_json("json", &[]);
    out.expect_code(0);
    assert_eq!(out.step("object")["result"]["json"]["version"], "1.4.2");
    assert_eq!(out.step("object")["outputs"]["version"], "1.4.2");
    assert_eq!(out.step("object")["outputs"]["second"], 2);
    assert_eq!(out.step("array")["result"]["json"][1]["id"], 2);
    assert!(out.step("text")["result"].get("json").is_none());
}

#[test]
fn captured_output_is_bounded_and_marked_truncated() {
    const MIB: usize = 1024 * 1024;
    let p = Project::with_runbook(
        "big",
        r#"
steps:
  - id: big
    shell: |
      head -c 3145728 /dev/zero | tr '\0' x
      echo
      echo END
      head -c 2097152 /dev/zero | tr '\0' y >&2
"#,
    );
    let out = p.run_json("big", &[]);
    out.expect_code(0);
    let result = &out.step("big")["result"];
    let stdout = result["stdout"].as_str().unwrap();
    let stderr = result["stderr"].as_str().unwrap();
    assert!(
        stdout.len() <= MIB + 16,
        "stdout kept {} bytes",
        stdout.len()
    );
    assert!(stdout.len() >= MIB / 2, "the tail is kept");
    assert!(stdout.ends_with("xxx\nEND\n"), "the last bytes are kept");
    assert!(
        stderr.len() <= MIB + 16,
        "stderr kept {} bytes",
        stderr.len()
    );
    assert_eq!(result["truncated"], true);

    // The audit trail keeps a much shorter tail.
    let audit = std::fs::read_to_string(p.audit_path(&out.run_id())).unwrap();
    let longest = audit.lines().map(str::len).max().unwrap();
    assert!(longest < 64 * 1024, "an audit line of {longest} bytes");
}

#[test]
fn interpolated_values_are_one_literal_shell_word() {
    let pwned = OutsideFile::new("pwned");
    let evil = format!("x'; touch {}; echo '", pwned.0.display());
    let p = Project::with_runbook(
        "quote",
        r#"
inputs:
  name: { type: string }
  other: { type: string, default: "$(touch subst.marker) `touch tick.marker` a  b" }
steps:
  - id: echo
    shell: |
      echo {{ inputs.name }}
      set -- {{ inputs.name }}
      echo "words: $#"
      printf '%s\n' {{ inputs.other }}
"#,
    );
    let out = p.run_json("quote", &["-i", &format!("name={evil}")]);
    out.expect_code(0);
    let stdout = out.step("echo")["result"]["stdout"].as_str().unwrap();
    let other = "$(touch subst.marker) `touch tick.marker` a  b";
    assert_eq!(stdout, format!("{evil}\nwords: 1\n{other}\n"));
    assert!(!pwned.0.exists(), "{} was created", pwned.0.display());
    assert!(!p.exists("subst.marker") && !p.exists("tick.marker"));
    assert!(
        out.stderr.contains(&format!("echo | {evil}")),
        "echoed back verbatim"
    );
}

#[test]
fn raw_opts_out_of_quoting() {
    let p = Project::with_runbook(
        "raw",
        r#"
inputs:
  cmd: { type: string }
steps:
  - id: quoted
    shell: echo {{ inputs.cmd }}
  - id: raw
    shell: "{{ inputs.cmd | raw }}"
"#,
    );
    let out = p.run_json("raw", &["-i", "cmd=echo one; touch raw.marker"]);
    out.expect_code(0);
    assert_eq!(
        out.step("quoted")["result"]["stdout"],
        "echo one; touch raw.marker\n"
    );
    assert_eq!(out.step("raw")["result"]["stdout"], "one\n");
    assert!(p.exists("raw.marker"), "`| raw` inserts the text as script");
}

#[test]
fn a_step_timeout_leaves_no_process_even_when_output_is_held_open() {
    // The grandchild keeps stdout open; the step must still end at its timeout.
    let p = Project::with_runbook(
        "held",
        r#"
steps:
  - id: held
    timeout: 500ms
    shell: |
      ( sleep 300; echo late ) &
      echo $! > child.pid
      sleep 300
"#,
    );
    let mut guard = ProcessGuard::new();
    let out = p.run_json("held", &[]);
    let child = read_pid(&p.file("child.pid"));
    guard.watch(child, "bash");
    out.expect_code(1);
    assert!(out.elapsed.as_secs_f64() < 5.0, "{:?}", out.elapsed);
    assert!(wait_until(Duration::from_secs(5), || !pid_alive(child)));
}
