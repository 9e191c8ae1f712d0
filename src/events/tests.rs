//! The audit trail hashes each event's JSON: these pin it byte for byte.

use serde_json::json;

use super::*;
use crate::outcome::{RunStatus, SkipReason};

fn trigger() -> Trigger {
    Trigger {
        kind: "cli".into(),
        actor: "ann".into(),
        origin: Some("tty".into()),
    }
}

/// Every variant, with optional fields both given and not.
fn events() -> Vec<RunEvent> {
    vec![
        RunEvent::RunStarted {
            run_id: "r1".into(),
            runbook: "deploy".into(),
            source_path: "runbooks/deploy.yaml".into(),
            source_sha256: "ab".into(),
            inputs: json!({"env": "prod", "n": 2}),
            trigger: trigger(),
            started_at: "2026-01-01T00:00:00+00:00".into(),
            parent: None,
        },
        RunEvent::RunStarted {
            run_id: "r2".into(),
            runbook: "child".into(),
            source_path: "runbooks/child.yaml".into(),
            source_sha256: "cd".into(),
            inputs: json!({}),
            trigger: trigger(),
            started_at: "2026-01-01T00:00:01+00:00".into(),
            parent: Some(ParentRun {
                run_id: "r1".into(),
                step: "sub".into(),
            }),
        },
        RunEvent::RunResumed {
            by: trigger(),
            finished_steps: 3,
        },
        RunEvent::ConcurrencyWaiting {
            key: "deploy-prod".into(),
            holder: Some("r0".into()),
        },
        RunEvent::ConcurrencyWaiting {
            key: "deploy-prod".into(),
            holder: None,
        },
        RunEvent::ConcurrencyAcquired {
            key: "deploy-prod".into(),
            waited_ms: 12,
        },
        RunEvent::ApprovalRequested {
            step: "gate".into(),
            message: "ship?".into(),
            approvers: vec!["bob".into()],
        },
        RunEvent::ApprovalDecided {
            step: "gate".into(),
            approved: true,
            by: "bob".into(),
            comment: Some("ok".into()),
            via: "cli".into(),
            decided_at: "2026-01-01T00:00:02Z".into(),
        },
        RunEvent::ApprovalDecided {
            step: "gate".into(),
            approved: false,
            by: "bob".into(),
            comment: None,
            via: "api".into(),
            decided_at: "2026-01-01T00:00:02Z".into(),
        },
        RunEvent::AttemptStarted {
            step: "build".into(),
            attempt: 1,
            item: None,
            detail: "make".into(),
        },
        RunEvent::AttemptStarted {
            step: "each".into(),
            attempt: 2,
            item: Some(1),
            detail: "echo b".into(),
        },
        RunEvent::Output {
            step: "build".into(),
            stream: OutputStream::Stderr,
            line: "warning".into(),
        },
        RunEvent::AttemptFinished {
            step: "build".into(),
            attempt: 1,
            item: Some(0),
            status: StepStatus::Failed,
            exit_code: Some(2),
            duration_ms: 40,
            error: Some("exit code 2".into()),
            retry_in_ms: Some(1000),
            output: Some("tail".into()),
        },
        RunEvent::AttemptFinished {
            step: "build".into(),
            attempt: 2,
            item: None,
            status: StepStatus::Succeeded,
            exit_code: None,
            duration_ms: 41,
            error: None,
            retry_in_ms: None,
            output: None,
        },
        RunEvent::StepFinished {
            step: "build".into(),
            outcome: StepOutcome {
                duration_ms: 1081,
                outputs: json!({"version": "1.2.3"}),
                result: json!({"stdout": "1.2.3\n"}),
                ..StepOutcome::new(StepStatus::Succeeded, 2)
            },
        },
        RunEvent::StepFinished {
            step: "notify".into(),
            outcome: StepOutcome::skipped(SkipReason::WhenFalse, "`when: false` is false".into()),
        },
        RunEvent::StepFinished {
            step: "each".into(),
            outcome: StepOutcome {
                duration_ms: 7,
                error: Some("item 1: exit code 1".into()),
                outputs: json!([{}, {}]),
                result: json!([null, null]),
                ..StepOutcome::new(StepStatus::Failed, 1)
            },
        },
        RunEvent::Phase {
            phase: "finally".into(),
        },
        RunEvent::RunFinished(RunOutcome {
            status: RunStatus::Succeeded,
            duration_ms: 1500,
            outputs: json!({"version": "1.2.3"}),
            error: None,
        }),
        RunEvent::RunFinished(RunOutcome {
            status: RunStatus::TimedOut,
            duration_ms: 60000,
            outputs: json!({}),
            error: Some("the run timed out after 1m".into()),
        }),
    ]
}

