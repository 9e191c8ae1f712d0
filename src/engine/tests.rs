//! `run --output json` prints the [`RunReport`]: pinned byte for byte.

use serde_json::json;

use super::*;

#[test]
fn the_report_serialises_as_run_output_json_prints_it() {
    let mut steps = IndexMap::new();
    steps.insert(
        "build".to_owned(),
        StepRecord {
            status: Status::Succeeded,
            attempts: 2,
            duration_ms: 1081,
            result: json!({"stdout": "1.2.3\n", "exit_code": 0}),
            outputs: json!({"version": "1.2.3"}),
            error: None,
            blocked: false,
        },
    );
    steps.insert(
        "notify".to_owned(),
        StepRecord::skipped("`when: false` is false".into(), false),
    );
    steps.insert(
        "after".to_owned(),
        StepRecord::skipped("needs `build`, which failed".into(), true),
    );
    steps.insert(
        "each".to_owned(),
        StepRecord {
            status: Status::Failed,
            attempts: 1,
            duration_ms: 7,
            result: json!([null, {"exit_code": 1}]),
            outputs: json!([{}, {}]),
            error: Some("item 1: exit code 1".into()),
            blocked: false,
        },
    );
    let report = |error: Option<&str>| RunReport {
        run_id: "r1".into(),
        runbook: "deploy".into(),
        status: if error.is_some() {
            Status::Failed
        } else {
            Status::Succeeded
        },
        started_at: "2026-01-01T00:00:00+00:00".into(),
        duration_ms: 1500,
        inputs: json!({"env": "prod"}),
        steps: steps.clone(),
        outputs: json!({"version": "1.2.3"}),
        error: error.map(str::to_owned),
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
