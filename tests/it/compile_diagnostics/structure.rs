//! Mistakes in the runbook's shape: unknown keys, steps without a kind or
//! with two, ids, `needs` and cycles.

use super::*;

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
