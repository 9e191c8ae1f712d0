use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use chrono::TimeZone;
use serde_json::{Value, json};

use super::*;

fn events() -> Vec<Value> {
    vec![
        json!({"type": "run_started", "runbook": "deploy", "inputs": {"version": "1.2.3"}}),
        json!({"type": "step_started", "step": "tests", "attempt": 1}),
        json!({"type": "step_finished", "step": "tests", "status": "succeeded", "ratio": 0.1, "big": 1e300}),
        json!({"type": "note", "text": "é \u{2028} \"quoted\" \\ </script> \u{0007}", "n": -42}),
        json!({"type": "run_finished", "status": "succeeded", "z": null, "a": [1, 2, {"k": true}]}),
    ]
}

fn write_trail(dir: &Path) -> (PathBuf, ChainHead) {
    let path = dir.join("audit.jsonl");
    let mut writer = AuditWriter::create_with(&path, AuditOptions { fsync: true }).expect("create");
    for event in events() {
        writer.append(&event).expect("append");
    }
    (path, writer.head().clone())
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .expect("read trail")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn verify_lines(lines: &[String]) -> Result<VerifyReport, VerifyError> {
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    verify(Cursor::new(text))
}

#[test]
fn a_written_trail_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, head) = write_trail(dir.path());
    let report = verify(BufReader::new(File::open(&path).expect("open"))).expect("verifies");
    assert_eq!(report.events, 5);
    assert_eq!(report.head, head);
    assert_eq!(head.seq, 5);
    assert!(report.first_ts <= report.last_ts);

    let lines = lines(&path);
    let mut prev = GENESIS.to_owned();
    for (i, line) in lines.iter().enumerate() {
        let value: Value = serde_json::from_str(line).expect("json");
        let keys: Vec<_> = value.as_object().expect("object").keys().cloned().collect();
        assert_eq!(keys, ["seq", "ts", "prev", "hash", "event"]);
        assert_eq!(value["seq"], json!(i + 1));
        assert_eq!(value["prev"], json!(prev));
        assert_eq!(value["event"], events()[i]);
        prev = value["hash"].as_str().expect("hash").to_owned();
    }
    assert_eq!(prev, head.hash);
}

#[test]
fn the_hash_covers_the_documented_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.jsonl");
    let mut writer = AuditWriter::create(&path).expect("create");
    let ts = Utc
        .with_ymd_and_hms(2025, 1, 2, 3, 4, 5)
        .single()
        .expect("time");
    let appended = writer
        .append_at(&json!({"b": 1, "a": 2}), ts)
        .expect("append");
    assert_eq!(appended.ts, "2025-01-02T03:04:05.000000Z");
    let canonical = format!(
        "{{\"seq\":1,\"ts\":\"2025-01-02T03:04:05.000000Z\",\"prev\":\"{GENESIS}\",\"event\":{{\"b\":1,\"a\":2}}}}"
    );
    assert_eq!(
        appended.hash,
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let expected_line = format!(
        "{{\"seq\":1,\"ts\":\"2025-01-02T03:04:05.000000Z\",\"prev\":\"{GENESIS}\",\"hash\":\"{}\",\"event\":{{\"b\":1,\"a\":2}}}}\n",
        appended.hash
    );
    assert_eq!(fs::read_to_string(&path).expect("read"), expected_line);
}

#[test]
fn create_refuses_an_existing_file_and_a_second_writer_is_locked_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = write_trail(dir.path());
    let err = AuditWriter::create(&path).expect_err("exists");
    assert!(err.to_string().contains("cannot create"), "{err}");

    let _first = AuditWriter::open(&path, AuditOptions::default()).expect("open");
    let second = AuditWriter::open(&path, AuditOptions::default()).expect_err("locked");
    assert!(matches!(second, AuditError::Locked { .. }), "{second}");
}

#[test]
fn reopening_continues_the_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, head) = write_trail(dir.path());
    let mut writer = AuditWriter::open(&path, AuditOptions::default()).expect("reopen");
    assert_eq!(writer.head(), &head);
    let appended = writer.append(&json!({"type": "resumed"})).expect("append");
    assert_eq!(appended.seq, 6);
    drop(writer);
    let report = verify(BufReader::new(File::open(&path).expect("open"))).expect("verifies");
    assert_eq!(report.events, 6);
    let last: Value = serde_json::from_str(&lines(&path)[5]).expect("json");
    assert_eq!(last["prev"], json!(head.hash));

    // An empty file starts a new chain.
    let empty = dir.path().join("empty.jsonl");
    fs::write(&empty, "").expect("write");
    let mut writer = AuditWriter::open(&empty, AuditOptions::default()).expect("open empty");
    assert_eq!(writer.append(&json!(1)).expect("append").seq, 1);
}

