//! The audit trail: the run's events as hash-chained JSON lines, written to
//! `.steward/runs/<run_id>/audit.jsonl` as they happen, and the same lines
//! to the run store, so that the store's copy (`steward audit export`) is
//! byte for byte the file.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::chain::{AuditError, AuditOptions, AuditWriter};
use crate::events::{EventSink, RunEvent};
use crate::store::{AuditLine, StoreSink};

/// Writes every event but live output lines (their bounded tail is in
/// `attempt_finished`) to an audit file, and hands each event with its line
/// to the run store.
pub struct AuditSink {
    writer: Mutex<AuditWriter>,
    store: Option<Arc<StoreSink>>,
    error: Mutex<Option<String>>,
}

impl AuditSink {
    /// Creates the trail at `path` (its folder is created too).
    pub fn create(path: &Path, store: Option<Arc<StoreSink>>) -> Result<Self, AuditError> {
        let writer = AuditWriter::create_with(path, AuditOptions { fsync: false })?;
        Ok(Self::with(writer, store))
    }

    /// Continues the trail of a resumed run. The run store's lines are the
    /// record: the file is rewritten from them (a line the dead process
    /// wrote to the file but not to the store was never durable), then the
    /// whole chain is verified and continued.
    pub fn resume(
        path: &Path,
        stored: &[AuditLine],
        store: Option<Arc<StoreSink>>,
    ) -> Result<Self, AuditError> {
        let io = |source| AuditError::Io {
            path: path.to_path_buf(),
            context: "cannot rewrite",
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("jsonl.resume");
        {
            let mut file = std::fs::File::create(&tmp).map_err(io)?;
            for line in stored {
                writeln!(file, "{}", line.line).map_err(io)?;
            }
            file.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)?;
        let writer = AuditWriter::open(path, AuditOptions { fsync: false })?;
        Ok(Self::with(writer, store))
    }

    fn with(writer: AuditWriter, store: Option<Arc<StoreSink>>) -> Self {
        AuditSink {
            writer: Mutex::new(writer),
            store,
            error: Mutex::new(None),
        }
    }

    /// The first write error, if any: the trail is then incomplete.
    pub fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }
}

impl EventSink for AuditSink {
    fn emit(&self, event: &RunEvent) {
        if matches!(event, RunEvent::Output { .. }) {
            if let Some(store) = &self.store {
                store.record(event, None);
            }
            return;
        }
        let written = match self.writer.lock() {
            Ok(mut writer) => writer
                .append_line(event, chrono::Utc::now())
                .map_err(|e| e.to_string()),
            Err(_) => Err("audit writer poisoned".to_owned()),
        };
        match written {
            Ok((appended, line)) => {
                if let Some(store) = &self.store {
                    let line = line.trim_end_matches('\n').to_owned();
                    store.record(
                        event,
                        Some(AuditLine {
                            seq: appended.seq,
                            line,
                        }),
                    );
                }
            }
            Err(e) => {
                if let Ok(mut slot) = self.error.lock() {
                    slot.get_or_insert(e);
                }
                // The store still gets the event, without a line: its chain
                // then ends where the file's does.
                if let Some(store) = &self.store {
                    store.record(event, None);
                }
            }
        }
    }
}
