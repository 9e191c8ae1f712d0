//! The runbook shown in the README compiles, and its dry run renders.

use std::process::Command;

#[test]
fn the_readme_runbook_validates_and_dry_runs() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find("# runbooks/deploy-app.yaml\n")
        .expect("the README example");
    let body = &readme[start..];
    let body = &body[body.find('\n').expect("a newline") + 1..];
    let yaml = &body[..body.find("```").expect("the end of the example")];

    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::create_dir(dir.path().join("runbooks")).expect("runbooks/");
    std::fs::write(dir.path().join("runbooks/deploy-app.yaml"), yaml).expect("write");
    let bin = env!("CARGO_BIN_EXE_steward");

    let validate = Command::new(bin)
        .args(["validate"])
        .current_dir(dir.path())
        .env_remove("STEWARD_PROJECT")
        .output()
        .expect("steward validate");
    assert!(
        validate.status.success(),
        "{}",
        String::from_utf8_lossy(&validate.stderr)
    );

    let dry = Command::new(bin)
        .args(["run", "deploy-app", "-i", "version=1.2.3", "--dry-run"])
        .current_dir(dir.path())
        .env_remove("STEWARD_PROJECT")
        .env("DEPLOY_TOKEN", "readme-secret-value")
        .output()
        .expect("steward run --dry-run");
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(stdout.contains("make release VERSION=1.2.3"), "{stdout}");
    assert!(!stdout.contains("readme-secret-value"), "{stdout}");
    assert!(
        !dir.path().join(".steward").exists(),
        "a dry run leaves no run behind"
    );
}

/// The server configuration shown in the README is accepted by `steward
/// serve`, which then listens (and is stopped by this test).
#[test]
fn the_readme_server_configuration_starts_a_server() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find("# steward.yaml (values are names")
        .expect("the README's server example");
    let body = &readme[start..];
    let yaml = &body[..body.find("```").expect("the end of the example")];

    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::create_dir(dir.path().join("runbooks")).expect("runbooks/");
    std::fs::write(dir.path().join("steward.yaml"), yaml).expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_remove("STEWARD_PROJECT")
        .envs([
            ("CI_TOKEN", "readme-ci-token"),
            ("GH_HOOK_SECRET", "readme-hook-secret"),
            ("SLACK_SIGNING_SECRET", "readme-slack-secret"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start steward serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let listening = loop {
        match rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(line) if line.starts_with("listening on ") => break true,
            Ok(line) => seen.push(line),
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(listening, "steward serve did not start: {seen:?}");
    assert!(
        seen.iter()
            .any(|l| l.contains("webhook: POST /hooks/gh starts deploy")),
        "{seen:?}"
    );
}
