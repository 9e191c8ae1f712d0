//! Mistakes in typed values: durations, schedules, input types and defaults,
//! retry counts, undeclared inputs and secrets.

use super::*;

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
