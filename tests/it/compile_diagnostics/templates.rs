//! Mistakes in templates and expressions, in the steps they read, and in
//! `uses` with its parameters.

use super::*;

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
