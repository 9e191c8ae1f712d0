//! A step-template parameter declared `script: true` is inserted with
//! `| raw`, and the values a caller interpolates into it are shell-quoted.

use crate::support::{Project, repo, unindent};

#[test]
fn values_in_a_script_parameter_stay_one_shell_word() {
    let p = Project::new();
    let template = std::fs::read_to_string(repo().join("steps/retry-until.yaml"))
        .expect("the repository's retry-until template");
    p.step_template("retry-until", &template);
    p.runbook(
        "echo",
        &unindent(
            r#"
            inputs:
              who: { type: string }
            steps:
              - id: say
                uses: retry-until
                with:
                  command: "echo hello {{ inputs.who }}"
                  attempts: 1
            "#,
        ),
    );
    let marker = p.file("pwned");
    let hostile = format!("x; touch {}", marker.display());
    let report = p
        .test()
        .find_project()
        .args([
            "run",
            "echo",
            "-i",
            &format!("who={hostile}"),
            "--output",
            "json",
        ])
        .run()
        .stdout_json();
    assert_eq!(
        report["steps"]["say"]["result"]["stdout"],
        format!("hello {hostile}\n")
    );
    assert!(!marker.exists(), "the hostile input ran as a command");
}
