//! `runbooks/incident-response.yaml` and `runbooks/security-incident.yaml`
//! end to end, through the `steward` binary, against real servers on
//! loopback: the application's endpoints, a Slack receiver, a PagerDuty
//! receiver, a block hook, an SMTP receiver, and this machine's PostgreSQL
//! (a scratch database with a query running in it).

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::net::http::{Reply, Request, Server};
use crate::support::net::smtp::SmtpServer;
use crate::support::pg::ScratchDb;
use crate::support::{Outcome, Project, Spawned, me, net, wait_for};
use serde_json::{Value, json};
use sha2::Digest;

mod approvals;
mod security;

const LIMIT: Duration = Duration::from_secs(60);
const ROUTING_KEY: &str = "pd-routing-Key-7731";
const BLOCK_TOKEN: &str = "blk-Token-5530";
/// A password in the database URL: the local server trusts the login and
/// ignores it; it must never be shown.
const DB_PASSWORD: &str = "db-Pw-0917";

fn project() -> Project {
    let p = Project::new();
    p.copy_from_repo("runbooks");
    p.copy_from_repo("steps");
    p
}

/// Slack and PagerDuty receivers. PagerDuty answers as the Events API does,
/// echoing the dedup key.
struct Receivers {
    slack: Server,
    pagerduty: Server,
}

impl Receivers {
    fn start() -> Self {
        Receivers {
            slack: Server::start(|_, _| Reply::text(200, "ok")),
            pagerduty: Server::start(|req: &Request, _| {
                let key = req.json()["dedup_key"].clone();
                Reply::json(
                    202,
                    json!({"status": "success", "message": "Event processed", "dedup_key": key}),
                )
            }),
        }
    }

    /// The `text` of every Slack message, in order.
    fn slack_texts(&self) -> Vec<String> {
        self.slack
            .requests()
            .iter()
            .map(|r| r.json()["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn pages(&self) -> Vec<Value> {
        self.pagerduty
            .requests()
            .iter()
            .map(Request::json)
            .collect()
    }
}

/// The secrets and the PagerDuty endpoint of an incident-response run.
fn incident_env(r: &Receivers, database_url: &str) -> Vec<(String, String)> {
    vec![
        ("SLACK_WEBHOOK_URL".into(), r.slack.url("/services/T0/B0/x")),
        ("PAGERDUTY_ROUTING_KEY".into(), ROUTING_KEY.into()),
        ("DATABASE_URL".into(), database_url.into()),
    ]
}

fn run_incident(p: &Project, r: &Receivers, database_url: &str, args: &[&str]) -> Outcome {
    let mut all = vec!["--output", "json", "-i", "title=API returning 500 errors"];
    let pd = format!("pagerduty_url={}", r.pagerduty.url("/v2/enqueue"));
    all.extend_from_slice(&["-i", &pd]);
    all.extend_from_slice(args);
    let env = incident_env(r, database_url);
    p.run_with("incident-response", &all, |t| t.envs(env).timeout(LIMIT))
}

/// `steward run RUNBOOK ARGS…` in the background with these variables.
fn spawn_run(p: &Project, runbook: &str, args: &[&str], env: &[(String, String)]) -> Spawned {
    p.test()
        .args(["run", runbook])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .spawn()
}

/// The approvals a waiting run asks for now (step ids).
fn pending_approvals(p: &Project, run: &str) -> BTreeSet<String> {
    let out = p.steward(&["show", run, "--output", "json"]);
    let show: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    show["approvals"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| x["decision"].is_null())
                .map(|x| x["step"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the only run of the project waits for all of `steps`.
fn wait_for_approvals(p: &Project, steps: &[&str]) -> String {
    let mut id = String::new();
    wait_for("the run to wait for its approvals", LIMIT, || {
        let Some(first) = p.runs_with_status("waiting").into_iter().next() else {
            return false;
        };
        id = first;
        let pending = pending_approvals(p, &id);
        steps.iter().all(|s| pending.contains(*s))
    });
    id
}

fn report(out: &Outcome) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}\n--- stdout\n{}\n--- stderr\n{}",
            out.stdout, out.stderr
        )
    })
}

