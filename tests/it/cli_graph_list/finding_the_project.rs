//! Finding the project: `--project`, `STEWARD_PROJECT`, and a clear error
//! outside any project.

use super::*;

/// A folder that is not inside any project.
fn outside() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("steward-outside-")
        .tempdir()
        .unwrap();
    for ancestor in dir.path().ancestors() {
        assert!(
            !ancestor.join("runbooks").is_dir() && !ancestor.join("steward.yaml").is_file(),
            "{} looks like a Steward project; the test needs a folder outside any",
            ancestor.display()
        );
    }
    dir
}

/// `steward ARGS` typed in `dir`, outside the project.
fn elsewhere(dir: &tempfile::TempDir, args: &[&str]) -> Test {
    Test::new()
        .current_dir(dir.path())
        .find_project()
        .env("NO_COLOR", "1")
        .args(args)
}

#[test]
fn project_flag_and_env_variable() {
    let project = project();
    let outside = outside();
    let dir = project.path().to_str().unwrap();

    let with_flag = elsewhere(&outside, &["--project", dir, "list", "--output", "json"])
        .run()
        .stdout_json();
    assert_eq!(with_flag.as_array().unwrap().len(), 2);

    let with_env = elsewhere(&outside, &["list", "--output", "json"])
        .env("STEWARD_PROJECT", dir)
        .run();
    assert_eq!(with_env.stdout_json(), with_flag);

    // The flag works after the subcommand too, and wins over the variable.
    let graph = elsewhere(
        &outside,
        &["graph", "release", "--format", "json", "--project", dir],
    )
    .env("STEWARD_PROJECT", outside.path())
    .run();
    assert_eq!(graph.stdout_json()["runbook"], "release");
}

#[test]
fn outside_any_project_is_a_clear_error() {
    let outside = outside();
    for args in [&["list"][..], &["graph", "release"][..], &["validate"][..]] {
        elsewhere(&outside, args)
            .status(2)
            .stdout("")
            .stderr_contains("no Steward project in")
            .stderr_contains("--project DIR")
            .run();
    }
}
