//! The data runbooks end to end: `backup`, `db-maintenance` and
//! `daily-checks`, against the PostgreSQL of this machine (a scratch database
//! per test), real pg_dump/psql, and loopback HTTP servers for the
//! application and the Slack webhook.

use crate::support::net;
use crate::support::pg;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{Outcome, Project, touch, wait_for};
use net::http::{Reply, Server};
use pg::ScratchDb;
use serde_json::{Value, json};

/// A password in the connection strings: the local server trusts the login
/// and ignores it, and it must never be shown.
const PASSWORD: &str = "pw-Data-52q";
/// The token part of the Slack webhook URL, which must never be shown.
const SLACK_TOKEN: &str = "hook-token-7Zk2";

fn project() -> Project {
    let p = Project::new();
    p.copy_from_repo("runbooks");
    p.copy_from_repo("steps");
    p
}

fn with_password(db: &ScratchDb) -> String {
    db.url
        .replacen("://postgres@", &format!("://postgres:{PASSWORD}@"), 1)
}

fn run(p: &Project, runbook: &str, env: &[(&str, String)], args: &[&str]) -> Outcome {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    p.run_with(runbook, &all, |t| {
        t.envs(env.iter().map(|(k, v)| (k, v)))
            .timeout(Duration::from_secs(120))
    })
}

fn sh(p: &Project, script: &str) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(p.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

// ---------------------------------------------------------------- backup

fn shop() -> ScratchDb {
    let db = ScratchDb::new();
    db.sql(
        "CREATE TABLE users (id serial PRIMARY KEY, name text);
         INSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, 50) g;
         CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users, total numeric(10, 2));
         INSERT INTO orders SELECT g, g % 50 + 1, g * 1.5 FROM generate_series(1, 200) g;",
    );
    db
}

#[test]
fn backup_dumps_copies_off_site_verifies_and_keeps_only_recent_dumps() {
    let db = shop();
    let p = project();
    std::fs::create_dir_all(p.file("backups")).unwrap();
    std::fs::create_dir_all(p.file("offsite")).unwrap();
    std::fs::create_dir_all(p.file("bucket")).unwrap();
    touch(
        &p.file("backups/backup_20200101_000000.sql.gz"),
        "40 days ago",
    );
    touch(
        &p.file("backups/backup_20200201_000000.sql.gz"),
        "31 days ago",
    );
    touch(&p.file("backups/backup_recent.sql.gz"), "29 days ago");
    touch(&p.file("backups/notes.txt"), "90 days ago");
    let env = [("SOURCE_DATABASE_URL", with_password(&db))];

    let out = run(
        &p,
        "backup",
        &env,
        &[
            "-i",
            "offsite_dir=offsite",
            // An operator's command template: the file reaches it as a variable.
            "-i",
            "offsite_command=cp \"$BACKUP_FILE\" \"bucket/$BACKUP_NAME.uploaded\"",
            "-i",
            "verify=true",
        ],
    );
    out.expect_code(0);
    let outputs = &out.report()["outputs"];
    let archive = outputs["archive"].as_str().unwrap().to_owned();
    assert!(
        archive.starts_with("backups/backup_") && archive.ends_with(".sql.gz"),
        "{archive}"
    );
    let bytes = std::fs::metadata(p.file(&archive)).unwrap().len();
    assert_eq!(outputs["size_bytes"], bytes);
    assert!(outputs["size"].as_str().unwrap().ends_with('B'));
    assert_eq!(outputs["offsite"], true);
    assert_eq!(outputs["verified"], true);
    assert_eq!(outputs["removed"], 2);

    // A sound gzip of a whole dump, which restores with the same rows.
    sh(&p, &format!("gzip -t {archive}"));
    let restored = ScratchDb::new();
    sh(
        &p,
        &format!(
            "gunzip -c {archive} | psql -X -q -v ON_ERROR_STOP=1 -d '{}' > /dev/null",
            restored.url
        ),
    );
    assert_eq!(
        restored.sql("SELECT (SELECT count(*) FROM users) || ',' || (SELECT count(*) FROM orders)"),
        "50,200"
    );

    // The child run restored it into a scratch database and compared counts.
    let verify = &out.step("verify")["result"];
    assert_eq!(verify["status"], "succeeded");
    assert_eq!(verify["outputs"]["archive"], archive.as_str());
    assert_eq!(verify["outputs"]["tables"], 2);
    let child = verify["run_id"].as_str().unwrap().replace('-', "");
    assert!(!pg::database_exists(&format!("steward_verify_{child}")));

    // Off-site: the same bytes, in the folder and through the command.
    let name = archive.trim_start_matches("backups/");
    let original = std::fs::read(p.file(&archive)).unwrap();
    assert_eq!(
        std::fs::read(p.file(&format!("offsite/{name}"))).unwrap(),
        original
    );
    assert_eq!(
        std::fs::read(p.file(&format!("bucket/{name}.uploaded"))).unwrap(),
        original
    );
    assert_eq!(std::fs::read_dir(p.file("offsite")).unwrap().count(), 1);

    // Retention: dumps older than 30 days go, the rest stays.
    assert!(!p.exists("backups/backup_20200101_000000.sql.gz"));
    assert!(!p.exists("backups/backup_20200201_000000.sql.gz"));
    assert!(p.exists("backups/backup_recent.sql.gz"));
    assert!(p.exists("backups/notes.txt"));
    assert!(p.exists(&archive));
    p.assert_no_leak(&out, &[PASSWORD]);
}

