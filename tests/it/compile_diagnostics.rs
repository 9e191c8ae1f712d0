//! What `steward validate FILE` prints for each class of mistake: the whole
//! stderr is snapshotted (tests/snapshots/), and each test also checks the
//! exit code (2) and that the `file:line:col` points at the offending token.
//!
//! Update the snapshots with `INSTA_UPDATE=always cargo test --test
//! compile_diagnostics`, then read the `.snap` files before committing them.

use crate::support::{Project, Test, unindent};

/// Validates `runbooks/<name>.yaml` holding `yaml` in a fresh project and
/// returns stderr, after checking that it failed as invalid (exit 2) and
/// printed nothing on stdout.
fn invalid(name: &str, yaml: &str) -> String {
    let project = Project::with_retry_until();
    project.runbook(name, yaml);
    validate(&project, name).status(2).stdout("").run().stderr
}

/// `steward validate runbooks/<name>.yaml`, typed in the project's folder.
fn validate(project: &Project, name: &str) -> Test {
    project
        .test()
        .find_project()
        .env("NO_COLOR", "1")
        .args(["validate", &format!("runbooks/{name}.yaml")])
}

/// Asserts that a diagnostic points at `line:col` of `runbooks/<name>.yaml`.
#[track_caller]
fn points_at(stderr: &str, name: &str, line: usize, col: usize) {
    let location = format!("--> runbooks/{name}.yaml:{line}:{col}\n");
    assert!(
        stderr.contains(&location),
        "expected a diagnostic at {line}:{col}; stderr:\n{stderr}"
    );
}

/// The number of `error:` headlines.
fn errors(stderr: &str) -> usize {
    stderr.lines().filter(|l| l.starts_with("error: ")).count()
}

macro_rules! snapshot {
    ($name:expr, $stderr:expr) => {
        insta::with_settings!({ prepend_module_to_snapshot => true, omit_expression => true }, {
            insta::assert_snapshot!($name, $stderr);
        })
    };
}

#[test]
fn yaml_syntax_error() {
    let stderr = invalid(
        "yaml_syntax",
        &unindent(
            r#"
            steps:
              - id: build
                shell: make
               - id: test
                shell: make test
            "#,
        ),
    );
    // The misindented `-` of the second step.
    points_at(&stderr, "yaml_syntax", 4, 4);
    assert_eq!(errors(&stderr), 1);
    snapshot!("yaml_syntax_error", stderr);
}

