//! `incident-response`: decisions from another terminal while the run waits:
//! an acknowledgement that spares the page, and an offered rollback approved
//! or rejected.

use super::*;

#[test]
fn a_p1_pages_when_nobody_acknowledges_in_time() {
    let p = project();
    let r = Receivers::start();
    let out = run_incident(&p, &r, "", &["-i", "severity=P1", "-i", "ack_within=300ms"]);
    out.expect_code(0);
    let report = report(&out);
    let id = report["outputs"]["incident_id"].as_str().unwrap();
    let pages = r.pages();
    assert_eq!(pages.len(), 1, "{pages:#?}");
    assert_eq!(pages[0]["dedup_key"], id);
    assert_eq!(report["outputs"]["paged"], true);
    assert!(
        r.slack_texts()[0].contains(
            "Actions: On-call is paged unless the incident is acknowledged within 300ms."
        ),
        "{}",
        r.slack_texts()[0]
    );
    let events = events(&report["outputs"]);
    assert!(
        events.contains(&format!(
            "Not acknowledged (no decision within 300ms): paged on-call through PagerDuty, dedup key {id}"
        )),
        "{events:#?}"
    );
}

#[test]
fn a_p1_acknowledged_from_another_terminal_pages_nobody() {
    let p = project();
    let r = Receivers::start();
    let env = incident_env(&r, "");
    let pd = format!("pagerduty_url={}", r.pagerduty.url("/v2/enqueue"));
    let run = spawn_run(
        &p,
        "incident-response",
        &[
            "--output",
            "json",
            "-i",
            "severity=P1",
            "-i",
            "title=Search is down",
            "-i",
            &pd,
            "-i",
            "ack_within=5m",
        ],
        &env,
    );
    let id = wait_for_approvals(&p, &["acknowledge"]);
    p.steward(&["approve", &id, "acknowledge", "--comment", "on it"])
        .expect_code(0);
    let out = run.wait(LIMIT);
    out.expect_code(0);
    let report = report(&out);
    assert!(r.pages().is_empty(), "{:#?}", r.pages());
    assert_eq!(report["outputs"]["paged"], false);
    assert_eq!(report["steps"]["page_unacknowledged"]["status"], "skipped");
    let events = events(&report["outputs"]);
    assert!(
        events.contains(&format!(
            "Acknowledged by {} (cli): on-call not paged",
            me()
        )),
        "{events:#?}"
    );
}

/// A P2 with a rollback offered, started in the background; the rollback
/// command records its arguments and its environment.
fn offer_rollback(p: &Project, r: &Receivers) -> (Spawned, String) {
    let env = incident_env(r, "");
    let run = spawn_run(
        p,
        "incident-response",
        &[
            "--output",
            "json",
            "-i",
            "severity=P2",
            "-i",
            "title=Checkout slow since 1.4.2",
            "-i",
            "rollback_command=printf '%s|%s|%s\\n' {version} {environment} \"$ROLLBACK_VERSION\" > rolled-back",
            // A version that would run a command if it were not quoted.
            "-i",
            "rollback_version=1.4.1'; touch pwned; '",
            "-i",
            "environment=prod eu",
        ],
        &env,
    );
    let id = wait_for_approvals(p, &["offer_rollback"]);
    (run, id)
}

#[test]
fn an_approved_rollback_runs_the_command_with_quoted_values() {
    let p = project();
    let r = Receivers::start();
    let (run, id) = offer_rollback(&p, &r);
    assert!(!p.exists("rolled-back"), "nothing before the decision");
    let show: Value =
        serde_json::from_str(&p.steward(&["show", &id, "--output", "json"]).stdout).unwrap();
    let message = show["approvals"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Roll back prod eu to 1.4.1'; touch pwned; ' for INC-"),
        "{message}"
    );
    assert!(
        message.contains("Diagnostics: health: no endpoints given"),
        "{message}"
    );
    p.steward(&["approve", &id, "offer_rollback"])
        .expect_code(0);
    let out = run.wait(LIMIT);
    out.expect_code(0);
    let report = report(&out);
    assert_eq!(
        p.read("rolled-back"),
        "1.4.1'; touch pwned; '|prod eu|1.4.1'; touch pwned; '\n"
    );
    assert!(!p.exists("pwned"), "the version was run as a command");
    assert_eq!(report["outputs"]["rolled_back"], true);
    let events = events(&report["outputs"]);
    assert!(
        events.contains(&format!("Rollback approved by {} (cli)", me())),
        "{events:#?}"
    );
    assert!(
        events.contains(&"Rolled back prod eu to 1.4.1'; touch pwned; '".to_owned()),
        "{events:#?}"
    );
    let decided = p
        .audit_events(&id)
        .into_iter()
        .find(|e| e["event"] == "approval_decided" && e["step"] == "offer_rollback")
        .expect("the decision is in the audit trail");
    assert_eq!(decided["approved"], true);
    assert_eq!(decided["via"], "cli");
    let texts = r.slack_texts();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Status: Monitoring\n\nRolled back prod eu")),
        "{texts:#?}"
    );
}

#[test]
fn a_rejected_rollback_is_not_run_and_the_run_still_succeeds() {
    let p = project();
    let r = Receivers::start();
    let (run, id) = offer_rollback(&p, &r);
    p.steward(&[
        "reject",
        &id,
        "offer_rollback",
        "--comment",
        "the DB migration can't go back",
    ])
    .expect_code(0);
    let out = run.wait(LIMIT);
    out.expect_code(0);
    let report = report(&out);
    assert!(!p.exists("rolled-back"), "the rollback ran");
    assert_eq!(report["steps"]["rollback"]["status"], "skipped");
    assert_eq!(report["outputs"]["rolled_back"], false);
    let reason = format!(
        "Rollback not done: rejected by {}: the DB migration can't go back",
        me()
    );
    assert!(events(&report["outputs"]).contains(&reason));
    assert!(r.slack_texts().iter().any(|t| t.contains(&reason)));
}
