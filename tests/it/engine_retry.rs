//! Retries: attempts, backoff timing, `retry.on`, `deadline`, and `assert`
//! polling until a condition holds.

use crate::support::Project;

/// A script that appends a timestamp to `<name>.times`, counts its runs in
/// `<name>.count`, and exits with `fail_code` until run `succeed_on`.
fn counting(name: &str, succeed_on: u32, fail_code: u32) -> String {
    format!(
        "|\n      date +%s.%N >> {name}.times\n      n=$(( $(cat {name}.count 2>/dev/null || echo 0) + 1 )); echo $n > {name}.count\n      echo \"run $n\"\n      [ $n -ge {succeed_on} ] || exit {fail_code}"
    )
}

fn gaps(p: &Project, name: &str) -> Vec<f64> {
    let times: Vec<f64> = p
        .lines(&format!("{name}.times"))
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn a_flaky_step_succeeds_on_its_third_attempt() {
    let p = Project::with_runbook(
        "flaky",
        &format!(
            r#"steps:
  - id: flaky
    shell: {}
    retry: {{ attempts: 5, delay: 50ms }}
"#,
            counting("flaky", 3, 1)
        ),
    );
    let out = p.run_json("flaky", &[]);
    out.expect_code(0);
    assert_eq!(out.status("flaky"), "succeeded");
    assert_eq!(out.attempts("flaky"), 3);
    assert_eq!(out.step("flaky")["result"]["stdout"], "run 3\n");
    assert_eq!(p.read("flaky.count").trim(), "3");
    assert!(out.stderr.contains("retry in 50ms"), "{}", out.stderr);

    let events = p.audit_events(&out.run_id());
    let finished: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "attempt_finished")
        .collect();
    assert_eq!(finished.len(), 3);
    assert_eq!(finished[0]["status"], "failed");
    assert_eq!(finished[0]["exit_code"], 1);
    assert_eq!(finished[0]["retry_in_ms"], 50);
    assert_eq!(finished[2]["status"], "succeeded");
}

#[test]
fn exponential_backoff_doubles_the_delay() {
    let p = Project::with_runbook(
        "expo",
        &format!(
            r#"steps:
  - id: expo
    shell: {}
    retry: {{ attempts: 4, delay: 150ms, backoff: exponential }}
"#,
            counting("expo", 99, 1)
        ),
    );
    let out = p.run_json("expo", &[]);
    out.expect_code(1);
    assert_eq!(out.attempts("expo"), 4);
    assert!(
        out.error("expo").contains("after 4 attempts"),
        "{}",
        out.error("expo")
    );
    let gaps = gaps(&p, "expo");
    assert_eq!(gaps.len(), 3);
    for (gap, min) in gaps.iter().zip([0.15, 0.3, 0.6]) {
        assert!(
            *gap >= min - 0.01,
            "gaps {gaps:?} must be at least 150, 300, 600 ms"
        );
    }
}

#[test]
fn max_delay_caps_exponential_backoff() {
    let p = Project::with_runbook(
        "capped",
        &format!(
            r#"steps:
  - id: capped
    shell: {}
    retry: {{ attempts: 5, delay: 200ms, backoff: exponential, max_delay: 250ms }}
"#,
            counting("capped", 99, 1)
        ),
    );
    let out = p.run_json("capped", &[]);
    out.expect_code(1);
    assert_eq!(out.attempts("capped"), 5);
    let gaps = gaps(&p, "capped");
    for (gap, min) in gaps.iter().zip([0.2, 0.25, 0.25, 0.25]) {
        assert!(*gap >= min - 0.01, "{gaps:?}");
    }
    // Uncapped, the delays would add up to 0.2 + 0.4 + 0.8 + 1.6 = 3 s.
    let total: f64 = gaps.iter().sum();
    assert!(total < 2.5, "max_delay was not applied: {gaps:?}");
}

#[test]
fn retry_on_exit_code_retries_only_the_listed_codes() {
    let p = Project::with_runbook(
        "codes",
        &format!(
            r#"
steps:
  - id: unlisted
    needs: []
    shell: {}
    retry: {{ attempts: 4, delay: 50ms, on: [{{ exit_code: [75] }}] }}
  - id: listed
    needs: []
    shell: {}
    retry: {{ attempts: 4, delay: 50ms, on: [{{ exit_code: [75] }}] }}
"#,
            counting("unlisted", 99, 7),
            counting("listed", 2, 75)
        ),
    );
    let out = p.run_json("codes", &[]);
    out.expect_code(1);
    assert_eq!(out.status("unlisted"), "failed");
    assert_eq!(out.attempts("unlisted"), 1, "exit 7 is not retried");
    assert_eq!(p.read("unlisted.count").trim(), "1");
    assert!(
        out.error("unlisted").contains("not retried"),
        "{}",
        out.error("unlisted")
    );
    assert_eq!(out.status("listed"), "succeeded");
    assert_eq!(out.attempts("listed"), 2, "exit 75 is retried");
}

