//! `GET /api/v1/runs` with a token limited to some runbooks: the newest
//! runs it covers, however many runs of other runbooks are newer (it reads
//! more of the store in rounds rather than every run at once).

use crate::support::{Project, serve, unindent};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ALL_TOKEN: &str = "all-token-value-93c1d0";
const NARROW_TOKEN: &str = "narrow-token-value-2b7e44";

const CONFIG: &str = r#"
server:
  tokens:
    - name: all
      secret: ALL_TOKEN
      actions: [run, read]
    - name: narrow
      secret: NARROW_TOKEN
      runbooks: ["covered"]
      actions: [read]
"#;

fn start(server: &serve::Served, runbook: &str) -> String {
    let response = server
        .client
        .post(server.url("/api/v1/runs?wait=true"))
        .bearer_auth(ALL_TOKEN)
        .json(&json!({ "runbook": runbook }))
        .send()
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().expect("JSON");
    assert_eq!(body["status"], "succeeded", "{body}");
    body["run_id"].as_str().expect("run_id").to_owned()
}

fn list(server: &serve::Served, token: &str, query: &str) -> Vec<(String, String)> {
    let response = server
        .client
        .get(server.url(&format!("/api/v1/runs{query}")))
        .bearer_auth(token)
        .send()
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().expect("JSON");
    body["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or_default().to_owned(),
                r["runbook"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_narrow_token_lists_its_newest_runs_behind_many_others() {
    let p = Project::new();
    p.write("steward.yaml", CONFIG);
    p.runbook(
        "covered",
        &unindent(
            r#"
            steps:
              - id: a
                shell: "true"
            "#,
        ),
    );
    p.runbook(
        "other",
        &unindent(
            r#"
            steps:
              - id: a
                shell: "true"
            "#,
        ),
    );
    let server = serve::Served::start(
        &p,
        &[("ALL_TOKEN", ALL_TOKEN), ("NARROW_TOKEN", NARROW_TOKEN)],
        &[],
    );

    let oldest = start(&server, "covered");
    let older = start(&server, "covered");
    for _ in 0..60 {
        start(&server, "other");
    }
    let newest = start(&server, "covered");
    for _ in 0..3 {
        start(&server, "other");
    }

    // 63 runs of `other` are newer than `older`: the first rounds (2, 8,
    // 32 runs) don't reach it.
    let got = list(&server, NARROW_TOKEN, "?limit=2");
    let want = vec![
        (newest.clone(), "covered".to_owned()),
        (older.clone(), "covered".to_owned()),
    ];
    assert_eq!(got, want);

    // More than it covers: all three, newest first, and the store ran out.
    let got = list(&server, NARROW_TOKEN, "?limit=10");
    assert_eq!(
        got.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        [newest.as_str(), older.as_str(), oldest.as_str()]
    );
    assert!(list(&server, NARROW_TOKEN, "?limit=0").is_empty());
    let outside = server
        .client
        .get(server.url("/api/v1/runs?runbook=other"))
        .bearer_auth(NARROW_TOKEN)
        .send()
        .expect("send");
    assert_eq!(outside.status(), StatusCode::FORBIDDEN);

    // A `*` token reads only what it asks for.
    let got = list(&server, ALL_TOKEN, "?limit=4");
    assert_eq!(got.len(), 4);
    assert_eq!(got[3], (newest, "covered".to_owned()));
}
