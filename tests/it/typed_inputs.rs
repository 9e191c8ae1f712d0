//! Typed fields (counts, durations) that read `inputs`: set when the run
//! starts, from the values given or the defaults; through `with:` into a
//! step template's typed parameters; for a child run, from the inputs its
//! parent gives it; checked by `steward validate`.

use crate::support::{Project, unindent};

const RUNBOOK: &str = r#"
inputs:
  tries: { type: int, default: 1 }
  delay: { type: string, default: 20ms }
  limit: { type: string, default: 5s }
steps:
  - id: direct
    shell: echo try >> direct.txt; exit 1
    retry: { attempts: "{{ inputs.tries }}", delay: "{{ inputs.delay }}" }
    timeout: "{{ inputs.limit }}"
    continue_on_error: true
  - id: templated
    uses: retry-until
    with: { command: "echo try >> templated.txt; exit 1", attempts: "{{ inputs.tries }}", delay: "{{ inputs.delay }}" }
    continue_on_error: true
  - id: slow
    shell: sleep 5
    timeout: "{{ inputs.limit }}"
    continue_on_error: true
"#;

fn project() -> Project {
    let p = Project::with_runbook("typed", RUNBOOK);
    p.copy_from_repo("steps");
    p
}

#[test]
fn typed_fields_take_the_inputs_given_or_their_defaults() {
    let p = project();
    let out = p.run_json("typed", &["-i", "tries=3", "-i", "limit=300ms"]);
    out.expect_code(0);
    assert_eq!(out.attempts("direct"), 3);
    assert_eq!(p.lines("direct.txt").len(), 3);
    assert_eq!(out.attempts("templated"), 3);
    assert_eq!(p.lines("templated.txt").len(), 3);
    assert!(
        out.error("slow").contains("timed out after 300ms"),
        "{}",
        out.error("slow")
    );

    let p = project();
    let out = p.run_json("typed", &["-i", "limit=200ms"]);
    out.expect_code(0);
    assert_eq!(out.attempts("direct"), 1, "the default: one attempt");
    assert_eq!(out.attempts("templated"), 1);
}

#[test]
fn a_value_that_does_not_fit_the_field_stops_the_run_before_it_starts() {
    let p = project();
    let out = p.run("typed", &["-i", "delay=soon"]);
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("bad duration: `soon` is not a duration"),
        "{}",
        out.stderr
    );
    assert!(p.run_ids().is_empty(), "no run started");
}

#[test]
fn a_child_run_gets_the_inputs_its_parent_gives() {
    let p = project();
    p.runbook(
        "parent",
        &unindent(
            r#"
            steps:
              - id: call
                runbook: typed
                inputs: { tries: 2, limit: 200ms }
            "#,
        ),
    );
    let out = p.run_json("parent", &[]);
    out.expect_code(0);
    assert_eq!(p.lines("direct.txt").len(), 2);
    assert_eq!(p.lines("templated.txt").len(), 2);
}

#[test]
fn validate_wants_a_default_for_an_input_a_typed_field_reads() {
    let p = Project::with_runbook(
        "bad",
        &unindent(
            r#"
            inputs:
              n: { type: int }
            steps:
              - id: a
                shell: exit 0
                retry: { attempts: "{{ inputs.n }}" }
                timeout: "{{ vars.x }}"
            "#,
        ),
    );
    let out = p.steward(&["validate"]);
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("may read only `inputs`, and only inputs with a default"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.matches("can't resolve this field").count(), 2);
}
