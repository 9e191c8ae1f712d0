//! A hash-chained JSON-lines audit trail.
//!
//! Each event is one line, written by [`AuditWriter`] exactly as
//!
//! ```text
//! {"seq":1,"ts":"2025-01-01T00:00:00.000000Z","prev":"000…000","hash":"9f…","event":{…}}
//! ```
//!
//! with the keys in that order and no whitespace. `seq` counts from 1, `ts` is
//! RFC 3339 UTC, `prev` is the previous line's `hash` ([`GENESIS`] for the
//! first), and `hash` is the lowercase hex SHA-256 of the exact bytes
//!
//! ```text
//! {"seq":1,"ts":"…","prev":"…","event":<the event bytes as they appear in the line>}
//! ```
//!
//! [`verify()`] rebuilds those bytes from the line itself (not by
//! re-serialising a parsed value), so any byte changed in a line, even
//! whitespace, breaks its hash; a removed, inserted or reordered line breaks
//! `seq` or `prev`. The chain cannot show that lines were cut from the end:
//! keep the [`ChainHead`] elsewhere (the run store) and check it with
//! [`verify_with_head`].

#[cfg(test)]
mod tests;
mod verify;

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use nix::fcntl::{Flock, FlockArg};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use verify::{VerifyError, VerifyReport, verify, verify_with_head};

/// The `prev` of the first event: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where a chain ends: its last `seq` and `hash` (`seq` 0 and [`GENESIS`]
/// for an empty chain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ChainHead {
    /// The last event's sequence number.
    pub seq: u64,
    /// The last event's hash.
    pub hash: String,
}

impl ChainHead {
    /// The head of a chain with no events.
    pub fn empty() -> Self {
        Self {
            seq: 0,
            hash: GENESIS.to_owned(),
        }
    }
}

/// How an [`AuditWriter`] writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditOptions {
    /// `fsync` after every event (and the directory on create), so that an
    /// acknowledged event survives a power cut. Every event is written with
    /// one `write` call either way.
    pub fsync: bool,
}

/// Why the audit trail could not be written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A file operation failed.
    #[error("audit trail {}: {context}", path.display())]
    Io {
        /// The trail.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Another writer holds the trail.
    #[error("audit trail {} is being written by another process", path.display())]
    Locked {
        /// The trail.
        path: PathBuf,
    },
    /// The existing trail does not verify, so it is not continued.
    #[error("audit trail {} cannot be continued: {source}", path.display())]
    Broken {
        /// The trail.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: VerifyError,
    },
    /// The event could not be serialised.
    #[error("audit event cannot be serialised: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// What [`AuditWriter::append`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The event's sequence number.
    pub seq: u64,
    /// Its timestamp as written.
    pub ts: String,
    /// Its hash, now the chain's head.
    pub hash: String,
}

/// Appends events to one trail file, holding an exclusive `flock` on it.
#[derive(Debug)]
pub struct AuditWriter {
    file: Flock<File>,
    path: PathBuf,
    head: ChainHead,
    options: AuditOptions,
}

