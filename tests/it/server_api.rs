//! `steward serve`: a real server process on a free port of 127.0.0.1,
//! called over HTTP.

use std::time::{Duration, Instant};

use crate::support::serve::{self, send};
use crate::support::{self, Project};
use reqwest::StatusCode;
use reqwest::blocking::RequestBuilder;
use serde_json::{Value, json};

mod shutdown;

const CI_TOKEN: &str = "ci-token-value-7f3a9c";
const READER_TOKEN: &str = "reader-token-value-51be";

const CONFIG: &str = r#"
server:
  tokens:
    - name: ci
      secret: CI_TOKEN
      runbooks: ["hello", "fails", "gated", "slow", "health-*"]
      actions: [run, read, approve]
    - name: reader
      secret: READER_TOKEN
"#;

fn project() -> Project {
    let p = Project::new();
    p.write("steward.yaml", CONFIG);
    p.runbook(
        "hello",
        r#"
description: Says hello.
inputs:
  who: { type: string, required: true }
  times: { type: integer, default: 1 }
steps:
  - id: greet
    shell: echo hello {{ inputs.who }}
"#,
    );
    p.runbook(
        "fails",
        r#"
steps:
  - id: boom
    shell: exit 3
"#,
    );
    p.runbook(
        "gated",
        r#"
steps:
  - id: gate
    approval:
      message: "Go?"
  - id: after
    shell: touch approved-ran
"#,
    );
    p.runbook(
        "slow",
        r#"
steps:
  - id: nap
    shell: sleep 2; touch slow-done
"#,
    );
    p.runbook(
        "secret-stuff",
        r#"
steps:
  - id: x
    shell: "true"
"#,
    );
    p
}

/// A `steward serve` process; killed when dropped.
struct Server(serve::Served);

impl std::ops::Deref for Server {
    type Target = serve::Served;
    fn deref(&self) -> &serve::Served {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut serve::Served {
        &mut self.0
    }
}

impl Server {
    fn start(p: &Project, extra: &[&str]) -> Server {
        Server(serve::Served::start(
            p,
            &[("CI_TOKEN", CI_TOKEN), ("READER_TOKEN", READER_TOKEN)],
            extra,
        ))
    }

    fn get(&self, path: &str, token: Option<&str>) -> RequestBuilder {
        auth(self.client.get(self.url(path)), token)
    }

    fn post(&self, path: &str, token: Option<&str>, body: &Value) -> RequestBuilder {
        auth(self.client.post(self.url(path)), token).json(body)
    }

    /// Polls a run until `done` holds for it.
    fn wait_for(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, run) = send(self.get(&format!("/api/v1/runs/{id}"), Some(CI_TOKEN)));
            if status == StatusCode::OK && done(&run) {
                return run;
            }
            assert!(Instant::now() < deadline, "run {id} never {what}: {run}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn auth(request: RequestBuilder, token: Option<&str>) -> RequestBuilder {
    match token {
        Some(t) => request.bearer_auth(t),
        None => request,
    }
}

fn error_of(body: &Value) -> &str {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {body}"))
}

#[test]
fn health_auth_and_request_errors() {
    let p = project();
    let server = Server::start(&p, &[]);

    let (status, body) = send(server.get("/health", None));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok", "store": "ok"}));

    let (status, body) = send(server.get("/api/v1/runbooks", None));
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(error_of(&body).contains("bearer token"), "{body}");
    let (status, body) = send(server.get("/api/v1/runbooks", Some("wrong")));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(&body), "invalid bearer token");

    // Only the runbooks the token's globs cover.
    let (status, body) = send(server.get("/api/v1/runbooks", Some(CI_TOKEN)));
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = body["runbooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["fails", "gated", "hello", "slow"]);
    let hello = &body["runbooks"][2];
    assert_eq!(hello["description"], "Says hello.");
    assert_eq!(hello["inputs"][0]["name"], "who");
    assert_eq!(hello["inputs"][0]["required"], true);
    let (_, body) = send(server.get("/api/v1/runbooks", Some(READER_TOKEN)));
    assert_eq!(body["runbooks"].as_array().unwrap().len(), 5);

    // 403: outside the token's runbooks, or an action it lacks.
    let (status, body) = send(server.post(
        "/api/v1/runs",
        Some(CI_TOKEN),
        &json!({"runbook": "secret-stuff"}),
    ));
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        error_of(&body).contains("may not act on runbook `secret-stuff`"),
        "{body}"
    );
    let (status, body) = send(server.post(
        "/api/v1/runs",
        Some(READER_TOKEN),
        &json!({"runbook": "hello", "inputs": {"who": "x"}}),
    ));
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        error_of(&body).contains("token `reader` may not start"),
        "{body}"
    );

