//! `steward run` as a command: exit codes, input and secret validation,
//! the JSON report, text output for non-TTY use, and the repo's quickstart.

use crate::support::{Project, unindent, unique};
use serde_json::Value;

const OK_RUNBOOK: &str = r#"
inputs:
  who: { type: string, default: world }
  count: { type: int, default: 2 }
steps:
  - id: hello
    shell: |
      echo "hello {{ inputs.who }}"
      echo '{"n": {{ inputs.count }}}' > n.json
    outputs:
      said: "{{ result.stdout | trim }}"
  - id: later
    sleep: 10ms
outputs:
  greeting: "{{ steps.hello.outputs.said }}"
  count: "{{ inputs.count }}"
"#;

#[test]
fn success_exits_0_with_the_json_report_shape() {
    let p = Project::with_runbook("ok", OK_RUNBOOK);
    let out = p.run_json("ok", &["-i", "who=tester"]);
    out.expect_code(0);
    let r = out.report();
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    for key in [
        "run_id",
        "runbook",
        "status",
        "started_at",
        "duration_ms",
        "inputs",
        "steps",
        "outputs",
    ] {
        assert!(keys.contains(&key), "report lacks `{key}`: {keys:?}");
    }
    assert!(!r["run_id"].as_str().unwrap().is_empty());
    assert_eq!(r["runbook"], "ok");
    assert_eq!(r["status"], "succeeded");
    chrono::DateTime::parse_from_rfc3339(r["started_at"].as_str().unwrap())
        .expect("started_at is RFC 3339");
    assert!(r["duration_ms"].is_u64());
    assert_eq!(
        r["inputs"],
        serde_json::json!({"who": "tester", "count": 2})
    );
    assert_eq!(
        r["outputs"],
        serde_json::json!({"greeting": "hello tester", "count": 2})
    );

    let steps = r["steps"].as_object().unwrap();
    assert_eq!(
        steps.keys().collect::<Vec<_>>(),
        ["hello", "later"],
        "one record per step, in plan order"
    );
    for (id, step) in steps {
        let mut fields: Vec<&str> = step
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "attempts",
                "duration_ms",
                "error",
                "outputs",
                "result",
                "status"
            ],
            "fields of step `{id}`"
        );
        assert_eq!(step["status"], "succeeded");
        assert_eq!(step["attempts"], 1);
        assert!(step["duration_ms"].is_u64());
        assert!(step["error"].is_null());
    }
    let hello = out.step("hello");
    assert_eq!(hello["result"]["exit_code"], 0);
    assert_eq!(hello["result"]["stdout"], "hello tester\n");
    assert_eq!(hello["result"]["stderr"], "");
    assert_eq!(
        hello["outputs"],
        serde_json::json!({"said": "hello tester"})
    );
    assert!(out.step("later")["duration_ms"].as_u64().unwrap() >= 10);
    assert!(p.exists("n.json"), "shell steps run in the project folder");
}

#[test]
fn a_failed_step_exits_1() {
    let p = Project::with_runbook(
        "bad",
        &unindent(
            r#"
            steps:
              - id: boom
                shell: echo 'it broke' >&2; exit 4
            "#,
        ),
    );
    let out = p.run_json("bad", &[]);
    out.expect_code(1);
    assert_eq!(out.run_status(), "failed");
    assert_eq!(out.status("boom"), "failed");
    assert_eq!(out.step("boom")["result"]["exit_code"], 4);
    assert!(
        out.error("boom").contains("exit code 4"),
        "{}",
        out.error("boom")
    );
    assert!(
        out.error("boom").contains("it broke"),
        "the last stderr line is in the error"
    );
    let run_error = out.report()["error"].as_str().unwrap_or_default();
    assert!(
        run_error.contains("boom"),
        "the run's error names the step: {run_error}"
    );
}