#[test]
fn backup_without_a_target_stays_local_and_a_failed_copy_deletes_nothing() {
    let db = shop();
    let p = project();
    std::fs::create_dir_all(p.file("dumps")).unwrap();
    std::fs::create_dir_all(p.file("offsite")).unwrap();
    touch(&p.file("dumps/backup_20200101_000000.sql.gz"), "3 days ago");
    let env = [("SOURCE_DATABASE_URL", with_password(&db))];

    let out = run(&p, "backup", &env, &["-i", "backup_dir=dumps"]);
    out.expect_code(0);
    let outputs = &out.report()["outputs"];
    assert_eq!(outputs["offsite"], false);
    assert_eq!(outputs["verified"], false);
    assert_eq!(outputs["removed"], 0, "3 days is within 30");
    for id in ["verify", "offsite_copy", "offsite_upload"] {
        assert_eq!(out.status(id), "skipped", "{id}");
    }
    assert_eq!(std::fs::read_dir(p.file("offsite")).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(p.file("dumps")).unwrap().count(), 2);

    // An off-site folder that isn't there (an unmounted share): the run
    // fails, the new dump is kept whole, and no old dump is removed.
    let out = run(
        &p,
        "backup",
        &env,
        &[
            "-i",
            "backup_dir=dumps",
            "-i",
            "retention_days=1",
            "-i",
            "offsite_dir=/nonexistent/share",
        ],
    );
    out.expect_code(1);
    assert_eq!(
        out.error("offsite_copy"),
        "exit code 1: the off-site folder /nonexistent/share doesn't exist (is it mounted?)"
    );
    assert_eq!(out.status("prune"), "skipped");
    assert!(p.exists("dumps/backup_20200101_000000.sql.gz"));
    let dump = out.step("dump")["outputs"]["archive"].as_str().unwrap();
    sh(&p, &format!("gzip -t {dump}"));

    // The same retention with a working copy removes the 3-day-old dump,
    // never a dump of this run.
    let out = run(
        &p,
        "backup",
        &env,
        &[
            "-i",
            "backup_dir=dumps",
            "-i",
            "retention_days=1",
            "-i",
            "offsite_dir=offsite",
        ],
    );
    out.expect_code(0);
    assert_eq!(out.report()["outputs"]["removed"], 1);
    assert!(!p.exists("dumps/backup_20200101_000000.sql.gz"));
    assert!(p.exists(dump), "the previous run's dump is a day younger");
    p.assert_no_leak(&out, &[PASSWORD]);
}

