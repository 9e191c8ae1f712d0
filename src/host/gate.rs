//! Interrupting a run: from the moment it is interrupted nothing more of it
//! is recorded, so its record ends as a dead process's would, and
//! `steward resume` continues it (re-running the steps that were killed).

use tokio_util::sync::CancellationToken;

use crate::events::{EventSink, RunEvent};

/// Passes events on until the run's interrupt token fires; then drops them.
/// The token is read at each event, not copied into a flag: a child run's
/// token (a child of its parent's) fires in the same instant as the
/// parent's, before either run's steps can be stopped and record it.
pub struct Gate<S> {
    inner: S,
    interrupt: CancellationToken,
}

impl<S: EventSink> Gate<S> {
    /// A gate in front of `inner`, closed by `interrupt`.
    pub fn new(inner: S, interrupt: CancellationToken) -> Self {
        Gate { inner, interrupt }
    }
}

impl<S: EventSink> EventSink for Gate<S> {
    fn emit(&self, event: &RunEvent) {
        if !self.interrupt.is_cancelled() {
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
    fn passes_events_until_interrupted() {
        let kept = Kept::default();
        let parent = CancellationToken::new();
        let gate = Gate::new(&kept, parent.child_token());
        let phase = |name: &str| RunEvent::Phase { phase: name.into() };
        gate.emit(&phase("finally"));
        parent.cancel();
        gate.emit(&phase("undo"));
        let kept = kept.0.lock().map(|k| k.clone()).unwrap_or_default();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert!(kept[0].contains("finally"), "{kept:?}");
    }
}
