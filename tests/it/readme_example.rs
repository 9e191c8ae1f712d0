//! The runbook shown in the README compiles, and its dry run renders.

use crate::support::serve::Served;
use crate::support::{Project, Test};

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

    let test = Test::new().runbook("deploy-app", yaml);
    let p = test.project().clone();
    test.find_project().arg("validate").run();

    let dry = p
        .test()
        .find_project()
        .args(["run", "deploy-app", "-i", "version=1.2.3", "--dry-run"])
        .env("DEPLOY_TOKEN", "readme-secret-value")
        .stdout_contains("make release VERSION=1.2.3")
        .run();
    assert!(
        !dry.stdout.contains("readme-secret-value"),
        "{}",
        dry.stdout
    );
    assert!(!p.exists(".steward"), "a dry run leaves no run behind");
}

/// The server configuration shown in the README is accepted by `steward
/// serve`, which then listens (and is stopped by this test).
#[test]
fn the_readme_server_configuration_starts_a_server() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find("# steward.yaml (values are names")
        .expect("the README's server example");
    let body = &readme[start..];
    let yaml = &body[..body.find("```").expect("the end of the example")];

    let p = Project::new();
    p.write("steward.yaml", yaml);
    let server = Served::start(
        &p,
        &[
            ("CI_TOKEN", "readme-ci-token"),
            ("GH_HOOK_SECRET", "readme-hook-secret"),
            ("SLACK_SIGNING_SECRET", "readme-slack-secret"),
        ],
        &[],
    );
    assert!(
        server
            .output()
            .contains("webhook: POST /hooks/gh starts deploy"),
        "{}",
        server.output()
    );
}
