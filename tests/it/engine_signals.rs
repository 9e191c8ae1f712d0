//! Ctrl-C (SIGINT) and SIGTERM: running steps are stopped with their whole
//! process group, `finally` still runs, the run ends `cancelled`, exit 3.
//! A second signal stops `finally` too.

use std::time::Duration;

use crate::support::{ProcessGuard, Project, Spawned, assert_gone, read_pid, wait_until};
use nix::sys::signal::Signal;

const LONG: &str = r#"
steps:
  - id: create
    shell: "true"
    undo:
      id: delete
      shell: touch undo.marker
  - id: long
    shell: |
      sleep 300 &
      echo $! > child.pid
      touch started
      wait
  - id: after
    shell: touch after.marker
finally:
  - id: report
    shell: echo "{{ run.status }}" > finally.marker
"#;

fn wait_for(p: &Project, marker: &str, bg: &Spawned) {
    assert!(
        wait_until(Duration::from_secs(20), || p.exists(marker)),
        "`{marker}` never appeared\n--- stderr\n{}",
        bg.stderr_so_far()
    );
}

fn cancels_on(signal: Signal) {
    let p = Project::with_runbook("long", LONG);
    let mut guard = ProcessGuard::new();
    let bg = p.spawn(&["run", "long", "--output", "json"]);
    wait_for(&p, "started", &bg);
    let child = read_pid(&p.file("child.pid"));
    guard.watch(child, "sleep");

    bg.signal(signal);
    let mut out = bg.wait(Duration::from_secs(20));
    out.expect_code(3);
    out.json = Some(serde_json::from_str(&out.stdout).expect("the JSON report is printed"));
    assert_eq!(out.run_status(), "cancelled");
    assert_eq!(out.status("long"), "cancelled");
    assert_eq!(out.status("after"), "skipped");
    assert!(!p.exists("after.marker"));
    assert_eq!(out.status("report"), "succeeded");
    assert_eq!(
        p.read("finally.marker").trim(),
        "cancelled",
        "finally ran and saw the status"
    );
    assert!(
        out.elapsed < Duration::from_secs(10),
        "stopped promptly: {:?}",
        out.elapsed
    );
    assert_gone(child, "the step's child process");
    assert!(
        !p.exists("undo.marker"),
        "a cancelled run is not compensated"
    );

    // The trail is complete and intact.
    let run = out.run_id();
    let events = p.audit_events(&run);
    let last = events.last().unwrap();
    assert_eq!(last["event"], "run_finished");
    assert_eq!(last["status"], "cancelled");
    p.audit_verify(&[&run]).expect_code(0);
}

#[test]
fn sigint_cancels_the_run_and_finally_runs() {
    cancels_on(Signal::SIGINT);
}

#[test]
fn sigterm_cancels_the_run_and_finally_runs() {
    cancels_on(Signal::SIGTERM);
}

#[test]
fn a_signal_during_a_retry_wait_cancels_at_once() {
    let p = Project::with_runbook(
        "waiting",
        r#"
steps:
  - id: flaky
    shell: touch attempted; exit 1
    retry: { attempts: 5, delay: 30s }
"#,
    );
    let bg = p.spawn(&["run", "waiting", "--output", "json"]);
    wait_for(&p, "attempted", &bg);
    std::thread::sleep(Duration::from_millis(200));
    bg.signal(Signal::SIGTERM);
    let mut out = bg.wait(Duration::from_secs(20));
    out.expect_code(3);
    out.json = Some(serde_json::from_str(&out.stdout).unwrap());
    assert_eq!(out.run_status(), "cancelled");
    assert_eq!(out.status("flaky"), "cancelled");
    assert_eq!(out.attempts("flaky"), 1);
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
}

#[test]
fn a_second_signal_stops_finally_too() {
    let p = Project::with_runbook(
        "stubborn",
        r#"
steps:
  - id: long
    shell: touch started; sleep 300
finally:
  - id: slow_cleanup
    shell: |
      sleep 300 &
      echo $! > cleanup.pid
      touch cleanup.started
      wait
"#,
    );
    let mut guard = ProcessGuard::new();
    let bg = p.spawn(&["run", "stubborn"]);
    wait_for(&p, "started", &bg);
    bg.signal(Signal::SIGINT);
    wait_for(&p, "cleanup.started", &bg);
    let child = read_pid(&p.file("cleanup.pid"));
    guard.watch(child, "sleep");
    bg.signal(Signal::SIGINT);
    let out = bg.wait(Duration::from_secs(20));
    out.expect_code(3);
    assert!(out.stderr.contains("run cancelled"), "{}", out.stderr);
    assert_gone(child, "the finally step's child");
}
