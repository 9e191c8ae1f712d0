//! Approvals in the SQLite store: who may decide, the first decision wins,
//! a consumed decision is not reused by the next request.

use std::sync::Arc;

use super::{Refusal, RunStore, SqliteStore, StoreSink};
use crate::events::{EventSink, RunEvent, Trigger};
use crate::kind::Decision;

fn decision(approved: bool, by: &str) -> Decision {
    Decision {
        approved,
        by: by.into(),
        comment: None,
        via: "cli".into(),
        decided_at: "2026-01-01T00:00:00Z".into(),
    }
}

fn requested(approvers: &[&str]) -> RunEvent {
    RunEvent::ApprovalRequested {
        step: "gate".into(),
        message: "go?".into(),
        approvers: approvers.iter().map(|a| (*a).to_owned()).collect(),
    }
}

fn store_with_run() -> (tempfile::TempDir, Arc<SqliteStore>, StoreSink) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let sink = StoreSink::new(store.clone(), "r1");
    sink.emit(&RunEvent::RunStarted {
        run_id: "r1".into(),
        runbook: "restore".into(),
        source_path: "runbooks/restore.yaml".into(),
        source_sha256: "ab".into(),
        inputs: serde_json::json!({}),
        trigger: Trigger {
            kind: "cli".into(),
            actor: "ann".into(),
            origin: None,
        },
        started_at: "2026-01-01T00:00:00Z".into(),
        parent: None,
    });
    (dir, store, sink)
}

#[test]
fn only_approvers_decide_and_the_first_decision_wins() {
    let (_dir, store, sink) = store_with_run();
    assert!(matches!(
        store.decide("r1", "gate", &decision(true, "ann")).unwrap(),
        Err(Refusal::NotWaiting { .. })
    ));
    sink.emit(&requested(&["ann", "bob"]));
    assert_eq!(
        store.get_run("r1").unwrap().unwrap().run.status,
        crate::outcome::RunStatus::Interrupted
    );
    assert_eq!(store.decision("r1", "gate").unwrap(), None);
    let refused = store.decide("r1", "gate", &decision(true, "eve")).unwrap();
    assert!(
        matches!(&refused, Err(Refusal::NotAnApprover { who, .. }) if who == "eve"),
        "{refused:?}"
    );
    store
        .decide("r1", "gate", &decision(false, "bob"))
        .unwrap()
        .unwrap();
    let second = store.decide("r1", "gate", &decision(true, "ann")).unwrap();
    assert!(
        matches!(&second, Err(Refusal::AlreadyDecided { approved: false, by, .. }) if by == "bob"),
        "{second:?}"
    );
    assert_eq!(
        store.decision("r1", "gate").unwrap(),
        Some(decision(false, "bob"))
    );
}

#[test]
fn a_consumed_decision_is_not_reused_by_the_next_request() {
    let (_dir, store, sink) = store_with_run();
    sink.emit(&requested(&[]));
    store
        .decide("r1", "gate", &decision(true, "ann"))
        .unwrap()
        .unwrap();
    sink.emit(&RunEvent::ApprovalDecided {
        step: "gate".into(),
        approved: true,
        by: "ann".into(),
        comment: None,
        via: "cli".into(),
        decided_at: "2026-01-01T00:00:00Z".into(),
    });
    assert_eq!(store.decision("r1", "gate").unwrap(), None, "consumed");
    // The step asks again (a retry): a new decision is needed.
    sink.emit(&requested(&[]));
    assert_eq!(store.decision("r1", "gate").unwrap(), None);
    store
        .decide("r1", "gate", &decision(false, "ann"))
        .unwrap()
        .unwrap();
    assert_eq!(
        store.decision("r1", "gate").unwrap(),
        Some(decision(false, "ann"))
    );
    let approvals = store.get_run("r1").unwrap().unwrap().approvals;
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0].decision, Some(decision(false, "ann")));
    assert_eq!(sink.error(), None);
}
