//! The audit trail: what a run records, who started it (CLI or CI), and
//! `steward audit verify` on good and tampered trails.

use crate::support::{self, Project, Test};
use serde_json::Value;
use sha2::{Digest, Sha256};

const RUNBOOK: &str = r#"
inputs:
  target: { type: string, default: staging }
secrets: [AUDIT_TOKEN]
steps:
  - id: first
    shell: echo "deploying to {{ inputs.target }} with {{ secrets.AUDIT_TOKEN }}"
  - id: second
    shell: echo "oops" >&2; exit 3
    continue_on_error: true
  - id: third
    sleep: 10ms
"#;

const TOKEN: &str = "audit-secret-value-93jf";

/// Runs the test runbook; returns the project and the run id.
fn recorded_run(setup: impl FnOnce(Test) -> Test) -> (Project, String) {
    let p = Project::with_runbook("audited", RUNBOOK);
    let out = p.run_with("audited", &["--output", "json", "-i", "target=prod"], |t| {
        setup(t.env("AUDIT_TOKEN", TOKEN))
    });
    out.expect_code(0);
    let id = out.run_id();
    (p, id)
}

fn lines(p: &Project, run: &str) -> Vec<String> {
    std::fs::read_to_string(p.audit_path(run))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_run_records_its_events_in_a_hash_chain() {
    let (p, run) = recorded_run(|t| t);
    let text = std::fs::read_to_string(p.audit_path(&run)).unwrap();
    assert!(!text.contains(TOKEN), "the secret is not in the trail");

    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut prev = "0".repeat(64);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["seq"], (i + 1) as u64);
        assert_eq!(
            line["prev"],
            prev.as_str(),
            "line {} chains to the one before",
            i + 1
        );
        prev = line["hash"].as_str().unwrap().to_owned();
    }

    let events: Vec<&Value> = lines.iter().map(|l| &l["event"]).collect();
    let started = events[0];
    assert_eq!(started["event"], "run_started");
    assert_eq!(started["run_id"], run.as_str());
    assert_eq!(started["runbook"], "audited");
    let source = std::fs::read(p.file("runbooks/audited.yaml")).unwrap();
    assert_eq!(
        started["source_sha256"],
        hex::encode(Sha256::digest(&source))
    );
    assert_eq!(started["inputs"]["target"], "prod");
    assert_eq!(started["trigger"]["kind"], "cli");
    assert!(!started["trigger"]["actor"].as_str().unwrap().is_empty());

    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.last(), Some(&"run_finished"));
    assert_eq!(events.last().unwrap()["status"], "succeeded");
    assert!(!kinds.contains(&"output"), "live output lines are not kept");

    let attempt = |kind: &str, step: &str| {
        events
            .iter()
            .find(|e| e["event"] == kind && e["step"] == step)
            .unwrap_or_else(|| panic!("no {kind} for {step}"))
    };
    let first_started = attempt("attempt_started", "first");
    assert_eq!(first_started["attempt"], 1);
    assert!(
        first_started["detail"]
            .as_str()
            .unwrap()
            .contains("deploying to prod with ***")
    );
    let second = attempt("attempt_finished", "second");
    assert_eq!(second["status"], "failed");
    assert_eq!(second["exit_code"], 3);
    assert!(second["duration_ms"].is_u64());
    assert_eq!(second["output"], "oops\n");
    let first = attempt("attempt_finished", "first");
    assert_eq!(first["output"], "deploying to prod with ***\n");
    assert_eq!(attempt("step_finished", "third")["status"], "succeeded");
}

#[test]
fn verify_accepts_an_untouched_trail() {
    let (p, run) = recorded_run(|t| t);
    let n = lines(&p, &run).len();
    let out = p.audit_verify(&[&run]);
    out.expect_code(0);
    assert!(
        out.stdout
            .starts_with(&format!("ok: {n} events, chain intact")),
        "{}",
        out.stdout
    );
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);

    // The same file by path, copied elsewhere.
    let copy = p.write(
        "copy.jsonl",
        &std::fs::read_to_string(p.audit_path(&run)).unwrap(),
    );
    let out = p.audit_verify(&["--file", copy.to_str().unwrap()]);
    out.expect_code(0);
    assert!(out.stdout.starts_with(&format!("ok: {n} events")));
}

