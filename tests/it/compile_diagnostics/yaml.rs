//! Mistakes in the YAML itself: syntax, brackets never closed, duplicate keys.

use super::*;

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
