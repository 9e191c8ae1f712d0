//! How `steward` finds the project and a runbook in it.

use std::process::Command;

fn steward(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(args)
        .current_dir(dir)
        .env_remove("STEWARD_PROJECT")
        .env("NO_COLOR", "1")
        .output()
        .expect("steward runs")
}

#[test]
fn a_runbook_is_found_by_its_name_field_when_the_file_is_named_otherwise() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::create_dir(dir.path().join("runbooks")).expect("runbooks/");
    std::fs::write(
        dir.path().join("runbooks/hw.yaml"),
        "name: hello-world\nsteps:\n  - { id: a, shell: \"echo found\" }\n",
    )
    .expect("write");
    let by_name = steward(dir.path(), &["run", "hello-world", "--output", "json"]);
    assert!(
        by_name.status.success(),
        "{}",
        String::from_utf8_lossy(&by_name.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&by_name.stdout).expect("json");
    assert_eq!(report["runbook"], "hello-world");
    assert_eq!(report["steps"]["a"]["result"]["stdout"], "found\n");

    let by_file = steward(dir.path(), &["run", "hw"]);
    assert!(by_file.status.success());

    let unknown = steward(dir.path(), &["run", "hello-wrld"]);
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("no runbook `hello-wrld`"), "{stderr}");
}

#[test]
fn a_missing_project_folder_is_named() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let missing = dir.path().join("nowhere");
    let out = steward(
        dir.path(),
        &["--project", missing.to_str().expect("utf-8"), "validate"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not exist"), "{stderr}");
}
