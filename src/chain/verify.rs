//! Checking a trail: every line well formed, hashed, in sequence and chained.

use std::io::{self, BufRead};

use serde_json::Value;

use super::{ChainHead, event_hash, line_prefix};

/// What a trail that verifies holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The number of events.
    pub events: u64,
    /// The first event's timestamp.
    pub first_ts: String,
    /// The last event's timestamp.
    pub last_ts: String,
    /// The last event's `seq` and `hash`.
    pub head: ChainHead,
}

/// The first thing found wrong in a trail. Line numbers count from 1.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Reading failed.
    #[error("cannot read the audit trail: {0}")]
    Io(#[from] io::Error),
    /// No events at all.
    #[error("the audit trail is empty: it holds no events")]
    Empty,
    /// The last line is incomplete, as after a write cut short.
    #[error(
        "line {line}: the last line is incomplete (a write cut short, or the file was truncated)"
    )]
    Truncated {
        /// The line.
        line: u64,
    },
    /// A line that is not an audit event.
    #[error("line {line}: not an audit event: {reason}")]
    Malformed {
        /// The line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A line whose bytes are not those the writer produces for its fields.
    #[error(
        "line {line} (seq {seq}): the line was edited (it is not in the form the writer produces)"
    )]
    NotCanonical {
        /// The line.
        line: u64,
        /// Its `seq`.
        seq: u64,
    },
    /// The hash does not cover the line's content.
    #[error("line {line} (seq {seq}): hash mismatch: the event was edited")]
    HashMismatch {
        /// The line.
        line: u64,
        /// Its `seq`.
        seq: u64,
    },
    /// `seq` is not the next number.
    #[error("line {line}: expected seq {expected}, found seq {found}: {}", seq_hint(*expected, *found))]
    UnexpectedSeq {
        /// The line.
        line: u64,
        /// The next number in sequence.
        expected: u64,
        /// The number on the line.
        found: u64,
    },
    /// `prev` is not the previous line's hash.
    #[error(
        "line {line} (seq {seq}): prev is not the hash of the event before it: an event was removed, replaced or reordered"
    )]
    PrevMismatch {
        /// The line.
        line: u64,
        /// Its `seq`.
        seq: u64,
    },
    /// The trail verifies but ends elsewhere than the recorded head.
    #[error(
        "the audit trail ends at seq {found_seq}, but seq {expected_seq} with hash {expected_hash} was recorded: events were removed from its end or it was replaced"
    )]
    HeadMismatch {
        /// The recorded head's `seq`.
        expected_seq: u64,
        /// The recorded head's hash.
        expected_hash: String,
        /// The trail's last `seq`.
        found_seq: u64,
    },
}

fn seq_hint(expected: u64, found: u64) -> String {
    match found.checked_sub(expected) {
        Some(1) => format!("event {expected} is missing, or lines were reordered"),
        Some(_) => format!(
            "events {expected} to {} are missing, or lines were reordered",
            found - 1
        ),
        None => format!("event {found} is repeated or out of order"),
    }
}

/// Verifies a whole trail, naming the first broken or missing event.
pub fn verify<R: BufRead>(mut reader: R) -> Result<VerifyReport, VerifyError> {
    let mut head = ChainHead::empty();
    let mut first_ts = None;
    let mut last_ts = String::new();
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let complete = buf.last() == Some(&b'\n');
        if complete {
            buf.pop();
        }
        let parsed = match parse_line(&buf, line_no) {
            Err(VerifyError::Malformed { .. }) if !complete => {
                return Err(VerifyError::Truncated { line: line_no });
            }
            other => other?,
        };
        check_line(&parsed, &buf, line_no, &head)?;
        head = ChainHead {
            seq: parsed.seq,
            hash: parsed.hash,
        };
        first_ts.get_or_insert_with(|| parsed.ts.clone());
        last_ts = parsed.ts;
    }
    let first_ts = first_ts.ok_or(VerifyError::Empty)?;
    Ok(VerifyReport {
        events: head.seq,
        first_ts,
        last_ts,
        head,
    })
}

/// [`verify`], then checks that the trail ends at `expected` (a head
/// recorded elsewhere), which catches events cut from the end.
pub fn verify_with_head<R: BufRead>(
    reader: R,
    expected: &ChainHead,
) -> Result<VerifyReport, VerifyError> {
    let report = verify(reader)?;
    if &report.head != expected {
        return Err(VerifyError::HeadMismatch {
            expected_seq: expected.seq,
            expected_hash: expected.hash.clone(),
            found_seq: report.head.seq,
        });
    }
    Ok(report)
}

struct Parsed {
    seq: u64,
    ts: String,
    prev: String,
    hash: String,
}

fn parse_line(bytes: &[u8], line: u64) -> Result<Parsed, VerifyError> {
    let malformed = |reason: String| VerifyError::Malformed { line, reason };
    if bytes.is_empty() {
        return Err(malformed("empty line".into()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| malformed("not UTF-8".into()))?;
    let value: Value =
        serde_json::from_str(text).map_err(|err| malformed(format!("invalid JSON ({err})")))?;
    let Value::Object(map) = value else {
        return Err(malformed("not a JSON object".into()));
    };
    if let Some(key) = map
        .keys()
        .find(|k| !matches!(k.as_str(), "seq" | "ts" | "prev" | "hash" | "event"))
    {
        return Err(malformed(format!("unexpected field `{key}`")));
    }
    let field = |name: &str| {
        map.get(name)
            .ok_or_else(|| malformed(format!("missing field `{name}`")))
    };
    let seq = field("seq")?
        .as_u64()
        .ok_or_else(|| malformed("`seq` is not a non-negative integer".into()))?;
    let ts = field("ts")?
        .as_str()
        .ok_or_else(|| malformed("`ts` is not a string".into()))?;
    chrono::DateTime::parse_from_rfc3339(ts)
        .map_err(|err| malformed(format!("`ts` is not an RFC 3339 time ({err})")))?;
    let digest = |name: &str| -> Result<String, VerifyError> {
        let value = field(name)?.as_str().filter(|s| is_hex_digest(s));
        value
            .map(str::to_owned)
            .ok_or_else(|| malformed(format!("`{name}` is not 64 lowercase hex digits")))
    };
    let prev = digest("prev")?;
    let hash = digest("hash")?;
    field("event")?;
    Ok(Parsed {
        seq,
        ts: ts.to_owned(),
        prev,
        hash,
    })
}

fn check_line(
    parsed: &Parsed,
    bytes: &[u8],
    line: u64,
    head: &ChainHead,
) -> Result<(), VerifyError> {
    let seq = parsed.seq;
    let ts_json = Value::from(parsed.ts.as_str()).to_string();
    let prefix = line_prefix(seq, &ts_json, &parsed.prev, &parsed.hash);
    // The line parsed as a JSON object, so after the canonical prefix it
    // ends with the event's bytes and the closing brace.
    let event = bytes
        .strip_prefix(prefix.as_bytes())
        .and_then(|rest| rest.strip_suffix(b"}"))
        .and_then(|event| std::str::from_utf8(event).ok())
        .ok_or(VerifyError::NotCanonical { line, seq })?;
    if event_hash(seq, &parsed.ts, &parsed.prev, event) != parsed.hash {
        return Err(VerifyError::HashMismatch { line, seq });
    }
    let expected = head.seq + 1;
    if seq != expected {
        return Err(VerifyError::UnexpectedSeq {
            line,
            expected,
            found: seq,
        });
    }
    if parsed.prev != head.hash {
        return Err(VerifyError::PrevMismatch { line, seq });
    }
    Ok(())
}

fn is_hex_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
