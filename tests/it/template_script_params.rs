//! A step-template parameter declared `script: true` is inserted with
//! `| raw`, and the values a caller interpolates into it are shell-quoted.

use std::process::Command;

#[test]
fn values_in_a_script_parameter_stay_one_shell_word() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let marker = dir.path().join("pwned");
    std::fs::create_dir(dir.path().join("runbooks")).expect("runbooks/");
    std::fs::create_dir(dir.path().join("steps")).expect("steps/");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/steps/retry-until.yaml"),
        dir.path().join("steps/retry-until.yaml"),
    )
    .expect("copy the template");
    std::fs::write(
        dir.path().join("runbooks/echo.yaml"),
        "inputs:\n  who: { type: string }\nsteps:\n  - id: say\n    uses: retry-until\n    with:\n      command: \"echo hello {{ inputs.who }}\"\n      attempts: 1\n",
    )
    .expect("write the runbook");
    let hostile = format!("x; touch {}", marker.display());
    let out = Command::new(env!("CARGO_BIN_EXE_steward"))
        .args([
            "run",
            "echo",
            "-i",
            &format!("who={hostile}"),
            "--output",
            "json",
        ])
        .current_dir(dir.path())
        .env_remove("STEWARD_PROJECT")
        .output()
        .expect("steward run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        report["steps"]["say"]["result"]["stdout"],
        format!("hello {hostile}\n")
    );
    assert!(!marker.exists(), "the hostile input ran as a command");
}
