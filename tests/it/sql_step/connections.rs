//! The `sql` step's connections: refused, slow, a refused login, TLS, the
//! pool within a run, cancellation on the server, and the connection string
//! never shown with its password.

use super::pg::{self, ScratchDb};
use super::run;
use crate::support::{self, Project, net};

#[test]
fn a_dead_server_is_a_connect_failure_retried_by_policy() {
    let port = net::closed_port();
    let yaml = format!(
        r#"
steps:
  - id: query
    sql:
      url: postgres://app:pw-dead-7Q@127.0.0.1:{port}/app
      query: SELECT 1
    retry: {{ attempts: 3, delay: 50ms, on: [connect] }}
"#
    );
    let p = Project::with_runbook("dead", &yaml);
    let out = p.run_json("dead", &[]);
    out.expect_code(1);
    assert_eq!(out.attempts("query"), 3);
    let error = out.error("query");
    assert!(
        error.starts_with(&format!(
            "can't connect to postgres://app:***@127.0.0.1:{port}/app: "
        )),
        "{error}"
    );
    assert!(
        error.to_lowercase().contains("connection refused"),
        "{error}"
    );
    assert!(error.contains("after 3 attempts"), "{error}");
    assert!(!p.everything(&out).contains("pw-dead-7Q"));
}

#[test]
fn a_connect_timeout_is_a_connect_failure() {
    // A listener that never answers: the connection is accepted by the
    // kernel, the PostgreSQL handshake never completes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let yaml = format!(
        r#"
steps:
  - id: query
    sql: {{ url: "postgres://app@127.0.0.1:{port}/app", query: SELECT 1, connect_timeout: 300ms }}
    retry: {{ attempts: 2, delay: 10ms, on: [connect] }}
"#
    );
    let p = Project::with_runbook("slow", &yaml);
    let out = p.run_json("slow", &[]);
    out.expect_code(1);
    assert_eq!(out.attempts("query"), 2);
    assert!(
        out.error("query").contains("no answer within 0.3s"),
        "{}",
        out.error("query")
    );
    drop(listener);
}

#[test]
fn a_bad_password_is_refused_clearly_and_never_shown() {
    // The machine's server trusts local logins and never asks for a
    // password, so a fake server plays one with password authentication.
    let server = pg::RefusingServer::start();
    let password = "Wr0ng-p4ss-zZ";
    let yaml = format!(
        r#"
steps:
  - id: login
    sql:
      url: postgres://app:{password}@127.0.0.1:{}/app?sslmode=prefer
      query: SELECT 1
    retry: {{ attempts: 3, delay: 10ms, on: [connect] }}
"#,
        server.port
    );
    let p = Project::with_runbook("login", &yaml);
    let out = p.run_json("login", &[]);
    out.expect_code(1);
    assert_eq!(
        out.error("login"),
        format!(
            "the server refused the login to postgres://app:***@127.0.0.1:{}/app?sslmode=prefer: \
             password authentication failed for user \"app\" (SQLSTATE 28P01) \
             (not retried: `retry.on` doesn't include this failure)",
            server.port
        )
    );
    assert_eq!(
        out.attempts("login"),
        1,
        "a refused login is not a connect failure"
    );
    assert_eq!(
        server.received.lock().unwrap().as_slice(),
        [password],
        "the client did send it"
    );
    assert!(!p.everything(&out).contains(password));
}

#[test]
fn an_unknown_role_or_database_is_refused_clearly() {
    let base = pg::server_url();
    let yaml = format!(
        r#"
steps:
  - id: role
    continue_on_error: true
    sql: {{ url: "{}", query: SELECT 1 }}
  - id: database
    sql: {{ url: "{}", query: SELECT 1 }}
"#,
        base.replacen("://postgres", "://nobody_here:pw-Unk-9", 1),
        pg::with_database(&base, "no_such_db_here")
    );
    let p = Project::with_runbook("who", &yaml);
    let out = p.run_json("who", &[]);
    out.expect_code(1);
    assert!(
        out.error("role")
            .contains("role \"nobody_here\" does not exist (SQLSTATE 28000)"),
        "{}",
        out.error("role")
    );
    assert!(
        out.error("role").contains("nobody_here:***@"),
        "{}",
        out.error("role")
    );
    assert!(
        out.error("database")
            .contains("database \"no_such_db_here\" does not exist (SQLSTATE 3D000)")
    );
    assert!(!p.everything(&out).contains("pw-Unk-9"));
}

