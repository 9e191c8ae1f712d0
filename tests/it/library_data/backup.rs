//! `runbooks/backup.yaml`: dump, copy off site, verify, and keep only the
//! recent dumps.

use super::*;

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