    // 404: a runbook the globs allow but that does not exist; never a path.
    let (status, body) = send(server.post(
        "/api/v1/runs",
        Some(CI_TOKEN),
        &json!({"runbook": "health-db"}),
    ));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&body), "no runbook `health-db`");

    // 400: every input problem listed.
    let (status, body) = send(server.post(
        "/api/v1/runs",
        Some(CI_TOKEN),
        &json!({"runbook": "hello", "inputs": {"times": "many", "whom": "x"}}),
    ));
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let inputs: Vec<&str> = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["input"].as_str().unwrap())
        .collect();
    assert_eq!(inputs.len(), 3, "{body}");
    for input in ["whom", "who", "times"] {
        assert!(inputs.contains(&input), "{input} missing: {body}");
    }

    // 400: malformed JSON, with a message that says so.
    let response = server
        .client
        .post(server.url("/api/v1/runs"))
        .bearer_auth(CI_TOKEN)
        .header("content-type", "application/json")
        .body(r#"{"runbook": "hello","#)
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().unwrap();
    assert!(error_of(&body).contains("not valid JSON"), "{body}");

    // 413: a body over 1 MiB.
    let big = format!(
        r#"{{"runbook": "hello", "pad": "{}"}}"#,
        "a".repeat(2 << 20)
    );
    let response = server
        .client
        .post(server.url("/api/v1/runs"))
        .bearer_auth(CI_TOKEN)
        .body(big)
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().unwrap();
    assert!(error_of(&body).contains("larger than"), "{body}");

    let out = server.output();
    for secret in [CI_TOKEN, READER_TOKEN] {
        assert!(!out.contains(secret), "token value in output:\n{out}");
    }
    // Nothing was run.
    let (_, body) = send(server.get("/api/v1/runs", Some(CI_TOKEN)));
    assert_eq!(body["runs"], json!([]));
}

#[test]
fn wait_returns_the_final_status_and_history_names_the_token() {
    let p = project();
    let mut server = Server::start(&p, &[]);

    let (status, body) = send(server.post(
        "/api/v1/runs?wait=true",
        Some(CI_TOKEN),
        &json!({"runbook": "hello", "inputs": {"who": "api"}}),
    ));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "succeeded");
    let id = body["run_id"].as_str().unwrap().to_owned();
    assert_eq!(body["report"]["steps"]["greet"]["status"], "succeeded");
    assert_eq!(
        body["report"]["steps"]["greet"]["result"]["stdout"],
        "hello api\n"
    );
    assert_eq!(body["links"]["self"], format!("/api/v1/runs/{id}"));

    let (status, body) = send(server.post(
        "/api/v1/runs?wait=true",
        Some(CI_TOKEN),
        &json!({"runbook": "fails"}),
    ));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "failed");
    assert_eq!(body["report"]["steps"]["boom"]["status"], "failed");

    // Without wait: 201 at once, the run readable right away.
    let (status, body) = send(server.post(
        "/api/v1/runs",
        Some(CI_TOKEN),
        &json!({"runbook": "hello", "inputs": {"who": "later"}}),
    ));
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let later = body["run_id"].as_str().unwrap().to_owned();
    assert_eq!(
        body["links"]["events"],
        format!("/api/v1/runs/{later}/events")
    );
    let run = server.wait_for(&later, "succeeded", |r| r["status"] == "succeeded");
    assert_eq!(run["steps"][0]["step"], "greet");
    assert_eq!(run["trigger_kind"], "api");
    assert_eq!(run["actor"], "ci");

    // The list, filtered.
    let (status, body) = send(server.get("/api/v1/runs?status=failed", Some(READER_TOKEN)));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["runs"].as_array().unwrap().len(), 1);
    assert_eq!(body["runs"][0]["runbook"], "fails");
    let (_, body) = send(server.get("/api/v1/runs?runbook=hello&limit=1", Some(CI_TOKEN)));
    assert_eq!(body["runs"].as_array().unwrap().len(), 1);
    assert_eq!(body["runs"][0]["id"], later.as_str());
    let (status, _) = send(server.get("/api/v1/runs/nope", Some(CI_TOKEN)));
    assert_eq!(status, StatusCode::NOT_FOUND);

    // `steward history` shows who started them.
    let runs = p.history(&[]);
    assert_eq!(runs.len(), 3, "{runs:?}");
    for run in &runs {
        assert_eq!(run["trigger_kind"], "api", "{run}");
        assert_eq!(run["actor"], "ci", "{run}");
    }
    assert!(runs.iter().any(|r| r["id"] == id.as_str()));

    assert!(server.stop().success());
    let out = server.output();
    for secret in [CI_TOKEN, READER_TOKEN] {
        assert!(!out.contains(secret), "token value in output:\n{out}");
    }
}