#[test]
fn invalid_inputs_exit_2_listing_every_problem_and_run_nothing() {
    let p = Project::with_runbook(
        "inputs",
        r#"
inputs:
  version: { type: string, pattern: '^v?\d+\.\d+\.\d+$', required: true }
  env: { type: string, enum: [staging, production], default: staging }
  replicas: { type: int, default: 1 }
  ticket: { type: string, required: true }
steps:
  - id: mark
    shell: touch ran.marker
"#,
    );
    let out = p.run(
        "inputs",
        &[
            "-i",
            "version=latest",
            "-i",
            "env=qa",
            "-i",
            "replicas=many",
            "-i",
            "colour=blue",
        ],
    );
    out.expect_code(2);
    for needle in ["version", "`env`", "replicas", "ticket", "colour"] {
        assert!(
            out.stderr.contains(needle),
            "stderr should name `{needle}`:\n{}",
            out.stderr
        );
    }
    assert!(out.stderr.contains("5 problem"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("input `ticket`: required, no value given"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("hint: 5 problem(s), nothing was run; give inputs as `-i NAME=VALUE`"),
        "{}",
        out.stderr
    );
    assert!(!p.exists("ran.marker"), "nothing may run");
    assert!(p.run_ids().is_empty(), "no run was started");
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_secrets_are_named_with_input_problems_and_exit_2() {
    let a = unique("A_TOKEN").replace('-', "_").to_uppercase();
    let b = unique("B_TOKEN").replace('-', "_").to_uppercase();
    let p = Project::with_runbook(
        "secret",
        &format!(
            r#"inputs:
  who: {{ type: string, required: true }}
secrets: [{a}, {b}]
steps:
  - id: mark
    shell: touch ran.marker
"#
        ),
    );
    let out = p.run_json("secret", &[]);
    out.expect_code(2);
    assert!(
        out.stderr.contains(&a) && out.stderr.contains(&b),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("who"),
        "input problems are listed too: {}",
        out.stderr
    );
    assert!(!p.exists("ran.marker"));
    assert!(p.run_ids().is_empty());

    // One of them set: only the other is reported.
    let out = p.run_with("secret", &["-i", "who=x"], |t| t.env(&a, "value-of-a"));
    out.expect_code(2);
    assert!(out.stderr.contains(&b));
    assert!(!out.stderr.contains(&format!("{a},")) && !out.stderr.contains("value-of-a"));
    assert!(!p.exists("ran.marker"));
}

#[test]
fn a_malformed_input_is_said_with_the_other_problems_in_order() {
    let token = unique("C_TOKEN").replace('-', "_").to_uppercase();
    let p = Project::with_runbook(
        "order",
        &format!(
            "inputs:\n  n: {{ type: int, default: 1 }}\nsecrets: [{token}]\nsteps:\n  - id: mark\n    shell: touch ran.marker\n"
        ),
    );
    let out = p.run("order", &["-i", "oops", "-i", "n=many"]);
    out.expect_code(2);
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 3, "{}", out.stderr);
    assert!(
        errors[0].contains("`-i oops` is not NAME=VALUE"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("input `n`: expected an int"),
        "{errors:?}"
    );
    assert!(errors[2].contains(&token), "{errors:?}");
    assert!(
        out.stderr.contains("hint: 3 problem(s), nothing was run"),
        "{}",
        out.stderr
    );
    assert!(!p.exists("ran.marker"));
    assert!(p.run_ids().is_empty());
}

#[test]
fn an_invalid_runbook_exits_2() {
    let p = Project::with_runbook(
        "broken",
        &unindent(
            r#"
            stepz:
              - id: a
                shell: touch ran.marker
            "#,
        ),
    );
    let out = p.run("broken", &[]);
    out.expect_code(2);
    assert!(out.stderr.contains("stepz"), "{}", out.stderr);
    assert!(!p.exists("ran.marker"));

    let out = p.run("no-such-runbook", &[]);
    out.expect_code(2);
}

#[test]
fn a_run_timeout_exits_3_and_finally_still_runs() {
    let p = Project::with_runbook(
        "slow",
        r#"
timeout: 700ms
steps:
  - id: long
    shell: sleep 30
  - id: next
    shell: touch next.marker
finally:
  - id: report
    shell: echo "{{ run.status }}" > finally.marker
"#,
    );
    let out = p.run_json("slow", &[]);
    out.expect_code(3);
    assert_eq!(out.run_status(), "timed_out");
    assert!(
        out.elapsed.as_secs_f64() < 10.0,
        "the step was stopped: {:?}",
        out.elapsed
    );
    assert_ne!(out.status("long"), "succeeded");
    assert_eq!(out.status("next"), "skipped");
    assert!(!p.exists("next.marker"));
    assert_eq!(out.status("report"), "succeeded");
    assert_eq!(p.read("finally.marker").trim(), "timed_out");
    let error = out.report()["error"].as_str().unwrap_or_default();
    assert!(error.contains("timed out"), "{error}");
}

/// `HH:MM:SS.mmm ` at the start of a line.
fn timestamped(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 13
        && b[..12].iter().enumerate().all(|(i, c)| match i {
            2 | 5 => *c == b':',
            8 => *c == b'.',
            _ => c.is_ascii_digit(),
        })
        && b[12] == b' '
}

#[test]
fn text_output_not_on_a_tty_is_plain_lines_on_stderr_and_outputs_on_stdout() {
    let p = Project::with_runbook("ok", OK_RUNBOOK);
    let out = p.run("ok", &["-i", "who=plain"]);
    out.expect_code(0);
    assert_eq!(
        out.stdout, "greeting=hello plain\ncount=2\n",
        "stdout holds only the outputs"
    );
    assert!(
        !out.stderr.contains('\x1b'),
        "no escape codes when not a TTY:\n{}",
        out.stderr
    );
    assert!(!out.stderr.contains('\r'), "no redrawing when not a TTY");
    let lines: Vec<&str> = out.stderr.lines().collect();
    let event_lines: Vec<&&str> = lines
        .iter()
        .filter(|l| !l.starts_with("audit trail:"))
        .collect();
    assert!(event_lines.len() >= 4, "{}", out.stderr);
    for line in &event_lines {
        assert!(timestamped(line), "not a timestamped line: {line:?}");
    }
    assert!(
        lines.iter().any(|l| l.ends_with("hello | hello plain")),
        "step output is streamed, prefixed by the step:\n{}",
        out.stderr
    );
    assert!(
        lines.iter().any(|l| l.contains("run succeeded")),
        "{}",
        out.stderr
    );
    assert!(lines.iter().any(|l| l.starts_with("audit trail:")));
}

#[test]
fn json_output_keeps_progress_on_stderr() {
    let p = Project::with_runbook("ok", OK_RUNBOOK);
    let out = p.run_json("ok", &[]);
    out.expect_code(0);
    // `run_json` parsed all of stdout as one document; progress is elsewhere.
    assert!(!out.stdout.contains("hello | "));
    assert!(out.stderr.contains("hello | hello world"), "{}", out.stderr);
    assert!(out.stderr.lines().any(timestamped));
}

#[test]
fn github_actions_gets_groups_and_error_annotations() {
    let p = Project::with_runbook(
        "gh",
        r#"
steps:
  - id: fine
    shell: echo fine
  - id: broken
    shell: echo "no disk" >&2; exit 3
"#,
    );
    let out = p.run_with("gh", &[], |t| {
        t.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTOR", "octocat")
    });
    out.expect_code(1);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(lines.contains(&"::group::fine"), "{}", out.stderr);
    assert!(lines.contains(&"::group::broken"), "{}", out.stderr);
    assert!(lines.iter().filter(|l| **l == "::endgroup::").count() >= 2);
    let error = lines
        .iter()
        .find(|l| l.starts_with("::error"))
        .unwrap_or_else(|| panic!("no ::error line:\n{}", out.stderr));
    assert!(
        error.contains("broken") && error.contains("exit code 3"),
        "{error}"
    );
    assert!(out.stderr.contains("octocat"), "the CI actor is shown");
}

#[test]
fn the_quickstart_runbook_runs_end_to_end() {
    let p = Project::new();
    p.copy_from_repo("runbooks");
    p.copy_from_repo("steps");
    let out = p.run_json("quickstart", &[]);
    out.expect_code(0);
    let outputs = &out.report()["outputs"];
    let as_int = |v: &Value| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or_else(|| panic!("not a number: {v}"))
    };
    assert_eq!(as_int(&outputs["flaky_tries"]), 3, "{outputs}");
    assert_eq!(as_int(&outputs["shards_written"]), 3, "{outputs}");
    assert_eq!(out.attempts("flaky"), 3);
    assert_eq!(out.status("only_verbose"), "skipped");
    assert_eq!(
        out.step("count")["result"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(out.status("cleanup"), "succeeded");

    // Its scratch folder is removed by `finally`.
    let scratch = std::env::temp_dir().join(format!("steward-quickstart-{}", out.run_id()));
    assert!(!scratch.exists(), "{} is left behind", scratch.display());

    // The README's first command: plain text.
    let text = p.run("quickstart", &[]);
    text.expect_code(0);
    assert!(text.stdout.contains("flaky_tries=3"), "{}", text.stdout);
    assert!(text.stdout.contains("shards_written=3"), "{}", text.stdout);
}
