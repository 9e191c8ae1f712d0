//! How `steward` finds the project and a runbook in it.

use crate::support::{Test, unindent};

#[test]
fn a_runbook_is_found_by_its_name_field_when_the_file_is_named_otherwise() {
    let test = Test::new().runbook(
        "hw",
        &unindent(
            r#"
            name: hello-world
            steps:
              - { id: a, shell: "echo found" }
            "#,
        ),
    );
    let p = test.project().clone();
    let report = test
        .find_project()
        .env("NO_COLOR", "1")
        .args(["run", "hello-world", "--output", "json"])
        .run()
        .stdout_json();
    assert_eq!(report["runbook"], "hello-world");
    assert_eq!(report["steps"]["a"]["result"]["stdout"], "found\n");

    let by_file = |args: &[&str]| p.test().find_project().env("NO_COLOR", "1").args(args);
    by_file(&["run", "hw"]).run();
    by_file(&["run", "hello-wrld"])
        .status(2)
        .stderr_contains("no runbook `hello-wrld`")
        .run();
}

#[test]
fn a_missing_project_folder_is_named() {
    let test = Test::new();
    let missing = test.project().file("nowhere");
    test.find_project()
        .env("NO_COLOR", "1")
        .arg("--project")
        .arg(&missing)
        .arg("validate")
        .status(2)
        .stderr_contains("does not exist")
        .run();
}