#[test]
fn approve_via_the_api_continues_a_waiting_run() {
    let p = project();
    let server = Server::start(&p, &[]);
    let (status, body) =
        send(server.post("/api/v1/runs", Some(CI_TOKEN), &json!({"runbook": "gated"})));
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["run_id"].as_str().unwrap().to_owned();
    server.wait_for(&id, "waiting", |r| r["status"] == "waiting");
    assert!(!p.exists("approved-ran"));

    // The reader may not decide; a step that is not waiting is a conflict.
    let path = format!("/api/v1/runs/{id}/steps/gate/approve");
    let (status, _) = send(server.post(&path, Some(READER_TOKEN), &json!({})));
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = send(server.post(
        &format!("/api/v1/runs/{id}/steps/after/approve"),
        Some(CI_TOKEN),
        &json!({}),
    ));
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        error_of(&body).contains("not waiting for an approval"),
        "{body}"
    );

    let (status, body) = send(server.post(&path, Some(CI_TOKEN), &json!({"comment": "ship it"})));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["decision"]["by"], "ci");
    assert_eq!(body["decision"]["via"], "api");

    let run = server.wait_for(&id, "succeeded", |r| r["status"] == "succeeded");
    assert!(p.exists("approved-ran"));
    let decision = &run["approvals"][0]["decision"];
    assert_eq!(decision["approved"], true);
    assert_eq!(decision["by"], "ci");
    assert_eq!(decision["comment"], "ship it");
    assert_eq!(decision["via"], "api");

    // Decided already.
    let (status, body) = send(server.post(
        &format!("/api/v1/runs/{id}/steps/gate/reject"),
        Some(CI_TOKEN),
        &json!({}),
    ));
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[test]
fn cancel_stops_a_run_hosted_here() {
    let p = project();
    p.runbook(
        "slow",
        r#"
steps:
  - id: nap
    shell: sleep 30
"#,
    );
    let server = Server::start(&p, &[]);
    let (_, body) = send(server.post("/api/v1/runs", Some(CI_TOKEN), &json!({"runbook": "slow"})));
    let id = body["run_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/runs/{id}/cancel");
    let (status, _) = send(server.post(&path, Some(READER_TOKEN), &json!({})));
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = send(server.post(&path, Some(CI_TOKEN), &json!({})));
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run = server.wait_for(&id, "cancelled", |r| r["status"] == "cancelled");
    assert_eq!(run["steps"][0]["status"], "cancelled");
    let (status, body) = send(server.post(&path, Some(CI_TOKEN), &json!({})));
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

/// The `(id, event)` pairs of an SSE body.
fn sse(body: &str) -> Vec<(u64, String)> {
    body.split("\n\n")
        .filter(|f| !f.trim().is_empty())
        .map(|frame| {
            let field = |name: &str| {
                frame
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .unwrap_or_else(|| panic!("no {name} in {frame:?}"))
                    .to_owned()
            };
            let data: Value = serde_json::from_str(&field("data: ")).unwrap();
            let event = field("event: ");
            assert_eq!(data["event"]["event"], event.as_str());
            (field("id: ").parse().unwrap(), event)
        })
        .collect()
}

#[test]
fn events_stream_every_event_of_a_run_until_it_finishes() {
    let p = project();
    let server = Server::start(&p, &[]);
    let (status, body) =
        send(server.post("/api/v1/runs", Some(CI_TOKEN), &json!({"runbook": "slow"})));
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let events = body["links"]["events"].as_str().unwrap().to_owned();

    let response = server.get(&events, Some(CI_TOKEN)).send().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let frames = sse(&response.text().unwrap());
    assert!(p.exists("slow-done"), "the stream ends with the run");
    let ids: Vec<u64> = frames.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    assert_eq!(frames.first().unwrap().1, "run_started");
    assert_eq!(frames.last().unwrap().1, "run_finished");
    assert!(frames.iter().any(|(_, e)| e == "step_finished"));

    // A finished run: the same events at once; Last-Event-ID resumes.
    let again = server
        .get(&events, Some(CI_TOKEN))
        .header("Last-Event-ID", "2")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(sse(&again), frames[2..].to_vec());

    let (status, _) = send(server.get(&events, None));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