// ---------------------------------------------------------- db-maintenance

/// A table name that is SQL if pasted unquoted.
const ODD: &str = "Odd \"name\", x; DROP TABLE users; --";

fn odd_sql() -> String {
    format!("\"{}\"", ODD.replace('"', "\"\""))
}

fn dead_tuples(db: &ScratchDb, table: &str) -> i64 {
    db.sql(&format!(
        "SELECT coalesce(n_dead_tup, 0) FROM pg_stat_user_tables WHERE relid = '{}'::regclass",
        table.replace('\'', "''")
    ))
    .parse()
    .unwrap()
}

fn table_row<'a>(out: &'a Outcome, table: &str) -> &'a Value {
    out.report()["outputs"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .unwrap_or_else(|| panic!("no {table} in {:#}", out.report()["outputs"]["tables"]))
}

#[test]
fn db_maintenance_archives_vacuums_and_reports_before_and_after() {
    let db = ScratchDb::new();
    db.sql(&format!(
        "CREATE TABLE users (id serial PRIMARY KEY, name text);
         INSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, 50) g;
         CREATE TABLE {odd} (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false);
         INSERT INTO {odd} SELECT g, g FROM generate_series(1, 300) g;
         UPDATE {odd} SET v = v + 1 WHERE id <= 120;
         CREATE TABLE \"Audit Log\" (id int PRIMARY KEY, \"Created At\" timestamptz NOT NULL, note text)
           WITH (autovacuum_enabled = false);
         INSERT INTO \"Audit Log\"
           SELECT g, now() - g * interval '1 day' - interval '1 hour', 'it''s note ' || g
           FROM generate_series(1, 200) g;
         CREATE EXTENSION pg_stat_statements;",
        odd = odd_sql()
    ));
    // The statistics reach the shared counters when the seeding backend ends.
    wait_for(
        "the dead tuples in the statistics",
        Duration::from_secs(10),
        || dead_tuples(&db, &odd_sql()) >= 120,
    );
    let p = project();
    let env = [("DATABASE_URL", with_password(&db))];
    let out = run(
        &p,
        "db-maintenance",
        &env,
        &[
            "-i",
            &format!("tables=users, {}", odd_sql()),
            "-i",
            "archive_table=\"Audit Log\"",
            "-i",
            "archive_column=Created At",
            "-i",
            "archive_older_than=90 days",
            // Other tests share the server: never a warning.
            "-i",
            "connections_warn_percent=101",
        ],
    );
    out.expect_code(0);
    let outputs = &out.report()["outputs"];

    // pg_stat_statements is installed here but not preloaded: the fallback.
    assert_eq!(outputs["slow_query_source"], "pg_stat_activity");
    let max: i64 = db.sql("SHOW max_connections").parse().unwrap();
    assert_eq!(outputs["connections"]["max_connections"], max);
    assert!(outputs["connections"]["connections"].as_i64().unwrap() >= 1);
    assert_eq!(outputs["connections"]["status"], "ok");

    // Rows 90 days and 1 hour old or older moved, in one transaction.
    assert_eq!(outputs["archived"], 111);
    assert_eq!(db.sql("SELECT count(*) FROM \"Audit Log\""), "89");
    assert_eq!(
        db.sql(
            "SELECT count(*) FROM \"Audit Log\" WHERE \"Created At\" < now() - interval '90 days'"
        ),
        "0"
    );
    assert_eq!(
        db.sql("SELECT count(*) || ' ' || min(id) || ' ' || max(id) FROM \"Audit Log_archive\""),
        "111 90 200"
    );
    assert_eq!(
        db.sql("SELECT note FROM \"Audit Log_archive\" WHERE id = 100"),
        "it's note 100"
    );

    // Before and after, per table.
    let odd = table_row(&out, &odd_sql());
    assert!(odd["dead_tuples_before"].as_i64().unwrap() >= 120, "{odd}");
    assert_eq!(odd["dead_tuples"], 0, "VACUUM removed them: {odd}");
    assert_eq!(
        (&odd["rows_before"], &odd["rows"]),
        (&json!(300), &json!(300))
    );
    assert!(odd["last_vacuum"].is_string() && odd["last_analyze"].is_string());
    let audit = table_row(&out, "\"Audit Log\"");
    assert_eq!(
        (&audit["rows_before"], &audit["rows"]),
        (&json!(200), &json!(89))
    );
    let archive = table_row(&out, "\"Audit Log_archive\"");
    assert_eq!(archive["rows"], 111);
    assert_eq!(
        archive["rows_before"],
        Value::Null,
        "it didn't exist before"
    );
    let users = table_row(&out, "users");
    assert_eq!(users["rows"], 50);
    assert!(users["total_bytes"].as_i64().unwrap() > 0);
    assert_eq!(
        db.sql("SELECT count(*) FROM users"),
        "50",
        "nothing was injected"
    );
    assert!(
        out.stderr
            .contains(&format!("ok: VACUUM (ANALYZE) \"public\".{}", odd_sql())),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("REINDEX TABLE CONCURRENTLY \"public\".\"users\"")
    );
    assert!(
        out.stderr.contains("report | \"Audit Log\": rows 200 → 89"),
        "{}",
        out.stderr
    );
    p.assert_no_leak(&out, &[PASSWORD]);

    // Again: nothing left to move; the archive table is reused.
    let out = run(
        &p,
        "db-maintenance",
        &env,
        &[
            "-i",
            "archive_table=\"Audit Log\"",
            "-i",
            "archive_column=Created At",
            "-i",
            "archive_older_than=90 days",
            "-i",
            "reindex=blocking",
        ],
    );
    out.expect_code(0);
    assert_eq!(out.report()["outputs"]["archived"], 0);
    assert_eq!(db.sql("SELECT count(*) FROM \"Audit Log_archive\""), "111");

    // A table that doesn't exist, and a bad age: nothing is changed.
    let out = run(&p, "db-maintenance", &env, &["-i", "tables=users, nope"]);
    out.expect_code(1);
    assert!(
        out.error("targets")
            .starts_with("relation \"nope\" does not exist"),
        "{}",
        out.error("targets")
    );
    assert_eq!(out.status("vacuum"), "skipped");
    let out = run(
        &p,
        "db-maintenance",
        &env,
        &[
            "-i",
            "archive_table=users",
            "-i",
            "archive_older_than=ninety days",
        ],
    );
    out.expect_code(1);
    assert!(
        out.error("archive_plan")
            .starts_with("invalid input syntax for type interval"),
        "{}",
        out.error("archive_plan")
    );
    assert_eq!(out.status("archive"), "skipped");
    assert_eq!(db.sql("SELECT count(*) FROM users"), "50");
}

