//! `runbooks/backup-verify.yaml` end to end, against the PostgreSQL of this
//! machine: a seeded source database (a scratch database of the test), a
//! real pg_dump, restore and row counts; a dump that lost rows and damaged
//! archives fail with a clear message; the scratch database never stays.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use crate::support::pg::{self, ScratchDb};
use crate::support::{Outcome, Project, touch};

/// A password in the connection string: the local server trusts the login
/// and ignores it, and it must never be shown.
const PASSWORD: &str = "pw-Bkp-31x";

fn seeded() -> ScratchDb {
    let db = ScratchDb::new();
    db.sql(
        "CREATE TABLE users (id serial PRIMARY KEY, name text);
         INSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, 50) g;
         CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users, total numeric(10, 2));
         INSERT INTO orders SELECT g, g % 50 + 1, g * 1.5 FROM generate_series(1, 200) g;
         CREATE TABLE \"Audit Log\" (at timestamptz DEFAULT now(), note text);
         INSERT INTO \"Audit Log\" (note) VALUES ('it''s; a note');",
    );
    db
}

fn project() -> Project {
    let p = Project::new();
    p.copy_from_repo("runbooks");
    p.copy_from_repo("steps");
    p
}

fn source_url(db: &ScratchDb) -> String {
    db.url
        .replacen("://postgres@", &format!("://postgres:{PASSWORD}@"), 1)
}

fn run(p: &Project, db: &ScratchDb, args: &[&str]) -> Outcome {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    let url = source_url(db);
    p.run_with("backup-verify", &all, |t| {
        t.env("SOURCE_DATABASE_URL", &url)
            .timeout(Duration::from_secs(120))
    })
}

/// The scratch database a run restored into, which must be gone.
fn assert_scratch_dropped(out: &Outcome) {
    let name = format!("steward_verify_{}", out.run_id().replace('-', ""));
    assert!(!pg::database_exists(&name), "{name} was left behind");
}

/// A webhook receiver on 127.0.0.1: the body of the first POST, within 30 s.
fn webhook() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/hook",
        listener.local_addr().unwrap().port()
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        let _ = stream.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                        let _ = tx.send(body.to_owned());
                        return;
                    }
                }
            }
        }
    });
    (url, rx)
}

