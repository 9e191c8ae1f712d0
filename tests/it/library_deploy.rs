//! The `deploy`, `rollback` and `health-check` runbooks (with
//! `restore-database` and `postgres-check`) end to end, through the
//! `steward` binary, against an application under test on loopback (a
//! staging and a production environment with health, version and deploy
//! hook endpoints), Slack and PagerDuty receivers, and the PostgreSQL of
//! this machine.

use std::time::Duration;

use crate::support::app::{App, DeployLog, Health, Receiver};
use crate::support::pg::{self, ScratchDb};
use crate::support::{Outcome, Project, Spawned, Test, me, net, wait_for};
use serde_json::{Value, json};

mod health_check;
mod rollback;

const TOKEN: &str = "deploy-tok-7781x";
const ROUTING_KEY: &str = "pd-routing-5521x";
const LIMIT: Duration = Duration::from_secs(60);
const GREEN: &str = "#2eb886";
const AMBER: &str = "#daa038";
const RED: &str = "#d00000";

/// A project with the repository's runbooks and templates, two environments
/// of the application, and the receivers of its notifications.
struct World {
    p: Project,
    log: DeployLog,
    staging: App,
    production: App,
    slack: Receiver,
    pagerduty: Receiver,
}

impl World {
    /// Both environments run `running`.
    fn new(running: &str) -> Self {
        let p = Project::new();
        p.copy_from_repo("runbooks");
        p.copy_from_repo("steps");
        let log = DeployLog::default();
        World {
            staging: App::start("staging", Some(running), &log),
            production: App::start("production", Some(running), &log),
            p,
            log,
            slack: Receiver::slack(),
            pagerduty: Receiver::pagerduty(),
        }
    }

    /// The inputs of a deploy of `version` with short waits; `extra` adds
    /// to them or overrides them.
    fn deploy_args(&self, version: &str, extra: &[(&str, &str)]) -> Vec<String> {
        let mut inputs = vec![
            ("version", version.to_owned()),
            ("staging_url", self.staging.url()),
            ("staging_deploy_hook", self.staging.hook()),
            ("production_url", self.production.url()),
            ("production_deploy_hook", self.production.hook()),
            ("test_command", "echo \"$VERSION\" > tested".to_owned()),
            ("build_command", "echo \"$VERSION\" > built".to_owned()),
            ("wait_attempts", "5".to_owned()),
            ("wait_delay", "50ms".to_owned()),
            ("pagerduty_url", self.pagerduty.url()),
        ];
        for (k, v) in extra {
            inputs.retain(|(name, _)| name != k);
            inputs.push((k, (*v).to_owned()));
        }
        inputs
            .into_iter()
            .flat_map(|(k, v)| ["-i".to_owned(), format!("{k}={v}")])
            .collect()
    }

