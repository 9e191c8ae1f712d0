//! `run --output json` prints the [`RunReport`]: pinned byte for byte.

use serde_json::json;

use super::*;
use crate::outcome::{RunStatus, SkipReason, StepStatus};

#[test]
fn the_report_serialises_as_run_output_json_prints_it() {
    let mut steps = IndexMap::new();
    steps.insert(
        "build".to_owned(),
        StepOutcome {
            duration_ms: 1081,
            result: json!({"stdout": "1.2.3\n", "exit_code": 0}),
            outputs: json!({"version": "1.2.3"}),
            ..StepOutcome::new(StepStatus::Succeeded, 2)
        },
    );
    steps.insert(
        "notify".to_owned(),
        StepOutcome::skipped(SkipReason::WhenFalse, "`when: false` is false".into()),
    );
    steps.insert(
        "after".to_owned(),
        StepOutcome::skipped(SkipReason::NeedFailed, "needs `build`, which failed".into()),
    );
    steps.insert(
        "each".to_owned(),
        StepOutcome {
            duration_ms: 7,
            result: json!([null, {"exit_code": 1}]),
            outputs: json!([{}, {}]),
            error: Some("item 1: exit code 1".into()),
            ..StepOutcome::new(StepStatus::Failed, 1)
        },
    );
    let report = |error: Option<&str>| RunReport {
        run_id: "r1".into(),
        runbook: "deploy".into(),
        started_at: "2026-01-01T00:00:00+00:00".into(),
        inputs: json!({"env": "prod"}),
        steps: steps.clone(),
        outcome: RunOutcome {
            status: if error.is_some() {
                RunStatus::Failed
            } else {
                RunStatus::Succeeded
            },
            duration_ms: 1500,
            outputs: json!({"version": "1.2.3"}),
            error: error.map(str::to_owned),
        },
    };
    let failed = serde_json::to_string_pretty(&report(Some("step `each` failed: x"))).unwrap();
    assert_eq!(
        failed,
        r#"{
  "run_id": "r1",
  "runbook": "deploy",
  "status": "failed",
  "started_at": "2026-01-01T00:00:00+00:00",
  "duration_ms": 1500,
  "inputs": {
    "env": "prod"
  },
  "steps": {
    "build": {
      "status": "succeeded",
      "attempts": 2,
      "duration_ms": 1081,
      "result": {
        "stdout": "1.2.3\n",
        "exit_code": 0
      },
      "outputs": {
        "version": "1.2.3"
      },
      "error": null
    },
    "notify": {
      "status": "skipped",
      "attempts": 0,
      "duration_ms": 0,
      "result": null,
      "outputs": {},
      "error": "`when: false` is false"
    },
    "after": {
      "status": "skipped",
      "attempts": 0,
      "duration_ms": 0,
      "result": null,
      "outputs": {},
      "error": "needs `build`, which failed"
    },
    "each": {
      "status": "failed",
      "attempts": 1,
      "duration_ms": 7,
      "result": [
        null,
        {
          "exit_code": 1
        }
      ],
      "outputs": [
        {},
        {}
      ],
      "error": "item 1: exit code 1"
    }
  },
  "outputs": {
    "version": "1.2.3"
  },
  "error": "step `each` failed: x"
}"#
    );
    let fine = serde_json::to_string(&report(None)).unwrap();
    assert_eq!(
        fine,
        r#"{"run_id":"r1","runbook":"deploy","status":"succeeded","started_at":"2026-01-01T00:00:00+00:00","duration_ms":1500,"inputs":{"env":"prod"},"steps":{"build":{"status":"succeeded","attempts":2,"duration_ms":1081,"result":{"stdout":"1.2.3\n","exit_code":0},"outputs":{"version":"1.2.3"},"error":null},"notify":{"status":"skipped","attempts":0,"duration_ms":0,"result":null,"outputs":{},"error":"`when: false` is false"},"after":{"status":"skipped","attempts":0,"duration_ms":0,"result":null,"outputs":{},"error":"needs `build`, which failed"},"each":{"status":"failed","attempts":1,"duration_ms":7,"result":[null,{"exit_code":1}],"outputs":[{},{}],"error":"item 1: exit code 1"}},"outputs":{"version":"1.2.3"}}"#
    );
}
