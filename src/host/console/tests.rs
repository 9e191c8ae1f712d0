use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use super::*;
use crate::events::{EventSink, RunEvent, Trigger};
use crate::host::{Options, Runner};
use crate::kind::{ApprovalWait, Control};
use crate::project::Project;
use crate::store::{SqliteStore, StoreSink};

/// Answers approvals at once when it may, as a terminal would, and
/// remembers what it was told.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(String, bool)>>,
}

impl Console for Recorder {
    fn problem(&self, _run_id: &str, _message: &str) {}

    fn approval_waiting(&self, waiting: &Waiting<'_>, answer: Answer) {
        self.seen
            .lock()
            .unwrap()
            .push((waiting.step.to_owned(), waiting.may_decide));
        if waiting.may_decide {
            answer
                .record(true, Some("typed".into()), "recorder")
                .unwrap()
                .unwrap();
        }
    }
}

fn trigger(actor: &str) -> Trigger {
    Trigger {
        kind: "cli".into(),
        actor: actor.into(),
        origin: None,
    }
}

/// A runner whose run `r1` waits for an approval of `gate`.
fn waiting(
    dir: &tempfile::TempDir,
    approvers: &[&str],
    yes: bool,
    console: Arc<dyn Console>,
) -> Arc<Runner> {
    let store = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let sink = StoreSink::new(store.clone(), "r1");
    sink.emit(&RunEvent::RunStarted {
        run_id: "r1".into(),
        runbook: "restore".into(),
        source_path: "runbooks/restore.yaml".into(),
        source_sha256: "ab".into(),
        inputs: serde_json::json!({}),
        trigger: trigger("ann"),
        started_at: "2026-01-01T00:00:00Z".into(),
        parent: None,
    });
    sink.emit(&RunEvent::ApprovalRequested {
        step: "gate".into(),
        message: "go?".into(),
        approvers: approvers.iter().map(|a| (*a).to_owned()).collect(),
    });
    let project = Project::open(dir.path()).unwrap();
    let options = Options {
        yes,
        secrets_file: None,
    };
    let path = dir.path().join("s.db");
    Runner::new(project, store, path, trigger("ann"), options, console)
}

fn decide(runner: &Runner, approvers: &[String]) -> Decision {
    let cancel = CancellationToken::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(runner.decision(ApprovalWait {
            run_id: "r1",
            step: "gate",
            message: "go?",
            approvers,
            cancel: &cancel,
        }))
        .unwrap()
}

#[test]
fn the_console_answers_through_the_store_like_anyone_else() {
    let dir = tempfile::tempdir().unwrap();
    let console = Arc::new(Recorder::default());
    let runner = waiting(&dir, &["ann", "bob"], false, console.clone());
    let decision = decide(&runner, &["ann".into(), "bob".into()]);
    assert!(decision.approved);
    assert_eq!(decision.by, "ann");
    assert_eq!(decision.via, "recorder");
    assert_eq!(decision.comment.as_deref(), Some("typed"));
    assert_eq!(*console.seen.lock().unwrap(), [("gate".to_owned(), true)]);
}

#[test]
fn the_console_knows_when_the_starter_may_not_decide() {
    let dir = tempfile::tempdir().unwrap();
    let console = Arc::new(Recorder::default());
    let runner = waiting(&dir, &["bob"], false, console.clone());
    // Bob decides from elsewhere; the run takes his decision.
    let by_bob = Decision {
        approved: false,
        by: "bob".into(),
        comment: None,
        via: "cli".into(),
        decided_at: now(),
    };
    runner
        .store()
        .decide("r1", "gate", &by_bob)
        .unwrap()
        .unwrap();
    let decision = decide(&runner, &["bob".into()]);
    assert_eq!(decision, by_bob);
    assert_eq!(*console.seen.lock().unwrap(), [("gate".to_owned(), false)]);
}

#[test]
fn yes_approves_without_asking() {
    let dir = tempfile::tempdir().unwrap();
    let console = Arc::new(Recorder::default());
    let runner = waiting(&dir, &[], true, console.clone());
    let decision = decide(&runner, &[]);
    assert_eq!(decision.via, "pre-approved");
    assert!(console.seen.lock().unwrap().is_empty());
}
