//! What `steward validate FILE` prints for each class of mistake: the whole
//! stderr is snapshotted (`snapshots/` beside each file), and each test also
//! checks the exit code (2) and that the `file:line:col` points at the
//! offending token.
//!
//! Update the snapshots with `INSTA_UPDATE=always cargo test --test it
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

mod structure;
mod templates;
mod values;
mod yaml;