/// The timeline's events, in order.
fn events(outputs: &Value) -> Vec<String> {
    outputs["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .map(|e| {
            assert!(e["time"].is_string(), "every entry has a time: {e}");
            e["event"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// The application: one endpoint down (503, `critical`), one healthy, and a
/// deploy list.
fn app() -> Server {
    Server::start(|req: &Request, _| match req.path() {
        "/api/health" => Reply::json(503, json!({"status": "critical", "uptime": 12})),
        "/" => Reply::json(200, json!({"status": "healthy"})),
        "/deploys" => Reply::json(
            200,
            json!([{"version": "1.4.2", "at": "2025-01-02T10:00:00Z"}, {"version": "1.4.1", "at": "2025-01-01T09:00:00Z"}]),
        ),
        _ => Reply::text(404, "no such page"),
    })
}

/// A query that runs in `db` until the guard is dropped.
struct BusyQuery(Child);

impl BusyQuery {
    fn start(db: &ScratchDb) -> Self {
        let child = Command::new("psql")
            .args(["-X", "-q", "-d", &db.url, "-c"])
            .arg("SELECT pg_sleep(120) /* incident-busy */")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start psql");
        let busy = BusyQuery(child);
        wait_for("the busy query to run", LIMIT, || {
            db.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' \
                 AND query LIKE '%incident-busy */' AND pid <> pg_backend_pid()",
            ) == "1"
        });
        busy
    }
}

impl Drop for BusyQuery {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A git checkout with two commits.
fn repo(p: &Project) -> std::path::PathBuf {
    let dir = p.file("app-src");
    std::fs::create_dir_all(&dir).unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args([
                "-c",
                "user.name=Dev One",
                "-c",
                "user.email=dev@example.com",
            ])
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(ok.status.success(), "git {args:?}: {ok:?}");
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "release 1.4.1"]);
    git(&[
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "release 1.4.2: new checkout",
    ]);
    dir
}

#[test]
fn a_p0_pages_at_once_and_the_timeline_holds_the_diagnostics() {
    let p = project();
    let r = Receivers::start();
    let app = app();
    let db = ScratchDb::new();
    let _busy = BusyQuery::start(&db);
    p.write(
        "logs/app.log",
        "2025-01-02 10:00:01 INFO started\n\
         2025-01-02 10:00:02 ERROR db timeout on /checkout\n\
         2025-01-02 10:00:03 INFO request ok\n\
         2025-01-02 10:00:04 error: payment provider 502\n",
    );
    let src = repo(&p);
    let health = format!(
        "health_urls={}, {},http://127.0.0.1:{}/health",
        app.url("/api/health"),
        app.url("/"),
        net::closed_port()
    );
    let url = db
        .url
        .replacen("://postgres@", &format!("://postgres:{DB_PASSWORD}@"), 1);
    let out = run_incident(
        &p,
        &r,
        &url,
        &[
            "-i",
            "severity=P0",
            "-i",
            "impact=Nobody can check out",
            "-i",
            &health,
            "-i",
            &format!("deploys_url={}", app.url("/deploys")),
            "-i",
            &format!("repo_path={}", src.display()),
            "-i",
            "log_path=logs/app.log",
        ],
    );
    out.expect_code(0);
    let report = report(&out);
    let outputs = &report["outputs"];
    let id = outputs["incident_id"].as_str().unwrap().to_owned();
    let run_id = report["run_id"].as_str().unwrap();
    let date = &report["started_at"].as_str().unwrap()[..10];
    assert_eq!(
        id,
        format!(
            "INC-{}-{}",
            date.replace('-', ""),
            &run_id[run_id.len() - 8..]
        )
    );
    assert_eq!(outputs["paged"], true);

    // Paged at once: one trigger, keyed by the incident id.
    let pages = r.pages();
    assert_eq!(pages.len(), 1, "{pages:#?}");
    let page = &pages[0];
    assert_eq!(page["routing_key"], ROUTING_KEY);
    assert_eq!(page["event_action"], "trigger");
    assert_eq!(page["dedup_key"], id.as_str());
    assert_eq!(page["payload"]["severity"], "critical");
    assert_eq!(
        page["payload"]["summary"],
        format!("{id} (P0): API returning 500 errors").as_str()
    );
    assert_eq!(
        page["payload"]["custom_details"]["impact"],
        "Nobody can check out"
    );
    assert_eq!(page["payload"]["component"], "production");

    // The alert follows the communication template, line by line.
    let texts = r.slack_texts();
    let start = report["started_at"].as_str().unwrap()[..16].replace('T', " ");
    assert_eq!(
        texts[0],
        format!(
            "🚨 INCIDENT ALERT - P0\n\n\
             Incident ID: {id}\n\
             Start Time: {start} UTC\n\
             Status: Investigating\n\n\
             Issue: API returning 500 errors\n\
             Impact: Nobody can check out\n\
             Actions: Paging on-call now. Checking health endpoints, recent deploys, error logs and database activity.\n\n\
             Updates will be provided every 30 minutes."
        )
    );
    let first = r.slack.requests()[0].json();
    assert_eq!(
        first["attachments"][0]["color"], "#d00000",
        "critical is red"
    );

    // The diagnostics: health of each endpoint, deploys, commits, the error
    // lines of the log, and the database's activity with the running query.
    let diagnostics = outputs["diagnostics"].as_str().unwrap();
    for expected in [
        format!("health: {} HTTP 503 critical", app.url("/api/health")),
        format!("health: {} HTTP 200 healthy", app.url("/")),
        "/health unreachable".to_owned(),
        "deploys: [{\"at\":\"2025-01-02T10:00:00Z\",\"version\":\"1.4.2\"}".to_owned(),
        "release 1.4.2: new checkout".to_owned(),
        "errors: 2 lines matching ERROR|FATAL|CRITICAL|Traceback in logs/app.log".to_owned(),
        "  | 2025-01-02 10:00:02 ERROR db timeout on /checkout".to_owned(),
        "  | 2025-01-02 10:00:04 error: payment provider 502".to_owned(),
        "database: 1 connections, 1 active, 0 idle in transaction, 0 waiting on locks".to_owned(),
        "SELECT pg_sleep(120) /* incident-busy */".to_owned(),
    ] {
        assert!(
            diagnostics.contains(&expected),
            "{expected:?} missing from\n{diagnostics}"
        );
    }
    assert!(!diagnostics.contains("INFO request ok"), "{diagnostics}");

    // The timeline: opened, posted, paged, diagnosed.
    let events = events(outputs);
    assert_eq!(
        events[0],
        format!("Incident {id} opened (P0): API returning 500 errors")
    );
    assert_eq!(events[1], "Alert posted in the incident channel");
    assert_eq!(
        events[2],
        format!("Paged on-call through PagerDuty at once (P0), dedup key {id}")
    );
    let diagnosed = &events[3];
    for expected in [
        "Diagnostics: health: ",
        "HTTP 503 critical",
        "unreachable",
        "errors: 2 lines matching",
        "database: 1 connections, 1 active",
    ] {
        assert!(diagnosed.contains(expected), "{expected:?} in {diagnosed}");
    }
    assert!(
        !diagnosed.contains("  |"),
        "excerpts stay out of the timeline"
    );
    assert_eq!(events.len(), 4, "{events:#?}");

    // Updates: the diagnostics, then the timeline at the end.
    assert_eq!(texts.len(), 3, "{texts:#?}");
    assert!(texts[1].starts_with(&format!(
        "🚨 INCIDENT UPDATE - P0\n\nIncident ID: {id}\nStatus: Investigating\n\nhealth: "
    )));
    assert!(texts[1].contains("  | 2025-01-02 10:00:02 ERROR db timeout on /checkout"));
    assert!(texts[2].contains("Timeline (time since the alert):\n• 0s Incident opened (P0)\n• "));
    assert!(texts[2].contains(&format!(
        "Paged on-call through PagerDuty at once (P0), dedup key {id}"
    )));
    assert!(texts[2].ends_with("Next update within 30 minutes."));

    let all = p.everything(&out);
    assert!(!all.contains(ROUTING_KEY), "the routing key leaked");
    assert!(!all.contains(DB_PASSWORD), "the database password leaked");
}

#[test]
fn a_p3_goes_to_slack_only() {
    let p = project();
    let r = Receivers::start();
    // No database for this one: an empty DATABASE_URL skips it.
    let out = run_incident(
        &p,
        &r,
        "",
        &["-i", "severity=P3", "-i", "title=Typo on the pricing page"],
    );
    out.expect_code(0);
    let report = report(&out);
    assert!(r.pages().is_empty(), "a P3 pages nobody: {:#?}", r.pages());
    assert_eq!(report["outputs"]["paged"], false);
    assert_eq!(report["steps"]["page"]["status"], "skipped");
    assert_eq!(report["steps"]["db_activity"]["status"], "skipped");
    let texts = r.slack_texts();
    assert!(
        texts[0].starts_with("⚠️ INCIDENT ALERT - P3\n\nIncident ID: INC-"),
        "{}",
        texts[0]
    );
    assert!(texts[0].contains("\nIssue: Typo on the pricing page\nImpact: Being assessed\nActions: Checking health endpoints"));
    let first = r.slack.requests()[0].json();
    assert_eq!(first["attachments"][0]["color"], "#2eb886", "info is green");
    let events = events(&report["outputs"]);
    assert_eq!(events.len(), 3, "{events:#?}");
    assert_eq!(events[2], "Diagnostics: health: no endpoints given");
}
