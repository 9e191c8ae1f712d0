//! The `sql` step against the PostgreSQL of this machine
//! (`STEWARD_TEST_DATABASE_URL`), each test in a scratch database of its
//! own: typed params and results, SQL escaping, scripts, transactions,
//! connection failures and their retries, and the connection string never
//! shown with its password.

use crate::support::pg::{self, ScratchDb};
use crate::support::{Outcome, Project};

mod connections;

/// Runs `runbook` (whose steps connect to `{{ secrets.DB_URL }}`) on `db`.
pub(crate) fn run(db: &ScratchDb, yaml: &str, args: &[&str]) -> (Project, Outcome) {
    let p = Project::with_runbook("t", yaml);
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    let out = p.run_with("t", &all, |t| t.env("DB_URL", &db.url));
    (p, out)
}

#[test]
fn params_of_each_type_round_trip_into_rows() {
    let db = ScratchDb::new();
    let yaml = r#"
secrets: [DB_URL]
inputs:
  count: { type: int, default: 7 }
steps:
  - id: create
    sql:
      url: "{{ secrets.DB_URL }}"
      script: |
        CREATE TABLE items (id int2, qty int4, big int8, price numeric(10,2), ratio float8,
          name varchar(20), code char(3), note text, ok boolean, seen timestamptz,
          local timestamp, day date, ref uuid, meta jsonb, raw json, tags text[], nums int[]);
  - id: insert
    sql:
      url: "{{ secrets.DB_URL }}"
      query: >
        INSERT INTO items VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
      params: [1, "{{ inputs.count }}", 9007199254740993, "12.50", 0.25, "it's", "abc", null, true,
               "2024-05-01T12:00:00+02:00", "2024-05-01 08:30:00", "2024-05-01",
               "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", { "k": [1, "two"] }, [1, 2], ["a b", "c\"d"], [3, null]]
  - id: select
    sql:
      url: "{{ secrets.DB_URL }}"
      query: SELECT *, $1::bigint AS bound, $2 AS flag, $3 AS missing FROM items
      params: ["{{ inputs.count }}", false, null]
    assert:
      - result.row_count == 1
      - result.rows[0].qty == 7
"#;
    let (_p, out) = run(&db, yaml, &[]);
    out.expect_code(0);
    assert_eq!(out.step("insert")["result"]["affected"], 1);
    let row = &out.step("select")["result"]["rows"][0];
    let expected = serde_json::json!({
        "id": 1, "qty": 7, "big": 9007199254740993_i64, "price": 12.5, "ratio": 0.25,
        "name": "it's", "code": "abc", "note": null, "ok": true,
        "seen": "2024-05-01T10:00:00Z", "local": "2024-05-01T08:30:00", "day": "2024-05-01",
        "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "meta": { "k": [1, "two"] }, "raw": [1, 2],
        "tags": ["a b", "c\"d"], "nums": [3, null], "bound": 7, "flag": false, "missing": null
    });
    assert_eq!(row, &expected);
}

#[test]
fn a_hostile_value_interpolated_into_a_query_stays_one_literal() {
    let db = ScratchDb::new();
    db.sql("CREATE TABLE users (name text)");
    let yaml = r#"
secrets: [DB_URL]
inputs:
  name: { type: string }
steps:
  - id: insert
    sql:
      url: "{{ secrets.DB_URL }}"
      query: INSERT INTO users (name) VALUES ({{ inputs.name }})
  - id: check
    sql:
      url: "{{ secrets.DB_URL }}"
      query: SELECT name, count(*) OVER () AS count FROM users WHERE name = {{ inputs.name }}
    assert: result.rows[0].count == 1
"#;
    let hostile = r"'; DROP TABLE users; --";
    let (_p, out) = run(&db, yaml, &["-i", &format!("name={hostile}")]);
    out.expect_code(0);
    assert_eq!(out.step("check")["result"]["rows"][0]["name"], hostile);
    assert_eq!(
        db.sql("SELECT name FROM users"),
        hostile,
        "the table is still there, the value verbatim"
    );
    // A backslash and quotes mean the same whatever standard_conforming_strings says.
    let tricky = r"a\'b'' \\";
    let (_p, out) = run(&db, yaml, &["-i", &format!("name={tricky}")]);
    out.expect_code(0);
    assert_eq!(out.step("check")["result"]["rows"][0]["name"], tricky);
}