#[test]
fn events_serialise_as_the_audit_trail_has_them() {
    let lines: Vec<String> = events()
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    let expected = [
        r#"{"event":"run_started","run_id":"r1","runbook":"deploy","source_path":"runbooks/deploy.yaml","source_sha256":"ab","inputs":{"env":"prod","n":2},"trigger":{"kind":"cli","actor":"ann","origin":"tty"},"started_at":"2026-01-01T00:00:00+00:00"}"#,
        r#"{"event":"run_started","run_id":"r2","runbook":"child","source_path":"runbooks/child.yaml","source_sha256":"cd","inputs":{},"trigger":{"kind":"cli","actor":"ann","origin":"tty"},"started_at":"2026-01-01T00:00:01+00:00","parent":{"run_id":"r1","step":"sub"}}"#,
        r#"{"event":"run_resumed","by":{"kind":"cli","actor":"ann","origin":"tty"},"finished_steps":3}"#,
        r#"{"event":"concurrency_waiting","key":"deploy-prod","holder":"r0"}"#,
        r#"{"event":"concurrency_waiting","key":"deploy-prod"}"#,
        r#"{"event":"concurrency_acquired","key":"deploy-prod","waited_ms":12}"#,
        r#"{"event":"approval_requested","step":"gate","message":"ship?","approvers":["bob"]}"#,
        r#"{"event":"approval_decided","step":"gate","approved":true,"by":"bob","comment":"ok","via":"cli","decided_at":"2026-01-01T00:00:02Z"}"#,
        r#"{"event":"approval_decided","step":"gate","approved":false,"by":"bob","via":"api","decided_at":"2026-01-01T00:00:02Z"}"#,
        r#"{"event":"attempt_started","step":"build","attempt":1,"detail":"make"}"#,
        r#"{"event":"attempt_started","step":"each","attempt":2,"item":1,"detail":"echo b"}"#,
        r#"{"event":"output","step":"build","stream":"stderr","line":"warning"}"#,
        r#"{"event":"attempt_finished","step":"build","attempt":1,"item":0,"status":"failed","exit_code":2,"duration_ms":40,"error":"exit code 2","retry_in_ms":1000,"output":"tail"}"#,
        r#"{"event":"attempt_finished","step":"build","attempt":2,"status":"succeeded","duration_ms":41}"#,
        r#"{"event":"step_finished","step":"build","status":"succeeded","attempts":2,"duration_ms":1081,"outputs":{"version":"1.2.3"}}"#,
        r#"{"event":"step_finished","step":"notify","status":"skipped","attempts":0,"duration_ms":0,"error":"`when: false` is false"}"#,
        r#"{"event":"step_finished","step":"each","status":"failed","attempts":1,"duration_ms":7,"error":"item 1: exit code 1","outputs":[{},{}]}"#,
        r#"{"event":"phase","phase":"finally"}"#,
        r#"{"event":"run_finished","status":"succeeded","duration_ms":1500,"outputs":{"version":"1.2.3"}}"#,
        r#"{"event":"run_finished","status":"timed_out","duration_ms":60000,"outputs":{},"error":"the run timed out after 1m"}"#,
    ];
    assert_eq!(lines, expected);
}

#[test]
fn events_read_back_without_what_the_trail_leaves_out() {
    for event in events() {
        let line = serde_json::to_string(&event).unwrap();
        let back: RunEvent = serde_json::from_str(&line).unwrap();
        let mut expected = event;
        if let RunEvent::StepFinished { outcome, .. } = &mut expected {
            outcome.result = serde_json::Value::Null;
            outcome.skip_reason = None;
        }
        assert_eq!(back, expected, "{line}");
    }
}