/// Writes `lines` to a file and verifies it; returns the outcome.
fn verify_lines(p: &Project, name: &str, lines: &[String]) -> support::Outcome {
    let path = p.write(name, &(lines.join("\n") + "\n"));
    p.audit_verify(&["--file", path.to_str().unwrap()])
}

#[test]
fn verify_detects_an_edited_field() {
    let (p, run) = recorded_run(|t| t);
    let mut edited = lines(&p, &run);
    let i = edited
        .iter()
        .position(|l| l.contains(r#""exit_code":3"#))
        .expect("the failed attempt");
    edited[i] = edited[i].replace(r#""exit_code":3"#, r#""exit_code":0"#);
    let out = verify_lines(&p, "edited.jsonl", &edited);
    out.expect_code(1);
    assert!(
        out.stderr.contains(&format!("line {}", i + 1)),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("edited"), "{}", out.stderr);

    // Editing the trail of the run in place is caught through its id too.
    std::fs::write(p.audit_path(&run), edited.join("\n") + "\n").unwrap();
    let out = p.audit_verify(&[&run]);
    out.expect_code(1);
    assert!(
        out.stderr.contains(&format!("line {}", i + 1)),
        "{}",
        out.stderr
    );
}

#[test]
fn verify_detects_a_removed_line() {
    let (p, run) = recorded_run(|t| t);
    let mut cut = lines(&p, &run);
    cut.remove(3);
    let out = verify_lines(&p, "cut.jsonl", &cut);
    out.expect_code(1);
    assert!(out.stderr.contains("line 4"), "{}", out.stderr);
    assert!(out.stderr.contains("missing"), "{}", out.stderr);
}

#[test]
fn verify_detects_two_swapped_lines() {
    let (p, run) = recorded_run(|t| t);
    let mut swapped = lines(&p, &run);
    swapped.swap(2, 3);
    let out = verify_lines(&p, "swapped.jsonl", &swapped);
    out.expect_code(1);
    assert!(out.stderr.contains("line 3"), "{}", out.stderr);
}

#[test]
fn verify_warns_about_a_trail_cut_before_run_finished() {
    let (p, run) = recorded_run(|t| t);
    let mut cut = lines(&p, &run);
    cut.pop();
    let out = verify_lines(&p, "short.jsonl", &cut);
    out.expect_code(0);
    assert!(out.stderr.contains("run_finished"), "{}", out.stderr);
}

#[test]
fn verify_of_an_unknown_run_is_a_usage_error() {
    let p = Project::new();
    let out = p.audit_verify(&["no-such-run"]);
    out.expect_code(2);
}

#[test]
fn a_run_in_github_actions_records_the_ci_actor() {
    let (p, run) = recorded_run(|t| {
        t.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTOR", "octocat")
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_REPOSITORY", "acme/app")
            .env("GITHUB_RUN_ID", "42")
    });
    let trigger = &p.audit_events(&run)[0]["trigger"];
    assert_eq!(trigger["kind"], "ci");
    assert_eq!(trigger["actor"], "octocat (github-actions)");
    assert_eq!(
        trigger["origin"],
        "https://github.com/acme/app/actions/runs/42"
    );
}

#[test]
fn a_run_in_gitlab_records_the_ci_actor() {
    let (p, run) = recorded_run(|t| {
        t.env("GITLAB_CI", "true")
            .env("GITLAB_USER_LOGIN", "ann")
            .env("CI_JOB_URL", "https://gitlab.example/job/7")
    });
    let trigger = &p.audit_events(&run)[0]["trigger"];
    assert_eq!(trigger["kind"], "ci");
    assert_eq!(trigger["actor"], "ann (gitlab)");
    assert_eq!(trigger["origin"], "https://gitlab.example/job/7");
}

#[test]
fn a_run_with_just_ci_set_is_a_ci_run() {
    let (p, run) = recorded_run(|t| t.env("CI", "true"));
    let trigger = &p.audit_events(&run)[0]["trigger"];
    assert_eq!(trigger["kind"], "ci");
    assert!(
        trigger["actor"].as_str().unwrap().ends_with("(ci)"),
        "{trigger}"
    );
}