#[test]
fn yaml_unclosed_bracket() {
    // Noticed at the end of the file; shown at the bracket never closed.
    let stderr = invalid(
        "unclosed",
        &unindent(
            r#"
            steps:
              - id: build
                shell: make
                needs: [setup
            "#,
        ),
    );
    points_at(&stderr, "unclosed", 4, 12);
    assert!(stderr.contains("this `[` is never closed"), "{stderr}");
    snapshot!("yaml_unclosed_bracket", stderr);
}

#[test]
fn yaml_error_inside_unclosed_bracket() {
    // The scanner fails at the next `:`; the message names the open `[`.
    let stderr = invalid(
        "stillopen",
        &unindent(
            r#"
            steps:
              - id: build
                needs: [setup
                shell: make
            "#,
        ),
    );
    points_at(&stderr, "stillopen", 4, 10);
    assert!(
        stderr.contains("a `[` opened at line 3, column 12 is still open here"),
        "{stderr}"
    );
    snapshot!("yaml_error_inside_unclosed_bracket", stderr);
}

#[test]
fn yaml_duplicate_key() {
    let stderr = invalid(
        "dupkey",
        &unindent(
            r#"
            steps:
              - id: build
                shell: make
                id: again
            "#,
        ),
    );
    points_at(&stderr, "dupkey", 4, 5);
    // Not a quoting problem: no hint about indentation and quotes.
    assert!(!stderr.contains("hint:"), "{stderr}");
    snapshot!("yaml_duplicate_key", stderr);
}

#[test]
fn unknown_keys_with_did_you_mean() {
    let stderr = invalid(
        "keys",
        &unindent(
            r#"
            name: keys
            descripton: Build and test.
            steps:
              - id: build
                shell: make
              - id: test
                neds: [build]
                shell: make test
            "#,
        ),
    );
    points_at(&stderr, "keys", 2, 1);
    points_at(&stderr, "keys", 7, 5);
    assert!(stderr.contains("did you mean `description`?"), "{stderr}");
    assert!(stderr.contains("did you mean `needs`?"), "{stderr}");
    assert_eq!(errors(&stderr), 2);
    snapshot!("unknown_keys", stderr);
}

#[test]
fn unknown_top_level_key_without_near_match() {
    let stderr = invalid(
        "toplevel",
        &unindent(
            r#"
            steps:
              - id: a
                shell: echo a
            playbook: site.yml
            "#,
        ),
    );
    points_at(&stderr, "toplevel", 4, 1);
    assert!(stderr.contains("unknown key `playbook`"), "{stderr}");
    snapshot!("unknown_top_level_key", stderr);
}

#[test]
fn step_without_kind() {
    let stderr = invalid(
        "nokind",
        &unindent(
            r#"
            steps:
              - id: build
                name: Build it
                timeout: 5m
            "#,
        ),
    );
    points_at(&stderr, "nokind", 2, 9);
    assert!(stderr.contains("step `build` has no kind"), "{stderr}");
    snapshot!("step_without_kind", stderr);
}

#[test]
fn step_with_two_kinds() {
    let stderr = invalid(
        "twokinds",
        &unindent(
            r#"
            steps:
              - id: wait
                shell: echo waiting
                sleep: 10s
            "#,
        ),
    );
    // The second kind's key.
    points_at(&stderr, "twokinds", 4, 5);
    assert!(
        stderr.contains("step `wait` has two kinds: `shell` and `sleep`"),
        "{stderr}"
    );
    snapshot!("step_with_two_kinds", stderr);
}

#[test]
fn duplicate_step_id() {
    let stderr = invalid(
        "dup",
        &unindent(
            r#"
            steps:
              - id: build
                shell: make
              - id: test
                shell: make test
              - id: build
                shell: make again
            "#,
        ),
    );
    points_at(&stderr, "dup", 6, 9);
    assert_eq!(errors(&stderr), 1);
    snapshot!("duplicate_step_id", stderr);
}

#[test]
fn invalid_step_id() {
    let stderr = invalid(
        "badid",
        &unindent(
            r#"
            steps:
              - id: Run.Tests
                shell: make test
            "#,
        ),
    );
    points_at(&stderr, "badid", 2, 9);
    assert!(stderr.contains("invalid step id `Run.Tests`"), "{stderr}");
    snapshot!("invalid_step_id", stderr);
}

#[test]
fn needs_unknown_step() {
    let stderr = invalid(
        "needs",
        &unindent(
            r#"
            steps:
              - id: build
                shell: make
              - id: lint
                shell: make lint
              - id: test
                needs: [lint, biuld]
                shell: make test
            "#,
        ),
    );
    points_at(&stderr, "needs", 7, 19);
    assert!(stderr.contains("did you mean `build`?"), "{stderr}");
    snapshot!("needs_unknown_step", stderr);
}

#[test]
fn dependency_cycle_names_the_whole_chain() {
    let stderr = invalid(
        "cycle",
        &unindent(
            r#"
            steps:
              - id: a
                needs: [b]
                shell: echo a
              - id: b
                needs: [c]
                shell: echo b
              - id: c
                needs: [a]
                shell: echo c
            "#,
        ),
    );
    assert!(
        stderr.contains("dependency cycle: a -> b -> c -> a"),
        "{stderr}"
    );
    // Reported once, at the first link of the chain.
    assert_eq!(errors(&stderr), 1);
    points_at(&stderr, "cycle", 3, 13);
    snapshot!("dependency_cycle", stderr);
}

#[test]
fn template_syntax_error() {
    // The first `}}` of the line closes a valid tag; the error is at the second.
    let stderr = invalid(
        "tplsyntax",
        &unindent(
            r#"
            inputs:
              who: { default: world }
            steps:
              - id: greet
                shell: echo "{{ inputs.who }}" && echo "{{ inputs.who | }}"
            "#,
        ),
    );
    points_at(&stderr, "tplsyntax", 5, 61);
    assert!(stderr.contains("template syntax error"), "{stderr}");
    snapshot!("template_syntax_error", stderr);
}

#[test]
fn template_syntax_error_in_block_scalar() {
    let stderr = invalid(
        "tplblock",
        &unindent(
            r#"
            steps:
              - id: greet
                shell: |
                  echo one
                  echo {% if true %}two
            "#,
        ),
    );
    // The input ends inside `{% if %}`: shown at its last token.
    points_at(&stderr, "tplblock", 5, 25);
    snapshot!("template_syntax_error_in_block_scalar", stderr);
}

#[test]
fn expression_syntax_error_in_when() {
    // The expression is unwrapped from `{{ }}` before it is compiled; the
    // position must still be in the file's terms.
    let stderr = invalid(
        "whensyntax",
        &unindent(
            r#"
            inputs:
              env: { default: staging }
            steps:
              - id: deploy
                when: "{{ inputs.env == 'production' and }}"
                shell: echo deploy
            "#,
        ),
    );
    assert!(stderr.contains("expression syntax error"), "{stderr}");
    // At the dangling `and`.
    points_at(&stderr, "whensyntax", 5, 42);
    snapshot!("expression_syntax_error_in_when", stderr);
}

#[test]
fn template_reads_unknown_step() {
    let stderr = invalid(
        "stepsx",
        &unindent(
            r#"
            steps:
              - id: build
                shell: make
              - id: report
                shell: echo "{{ steps.build.stdout }} {{ steps.buidl.stdout }}"
            "#,
        ),
    );
    points_at(&stderr, "stepsx", 5, 46);
    assert!(
        stderr.contains("`steps.buidl` names an unknown step"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `build`?"), "{stderr}");
    snapshot!("template_reads_unknown_step", stderr);
}

#[test]
fn template_reads_step_defined_below() {
    let stderr = invalid(
        "below",
        &unindent(
            r#"
            steps:
              - id: report
                needs: []
                shell: echo {{ steps.build.stdout }}
              - id: build
                needs: []
                shell: make
            "#,
        ),
    );
    points_at(&stderr, "below", 4, 20);
    assert!(
        stderr.contains("`steps.build` is not upstream of step `report`"),
        "{stderr}"
    );
    snapshot!("template_reads_step_defined_below", stderr);
}

#[test]
fn unknown_uses_template() {
    let stderr = invalid(
        "uses",
        &unindent(
            r#"
            steps:
              - id: wait
                uses: retry-untill
                with: { command: ls }
            "#,
        ),
    );
    points_at(&stderr, "uses", 3, 11);
    assert!(stderr.contains("did you mean `retry-until`?"), "{stderr}");
    snapshot!("unknown_uses_template", stderr);
}

#[test]
fn missing_with_parameter() {
    let stderr = invalid(
        "missing",
        &unindent(
            r#"
            steps:
              - id: wait
                uses: retry-until
                with:
                  attempts: 3
            "#,
        ),
    );
    points_at(&stderr, "missing", 3, 11);
    assert!(
        stderr.contains("template `retry-until` needs the parameter `command`"),
        "{stderr}"
    );
    snapshot!("missing_with_parameter", stderr);
}

#[test]
fn unknown_with_parameter() {
    let stderr = invalid(
        "unknownwith",
        &unindent(
            r#"
            steps:
              - id: wait
                uses: retry-until
                with:
                  command: curl -f localhost
                  atempts: 3
            "#,
        ),
    );
    points_at(&stderr, "unknownwith", 6, 7);
    assert!(stderr.contains("did you mean `attempts`?"), "{stderr}");
    snapshot!("unknown_with_parameter", stderr);
}

#[test]
fn bad_duration() {
    let stderr = invalid(
        "duration",
        &unindent(
            r#"
            steps:
              - id: travel
                shell: echo go
                timeout: 5 parsecs
            "#,
        ),
    );
    points_at(&stderr, "duration", 4, 14);
    assert!(stderr.contains("bad duration"), "{stderr}");
    snapshot!("bad_duration", stderr);
}

#[test]
fn bad_schedules() {
    let stderr = invalid(
        "nightly",
        &unindent(
            r#"
            triggers:
              schedule:
                - "0 25 * * *"
                - { cron: "0 3 * * *", timezone: Europe/Berln }
                - cron: "0 3 * *"
            steps:
              - id: backup
                shell: echo backup
            "#,
        ),
    );
    points_at(&stderr, "nightly", 3, 7);
    points_at(&stderr, "nightly", 4, 7);
    // The mapping forms point at the mapping (flow) or its first key (block).
    points_at(&stderr, "nightly", 5, 11);
    assert_eq!(errors(&stderr), 3, "{stderr}");
    assert!(stderr.contains("invalid hour field `25`"), "{stderr}");
    assert!(stderr.contains("did you mean `Europe/Berlin`?"), "{stderr}");
    snapshot!("bad_schedules", stderr);
}

#[test]
fn valid_schedules_are_ok() {
    let project = Project::with_retry_until();
    project.runbook(
        "nightly",
        &unindent(
            r#"
            triggers:
              schedule:
                - "0 3 * * *"
                - { cron: "30 2 * * MON-FRI", timezone: Europe/Berlin, catch_up: true }
                - "@hourly"
            steps:
              - id: backup
                shell: echo backup
            "#,
        ),
    );
    validate(&project, "nightly").run();
}

#[test]
fn unknown_input_type() {
    let stderr = invalid(
        "inputtype",
        &unindent(
            r#"
            inputs:
              count: { type: integr }
            steps:
              - id: a
                shell: echo a
            "#,
        ),
    );
    points_at(&stderr, "inputtype", 2, 18);
    assert!(stderr.contains("unknown input type `integr`"), "{stderr}");
    snapshot!("unknown_input_type", stderr);
}

#[test]
fn default_not_matching_type() {
    let stderr = invalid(
        "deftype",
        &unindent(
            r#"
            inputs:
              count: { type: int, default: three }
            steps:
              - id: a
                shell: echo a
            "#,
        ),
    );
    points_at(&stderr, "deftype", 2, 32);
    snapshot!("default_not_matching_type", stderr);
}

#[test]
fn default_not_matching_pattern() {
    let stderr = invalid(
        "defpattern",
        &unindent(
            r#"
            inputs:
              version:
                pattern: '^v\d+\.\d+\.\d+$'
                default: "1.2"
            steps:
              - id: a
                shell: echo a
            "#,
        ),
    );
    points_at(&stderr, "defpattern", 4, 14);
    assert!(stderr.contains("doesn't match the pattern"), "{stderr}");
    snapshot!("default_not_matching_pattern", stderr);
}

#[test]
fn retry_with_zero_attempts() {
    let stderr = invalid(
        "retry0",
        &unindent(
            r#"
            steps:
              - id: a
                shell: echo a
                retry: { attempts: 0, delay: 1s }
            "#,
        ),
    );
    points_at(&stderr, "retry0", 4, 24);
    snapshot!("retry_with_zero_attempts", stderr);
}

#[test]
fn undeclared_input_and_secret() {
    // `inputs.ver` also appears as plain text and as the start of a longer
    // (declared) name: only the read inside `{{ }}` is the problem.
    let stderr = invalid(
        "undeclared",
        &unindent(
            r#"
            inputs:
              version: { default: 1.0.0 }
              verbose: { type: bool, default: false }
            secrets: [DEPLOY_TOKEN]
            steps:
              - id: deploy
                shell: echo inputs.ver {{ inputs.version }} {{ inputs.ver }}
              - id: notify
                shell: 'curl -H "Authorization: {{ secrets.DEPLOY_TOKN }}" {{ secrets.SLACK_URL }}'
            "#,
        ),
    );
    points_at(&stderr, "undeclared", 7, 52);
    points_at(&stderr, "undeclared", 9, 40);
    points_at(&stderr, "undeclared", 9, 67);
    assert!(
        stderr.contains("did you mean `secrets.DEPLOY_TOKEN`?"),
        "{stderr}"
    );
    assert_eq!(errors(&stderr), 3);
    snapshot!("undeclared_input_and_secret", stderr);
}

#[test]
fn every_error_is_reported_at_once() {
    let stderr = invalid(
        "many",
        &unindent(
            r#"
            name: Many
            descripton: everything wrong at once
            inputs:
              n: { type: int, default: lots }
            steps:
              - id: build
                shell: make
                timeout: 5 parsecs
              - id: test
                neds: [build]
                shell: make test {{ inputs.nope }}
              - id: flaky
                shell: ./flaky.sh
                retry: { attempts: 0, backoff: linear }
              - id: build
                sleep: 1s
              - id: report
                needs: [tset]
                shell: echo {{ steps.later.stdout }}
            "#,
        ),
    );
    let expected = [
        (1, 7),   // invalid runbook name `Many`
        (2, 1),   // unknown key `descripton`
        (4, 28),  // default `lots` is not an int
        (8, 14),  // bad duration
        (10, 5),  // unknown key `neds`
        (11, 25), // undeclared input
        (14, 24), // retry with 0 attempts
        (14, 36), // unknown backoff
        (15, 9),  // duplicate id
        (18, 13), // unknown `needs`
        (19, 20), // unknown step read
    ];
    for (line, col) in expected {
        points_at(&stderr, "many", line, col);
    }
    assert_eq!(errors(&stderr), expected.len(), "{stderr}");
    assert!(
        stderr.ends_with(&format!(
            "{} problems in 1 file (1 runbook and 0 step templates checked)\n",
            expected.len()
        )),
        "{stderr}"
    );
    snapshot!("every_error_at_once", stderr);
}

#[test]
fn valid_runbook_is_ok() {
    let project = Project::with_retry_until();
    project.runbook(
        "fine",
        &unindent(
            r#"
            inputs:
              who: { default: world }
            steps:
              - id: greet
                shell: echo hello {{ inputs.who }}
              - id: wait
                uses: retry-until
                with: { command: "test -n {{ steps.greet.stdout }}" }
            "#,
        ),
    );
    let out = validate(&project, "fine").stdout("").run();
    assert!(out.stderr.starts_with("ok:"), "{}", out.stderr);
    snapshot!("valid_runbook", out.stderr);
}