#[test]
fn a_fresh_dump_of_a_seeded_database_verifies() {
    let db = seeded();
    let p = project();
    std::fs::create_dir_all(p.file("backups")).unwrap();
    touch(
        &p.file("backups/backup_20200101_000000.sql.gz"),
        "40 days ago",
    );
    touch(&p.file("backups/backup_recent.sql.gz"), "2 days ago");
    touch(&p.file("backups/notes.txt"), "90 days ago");
    let (hook, received) = webhook();

    let out = run(&p, &db, &["-i", &format!("notify_url={hook}")]);
    out.expect_code(0);
    for id in [
        "dump",
        "source_counts",
        "integrity",
        "create_scratch",
        "restore",
        "restored_counts",
        "compare",
        "prune",
    ] {
        assert_eq!(out.status(id), "succeeded", "{id}: {}", out.error(id));
    }
    let counts = &out.step("restored_counts")["result"]["rows"];
    assert_eq!(
        counts,
        &serde_json::json!([
            { "table": "\"Audit Log\"", "rows": 1 },
            { "table": "orders", "rows": 200 },
            { "table": "users", "rows": 50 },
        ])
    );
    assert_eq!(out.report()["outputs"]["tables"], 3);
    let archive = out.report()["outputs"]["archive"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        archive.starts_with("backups/backup_") && archive.ends_with(".sql.gz"),
        "{archive}"
    );
    let gzip = Command::new("gzip")
        .arg("-t")
        .arg(p.file(&archive))
        .status()
        .unwrap();
    assert!(gzip.success(), "the archive is kept and sound");
    // Retention: old dumps go, recent ones and other files stay.
    assert!(!p.exists("backups/backup_20200101_000000.sql.gz"));
    assert!(p.exists("backups/backup_recent.sql.gz") && p.exists("backups/notes.txt"));
    assert_scratch_dropped(&out);
    let body: serde_json::Value =
        serde_json::from_str(&received.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(body["status"], "succeeded");
    assert_eq!(body["severity"], "info");
    p.assert_no_leak(&out, &[PASSWORD]);

    // Only the named tables.
    let out = run(&p, &db, &["-i", "tables=users, orders"]);
    out.expect_code(0);
    assert_eq!(out.report()["outputs"]["tables"], 2);
    assert_scratch_dropped(&out);
}

/// A plain dump of `db` without the first `drop` rows of `table`, gzipped.
fn dump_losing_rows(p: &Project, db: &ScratchDb, table: &str, drop: usize) -> String {
    let dump = Command::new("pg_dump")
        .args(["--no-owner", "--no-privileges", "-d", &db.url])
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let text = String::from_utf8(dump.stdout).unwrap();
    let copy = format!("COPY public.{table} ");
    let (mut in_table, mut dropped, mut kept) = (false, 0, Vec::new());
    for line in text.lines() {
        if line.starts_with(&copy) {
            in_table = true;
        } else if line == "\\." {
            in_table = false;
        } else if in_table && dropped < drop {
            dropped += 1;
            continue;
        }
        kept.push(line);
    }
    assert_eq!(dropped, drop);
    let name = format!("lost-{table}-{drop}.sql");
    std::fs::write(p.file(&name), kept.join("\n") + "\n").unwrap();
    assert!(
        Command::new("gzip")
            .arg(p.file(&name))
            .status()
            .unwrap()
            .success()
    );
    format!("{name}.gz")
}

#[test]
fn a_dump_that_lost_rows_fails_naming_the_table() {
    let db = seeded();
    let p = project();
    // No other table references `orders`: the dump restores, with 3 rows less.
    let archive = dump_losing_rows(&p, &db, "orders", 3);
    let (hook, received) = webhook();
    let out = run(
        &p,
        &db,
        &[
            "-i",
            &format!("archive={archive}"),
            "-i",
            &format!("notify_url={hook}"),
        ],
    );
    out.expect_code(1);
    assert_eq!(out.status("dump"), "skipped");
    assert_eq!(
        out.status("integrity"),
        "succeeded",
        "the archive itself is sound"
    );
    assert_eq!(
        out.error("compare"),
        "exit code 1: row counts differ: orders (200 in the source, 197 restored)"
    );
    assert!(
        out.stderr
            .contains("users: 50 in the source, 50 restored: equal"),
        "{}",
        out.stderr
    );
    assert_eq!(out.status("prune"), "skipped");
    assert_eq!(out.status("drop_scratch"), "succeeded");
    assert_scratch_dropped(&out);
    let body: serde_json::Value =
        serde_json::from_str(&received.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(body["severity"], "critical");
    assert_eq!(
        body["text"],
        "compare failed: exit code 1: row counts differ: orders (200 in the source, 197 restored)"
    );

    // Within an allowed drift, the same dump passes.
    let out = run(
        &p,
        &db,
        &[
            "-i",
            &format!("archive={archive}"),
            "-i",
            "max_drift_percent=10",
        ],
    );
    out.expect_code(0);
    assert!(
        out.stderr
            .contains("orders: 200 in the source, 197 restored: within 10%"),
        "{}",
        out.stderr
    );
    p.assert_no_leak(&out, &[PASSWORD]);
}

#[test]
fn a_damaged_or_cut_archive_fails_before_any_restore() {
    let db = seeded();
    let p = project();
    let archive = dump_losing_rows(&p, &db, "users", 0);
    let bytes = std::fs::read(p.file(&archive)).unwrap();
    std::fs::write(p.file("cut.sql.gz"), &bytes[..bytes.len() / 2]).unwrap();
    let out = run(&p, &db, &["-i", "archive=cut.sql.gz"]);
    out.expect_code(1);
    assert_eq!(
        out.error("integrity"),
        "exit code 1: the archive is damaged: gzip -t failed"
    );
    assert_eq!(out.status("create_scratch"), "skipped");
    assert_scratch_dropped(&out);

    // A sound gzip of a dump cut short (the first 40 lines).
    let dump = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gunzip -c {archive} | head -n 40 | gzip > short.sql.gz"
        ))
        .current_dir(p.path())
        .status()
        .unwrap();
    assert!(dump.success());
    let out = run(&p, &db, &["-i", "archive=short.sql.gz"]);
    out.expect_code(1);
    assert_eq!(
        out.error("integrity"),
        "exit code 1: the dump is incomplete: pg_dump's closing line is missing, it was cut short"
    );

    // Users that orders reference are missing: the restore itself fails.
    let broken = dump_losing_rows(&p, &db, "users", 2);
    let out = run(&p, &db, &["-i", &format!("archive={broken}")]);
    out.expect_code(1);
    assert!(
        out.error("restore").starts_with(
            "exit code 1: the dump doesn't restore: insert or update on table \"orders\" violates foreign key constraint"
        ),
        "{}",
        out.error("restore")
    );
    assert_eq!(out.status("restored_counts"), "skipped");
    assert_scratch_dropped(&out);

    // A table that isn't there.
    let out = run(&p, &db, &["-i", "tables=users, nope"]);
    out.expect_code(1);
    assert!(
        out.error("source_counts")
            .starts_with("relation \"nope\" does not exist (SQLSTATE 42P01)"),
        "{}",
        out.error("source_counts")
    );
    p.assert_no_leak(&out, &[PASSWORD]);
}