#[test]
fn reopening_adds_a_missing_final_newline_and_refuses_a_broken_trail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = write_trail(dir.path());
    let text = fs::read_to_string(&path).expect("read");
    fs::write(&path, text.trim_end_matches('\n')).expect("write");
    let mut writer = AuditWriter::open(&path, AuditOptions::default()).expect("reopen");
    writer.append(&json!("after")).expect("append");
    drop(writer);
    assert_eq!(verify_lines(&lines(&path)).expect("verifies").events, 6);

    let mut broken = lines(&path);
    broken.remove(2);
    fs::write(&path, broken.join("\n") + "\n").expect("write");
    let err = AuditWriter::open(&path, AuditOptions::default()).expect_err("broken");
    assert!(
        matches!(
            err,
            AuditError::Broken {
                source: VerifyError::UnexpectedSeq { line: 3, .. },
                ..
            }
        ),
        "{err}"
    );
}

/// Sets `field` of `line` to `value`, keeping the writer's exact layout.
fn edit(line: &str, field: &str, value: Value) -> String {
    let mut parsed: Value = serde_json::from_str(line).expect("json");
    parsed[field] = value;
    serde_json::to_string(&parsed).expect("serialise")
}

#[test]
fn editing_any_field_of_any_event_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = write_trail(dir.path());
    let original = lines(&path);
    assert_eq!(
        original[0],
        edit(&original[0], "seq", json!(1)),
        "edit keeps the layout"
    );
    let other_hash = "ab".repeat(32);
    for i in 0..original.len() {
        let line = &original[i];
        let edits = [
            edit(line, "seq", json!(i + 7)),
            edit(line, "ts", json!("2001-01-01T00:00:00.000000Z")),
            edit(line, "prev", json!(other_hash)),
            edit(line, "hash", json!(other_hash)),
            edit(line, "event", json!({"type": "forged"})),
            line.replacen("\"type\":", "\"type\": ", 1),
        ];
        for edited in edits {
            let mut tampered = original.clone();
            tampered[i] = edited.clone();
            let err = verify_lines(&tampered).expect_err("tampering detected");
            assert!(
                matches!(err, VerifyError::HashMismatch { .. }),
                "{edited}: {err}"
            );
            assert!(
                err.to_string()
                    .starts_with(&format!("line {} (seq ", i + 1)),
                "{err}"
            );
        }
        let mut reformatted = original.clone();
        reformatted[i] = line.replacen("{\"seq\"", "{ \"seq\"", 1);
        let err = verify_lines(&reformatted).expect_err("reformatting detected");
        assert!(
            matches!(err, VerifyError::NotCanonical { line, .. } if line == i as u64 + 1),
            "{err}"
        );
    }
}

#[test]
fn rehashing_an_edited_event_breaks_the_next_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = write_trail(dir.path());
    let mut tampered = lines(&path);
    let parsed: Value = serde_json::from_str(&tampered[1]).expect("json");
    let (ts, prev) = (
        parsed["ts"].as_str().expect("ts"),
        parsed["prev"].as_str().expect("prev"),
    );
    let event = r#"{"type":"step_started","step":"innocent","attempt":1}"#;
    let hash = event_hash(2, ts, prev, event);
    tampered[1] = format_line(2, ts, prev, &hash, event).trim_end().to_owned();
    let err = verify_lines(&tampered).expect_err("detected");
    assert!(
        matches!(err, VerifyError::PrevMismatch { line: 3, seq: 3 }),
        "{err}"
    );
    assert!(err.to_string().contains("line 3 (seq 3)"), "{err}");
}

