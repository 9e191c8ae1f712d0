//! [`StoreSink`]: records a run's events in the store as they happen.
//!
//! A writer thread commits the events that piled up since its last commit
//! in one transaction. `emit` waits for that commit only at the events that
//! matter for durability (`run_started`, `step_finished`, `run_finished`),
//! so a step's record is committed before anything that needs it starts,
//! while a step's other events cost no transaction of their own.

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::Utc;

use super::{AuditLine, RunStore};
use crate::chain::{ChainHead, format_event};
use crate::events::{EventSink, RunEvent};

/// The most events committed together.
const MAX_BATCH: usize = 512;

struct Pending {
    event: RunEvent,
    audit: Option<AuditLine>,
    committed: Option<SyncSender<()>>,
}

/// Records every event of one run in a [`RunStore`]. Fed by the audit
/// trail's `AuditSink` through [`record`](Self::record),
/// each event comes with the file trail's audit line. Used as an
/// [`EventSink`] on its own, it chains the lines itself.
pub struct StoreSink {
    head: Mutex<ChainHead>,
    queue: Mutex<Option<Sender<Pending>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    error: Arc<Mutex<Option<String>>>,
}

impl StoreSink {
    /// A sink for the run `run_id`, starting a new audit chain.
    pub fn new(store: Arc<dyn RunStore>, run_id: impl Into<String>) -> Self {
        let (tx, rx) = mpsc::channel();
        let error = Arc::new(Mutex::new(None));
        let run_id = run_id.into();
        let writer = {
            let error = error.clone();
            std::thread::Builder::new()
                .name("steward-store".into())
                .spawn(move || write_loop(store.as_ref(), &run_id, &rx, &error))
                .ok()
        };
        if writer.is_none() {
            note(&error, "can't start the store writer thread".into());
        }
        Self {
            head: Mutex::new(ChainHead::empty()),
            queue: Mutex::new(writer.as_ref().map(|_| tx)),
            writer: Mutex::new(writer),
            error,
        }
    }

    /// The first write error, if any: the stored run is then incomplete.
    /// Waits for every event emitted so far to be written.
    pub fn error(&self) -> Option<String> {
        self.flush();
        self.error.lock().ok().and_then(|e| e.clone())
    }

    /// Closes the queue and waits for the writer to finish.
    fn flush(&self) {
        if let Ok(mut queue) = self.queue.lock() {
            queue.take();
        }
        if let Some(writer) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = writer.join();
        }
    }

    /// Records `event` with the audit line another writer made for it (the
    /// file trail's, so both are the same chain).
    pub fn record(&self, event: &RunEvent, audit: Option<AuditLine>) {
        if let Err(e) = self.enqueue(event, audit) {
            note(&self.error, e);
        }
    }

    fn send(&self, event: &RunEvent) -> Result<(), String> {
        let audit = if matches!(event, RunEvent::Output { .. }) {
            None
        } else {
            let mut head = self.head.lock().map_err(|_| "store sink poisoned")?;
            let (appended, line) =
                format_event(&head, event, Utc::now()).map_err(|e| e.to_string())?;
            *head = ChainHead {
                seq: appended.seq,
                hash: appended.hash,
            };
            Some(AuditLine {
                seq: appended.seq,
                line: line.trim_end_matches('\n').to_owned(),
            })
        };
        self.enqueue(event, audit)
    }

    fn enqueue(&self, event: &RunEvent, audit: Option<AuditLine>) -> Result<(), String> {
        // What others act on is committed before `emit` returns: a step's
        // record before its dependents start, a request for approval before
        // anyone is told to approve it.
        let durable = matches!(
            event,
            RunEvent::RunStarted { .. }
                | RunEvent::RunResumed { .. }
                | RunEvent::StepFinished { .. }
                | RunEvent::ApprovalRequested { .. }
                | RunEvent::ApprovalDecided { .. }
                | RunEvent::ConcurrencyWaiting { .. }
                | RunEvent::RunFinished { .. }
        );
        let (ack, committed) = if durable {
            let (tx, rx) = mpsc::sync_channel(1);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        {
            let queue = self.queue.lock().map_err(|_| "store sink poisoned")?;
            let Some(queue) = queue.as_ref() else {
                return Err("the store writer has stopped".into());
            };
            queue
                .send(Pending {
                    event: event.clone(),
                    audit,
                    committed: ack,
                })
                .map_err(|_| "the store writer has stopped")?;
        }
        if let Some(committed) = committed {
            // A closed channel means the writer failed; its error is kept.
            let _ = committed.recv();
        }
        Ok(())
    }
}

impl EventSink for StoreSink {
    fn emit(&self, event: &RunEvent) {
        if let Err(e) = self.send(event) {
            note(&self.error, e);
        }
    }
}

impl Drop for StoreSink {
    fn drop(&mut self) {
        self.flush();
    }
}

fn note(slot: &Mutex<Option<String>>, error: String) {
    if let Ok(mut slot) = slot.lock() {
        slot.get_or_insert(error);
    }
}

/// Commits what is queued, in batches, until the queue closes. After a
/// failed commit nothing more is written, so the stored chain has no hole.
fn write_loop(
    store: &dyn RunStore,
    run_id: &str,
    rx: &Receiver<Pending>,
    error: &Mutex<Option<String>>,
) {
    let mut failed = false;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let mut acks = Vec::new();
        let mut events = Vec::with_capacity(batch.len());
        for pending in batch {
            acks.extend(pending.committed);
            events.push((pending.event, pending.audit));
        }
        if !failed && let Err(e) = store.record_batch(run_id, &events) {
            failed = true;
            note(error, e.to_string());
        }
        for ack in acks {
            let _ = ack.send(());
        }
    }
}