#[test]
fn the_connection_string_is_never_shown_with_its_password() {
    let db = ScratchDb::new();
    // Not a declared secret: a literal password in the runbook (the local
    // server trusts the login and ignores it).
    let password = "Lit3ral-pw-Xq";
    let url = db
        .url
        .replacen("://postgres@", &format!("://postgres:{password}@"), 1);
    assert!(url.contains(password), "{url}");
    let yaml = format!(
        r#"
steps:
  - id: ok
    sql: {{ url: "{url}", query: "SELECT current_user AS who, 1 AS n" }}
  - id: broken
    sql: {{ url: "{url}", query: SELECT nothing }}
"#
    );
    let p = Project::with_runbook("t", &yaml);
    let out = p.run_json("t", &[]);
    out.expect_code(1);
    assert_eq!(out.step("ok")["result"]["rows"][0]["who"], "postgres");
    let text = p.run("t", &[]);
    let dry = p.run("t", &["--dry-run"]);
    dry.expect_code(0);
    let all = format!(
        "{}{}{}",
        p.everything(&out),
        text.all_output(),
        dry.all_output()
    );
    assert!(!all.contains(password), "the password leaked:\n{all}");
    assert!(all.contains("postgres:***@127.0.0.1"), "{all}");
}

#[test]
fn connections_are_reused_within_a_run_with_a_clean_session() {
    let db = ScratchDb::new();
    let yaml = r#"
secrets: [DB_URL]
steps:
  - id: first
    sql:
      url: "{{ secrets.DB_URL }}"
      script: |
        SET application_name = 'leftover';
        CREATE TEMP TABLE scratch (x int);
        SELECT pg_backend_pid() AS pid;
  - id: second
    sql:
      url: "{{ secrets.DB_URL }}"
      query: >
        SELECT pg_backend_pid() AS pid, current_setting('application_name') AS app,
               to_regclass('pg_temp.scratch') IS NULL AS clean
"#;
    let (_p, out) = run(&db, yaml, &[]);
    out.expect_code(0);
    let second = &out.step("second")["result"]["rows"][0];
    assert_eq!(
        out.step("first")["result"]["rows"][0]["pid"]
            .as_str()
            .unwrap(),
        second["pid"].to_string(),
        "the same connection"
    );
    assert_eq!(second["app"], "");
    assert_eq!(second["clean"], true);
}

#[test]
fn a_timeout_cancels_the_running_statement_on_the_server() {
    let db = ScratchDb::new();
    let yaml = r#"
secrets: [DB_URL]
steps:
  - id: slow
    sql: { url: "{{ secrets.DB_URL }}", query: "SELECT pg_sleep(30) AS steward_slow_marker" }
    timeout: 500ms
"#;
    let (_p, out) = run(&db, yaml, &[]);
    out.expect_code(1);
    assert!(
        out.elapsed < std::time::Duration::from_secs(10),
        "{:?}",
        out.elapsed
    );
    assert!(
        out.error("slow").contains("timed out after 500ms"),
        "{}",
        out.error("slow")
    );
    let running = || {
        db.sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%steward_slow_marker%' AND pid <> pg_backend_pid()")
    };
    assert!(
        support::wait_until(std::time::Duration::from_secs(5), || running() == "0"),
        "the statement still runs on the server"
    );
}

#[test]
fn tls_is_used_when_the_url_asks_for_it() {
    let db = ScratchDb::new();
    if db.sql("SHOW ssl") != "on" {
        eprintln!("skipped: the server has no TLS");
        return;
    }
    let yaml = r#"
secrets: [DB_URL]
steps:
  - id: require
    sql: { url: "{{ secrets.DB_URL }}?sslmode=require", query: "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" }
  - id: verify
    sql: { url: "{{ secrets.DB_URL }}?sslmode=verify-full", query: SELECT 1 }
"#;
    let (_p, out) = run(&db, yaml, &[]);
    out.expect_code(1);
    assert_eq!(out.step("require")["result"]["rows"][0]["ssl"], true);
    // The server's certificate is self-signed: verify-full refuses it.
    let error = out.error("verify");
    assert!(
        error.starts_with("can't connect to ***?sslmode=verify-full: "),
        "{error}"
    );
    assert!(error.to_lowercase().contains("certificate"), "{error}");

    // verify-ca with the server's own certificate as the root: the chain is
    // checked, not the name.
    let cert = db.sql("SHOW ssl_cert_file");
    if std::fs::read(&cert).is_ok() {
        let yaml = format!(
            r#"
secrets: [DB_URL]
steps:
  - id: ca
    sql: {{ url: "{{{{ secrets.DB_URL }}}}?sslmode=verify-ca&sslrootcert={cert}", query: SELECT 1 AS one }}
"#
        );
        let (_p, out) = run(&db, &yaml, &[]);
        out.expect_code(0);
        assert_eq!(out.step("ca")["result"]["rows"][0]["one"], 1);
    }
}