#[test]
fn removed_lines_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, head) = write_trail(dir.path());
    let original = lines(&path);
    for i in 0..original.len() - 1 {
        let mut tampered = original.clone();
        tampered.remove(i);
        let err = verify_lines(&tampered).expect_err("detected");
        let line = i as u64 + 1;
        assert!(
            matches!(err, VerifyError::UnexpectedSeq { line: l, expected, found } if l == line && expected == line && found == line + 1),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("event {line} is missing")),
            "{err}"
        );
    }
    let mut two_gone = original.clone();
    two_gone.drain(1..3);
    let err = verify_lines(&two_gone).expect_err("detected");
    assert!(
        err.to_string().contains("events 2 to 3 are missing"),
        "{err}"
    );

    // Cutting the end keeps a valid chain: only the recorded head shows it.
    let mut cut = original.clone();
    cut.pop();
    assert_eq!(verify_lines(&cut).expect("still a chain").events, 4);
    let err = verify_with_head(Cursor::new(cut.join("\n") + "\n"), &head).expect_err("cut");
    assert!(
        matches!(
            err,
            VerifyError::HeadMismatch {
                expected_seq: 5,
                found_seq: 4,
                ..
            }
        ),
        "{err}"
    );
    let full = verify_with_head(Cursor::new(original.join("\n") + "\n"), &head).expect("complete");
    assert_eq!(full.head, head);
}

#[test]
fn reordered_and_repeated_lines_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = write_trail(dir.path());
    let original = lines(&path);
    let mut swapped = original.clone();
    swapped.swap(1, 3);
    let err = verify_lines(&swapped).expect_err("detected");
    assert!(
        matches!(
            err,
            VerifyError::UnexpectedSeq {
                line: 2,
                expected: 2,
                found: 4
            }
        ),
        "{err}"
    );
    let mut repeated = original.clone();
    repeated.insert(3, original[1].clone());
    let err = verify_lines(&repeated).expect_err("detected");
    assert!(
        matches!(
            err,
            VerifyError::UnexpectedSeq {
                line: 4,
                expected: 4,
                found: 2
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("event 2 is repeated or out of order"),
        "{err}"
    );
}

#[test]
fn a_forged_appended_line_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = write_trail(dir.path());
    let mut tampered = lines(&path);
    let ts = "2030-01-01T00:00:00.000000Z";
    let prev = "cd".repeat(32);
    let event = r#"{"type":"approval","by":"mallory"}"#;
    let hash = event_hash(6, ts, &prev, event);
    tampered.push(
        format_line(6, ts, &prev, &hash, event)
            .trim_end()
            .to_owned(),
    );
    let err = verify_lines(&tampered).expect_err("detected");
    assert!(
        matches!(err, VerifyError::PrevMismatch { line: 6, seq: 6 }),
        "{err}"
    );
}

#[test]
fn garbage_truncation_and_empty_files_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = write_trail(dir.path());
    let original = lines(&path);
    let text = original.join("\n") + "\n";

    let cut = &text[..text.len() - 20];
    let err = verify(Cursor::new(cut)).expect_err("truncated");
    assert!(matches!(err, VerifyError::Truncated { line: 5 }), "{err}");

    let mut garbage = original.clone();
    garbage.insert(2, "not json at all".into());
    let err = verify_lines(&garbage).expect_err("garbage");
    assert!(
        matches!(err, VerifyError::Malformed { line: 3, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("line 3: not an audit event: invalid JSON"),
        "{err}"
    );

    let mut blank = original.clone();
    blank.insert(1, String::new());
    let err = verify_lines(&blank).expect_err("blank");
    assert!(
        err.to_string()
            .contains("line 2: not an audit event: empty line"),
        "{err}"
    );

    let mut extra = original.clone();
    extra[0] = extra[0].replacen("{\"seq\"", "{\"x\":1,\"seq\"", 1);
    let err = verify_lines(&extra).expect_err("extra field");
    assert!(err.to_string().contains("unexpected field `x`"), "{err}");

    let mut missing = original.clone();
    missing[0] = r#"{"seq":1,"ts":"2025-01-01T00:00:00Z","prev":"x","event":{}}"#.into();
    let err = verify_lines(&missing).expect_err("bad digest");
    assert!(
        err.to_string()
            .contains("`prev` is not 64 lowercase hex digits"),
        "{err}"
    );

    let mut bytes = text.clone().into_bytes();
    bytes.splice(0..0, [0xff, b'\n']);
    let err = verify(Cursor::new(bytes)).expect_err("not utf-8");
    assert!(
        err.to_string()
            .contains("line 1: not an audit event: not UTF-8"),
        "{err}"
    );

    let err = verify(Cursor::new("")).expect_err("empty");
    assert!(matches!(err, VerifyError::Empty), "{err}");
}
