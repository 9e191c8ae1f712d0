//! `steward run --dry-run`: nothing executes; the plan shows rendered
//! commands with secrets masked, conditions decided now or at run time, and
//! every gate.

use crate::support::{self, Project};

const DEPLOY: &str = r#"
secrets: [DEPLOY_TOKEN]
inputs:
  version: { type: string, pattern: '^\d+\.\d+\.\d+$', required: true }
  notify: { type: bool, default: false }
vars:
  api: "https://{{ 'prod' if inputs.notify else 'staging' }}.example.com"
concurrency: "deploy-{{ inputs.version }}"
timeout: 5m
max_parallel: 3
steps:
  - id: release
    shell: |
      touch release.marker
      curl -H "Authorization=Bearer {{ secrets.DEPLOY_TOKEN }}" {{ vars.api }}/deploy/{{ inputs.version }}
    retry: { attempts: 3, delay: 1s, backoff: exponential, on: [timeout] }
    timeout: 10s
    undo:
      id: rollback
      shell: touch rollback.marker
  - id: announce
    when: inputs.notify
    shell: touch announce.marker
  - id: verify
    needs: [release]
    when: steps.release.result.exit_code == 0
    continue_on_error: true
    shell: touch verify.marker; echo {{ steps.release.result.stdout }}
    assert: ["result.exit_code == 0"]
  - id: first_thing
    needs: []
    shell: touch first.marker
finally:
  - id: cleanup
    shell: touch cleanup.marker
"#;

const TOKEN: &str = "dry-run-token-5f7a";

fn dry(p: &Project, extra: &[&str]) -> support::Outcome {
    let mut args = vec!["--dry-run", "-i", "version=1.4.2"];
    args.extend_from_slice(extra);
    p.run_with("deploy", &args, |t| t.env("DEPLOY_TOKEN", TOKEN))
}

fn nothing_ran(p: &Project) {
    for marker in [
        "release.marker",
        "rollback.marker",
        "announce.marker",
        "verify.marker",
        "first.marker",
        "cleanup.marker",
    ] {
        assert!(!p.exists(marker), "{marker}: the dry run executed a step");
    }
    assert!(p.run_ids().is_empty(), "a dry run starts no run");
}

#[test]
fn a_dry_run_executes_nothing_and_shows_the_rendered_plan() {
    let p = Project::with_runbook("deploy", DEPLOY);
    let out = dry(&p, &[]);
    out.expect_code(0);
    nothing_ran(&p);
    let text = &out.stdout;
    assert!(!out.all_output().contains(TOKEN), "the secret is masked");
    assert!(
        text.contains(
            r#"curl -H "Authorization=Bearer ***" https://staging.example.com/deploy/1.4.2"#
        ),
        "the command is rendered with inputs and vars:\n{text}"
    );
    assert!(text.contains("1.4.2"), "resolved inputs are shown");
    assert!(
        text.contains("https://staging.example.com"),
        "resolved vars are shown"
    );
    // Gates.
    assert!(text.contains("deploy-1.4.2"), "concurrency key:\n{text}");
    assert!(text.contains("5m"), "run timeout");
    assert!(text.contains("retry: 3 attempts"), "{text}");
    assert!(text.contains("exponential"));
    assert!(text.contains("timeout: 10"), "{text}");
    assert!(text.contains("continue_on_error"));
    assert!(text.contains("assert: result.exit_code == 0"));
    assert!(text.contains("rollback"), "undo steps are shown");
    // Conditions.
    let line = |id: &str| -> String {
        let at = text
            .find(&format!(". {id} "))
            .unwrap_or_else(|| panic!("{id} missing:\n{text}"));
        text[at..].lines().take(3).collect::<Vec<_>>().join("\n")
    };
    assert!(
        line("announce").contains("false now"),
        "{}",
        line("announce")
    );
    assert!(line("verify").contains("run time"), "{}", line("verify"));
    // Order respects needs.
    assert!(text.find(". release ").unwrap() < text.find(". verify ").unwrap());
    assert!(text.find("[finally]").unwrap() < text.find(". cleanup ").unwrap());

    let out = p.run_with(
        "deploy",
        &["--dry-run", "-i", "version=1.4.2", "-i", "notify=true"],
        |t| t.env("DEPLOY_TOKEN", TOKEN),
    );
    out.expect_code(0);
    assert!(out.stdout.contains("https://prod.example.com/deploy/1.4.2"));
    let at = out.stdout.find(". announce ").unwrap();
    assert!(
        out.stdout[at..]
            .lines()
            .take(3)
            .any(|l| l.contains("true now"))
    );
    nothing_ran(&p);
}

#[test]
fn a_dry_run_as_json_parses() {
    let p = Project::with_runbook("deploy", DEPLOY);
    let out = dry(&p, &["--output", "json"]);
    out.expect_code(0);
    nothing_ran(&p);
    assert!(!out.all_output().contains(TOKEN));
    let doc = out.report();
    assert_eq!(doc["runbook"], "deploy");
    assert_eq!(doc["inputs"]["version"], "1.4.2");
    assert_eq!(doc["vars"]["api"], "https://staging.example.com");
    let steps = doc["steps"].as_array().expect("a list of steps");
    let step = |id: &str| {
        steps
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("no {id} in {doc:#}"))
    };
    let release = step("release");
    assert!(release["action"].as_str().unwrap().contains("Bearer ***"));
    let gates: Vec<&str> = release["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert!(
        gates.iter().any(|g| g.starts_with("retry: 3 attempts")),
        "{gates:?}"
    );
    assert!(gates.iter().any(|g| g.starts_with("timeout")), "{gates:?}");
    assert!(step("announce")["when"].as_str().unwrap().contains("false"));
    assert!(
        step("verify")["when"]
            .as_str()
            .unwrap()
            .contains("run time")
    );
    step("rollback");
    step("cleanup");
}

#[test]
fn a_dry_run_still_validates_inputs_and_secrets() {
    let p = Project::with_runbook("deploy", DEPLOY);
    let out = p.run("deploy", &["--dry-run", "-i", "version=latest"]);
    out.expect_code(2);
    assert!(out.stderr.contains("version"), "{}", out.stderr);
    assert!(out.stderr.contains("DEPLOY_TOKEN"), "{}", out.stderr);
    nothing_ran(&p);
}
