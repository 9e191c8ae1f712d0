//! SIGTERM and the grace period: runs that finish in time, runs (and their
//! child runs) interrupted past it and resumed later, a second signal.

use super::*;

#[test]
fn sigterm_lets_running_runs_finish() {
    let p = project();
    let mut server = Server::start(&p, &["--grace", "20s"]);
    let (status, body) =
        send(server.post("/api/v1/runs", Some(CI_TOKEN), &json!({"runbook": "slow"})));
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["run_id"].as_str().unwrap().to_owned();
    assert!(server.stop().success(), "{}", server.output());
    assert!(p.exists("slow-done"), "{}", server.output());
    let run = p.show(&id);
    assert_eq!(run["status"], "succeeded", "{run}");
}

/// Starts a server with a 300 ms grace period and the runbook `slow`
/// through the API; returns once its step has written `nap.started`.
fn start_slow_until_it_naps(p: &Project) -> (Server, String) {
    let server = Server::start(p, &["--grace", "300ms"]);
    let (status, body) =
        send(server.post("/api/v1/runs", Some(CI_TOKEN), &json!({"runbook": "slow"})));
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["run_id"].as_str().unwrap().to_owned();
    assert!(
        support::wait_until(Duration::from_secs(30), || p.exists("nap.started")),
        "{}",
        server.output()
    );
    (server, id)
}

#[test]
fn runs_past_the_grace_period_are_interrupted_and_resume() {
    let p = project();
    // The first attempt of `nap` blocks; the next one finishes at once.
    p.runbook(
        "slow",
        r#"
steps:
  - id: before
    shell: echo ran >> before.count
  - id: nap
    needs: [before]
    shell: |
      echo ran >> nap.count
      if [ ! -f nap.started ]; then echo $$ > nap.pid; touch nap.started; sleep 30; fi
  - id: after
    needs: [nap]
    shell: touch after-ran
finally:
  - id: cleanup
    shell: echo ran >> cleanup.count
"#,
    );
    let (mut server, id) = start_slow_until_it_naps(&p);
    let started = Instant::now();
    assert!(server.stop().success(), "{}", server.output());
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(
        server.output().contains("grace period over"),
        "{}",
        server.output()
    );
    let run = p.show(&id);
    assert_eq!(run["status"], "interrupted", "{run}");
    support::assert_gone(support::read_pid(&p.file("nap.pid")), "the killed step");
    assert!(
        !p.exists("cleanup.count"),
        "an interrupted run's `finally` waits for its end"
    );
    let events = p.audit_events(&id);
    assert!(
        !events.iter().any(|e| e["event"] == "run_finished"),
        "{events:?}"
    );

    let resumed = p.steward(&["resume", &id, "--output", "json"]);
    resumed.expect_code(0);
    let report: Value = serde_json::from_str(&resumed.stdout).unwrap();
    assert_eq!(report["status"], "succeeded", "{report}");
    assert_eq!(report["steps"]["nap"]["attempts"], 2, "{report}");
    assert_eq!(p.lines("before.count").len(), 1, "not run again");
    assert_eq!(p.lines("nap.count").len(), 2, "the killed step ran again");
    assert_eq!(p.lines("cleanup.count").len(), 1);
    assert!(p.exists("after-ran"));
    assert_eq!(p.show(&id)["status"], "succeeded");
    p.steward(&["audit", "verify", &id]).expect_code(0);
}

#[test]
fn a_child_run_is_interrupted_with_its_parent() {
    let p = project();
    p.runbook(
        "child-nap",
        r#"
steps:
  - id: nap
    shell: |
      echo ran >> nap.count
      if [ ! -f nap.started ]; then echo $$ > nap.pid; touch nap.started; sleep 30; fi
"#,
    );
    // `slow`: a name the test token may run.
    p.runbook(
        "slow",
        r#"
steps:
  - id: call
    runbook: child-nap
  - id: after
    needs: [call]
    shell: touch after-ran
"#,
    );
    let (mut server, parent) = start_slow_until_it_naps(&p);
    assert!(server.stop().success(), "{}", server.output());
    let show = |id: &str| -> Value {
        let out = p.steward(&["show", id, "--output", "json"]);
        serde_json::from_str(&out.stdout).unwrap()
    };
    let run = show(&parent);
    assert_eq!(run["status"], "interrupted", "{run}");
    let child = run["children"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        show(&child)["status"],
        "interrupted",
        "not cancelled: resumable"
    );
    support::assert_gone(support::read_pid(&p.file("nap.pid")), "the child's step");
    for id in [&parent, &child] {
        let events = p.audit_events(id);
        assert!(
            !events
                .iter()
                .any(|e| e["event"] == "run_finished" || e["event"] == "step_finished"),
            "{id}: {events:?}"
        );
    }

    p.steward(&["resume", &child]).expect_code(0);
    assert_eq!(show(&child)["status"], "succeeded");
    p.steward(&["audit", "verify", &child]).expect_code(0);
    p.steward(&["resume", &parent]).expect_code(0);
    assert_eq!(show(&parent)["status"], "succeeded");
    assert!(p.exists("after-ran"));
    p.steward(&["audit", "verify", &parent]).expect_code(0);
}

#[test]
fn a_second_signal_interrupts_at_once() {
    let p = project();
    p.runbook(
        "slow",
        r#"
steps:
  - id: nap
    shell: touch nap.started; sleep 30
"#,
    );
    let mut server = Server::start(&p, &["--grace", "60s"]);
    // A CI caller waiting for the run hears how it ended.
    let waiting = {
        let request = server.post(
            "/api/v1/runs?wait=true",
            Some(CI_TOKEN),
            &json!({"runbook": "slow"}),
        );
        std::thread::spawn(move || send(request))
    };
    assert!(support::wait_until(Duration::from_secs(30), || p.exists("nap.started")));
    let started = Instant::now();
    server.terminate();
    assert!(
        support::wait_until(Duration::from_secs(10), || server
            .output()
            .contains("stopping:")),
        "{}",
        server.output()
    );
    assert!(server.stop().success(), "{}", server.output());
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{}",
        server.output()
    );
    assert!(
        server.output().contains("second signal"),
        "{}",
        server.output()
    );
    let (status, answer) = waiting.join().unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "interrupted", "{answer}");
    let id = answer["run_id"].as_str().unwrap().to_owned();
    let run = p.show(&id);
    assert_eq!(run["status"], "interrupted", "{run}");
}
