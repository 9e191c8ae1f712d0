//! `runbooks/health-check.yaml` (with `postgres-check`): healthy, degraded
//! and critical, and the database checked only when asked.

use super::*;

/// A health-check of the app (critical) and a storage service (not).
fn health(w: &World, storage: &App, extra: &[(&str, &str)]) -> Outcome {
    let mut inputs = vec![
        format!(
            "checks=web={}/health, storage={}/health",
            w.production.url(),
            storage.url()
        ),
        "noncritical=storage".to_owned(),
        "timeout=500ms".to_owned(),
        "attempts=1".to_owned(),
        format!("pagerduty_url={}", w.pagerduty.url()),
    ];
    inputs.extend(extra.iter().map(|(k, v)| format!("{k}={v}")));
    let args: Vec<String> = inputs
        .into_iter()
        .flat_map(|i| ["-i".to_owned(), i])
        .collect();
    w.run("health-check", &args, &[])
}

#[test]
fn health_check_reports_healthy_degraded_and_critical() {
    let w = World::new("1.4.2");
    let storage = App::start("storage", Some("1"), &w.log);

    let out = health(&w, &storage, &[]);
    out.expect_code(0);
    assert_eq!(out.report()["outputs"]["status"], "healthy");
    assert_eq!(
        out.report()["outputs"]["checks"],
        json!({ "web": "ok", "storage": "ok" })
    );
    assert!(w.slack.bodies().is_empty() && w.pagerduty.bodies().is_empty());

    // The app says it is degraded and storage doesn't answer: degraded.
    w.production.set_health(Health::Degraded);
    storage.set_health(Health::Hanging);
    let out = health(&w, &storage, &[]);
    out.expect_code(0);
    assert_eq!(out.report()["outputs"]["status"], "degraded");
    assert_eq!(
        out.report()["outputs"]["failing"],
        json!(["web (said degraded)", "storage (no answer)"])
    );
    let slack = w.slack.bodies();
    assert_eq!(slack.len(), 1);
    assert_eq!(colour(&slack[0]), AMBER);
    assert_eq!(
        slack[0]["text"],
        "app is degraded: web (said degraded); storage (no answer)"
    );
    assert!(w.pagerduty.bodies().is_empty(), "degraded doesn't page");

    // The app fails: critical, which pages and fails the run.
    w.production.set_health(Health::Failing);
    storage.set_health(Health::Healthy);
    let out = health(&w, &storage, &[]);
    out.expect_code(1);
    assert_eq!(out.step("evaluate")["outputs"]["status"], "critical");
    assert!(
        out.error("verdict")
            .contains("app is critical: web (HTTP 500)"),
        "{}",
        out.error("verdict")
    );
    let slack = w.slack.bodies();
    assert_eq!(slack.len(), 2);
    assert_eq!(colour(&slack[1]), RED);
    let pages = w.pagerduty.bodies();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0]["dedup_key"], "health-app");
    assert_eq!(pages[0]["payload"]["severity"], "critical");
    assert_eq!(
        pages[0]["payload"]["summary"],
        "app is critical: web (HTTP 500)"
    );

    // The same state, for a caller that reads the status rather than the
    // exit code.
    let out = health(&w, &storage, &[("fail_on_critical", "false")]);
    out.expect_code(0);
    assert_eq!(out.report()["outputs"]["status"], "critical");
    assert_eq!(w.pagerduty.bodies().len(), 2);
    w.assert_no_leak(&out);
}

#[test]
fn health_check_checks_the_database_only_when_asked() {
    let w = World::new("1.4.2");
    let storage = App::start("storage", Some("1"), &w.log);
    let db = ScratchDb::new();
    // Asked, with a database that answers.
    let args: Vec<String> = [
        format!("checks=web={}/health", w.production.url()),
        "check_database=true".to_owned(),
        "timeout=2s".to_owned(),
    ]
    .into_iter()
    .flat_map(|i| ["-i".to_owned(), i])
    .collect();
    let out = w.run("health-check", &args, &[("DATABASE_URL", &db.url)]);
    out.expect_code(0);
    assert_eq!(out.report()["outputs"]["status"], "healthy");
    assert_eq!(
        out.report()["outputs"]["checks"],
        json!({ "web": "ok", "database": "ok" })
    );
    assert_eq!(out.step("database")["result"]["status"], "succeeded");

    // Asked, with a database that doesn't answer, which is not critical.
    let closed = format!("postgres://postgres@127.0.0.1:{}/x", net::closed_port());
    let out = health(
        &w,
        &storage,
        &[("check_database", "true"), ("database_critical", "false")],
    );
    // (DATABASE_URL is not set in `health`: the child run can't start.)
    out.expect_code(0);
    assert_eq!(out.report()["outputs"]["status"], "degraded");
    assert!(
        out.error("database").contains("DATABASE_URL"),
        "{}",
        out.error("database")
    );
    let args: Vec<String> = [
        format!("checks=web={}/health", w.production.url()),
        "check_database=true".to_owned(),
        "database_critical=false".to_owned(),
        "timeout=1s".to_owned(),
    ]
    .into_iter()
    .flat_map(|i| ["-i".to_owned(), i])
    .collect();
    let out = w.run("health-check", &args, &[("DATABASE_URL", &closed)]);
    out.expect_code(0);
    assert_eq!(out.report()["outputs"]["status"], "degraded");
    let failing = out.report()["outputs"]["failing"][0].as_str().unwrap();
    assert!(
        failing.starts_with("database (") && failing.contains("can't connect"),
        "{failing}"
    );
    assert!(w.pagerduty.bodies().is_empty());
}
