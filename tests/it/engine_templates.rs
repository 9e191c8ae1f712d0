//! Templates and data flow: step and run outputs, `for_each` with `item`,
//! step templates from `steps/` (`uses`, `with`, `params` defaults), the
//! `run` context, and strict undefined.

use crate::support::Project;
use serde_json::json;

#[test]
fn outputs_flow_between_steps_and_to_the_run() {
    let p = Project::with_runbook(
        "flow",
        r#"
inputs:
  base: { type: int, default: 40 }
steps:
  - id: build
    shell: |
      echo '{"artifact": "app-1.2.3.tar", "size": 2}'
    outputs:
      artifact: "{{ result.json.artifact }}"
      total: "{{ inputs.base + result.json.size }}"
  - id: publish
    shell: echo "publishing {{ steps.build.outputs.artifact }} ({{ steps.build.status }})"
    outputs:
      line: "{{ result.stdout | trim }}"
outputs:
  artifact: "{{ steps.build.outputs.artifact }}"
  total: "{{ steps.build.outputs.total }}"
  summary: "{{ steps.publish.outputs.line }} by {{ run.runbook }}"
"#,
    );
    let out = p.run_json("flow", &[]);
    out.expect_code(0);
    assert_eq!(
        out.step("build")["outputs"],
        json!({"artifact": "app-1.2.3.tar", "total": 42})
    );
    assert_eq!(
        out.report()["outputs"],
        json!({
            "artifact": "app-1.2.3.tar",
            "total": 42,
            "summary": "publishing app-1.2.3.tar (succeeded) by flow"
        })
    );
}

