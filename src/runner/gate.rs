//! Interrupting a run: from the moment it is interrupted nothing more of it
//! is recorded, so its record ends as a dead process's would, and
//! `steward resume` continues it (re-running the steps that were killed).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::events::{EventSink, RunEvent};

/// Passes events on until it is closed; then drops them.
pub struct Gate<S> {
    inner: S,
    closed: AtomicBool,
}

impl<S: EventSink> Gate<S> {
    /// A gate, open, in front of `inner`.
    pub fn new(inner: S) -> Self {
        Gate {
            inner,
            closed: AtomicBool::new(false),
        }
    }

    /// Stops passing events on, for good.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }
}

impl<S: EventSink> EventSink for Gate<S> {
    fn emit(&self, event: &RunEvent) {
        if !self.closed.load(Ordering::SeqCst) {
            self.inner.emit(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Kept(Mutex<Vec<String>>);

    impl EventSink for &Kept {
        fn emit(&self, event: &RunEvent) {
            if let Ok(mut kept) = self.0.lock() {
                kept.push(format!("{event:?}"));
            }
        }
    }

    #[test]
    fn passes_events_until_closed() {
        let kept = Kept::default();
        let gate = Gate::new(&kept);
        let phase = |name: &str| RunEvent::Phase { phase: name.into() };
        gate.emit(&phase("finally"));
        gate.close();
        gate.emit(&phase("undo"));
        let kept = kept.0.lock().map(|k| k.clone()).unwrap_or_default();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert!(kept[0].contains("finally"), "{kept:?}");
    }
}