#[test]
fn ident_quotes_identifiers_and_raw_opts_out() {
    let db = ScratchDb::new();
    let yaml = r#"
secrets: [DB_URL]
inputs:
  table: { default: "Odd \"Table\"; x" }
  order: { default: "name DESC" }
steps:
  - id: create
    sql:
      url: "{{ secrets.DB_URL }}"
      script: |
        CREATE TABLE {{ inputs.table | ident }} (name text);
        INSERT INTO {{ ['public', inputs.table] | ident }} VALUES ('a'), ('b');
  - id: read
    sql:
      url: "{{ secrets.DB_URL }}"
      query: SELECT name FROM {{ inputs.table | ident }} ORDER BY {{ inputs.order | raw }}
"#;
    let (_p, out) = run(&db, yaml, &[]);
    out.expect_code(0);
    let rows = &out.step("read")["result"]["rows"];
    assert_eq!(rows, &serde_json::json!([{ "name": "b" }, { "name": "a" }]));
    assert_eq!(
        db.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"),
        "Odd \"Table\"; x"
    );
}

#[test]
fn a_script_runs_statement_by_statement_so_vacuum_works() {
    let db = ScratchDb::new();
    let yaml = r#"
secrets: [DB_URL]
steps:
  - id: maintain
    sql:
      url: "{{ secrets.DB_URL }}"
      script: |
        -- set up
        CREATE TABLE t (id int, note text DEFAULT 'a;b');
        INSERT INTO t (id) VALUES (1), (2), (3);
        CREATE FUNCTION two() RETURNS int AS $$ BEGIN RETURN 2; END; $$ LANGUAGE plpgsql;
        VACUUM ANALYZE t;
        REINDEX TABLE t;
        SELECT reltuples::int AS tuples, two() AS two FROM pg_class WHERE relname = 't';
    assert: "result.rows[0].tuples == '3'"
"#;
    let (_p, out) = run(&db, yaml, &[]);
    out.expect_code(0);
    let result = &out.step("maintain")["result"];
    assert_eq!(
        result["rows"],
        serde_json::json!([{ "tuples": "3", "two": "2" }])
    );
    assert!(
        out.stderr.contains("ok: VACUUM ANALYZE t"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_failed_transaction_leaves_nothing_behind() {
    let db = ScratchDb::new();
    db.sql("CREATE TABLE t (id int PRIMARY KEY)");
    let yaml = r#"
secrets: [DB_URL]
steps:
  - id: atomic
    continue_on_error: true
    sql:
      url: "{{ secrets.DB_URL }}"
      transaction: true
      script: |
        INSERT INTO t VALUES (1), (2);
        INSERT INTO t VALUES (2);
  - id: atomic_query
    continue_on_error: true
    sql:
      url: "{{ secrets.DB_URL }}"
      transaction: true
      query: INSERT INTO t SELECT g FROM generate_series(10, 12) g UNION ALL SELECT 1 / 0
  - id: not_atomic
    continue_on_error: true
    sql:
      url: "{{ secrets.DB_URL }}"
      script: |
        INSERT INTO t VALUES (5);
        INSERT INTO t VALUES (5);
  - id: count
    sql:
      url: "{{ secrets.DB_URL }}"
      query: SELECT count(*) AS n FROM t
"#;
    let (_p, out) = run(&db, yaml, &[]);
    out.expect_code(0);
    let error = out.error("atomic");
    assert!(
        error
            .contains("duplicate key value violates unique constraint \"t_pkey\" (SQLSTATE 23505)"),
        "{error}"
    );
    assert!(
        error.contains("statement 2, ") || error.contains("statement 2 (line 2)"),
        "{error}"
    );
    assert!(error.contains("Key (id)=(2) already exists"), "{error}");
    assert!(
        out.error("atomic_query")
            .contains("division by zero (SQLSTATE 22012)")
    );
    // Only the statement before the failure of the script without a transaction stayed.
    assert_eq!(out.step("count")["result"]["rows"][0]["n"], 1);
    assert_eq!(db.sql("SELECT string_agg(id::text, ',') FROM t"), "5");
}

#[test]
fn assert_reads_rows_and_sql_errors_say_where() {
    let db = ScratchDb::new();
    db.sql("CREATE TABLE users (id int); INSERT INTO users VALUES (1), (2)");
    let yaml = r#"
secrets: [DB_URL]
steps:
  - id: some
    sql: { url: "{{ secrets.DB_URL }}", query: SELECT count(*) FROM users }
    assert: result.rows[0].count > 0
    outputs: { users: "{{ result.rows[0].count }}" }
  - id: many
    continue_on_error: true
    sql: { url: "{{ secrets.DB_URL }}", query: SELECT count(*) FROM users }
    assert: result.rows[0].count > 100
  - id: typo
    sql:
      url: "{{ secrets.DB_URL }}"
      query: |
        SELECT id
        FROM userz
"#;
    let (_p, out) = run(&db, yaml, &[]);
    out.expect_code(1);
    assert_eq!(out.step("some")["outputs"]["users"], 2);
    assert_eq!(
        out.error("many"),
        "assert failed: `result.rows[0].count > 100`"
    );
    assert_eq!(
        out.error("typo"),
        "relation \"userz\" does not exist (SQLSTATE 42P01) at line 2, column 6: `FROM userz`"
    );
}

#[test]
fn a_type_without_a_json_form_is_an_error_naming_column_and_type() {
    let db = ScratchDb::new();
    let yaml = r#"
secrets: [DB_URL]
steps:
  - id: geo
    sql: { url: "{{ secrets.DB_URL }}", query: "SELECT 1 AS id, point(1, 2) AS location" }
"#;
    let (_p, out) = run(&db, yaml, &[]);
    out.expect_code(1);
    assert_eq!(
        out.error("geo"),
        "column `location` has type point, which the sql step can't convert to JSON; \
         cast it in the query, e.g. `location::text`"
    );
}

#[test]
fn validate_reports_sql_mistakes_before_running() {
    let p = Project::with_runbook(
        "bad",
        r#"
steps:
  - id: both
    sql: { url: "postgres://db/x", query: SELECT 1, script: SELECT 2 }
  - id: neither
    sql: { url: "postgres://db/x" }
  - id: missing
    sql: { url: "postgres://db/x", query: "SELECT $1, $2", params: [1] }
  - id: extra
    sql: { url: "postgres://db/x", query: "SELECT $1", params: [1, 2] }
  - id: several
    sql: { url: "postgres://db/x", query: "SELECT 1; SELECT 2" }
  - id: script_params
    sql: { url: "postgres://db/x", script: "SELECT 1", params: [1] }
  - id: typo
    sql: { url: "postgres://db/x", querry: SELECT 1 }
"#,
    );
    let out = p.test().arg("validate").status(2).run();
    let text = out.stderr + &out.stdout;
    for expected in [
        "a `sql` step has `query` or `script`, not both",
        "a `sql` step needs `query` or `script`",
        "the query uses $2 but `params` has 1 value",
        "`params` has 2 values but the query uses only $1",
        "`query` holds several statements",
        "`params` bind `$1`, `$2`… of a `query`; a `script` has none",
        "querry",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
}