#[test]
fn for_each_runs_once_per_item_with_one_result_each() {
    let p = Project::with_runbook(
        "loop",
        r#"
inputs:
  regions: { type: string, default: "eu,us,ap" }
steps:
  - id: literal
    for_each: [alpha, beta]
    shell: echo "{{ item }}" >> literal.log; echo "got {{ item }}"
    outputs:
      said: "{{ result.stdout | trim }}"
  - id: expr
    for_each: "inputs.regions | split(',') | list"
    shell: date +%s.%N > {{ item }}.start; sleep 0.4; date +%s.%N > {{ item }}.end; echo {{ item }}
outputs:
  said: "{{ steps.literal.outputs | map(attribute='said') | list }}"
"#,
    );
    let out = p.run_json("loop", &[]);
    out.expect_code(0);
    let literal = out.step("literal");
    assert_eq!(literal["status"], "succeeded");
    assert_eq!(literal["result"].as_array().unwrap().len(), 2);
    assert_eq!(literal["result"][1]["stdout"], "got beta\n");
    assert_eq!(
        literal["outputs"],
        json!([{"said": "got alpha"}, {"said": "got beta"}])
    );
    assert_eq!(
        out.report()["outputs"]["said"],
        json!(["got alpha", "got beta"])
    );
    let mut logged = p.lines("literal.log");
    logged.sort();
    assert_eq!(logged, ["alpha", "beta"]);

    let expr = out.step("expr");
    let stdouts: Vec<&str> = expr["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["stdout"].as_str().unwrap())
        .collect();
    assert_eq!(stdouts, ["eu\n", "us\n", "ap\n"], "results in item order");
    let latest_start = ["eu", "us", "ap"]
        .iter()
        .map(|r| p.time(&format!("{r}.start")))
        .fold(f64::MIN, f64::max);
    let earliest_end = ["eu", "us", "ap"]
        .iter()
        .map(|r| p.time(&format!("{r}.end")))
        .fold(f64::MAX, f64::min);
    assert!(latest_start < earliest_end, "items run concurrently");

    // The audit trail tells the items apart.
    let items: Vec<u64> = p
        .audit_events(&out.run_id())
        .iter()
        .filter(|e| e["event"] == "attempt_started" && e["step"] == "expr")
        .filter_map(|e| e["item"].as_u64())
        .collect();
    assert_eq!(items.len(), 3);
}

#[test]
fn for_each_items_respect_max_parallel_and_a_failed_item_fails_the_step() {
    let p = Project::with_runbook(
        "loop",
        r#"
max_parallel: 1
steps:
  - id: each
    for_each: [1, 2, 3]
    shell: |
      date +%s.%N >> starts
      sleep 0.3
      [ {{ item }} -ne 2 ] || { echo "item two is bad" >&2; exit 1; }
"#,
    );
    let out = p.run_json("loop", &[]);
    out.expect_code(1);
    assert_eq!(out.status("each"), "failed");
    let error = out.error("each");
    assert!(
        error.contains("item 1") && error.contains("item two is bad"),
        "{error}"
    );
    let starts: Vec<f64> = p
        .lines("starts")
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    assert_eq!(starts.len(), 3, "every item ran");
    for w in starts.windows(2) {
        assert!(w[1] - w[0] >= 0.29, "one at a time: {starts:?}");
    }
}

const GREET: &str = r#"
description: Greets someone.
params:
  who: { required: true }
  punct: { default: "!" }
  tries: { default: 1 }
step:
  # Values are shell-quoted where they land: no quotes around them.
  shell: echo hello {{ params.who }}{{ params.punct }} | tee -a greetings.log
  retry: { attempts: "{{ params.tries }}", delay: 10ms }
  outputs:
    greeting: "{{ result.stdout | trim }}"
"#;

#[test]
fn uses_expands_a_step_template_with_params_and_defaults() {
    let p = Project::with_runbook(
        "greet",
        r#"
inputs:
  name: { type: string, default: "Ada Lovelace" }
steps:
  - id: default_punct
    uses: greet
    with: { who: "{{ inputs.name }}" }
    outputs:
      said: "{{ result.stdout | trim }}"
  - id: own_punct
    uses: greet
    with: { who: team, punct: "?" }
"#,
    );
    p.step_template("greet", GREET);
    let out = p.run_json("greet", &[]);
    out.expect_code(0);
    assert_eq!(
        out.step("default_punct")["result"]["stdout"],
        "hello Ada Lovelace!\n"
    );
    assert_eq!(
        out.step("default_punct")["outputs"]["said"],
        "hello Ada Lovelace!"
    );
    assert_eq!(out.step("own_punct")["result"]["stdout"], "hello team?\n");
    assert_eq!(
        out.step("own_punct")["outputs"]["greeting"],
        "hello team?",
        "the template's own outputs"
    );
    assert_eq!(
        p.lines("greetings.log"),
        ["hello Ada Lovelace!", "hello team?"]
    );
}

#[test]
fn template_params_drive_the_templates_retry_policy() {
    let p = Project::with_runbook(
        "retry-tpl",
        r#"
steps:
  - id: flaky
    uses: until
    with: { command: "n=$(( $(cat count 2>/dev/null || echo 0) + 1 )); echo $n > count; [ $n -ge 3 ]", attempts: 4 }
"#,
    );
    p.step_template(
        "until",
        r#"
params:
  command: { required: true }
  attempts: { default: 1 }
step:
  shell: "{{ params.command | raw }}"
  retry: { attempts: "{{ params.attempts }}", delay: 10ms }
"#,
    );
    let out = p.run_json("retry-tpl", &[]);
    out.expect_code(0);
    assert_eq!(out.attempts("flaky"), 3);
}

#[test]
fn the_run_context_is_available_to_steps() {
    let p = Project::with_runbook(
        "ctx",
        r#"
steps:
  - id: show
    shell: echo "{{ run.id }} {{ run.runbook }} {{ run.trigger.kind }} {{ run.status }}"
"#,
    );
    let out = p.run_json("ctx", &[]);
    out.expect_code(0);
    assert_eq!(
        out.step("show")["result"]["stdout"],
        format!("{} ctx cli running\n", out.run_id())
    );
}

#[test]
fn a_reference_to_a_missing_key_fails_the_step_with_a_clear_message() {
    let p = Project::with_runbook(
        "strict",
        r#"
steps:
  - id: source
    shell: |
      echo '{"present": 1}'
  - id: in_script
    needs: [source]
    continue_on_error: true
    shell: echo "{{ steps.source.result.json.absent }}" && touch ran.marker
  - id: in_output
    needs: [source]
    continue_on_error: true
    shell: echo fine
    outputs:
      missing: "{{ result.json }}"
  - id: in_when
    needs: [source]
    continue_on_error: true
    when: steps.source.outputs.flag
    shell: touch when.marker
"#,
    );
    let out = p.run_json("strict", &[]);
    out.expect_code(0);
    assert_eq!(out.status("in_script"), "failed");
    let error = out.error("in_script");
    assert!(error.contains("undefined"), "{error}");
    assert!(
        error.contains("steps.source.result.json.absent"),
        "names the expression: {error}"
    );
    assert!(!p.exists("ran.marker"), "the script did not run");

    assert_eq!(out.status("in_output"), "failed");
    let error = out.error("in_output");
    assert!(
        error.contains("output `missing`") && error.contains("undefined"),
        "{error}"
    );
    assert_eq!(
        out.step("in_output")["result"]["stdout"],
        "fine\n",
        "the result of the attempt is kept"
    );

    assert_eq!(
        out.status("in_when"),
        "failed",
        "an undefined `when` is an error, not false"
    );
    assert!(
        out.error("in_when").contains("undefined"),
        "{}",
        out.error("in_when")
    );
    assert!(!p.exists("when.marker"));
}

#[test]
fn a_run_output_over_a_missing_key_fails_the_run() {
    let p = Project::with_runbook(
        "strict-out",
        r#"
steps:
  - id: one
    shell: echo hi
outputs:
  typo: "{{ steps.one.outputs.nothing_here }}"
"#,
    );
    let out = p.run_json("strict-out", &[]);
    out.expect_code(1);
    assert_eq!(out.run_status(), "failed");
    let error = out.report()["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("typo") && error.contains("undefined"),
        "not a silent null: {error}"
    );
}
