//! `runbooks/daily-checks.yaml`: the checklist, its summary in Slack, and the
//! exit code when a check fails.

use super::*;

/// The application: `/health` healthy, `/` a web page, `/metrics`
/// Prometheus text, `/down` 503, `/degraded` 200 with a degraded status.
fn app() -> Server {
    Server::start(|req, _| match req.path() {
        "/health" => Reply::json(200, json!({ "status": "healthy", "db": "ok" })),
        "/" => Reply::text(200, "<html><body>diet planner</body></html>"),
        "/metrics" => Reply::text(
            200,
            "# TYPE request_count counter\nrequest_count 1042\nerror_count 3\nuptime 86400\n",
        ),
        "/down" => Reply::json(503, json!({ "status": "down" })),
        "/degraded" => Reply::json(200, json!({ "status": "degraded" })),
        _ => Reply::json(404, json!({})),
    })
}

struct Checklist {
    p: Project,
    db: ScratchDb,
    app: Server,
    slack: Server,
}

impl Checklist {
    fn new() -> Self {
        let db = ScratchDb::new();
        db.sql(
            "CREATE TABLE users (id serial PRIMARY KEY);
             INSERT INTO users SELECT FROM generate_series(1, 7);
             CREATE TABLE diet_plans (id serial PRIMARY KEY);",
        );
        let p = project();
        std::fs::create_dir_all(p.file("backups")).unwrap();
        touch(
            &p.file("backups/backup_20260101_020000.sql.gz"),
            "3 hours ago",
        );
        touch(
            &p.file("backups/backup_20251231_020000.sql.gz"),
            "27 hours ago",
        );
        p.write(
            "logs/app.log",
            &"INFO GET /api/health 200\nWARN slow request\n".repeat(50),
        );
        Checklist {
            p,
            db,
            app: app(),
            slack: Server::start(|_, _| Reply::text(200, "ok")),
        }
    }

    fn run(&self, args: &[&str]) -> Outcome {
        let env = [
            ("DATABASE_URL", with_password(&self.db)),
            (
                "SLACK_WEBHOOK_URL",
                self.slack.url(&format!("/services/T0/B0/{SLACK_TOKEN}")),
            ),
        ];
        let health = format!(
            "health_urls={}, {}",
            self.app.url("/health"),
            self.app.url("/")
        );
        let metrics = format!("metrics_url={}", self.app.url("/metrics"));
        let mut all = vec![
            "-i",
            &health,
            "-i",
            &metrics,
            "-i",
            "metrics_expect=error_count,request_count,uptime",
            "-i",
            "log_file=logs/app.log",
            "-i",
            "db_tables=users, diet_plans",
            // Never a warning from this shared machine's disk or server
            // (tests choose their own; the last value given wins).
            "-i",
            "disk_warn_percent=101",
            "-i",
            "disk_fail_percent=101",
            "-i",
            "connections_warn_percent=101",
            // A failing endpoint fails after two quick tries.
            "-i",
            "health_attempts=2",
            "-i",
            "health_delay=50ms",
        ];
        all.extend_from_slice(args);
        run(&self.p, "daily-checks", &env, &all)
    }

    /// The one Slack message of the last run.
    fn slack_message(&self) -> Value {
        let got = self.slack.requests();
        assert_eq!(got.len(), 1, "one message: {got:?}");
        assert_eq!(got[0].path(), format!("/services/T0/B0/{SLACK_TOKEN}"));
        got[0].json()
    }
}