    /// The secrets every runbook here reads, as environment variables.
    fn secrets(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DEPLOY_TOKEN", TOKEN.to_owned()),
            ("SLACK_WEBHOOK_URL", self.slack.url()),
            ("PAGERDUTY_ROUTING_KEY", ROUTING_KEY.to_owned()),
        ]
    }

    /// `steward run RUNBOOK --output json ARGS…` with the secrets (and
    /// `extra_env`), without DATABASE_URL unless given.
    fn run(&self, runbook: &str, args: &[String], extra_env: &[(&str, &str)]) -> Outcome {
        let mut all = vec!["--output".to_owned(), "json".to_owned()];
        all.extend_from_slice(args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        self.p.run_with(runbook, &all, |t| self.env(t, extra_env))
    }

    /// The same, in the background.
    fn spawn(&self, runbook: &str, args: &[String], extra_env: &[(&str, &str)]) -> Spawned {
        let test = self.p.test().args(["run", runbook, "--output", "json"]);
        self.env(test.args(args), extra_env).spawn()
    }

    /// The secrets, `extra_env`, and no DATABASE_URL unless given.
    fn env(&self, test: Test, extra_env: &[(&str, &str)]) -> Test {
        test.env_remove("DATABASE_URL")
            .envs(self.secrets())
            .envs(extra_env.iter().copied())
    }

    fn deploys(&self) -> Vec<(String, String)> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|d| (d.env.clone(), d.version.clone()))
            .collect()
    }

    /// Nothing secret in the output nor in any audit trail.
    fn assert_no_leak(&self, out: &Outcome) {
        self.p.assert_no_leak(out, &[TOKEN, ROUTING_KEY]);
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// The ids of the runs of `runbook` with `status`.
fn runs(p: &Project, runbook: &str, status: &str) -> Vec<String> {
    p.history(&["--status", status])
        .iter()
        .filter(|r| r["runbook"] == runbook)
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn colour(message: &Value) -> &str {
    message["attachments"][0]["color"].as_str().unwrap_or("?")
}

#[test]
fn a_deploy_goes_through_staging_to_production_and_is_announced() {
    let w = World::new("1.4.2");
    let out = w.run("deploy", &w.deploy_args("1.5.0", &[]), &[]);
    out.expect_code(0);

    assert_eq!(
        w.deploys(),
        pairs(&[("staging", "1.5.0"), ("production", "1.5.0")]),
        "staging first, then production"
    );
    for d in w.log.lock().unwrap().iter() {
        assert_eq!(d.auth.as_deref(), Some(&*format!("Bearer {TOKEN}")));
    }
    assert_eq!(w.p.read("tested").trim(), "1.5.0", "the tests ran");
    assert_eq!(w.p.read("built").trim(), "1.5.0", "the build ran");
    // Each environment was asked for its version, then polled until the new
    // one ran and was healthy; the smoke test (the default, curl) hit
    // staging only.
    for env in [&w.staging, &w.production] {
        assert!(env.count("GET", "/version") >= 2, "{}", env.env);
        assert!(env.count("GET", "/health") >= 1, "{}", env.env);
    }
    assert_eq!(w.staging.count("GET", "/"), 1);
    assert_eq!(w.production.count("GET", "/"), 0);
    assert_eq!(out.status("smoke"), "succeeded");

    let outputs = &out.report()["outputs"];
    assert_eq!(outputs["version"], "1.5.0");
    assert_eq!(outputs["environment"], "production");
    assert_eq!(outputs["previous_version"], "1.4.2");

    let slack = w.slack.bodies();
    assert_eq!(slack.len(), 1, "{slack:?}");
    assert_eq!(colour(&slack[0]), GREEN);
    let text = slack[0]["text"].as_str().unwrap();
    assert!(
        text.contains("app 1.5.0 is live and healthy in staging and production")
            && text.contains("production ran 1.4.2"),
        "{text}"
    );
    assert!(w.pagerduty.bodies().is_empty(), "no page");
    assert!(w.p.run_ids().len() == 1, "no rollback ran");
    w.assert_no_leak(&out);
}

#[test]
fn a_staging_deploy_stops_after_the_smoke_tests() {
    let w = World::new("1.4.2");
    let args = w.deploy_args(
        "1.5.0",
        &[
            ("environment", "staging"),
            (
                "smoke_command",
                "echo smoked \"$APP_URL\" \"$DEPLOY_ENV\" > smoked",
            ),
        ],
    );
    let out = w.run("deploy", &args, &[]);
    out.expect_code(0);
    assert_eq!(w.deploys(), pairs(&[("staging", "1.5.0")]));
    assert_eq!(
        w.p.read("smoked").trim(),
        format!("smoked {} staging", w.staging.url())
    );
    assert_eq!(out.status("production_deploy"), "skipped");
    assert_eq!(w.production.count("GET", "/version"), 0);
    assert_eq!(out.report()["outputs"]["previous_version"], "1.4.2");
}

#[test]
fn production_that_never_turns_healthy_is_rolled_back_and_pages() {
    let w = World::new("1.4.2");
    w.production.mark_bad("1.5.0");
    let out = w.run("deploy", &w.deploy_args("1.5.0", &[]), &[]);
    out.expect_code(1);
    assert_eq!(out.run_status(), "failed");
    assert_eq!(out.status("production_healthy"), "failed");
    assert_eq!(out.attempts("production_healthy"), 5, "wait_attempts");
    assert!(
        out.error("production_healthy").contains("HTTP 500"),
        "{}",
        out.error("production_healthy")
    );
    assert_eq!(out.status("announce"), "skipped");

    // The previous version was deployed again, by a child run of `rollback`.
    assert_eq!(
        w.deploys(),
        pairs(&[
            ("staging", "1.5.0"),
            ("production", "1.5.0"),
            ("production", "1.4.2"),
        ])
    );
    assert_eq!(w.production.version().as_deref(), Some("1.4.2"));
    assert_eq!(
        w.staging.version().as_deref(),
        Some("1.5.0"),
        "staging passed"
    );
    assert_eq!(out.status("rollback_production"), "succeeded");
    assert_eq!(out.status("rollback_staging"), "skipped");
    let child = out.step("rollback_production")["result"]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown = w.p.show(&child);
    assert_eq!(shown["runbook"], "rollback");
    assert_eq!(shown["status"], "succeeded");
    assert_eq!(shown["parent_run_id"], out.run_id().as_str());
    assert_eq!(shown["inputs"]["version"], "1.4.2");
    assert_eq!(shown["inputs"]["environment"], "production");

    let pages = w.pagerduty.bodies();
    assert_eq!(pages.len(), 1, "{pages:?}");
    assert_eq!(pages[0]["routing_key"], ROUTING_KEY);
    assert_eq!(pages[0]["event_action"], "trigger");
    assert_eq!(pages[0]["dedup_key"], "deploy-app-1.5.0");
    assert_eq!(pages[0]["payload"]["severity"], "critical");
    assert_eq!(pages[0]["payload"]["source"], "app");
    let summary = pages[0]["payload"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("to production failed at production_healthy")
            && summary.contains("rolled back to 1.4.2"),
        "{summary}"
    );

    // Slack heard from the rollback, then from the failed deploy.
    let slack = w.slack.bodies();
    assert_eq!(slack.len(), 2, "{slack:?}");
    assert_eq!(colour(&slack[0]), AMBER);
    let rolled = slack[0]["text"].as_str().unwrap();
    assert!(
        rolled.contains("app production runs 1.4.2 again (it ran 1.5.0)"),
        "{rolled}"
    );
    assert_eq!(colour(&slack[1]), RED);
    let failed = slack[1]["text"].as_str().unwrap();
    assert!(
        failed.contains("production_healthy failed")
            && failed.contains("Production was rolled back to 1.4.2"),
        "{failed}"
    );
    w.assert_no_leak(&out);
}

#[test]
fn a_failing_smoke_test_rolls_staging_back_without_a_page() {
    let w = World::new("1.4.2");
    let args = w.deploy_args(
        "1.5.0",
        &[("smoke_command", "echo checkout broken >&2; exit 1")],
    );
    let out = w.run("deploy", &args, &[]);
    out.expect_code(1);
    assert_eq!(out.status("smoke"), "failed");
    assert_eq!(
        w.deploys(),
        pairs(&[("staging", "1.5.0"), ("staging", "1.4.2")])
    );
    assert_eq!(out.status("rollback_staging"), "succeeded");
    assert_eq!(out.status("rollback_production"), "skipped");
    assert!(w.pagerduty.bodies().is_empty(), "staging doesn't page");
    let slack = w.slack.bodies();
    let failed = slack.last().unwrap();
    assert_eq!(colour(failed), AMBER);
    assert!(
        failed["text"]
            .as_str()
            .unwrap()
            .contains("smoke failed: exit code 1: checkout broken"),
        "{failed}"
    );
}

#[test]
fn failing_tests_deploy_nothing_and_page_nobody() {
    let w = World::new("1.4.2");
    let args = w.deploy_args(
        "1.5.0",
        &[("test_command", "echo 2 tests failed >&2; exit 1")],
    );
    let out = w.run("deploy", &args, &[]);
    out.expect_code(1);
    assert_eq!(out.status("tests"), "failed");
    assert_eq!(out.status("build"), "skipped");
    assert!(w.deploys().is_empty());
    assert_eq!(out.status("rollback_production"), "skipped");
    assert_eq!(out.status("rollback_staging"), "skipped");
    assert_eq!(out.status("page"), "skipped");
    assert!(w.pagerduty.bodies().is_empty());
    let slack = w.slack.bodies();
    assert_eq!(slack.len(), 1);
    assert_eq!(colour(&slack[0]), AMBER);
    assert_eq!(
        slack[0]["text"],
        "tests failed: exit code 1: 2 tests failed."
    );

    // A production deploy without production's URLs stops before the tests.
    let args = w.deploy_args("1.5.0", &[("production_url", "")]);
    let out = w.run("deploy", &args, &[]);
    out.expect_code(1);
    assert!(
        out.error("preflight").contains("needs production_url"),
        "{}",
        out.error("preflight")
    );
    assert_eq!(out.status("tests"), "skipped");
    assert!(w.deploys().is_empty());
}

#[test]
fn two_deploys_of_one_app_never_overlap() {
    let w = World::new("1.4.2");
    let hold = "touch \"started-$VERSION\"; while [ ! -f go ]; do sleep 0.05; done";
    let first = w.spawn(
        "deploy",
        &w.deploy_args("1.5.0", &[("test_command", hold)]),
        &[],
    );
    wait_for("the first deploy's tests", LIMIT, || {
        w.p.exists("started-1.5.0")
    });
    let second = w.spawn(
        "deploy",
        &w.deploy_args("1.5.1", &[("test_command", hold)]),
        &[],
    );
    wait_for("the second deploy to wait", LIMIT, || {
        !runs(&w.p, "deploy", "waiting").is_empty()
    });
    assert!(
        !w.p.exists("started-1.5.1"),
        "the second waits before any step"
    );
    assert!(w.deploys().is_empty());

    w.p.write("go", "");
    first.wait(LIMIT).expect_code(0);
    let second = second.wait(LIMIT);
    second.expect_code(0);
    assert!(
        second
            .stderr
            .contains("holds the concurrency key `deploy-app`"),
        "{}",
        second.stderr
    );
    assert_eq!(
        w.deploys(),
        pairs(&[
            ("staging", "1.5.0"),
            ("production", "1.5.0"),
            ("staging", "1.5.1"),
            ("production", "1.5.1"),
        ])
    );
}