impl AuditWriter {
    /// Creates a new, empty trail; fails if `path` exists.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        Self::create_with(path, AuditOptions::default())
    }

    /// [`create`](Self::create) with options.
    pub fn create_with(path: impl AsRef<Path>, options: AuditOptions) -> Result<Self, AuditError> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(|source| io_err(&path, "cannot create", source))?;
        if options.fsync
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|source| io_err(&path, "cannot sync its directory", source))?;
        }
        let file = lock(file, &path)?;
        Ok(Self {
            file,
            path,
            head: ChainHead::empty(),
            options,
        })
    }

    /// Opens an existing trail to continue its chain, after verifying all of
    /// it. An empty file starts a new chain. A last line cut short by a crash
    /// is reported as [`VerifyError::Truncated`], never silently repaired.
    pub fn open(path: impl AsRef<Path>, options: AuditOptions) -> Result<Self, AuditError> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|source| io_err(&path, "cannot open", source))?;
        let mut file = lock(file, &path)?;
        let len = file
            .metadata()
            .map_err(|source| io_err(&path, "cannot read metadata of", source))?
            .len();
        let head = if len == 0 {
            ChainHead::empty()
        } else {
            let report = verify(BufReader::new(&*file)).map_err(|source| AuditError::Broken {
                path: path.clone(),
                source,
            })?;
            if !ends_with_newline(&mut file)
                .map_err(|source| io_err(&path, "cannot read", source))?
            {
                file.write_all(b"\n")
                    .map_err(|source| io_err(&path, "cannot write to", source))?;
            }
            report.head
        };
        Ok(Self {
            file,
            path,
            head,
            options,
        })
    }

    /// Appends `event` with the current time.
    pub fn append<T: Serialize + ?Sized>(&mut self, event: &T) -> Result<Appended, AuditError> {
        self.append_at(event, Utc::now())
    }

    /// Appends `event` with timestamp `ts`. The event is on disk (in the
    /// page cache, or on the device with [`AuditOptions::fsync`]) on return.
    pub fn append_at<T: Serialize + ?Sized>(
        &mut self,
        event: &T,
        ts: DateTime<Utc>,
    ) -> Result<Appended, AuditError> {
        self.append_line(event, ts).map(|(appended, _)| appended)
    }

    /// Appends `event` with timestamp `ts`; returns the line written too
    /// (with its newline), for a copy kept elsewhere (the run store).
    pub fn append_line<T: Serialize + ?Sized>(
        &mut self,
        event: &T,
        ts: DateTime<Utc>,
    ) -> Result<(Appended, String), AuditError> {
        let (appended, line) = format_event(&self.head, event, ts)?;
        let Appended { seq, ts, hash } = appended;
        self.file
            .write_all(line.as_bytes())
            .map_err(|source| io_err(&self.path, "cannot write to", source))?;
        if self.options.fsync {
            self.file
                .sync_data()
                .map_err(|source| io_err(&self.path, "cannot sync", source))?;
        }
        self.head = ChainHead {
            seq,
            hash: hash.clone(),
        };
        Ok((Appended { seq, ts, hash }, line))
    }

    /// The chain's head after the last append.
    pub fn head(&self) -> &ChainHead {
        &self.head
    }

    /// The trail's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The line that follows `head` for `event` at `ts`, exactly as
/// [`AuditWriter`] writes it (with its final newline), and what it appends.
/// For writers that keep a chain elsewhere (the run store).
pub fn format_event<T: Serialize + ?Sized>(
    head: &ChainHead,
    event: &T,
    ts: DateTime<Utc>,
) -> Result<(Appended, String), serde_json::Error> {
    let event = serde_json::to_string(event)?;
    let ts = ts.to_rfc3339_opts(SecondsFormat::Micros, true);
    let seq = head.seq + 1;
    let hash = event_hash(seq, &ts, &head.hash, &event);
    let line = format_line(seq, &ts, &head.hash, &hash, &event);
    Ok((Appended { seq, ts, hash }, line))
}

/// The exact bytes an event's hash covers (see the module documentation).
fn canonical(seq: u64, ts_json: &str, prev: &str, event: &str) -> String {
    format!("{{\"seq\":{seq},\"ts\":{ts_json},\"prev\":\"{prev}\",\"event\":{event}}}")
}

/// The line prefix up to and including `"event":`.
fn line_prefix(seq: u64, ts_json: &str, prev: &str, hash: &str) -> String {
    format!("{{\"seq\":{seq},\"ts\":{ts_json},\"prev\":\"{prev}\",\"hash\":\"{hash}\",\"event\":")
}

fn format_line(seq: u64, ts: &str, prev: &str, hash: &str, event: &str) -> String {
    let ts_json = json_string(ts);
    format!("{}{event}}}\n", line_prefix(seq, &ts_json, prev, hash))
}

/// The hex SHA-256 of the canonical bytes of an event whose serialised form
/// is `event`.
fn event_hash(seq: u64, ts: &str, prev: &str, event: &str) -> String {
    hex::encode(Sha256::digest(
        canonical(seq, &json_string(ts), prev, event).as_bytes(),
    ))
}

fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn lock(file: File, path: &Path) -> Result<Flock<File>, AuditError> {
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
        if errno == nix::errno::Errno::EWOULDBLOCK {
            AuditError::Locked {
                path: path.to_path_buf(),
            }
        } else {
            io_err(path, "cannot lock", io::Error::from(errno))
        }
    })
}

fn ends_with_newline(file: &mut File) -> io::Result<bool> {
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

fn io_err(path: &Path, context: &'static str, source: io::Error) -> AuditError {
    AuditError::Io {
        path: path.to_path_buf(),
        context,
        source,
    }
}