fn checks(out: &Outcome) -> Vec<(String, String)> {
    out.step("summary")["outputs"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn detail(out: &Outcome, check: &str) -> String {
    out.step("summary")["outputs"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == check)
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn title(message: &Value) -> &str {
    message["attachments"][0]["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
}

#[test]
fn daily_checks_all_green_sends_an_ok_summary() {
    let c = Checklist::new();
    let out = c.run(&[]);
    out.expect_code(0);
    let all: Vec<(String, String)> = [
        "health",
        "metrics",
        "logs",
        "database",
        "connections",
        "backup",
        "disk",
    ]
    .iter()
    .map(|n| (n.to_string(), "ok".to_string()))
    .collect();
    assert_eq!(checks(&out), all);
    assert_eq!(out.report()["outputs"]["status"], "ok");
    assert_eq!(detail(&out, "health"), "2 endpoint(s) healthy");
    assert_eq!(
        detail(&out, "database"),
        "diet_plans: 0 rows, users: 7 rows"
    );
    assert_eq!(
        detail(&out, "logs"),
        "0 of the last 1000 lines of logs/app.log match ERROR"
    );
    assert!(
        detail(&out, "backup")
            .starts_with("the newest backup, backups/backup_20260101_020000.sql.gz, is 3h"),
        "{}",
        detail(&out, "backup")
    );
    // Both endpoints and the metrics page were asked.
    let paths: Vec<String> = c
        .app
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    for path in ["/health", "/", "/metrics"] {
        assert!(paths.iter().any(|p| p == path), "{path} in {paths:?}");
    }

    let message = c.slack_message();
    assert_eq!(title(&message), "Daily checks: all ok");
    let text = message["text"].as_str().unwrap();
    assert!(
        text.starts_with("OK health: 2 endpoint(s) healthy\n"),
        "{text}"
    );
    assert!(text.contains("OK backup: the newest backup"), "{text}");
    assert!(
        message.to_string().contains("info · `daily-checks`"),
        "{message}"
    );
    c.p.assert_no_leak(&out, &[PASSWORD, SLACK_TOKEN]);
}

#[test]
fn daily_checks_with_warnings_only_succeeds_and_says_so() {
    let c = Checklist::new();
    c.p.write(
        "logs/app.log",
        "INFO start\nERROR payment provider timed out\nINFO ok\n",
    );
    let out = c.run(&["-i", "connections_warn_percent=0"]);
    out.expect_code(0);
    assert_eq!(out.report()["outputs"]["status"], "warn");
    assert_eq!(
        out.report()["outputs"]["warned"],
        json!(["logs", "connections"])
    );
    assert_eq!(
        detail(&out, "logs"),
        "1 of the last 1000 lines of logs/app.log match ERROR"
    );
    let message = c.slack_message();
    assert_eq!(
        title(&message),
        "Daily checks: 2 warning(s) (logs, connections)"
    );
    assert!(message.to_string().contains("warning · `daily-checks`"));
    assert!(
        message["text"]
            .as_str()
            .unwrap()
            .contains("WARN logs: 1 of the last")
    );
}

#[test]
fn daily_checks_failing_checks_are_named_sent_and_exit_1() {
    let c = Checklist::new();
    touch(
        &c.p.file("backups/backup_20260101_020000.sql.gz"),
        "30 hours ago",
    );
    c.p.write(
        "logs/app.log",
        &format!(
            "{}ERROR db timeout\nINFO ok\nERROR \"quoted\" it's; $(reboot)\n",
            "INFO fine\n".repeat(20)
        ),
    );
    let down = format!(
        "health_urls={}, {}, {}",
        c.app.url("/down"),
        c.app.url("/degraded"),
        c.app.url("/health")
    );
    let out = c.run(&[
        "-i",
        &down,
        "-i",
        "metrics_expect=request_count, queue_depth",
        "-i",
        "log_max_errors=1",
        "-i",
        "disk_path=",
    ]);
    out.expect_code(1);
    assert_eq!(out.run_status(), "failed");
    assert_eq!(
        checks(&out),
        [
            ("health", "fail"),
            ("metrics", "fail"),
            ("logs", "fail"),
            ("database", "ok"),
            ("connections", "ok"),
            ("backup", "fail"),
            ("disk", "skip"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(
        detail(&out, "health"),
        format!(
            "{}: HTTP 503; {}: status degraded",
            c.app.url("/down"),
            c.app.url("/degraded")
        )
    );
    assert_eq!(detail(&out, "metrics"), "missing queue_depth");
    assert_eq!(
        detail(&out, "logs"),
        "2 of the last 1000 lines of logs/app.log match ERROR (more than 1); \
         the last: ERROR \"quoted\" it's; $(reboot)"
    );
    assert!(
        detail(&out, "backup")
            .starts_with("the newest backup, backups/backup_20251231_020000.sql.gz, is 27h")
            && detail(&out, "backup").ends_with("(26h at most)"),
        "{}",
        detail(&out, "backup")
    );
    // The summary was sent before the run failed on it.
    assert_eq!(out.status("notify"), "succeeded");
    assert_eq!(
        out.error("verdict"),
        "exit code 1: failed checks: health, metrics, logs, backup"
    );
    let message = c.slack_message();
    assert_eq!(
        title(&message),
        "Daily checks: 4 failed (health, metrics, logs, backup)"
    );
    assert_eq!(message["attachments"][0]["color"], "#d00000", "{message}");
    let text = message["text"].as_str().unwrap();
    assert!(text.contains("FAIL backup: the newest backup"), "{text}");
    assert!(text.contains("OK database: diet_plans: 0 rows, users: 7 rows"));
    assert!(text.contains("SKIP disk: not configured"));
    c.p.assert_no_leak(&out, &[PASSWORD, SLACK_TOKEN]);

    // The database itself unreachable: that check fails, the others run.
    let out = {
        let env = [
            (
                "DATABASE_URL",
                format!(
                    "postgres://postgres:{PASSWORD}@127.0.0.1:{}/x?connect_timeout=2",
                    net::closed_port()
                ),
            ),
            ("SLACK_WEBHOOK_URL", c.slack.url("/again")),
        ];
        let health = format!("health_urls={}", c.app.url("/health"));
        run(
            &c.p,
            "daily-checks",
            &env,
            &["-i", &health, "-i", "backup_dir=", "-i", "disk_path="],
        )
    };
    out.expect_code(1);
    assert_eq!(
        checks(&out),
        [
            ("health", "ok"),
            ("metrics", "skip"),
            ("logs", "skip"),
            ("database", "skip"),
            ("connections", "fail"),
            ("backup", "skip"),
            ("disk", "skip"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert!(
        detail(&out, "connections")
            .starts_with("can't connect to postgres://postgres:***@127.0.0.1:"),
        "{}",
        detail(&out, "connections")
    );
    c.p.assert_no_leak(&out, &[PASSWORD]);
}
