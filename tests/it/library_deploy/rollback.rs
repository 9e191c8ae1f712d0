//! `runbooks/rollback.yaml` (with `restore-database`): a production rollback
//! with a backup waits for approval and restores the database; a staging one
//! needs neither.

use super::*;

/// Drops the databases a restore leaves beside `db` (the one it replaced).
struct Leftovers(String);

impl Drop for Leftovers {
    fn drop(&mut self) {
        let names = pg::psql(
            &pg::server_url(),
            &format!(
                "SELECT datname FROM pg_database WHERE datname LIKE '{}\\_%'",
                self.0
            ),
        );
        for name in names.lines().filter(|l| !l.is_empty()) {
            pg::drop_database(name);
        }
    }
}

#[test]
fn a_rollback_with_a_backup_waits_for_approval_then_restores_the_database() {
    let w = World::new("1.5.0");
    let db = ScratchDb::new();
    let _leftovers = Leftovers(db.name.clone());
    db.sql(
        "CREATE TABLE items (id int PRIMARY KEY, name text);
         INSERT INTO items VALUES (1, 'kept'), (2, 'also kept');",
    );
    std::fs::create_dir_all(w.p.file("backups")).unwrap();
    let dumped = std::process::Command::new("sh")
        .arg("-c")
        .arg("pg_dump --no-owner --no-privileges --dbname=\"$URL\" | gzip > backups/before.sql.gz")
        .env("URL", &db.url)
        .current_dir(w.p.path())
        .status()
        .unwrap();
    assert!(dumped.success());
    // What the bad release did to the data.
    db.sql("DELETE FROM items WHERE id = 2; CREATE TABLE junk (x int);");

    let args: Vec<String> = [
        "version=1.4.2".to_owned(),
        format!("url={}", w.production.url()),
        format!("deploy_hook={}", w.production.hook()),
        "restore_backup=backups/before.sql.gz".to_owned(),
        "wait_delay=50ms".to_owned(),
        "reason=1.5.0 corrupted orders".to_owned(),
    ]
    .into_iter()
    .flat_map(|i| ["-i".to_owned(), i])
    .collect();
    let run = w.spawn("rollback", &args, &[("DATABASE_URL", &db.url)]);
    wait_for("the restore to ask for approval", LIMIT, || {
        !runs(&w.p, "restore-database", "waiting").is_empty()
    });
    let restore = runs(&w.p, "restore-database", "waiting").remove(0);
    // The code went back first; the data waits for the decision.
    assert_eq!(w.production.version().as_deref(), Some("1.4.2"));
    assert_eq!(db.sql("SELECT count(*) FROM items"), "1");
    let shown = w.p.show(&restore);
    let message = shown["approvals"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("Replace the production database {}", db.name))
            && message.contains("backups/before.sql.gz"),
        "{message}"
    );

    w.p.steward(&[
        "approve",
        &restore,
        "approve",
        "--comment",
        "checked the dump",
    ])
    .expect_code(0);
    let done = run.wait(LIMIT);
    done.expect_code(0);
    let report = done.stdout_json();
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["outputs"]["restored"], "backups/before.sql.gz");
    assert_eq!(report["outputs"]["replaced"], "1.5.0");

    // The database has the dump's rows again; the one it replaced is kept.
    assert_eq!(
        db.sql("SELECT string_agg(name, ',' ORDER BY id) FROM items"),
        "kept,also kept"
    );
    assert_eq!(db.sql("SELECT to_regclass('junk') IS NULL"), "t");
    let kept = report["steps"]["restore"]["result"]["outputs"]["kept_as"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(kept.starts_with(&format!("{}_before_", db.name)), "{kept}");
    let kept_url = pg::with_database(&pg::server_url(), &kept);
    assert_eq!(pg::psql(&kept_url, "SELECT count(*) FROM items"), "1");
    assert_eq!(
        pg::psql(&kept_url, "SELECT to_regclass('junk') IS NOT NULL"),
        "t"
    );

    let decided =
        w.p.audit_events(&restore)
            .into_iter()
            .find(|e| e["event"] == "approval_decided")
            .unwrap();
    assert_eq!(decided["approved"], true);
    assert_eq!(decided["by"], me().as_str());
    assert_eq!(decided["via"], "cli");

    let slack = w.slack.bodies();
    assert_eq!(slack.len(), 1);
    let text = slack[0]["text"].as_str().unwrap();
    assert!(
        text.contains("restored from backups/before.sql.gz")
            && text.contains(&kept)
            && text.contains("Why: 1.5.0 corrupted orders"),
        "{text}"
    );
}

#[test]
fn a_staging_rollback_needs_no_database_and_no_approval() {
    let w = World::new("1.5.0");
    let args: Vec<String> = [
        "version=1.4.2".to_owned(),
        "environment=staging".to_owned(),
        format!("url={}", w.staging.url()),
        format!("deploy_hook={}", w.staging.hook()),
        "wait_delay=50ms".to_owned(),
    ]
    .into_iter()
    .flat_map(|i| ["-i".to_owned(), i])
    .collect();
    let out = w.run("rollback", &args, &[]);
    out.expect_code(0);
    assert_eq!(w.deploys(), pairs(&[("staging", "1.4.2")]));
    assert_eq!(out.status("restore"), "skipped");
    assert_eq!(out.report()["outputs"]["restored"], "");
}