/// A psql running a long query, killed (by its PID) when dropped.
struct LongQuery(Child);

impl Drop for LongQuery {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn db_maintenance_reports_running_slow_queries_and_connection_usage() {
    let db = ScratchDb::new();
    db.sql("CREATE TABLE t (id int)");
    let _sleeper = LongQuery(
        Command::new("psql")
            .args([
                "-X",
                "-q",
                "-d",
                &db.url,
                "-c",
                "SELECT pg_sleep(20) AS steward_slow",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the long query to run", Duration::from_secs(10), || {
        db.sql(
            "SELECT count(*) FROM pg_stat_activity
             WHERE query LIKE '%steward_slow%' AND state = 'active'
               AND query_start < clock_timestamp() - interval '300 milliseconds'
               AND pid <> pg_backend_pid()",
        ) == "1"
    });
    let p = project();
    let env = [("DATABASE_URL", with_password(&db))];
    let out = run(
        &p,
        "db-maintenance",
        &env,
        &["-i", "slow_ms=200", "-i", "connections_warn_percent=0"],
    );
    out.expect_code(0);
    let outputs = &out.report()["outputs"];
    assert_eq!(outputs["slow_query_source"], "pg_stat_activity");
    let slow = outputs["slow_queries"].as_array().unwrap();
    assert_eq!(slow.len(), 1, "{slow:?}");
    assert!(slow[0]["query"].as_str().unwrap().contains("pg_sleep(20)"));
    assert!(slow[0]["duration_ms"].as_f64().unwrap() >= 200.0);
    assert_eq!(slow[0]["state"], "active");
    assert!(slow[0]["pid"].as_i64().unwrap() > 0);
    // At or over the warning threshold: reported, not a failure.
    let conns = &outputs["connections"];
    assert_eq!(conns["status"], "warn");
    assert!(conns["this_database"].as_i64().unwrap() >= 2, "{conns}");
    assert!(conns["percent"].as_f64().unwrap() > 0.0);
    // Nothing to maintain: the report covers every table, nothing is changed.
    assert_eq!(out.status("vacuum"), "skipped");
    assert_eq!(out.status("reindex"), "skipped");
    assert_eq!(out.status("archive"), "skipped");
    assert_eq!(table_row(&out, "t")["rows"], 0);

    // A threshold above the slow query: none.
    let out = run(
        &p,
        "db-maintenance",
        &env,
        &["-i", "slow_ms=600000", "-i", "connections_warn_percent=101"],
    );
    out.expect_code(0);
    assert_eq!(out.report()["outputs"]["slow_queries"], json!([]));
    assert_eq!(out.report()["outputs"]["connections"]["status"], "ok");
}

/// A login role of the test, dropped (with its grants in `db`) at the end.
struct Role<'a> {
    name: String,
    db: &'a ScratchDb,
}

impl<'a> Role<'a> {
    fn new(db: &'a ScratchDb) -> Self {
        let name = format!("{}_role", db.name);
        pg::psql(&pg::server_url(), &format!("CREATE ROLE {name} LOGIN"));
        Role { name, db }
    }
}

impl Drop for Role<'_> {
    fn drop(&mut self) {
        for (url, sql) in [
            (&self.db.url, format!("DROP OWNED BY {}", self.name)),
            (
                &pg::server_url(),
                format!("DROP ROLE IF EXISTS {}", self.name),
            ),
        ] {
            let _ = Command::new("psql")
                .args(["-X", "-q", "-d", url, "-c", &sql])
                .output();
        }
    }
}

#[test]
fn db_maintenance_fails_when_vacuum_skips_a_table_it_may_not_vacuum() {
    let db = ScratchDb::new();
    let role = Role::new(&db);
    db.sql(&format!(
        "CREATE TABLE users (id int); CREATE TABLE {odd} (id int);
         GRANT SELECT ON users, {odd} TO {role};",
        odd = odd_sql(),
        role = role.name
    ));
    let p = project();
    // PostgreSQL only warns when it skips a table the role doesn't own.
    let url = pg::with_database(
        &pg::server_url().replacen("://postgres@", &format!("://{}@", role.name), 1),
        &db.name,
    );
    let out = run(
        &p,
        "db-maintenance",
        &[("DATABASE_URL", url)],
        &[
            "-i",
            &format!("tables={}, users", odd_sql()),
            "-i",
            "reindex=none",
        ],
    );
    out.expect_code(1);
    assert!(
        out.error("vacuum").starts_with(&format!(
            "VACUUM skipped {}, users: only a table's owner may vacuum it",
            odd_sql()
        )),
        "{}",
        out.error("vacuum")
    );
    assert_eq!(out.status("after"), "skipped");
}

// ------------------------------------------------------------ daily-checks

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
