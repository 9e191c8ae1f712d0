//! `runbooks/db-maintenance.yaml`: archive, vacuum and report, slow queries
//! and connection usage, and a vacuum the role may not do.

use super::*;

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
