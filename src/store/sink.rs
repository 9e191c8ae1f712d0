//! [`StoreSink`]: records a run's events in the store as they happen.

use std::sync::{Arc, Mutex};

use chrono::Utc;

use super::{AuditLine, RunStore};
use crate::audit::chain::{ChainHead, format_event};
use crate::events::{EventSink, RunEvent};

/// Records every event of one run in a [`RunStore`], one transaction per
/// event. Every event but output lines also gets an audit line, chained like
/// the file trail's (the store keeps its own chain: same format, its own
/// timestamps), so `steward audit export` yields a verifiable trail.
pub struct StoreSink {
    store: Arc<dyn RunStore>,
    run_id: String,
    head: Mutex<ChainHead>,
    error: Mutex<Option<String>>,
}

impl StoreSink {
    /// A sink for the run `run_id`, starting a new audit chain.
    pub fn new(store: Arc<dyn RunStore>, run_id: impl Into<String>) -> Self {
        Self {
            store,
            run_id: run_id.into(),
            head: Mutex::new(ChainHead::empty()),
            error: Mutex::new(None),
        }
    }

    /// The first write error, if any: the stored run is then incomplete.
    pub fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }

    fn record(&self, event: &RunEvent) -> Result<(), String> {
        if matches!(event, RunEvent::Output { .. }) {
            return self
                .store
                .record(&self.run_id, event, None)
                .map_err(|e| e.to_string());
        }
        let mut head = self.head.lock().map_err(|_| "store sink poisoned")?;
        let (appended, line) = format_event(&head, event, Utc::now()).map_err(|e| e.to_string())?;
        let audit = AuditLine {
            seq: appended.seq,
            line: line.trim_end_matches('\n').to_owned(),
        };
        self.store
            .record(&self.run_id, event, Some(&audit))
            .map_err(|e| e.to_string())?;
        // The chain moves on only once the line is stored, so the stored
        // chain has no hole.
        *head = ChainHead {
            seq: appended.seq,
            hash: appended.hash,
        };
        Ok(())
    }
}

impl EventSink for StoreSink {
    fn emit(&self, event: &RunEvent) {
        if let Err(e) = self.record(event)
            && let Ok(mut slot) = self.error.lock()
        {
            slot.get_or_insert(e);
        }
    }
}