#[test]
fn retry_on_timeout_retries_timeouts_only() {
    let p = Project::with_runbook(
        "timeouts",
        r#"
steps:
  - id: slow_once
    needs: []
    timeout: 300ms
    retry: { attempts: 3, delay: 10ms, on: [timeout] }
    shell: |
      n=$(( $(cat slow.count 2>/dev/null || echo 0) + 1 )); echo $n > slow.count
      [ $n -ge 2 ] || sleep 10
      echo done
  - id: exits
    needs: []
    timeout: 5s
    retry: { attempts: 3, delay: 10ms, on: [timeout] }
    shell: exit 3
"#,
    );
    let out = p.run_json("timeouts", &[]);
    out.expect_code(1);
    assert_eq!(out.status("slow_once"), "succeeded");
    assert_eq!(out.attempts("slow_once"), 2);
    assert!(
        out.elapsed.as_secs_f64() < 5.0,
        "the first attempt was cut at 300ms"
    );
    assert_eq!(out.status("exits"), "failed");
    assert_eq!(out.attempts("exits"), 1, "an exit code is not a timeout");
}

#[test]
fn the_retry_deadline_bounds_the_whole_loop() {
    let p = Project::with_runbook(
        "deadline",
        &format!(
            r#"steps:
  - id: stubborn
    shell: {}
    retry: {{ attempts: 100, delay: 200ms, deadline: 700ms }}
"#,
            counting("stubborn", 1000, 1)
        ),
    );
    let out = p.run_json("deadline", &[]);
    out.expect_code(1);
    let attempts = out.attempts("stubborn");
    assert!((2..=4).contains(&attempts), "attempts: {attempts}");
    assert!(
        out.error("stubborn").contains("deadline"),
        "{}",
        out.error("stubborn")
    );
    let times = p.lines("stubborn.times");
    let first: f64 = times[0].parse().unwrap();
    let last: f64 = times.last().unwrap().parse().unwrap();
    assert!(last - first < 0.7, "no attempt starts after the deadline");
    assert!(out.elapsed.as_secs_f64() < 3.0, "{:?}", out.elapsed);
}

#[test]
fn assert_polls_until_the_condition_holds() {
    let p = Project::with_runbook(
        "poll",
        r#"
steps:
  - id: wait_ready
    shell: |
      n=$(( $(cat counter 2>/dev/null || echo 0) + 1 )); echo $n > counter
      echo "{\"ready\": $([ $n -ge 3 ] && echo true || echo false), \"n\": $n}"
    assert:
      - result.exit_code == 0
      - result.json.ready
    retry: { attempts: 10, delay: 50ms, on: [{ exit_code: [99] }] }
    outputs:
      polls: "{{ result.json.n }}"
"#,
    );
    let out = p.run_json("poll", &[]);
    out.expect_code(0);
    assert_eq!(out.status("wait_ready"), "succeeded");
    assert_eq!(
        out.attempts("wait_ready"),
        3,
        "asserts are retried whatever `on` says"
    );
    assert_eq!(out.step("wait_ready")["outputs"]["polls"], 3);
    assert_eq!(p.read("counter").trim(), "3");
}

#[test]
fn a_failed_assert_fails_the_step_with_the_condition() {
    let p = Project::with_runbook(
        "assert",
        r#"
steps:
  - id: check
    shell: |
      echo '{"state": "red"}'
    assert: ["result.json.state == 'green'"]
    retry: { attempts: 2, delay: 10ms }
  - id: after
    shell: touch after.marker
"#,
    );
    let out = p.run_json("assert", &[]);
    out.expect_code(1);
    assert_eq!(out.status("check"), "failed");
    assert_eq!(out.attempts("check"), 2);
    let error = out.error("check");
    assert!(
        error.contains("assert") && error.contains("result.json.state == 'green'"),
        "{error}"
    );
    assert_eq!(
        out.step("check")["result"]["json"]["state"],
        "red",
        "the result is kept"
    );
    assert_eq!(out.status("after"), "skipped");
    assert!(!p.exists("after.marker"));
}
