//! The audit trail: the run's events as hash-chained JSON lines, written to
//! `.steward/runs/<run_id>/audit.jsonl` as they happen.

pub mod chain;

use std::path::Path;
use std::sync::Mutex;

use crate::events::{EventSink, RunEvent};
use chain::{AuditError, AuditOptions, AuditWriter};

/// Writes every event but live output lines (their bounded tail is in
/// `attempt_finished`) to an audit file.
pub struct AuditSink {
    writer: Mutex<AuditWriter>,
    error: Mutex<Option<String>>,
}

impl AuditSink {
    /// Creates the trail at `path` (its folder is created too).
    pub fn create(path: &Path) -> Result<Self, AuditError> {
        let writer = AuditWriter::create_with(path, AuditOptions { fsync: false })?;
        Ok(AuditSink {
            writer: Mutex::new(writer),
            error: Mutex::new(None),
        })
    }

    /// The first write error, if any: the trail is then incomplete.
    pub fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }
}

impl EventSink for AuditSink {
    fn emit(&self, event: &RunEvent) {
        if matches!(event, RunEvent::Output { .. }) {
            return;
        }
        let result = match self.writer.lock() {
            Ok(mut writer) => writer.append(event).map(|_| ()).map_err(|e| e.to_string()),
            Err(_) => Err("audit writer poisoned".to_owned()),
        };
        if let Err(e) = result {
            if let Ok(mut slot) = self.error.lock() {
                slot.get_or_insert(e);
            }
        }
    }
}
