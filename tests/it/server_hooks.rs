//! `POST /hooks/{name}`: signed webhooks against a real `steward serve`
//! process on a free port of 127.0.0.1.

use std::time::{Duration, Instant};

use crate::support::Project;
use crate::support::serve::{self, send};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use reqwest::blocking::RequestBuilder;
use serde_json::{Value, json};
use sha2::Sha256;

const GITHUB_SECRET: &str = "gh-hook-secret-8d1e22";
/// `whsec_` + base64 of the key bytes below.
const STANDARD_KEY: &[u8] = b"standard-hook-key-4c7b90";

const CONFIG: &str = r#"
server:
  hooks:
    - name: gh
      kind: github
      secret: GH_HOOK_SECRET
      runbook: deploy
      events: [deployment, release]
      inputs:
        ref: "{{ payload.deployment.ref }}"
        env: "{{ payload.deployment.environment }}"
    - name: releases
      kind: github
      secret: GH_HOOK_SECRET
      runbook: deploy
      events: [release]
      actions: [published]
      rate_limit: { requests: 3, per: 1h }
      inputs:
        ref: "{{ payload.release.tag_name }}"
        env: release
    - name: std
      kind: standard
      secret: STD_HOOK_SECRET
      runbook: deploy
      inputs:
        ref: "{{ payload.ref }}"
        env: "{{ headers['webhook-id'] }}"
"#;

fn standard_secret() -> String {
    format!("whsec_{}", BASE64.encode(STANDARD_KEY))
}

fn project() -> Project {
    let p = Project::new();
    p.write("steward.yaml", CONFIG);
    p.runbook(
        "deploy",
        r#"
inputs:
  ref: { type: string, required: true }
  env: { type: string, required: true }
steps:
  - id: record
    shell: echo {{ inputs.ref }} {{ inputs.env }} >> deployed
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

impl Server {
    fn start(p: &Project) -> Server {
        Server(serve::Served::start(
            p,
            &[
                ("GH_HOOK_SECRET", GITHUB_SECRET),
                ("STD_HOOK_SECRET", &standard_secret()),
            ],
            &[],
        ))
    }
    fn post(&self, path: &str, body: &[u8]) -> RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_vec())
    }
}

fn github_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(GITHUB_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn standard_signature(id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(STANDARD_KEY).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

fn github(server: &Server, event: &str, body: &[u8], signature: &str) -> (StatusCode, Value) {
    github_delivery(server, event, "delivery-72b1", body, signature)
}

fn github_delivery(
    server: &Server,
    event: &str,
    delivery: &str,
    body: &[u8],
    signature: &str,
) -> (StatusCode, Value) {
    github_to(server, "gh", event, delivery, body, signature)
}

fn github_to(
    server: &Server,
    hook: &str,
    event: &str,
    delivery: &str,
    body: &[u8],
    signature: &str,
) -> (StatusCode, Value) {
    send(
        server
            .post(&format!("/hooks/{hook}"), body)
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", delivery)
            .header("X-Hub-Signature-256", signature),
    )
}

fn standard(server: &Server, id: &str, timestamp: i64, body: &[u8]) -> (StatusCode, Value) {
    send(
        server
            .post("/hooks/std", body)
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", standard_signature(id, timestamp, body)),
    )
}

/// Polls `steward history` until `n` runs have finished.
fn finished_runs(p: &Project, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runs = p.history(&[]);
        if runs.len() >= n && runs.iter().all(|r| r["status"] != "running") {
            return runs;
        }
        assert!(Instant::now() < deadline, "runs never finished: {runs:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn signed_github_deployment_starts_the_runbook_with_payload_inputs() {
    let p = project();
    let server = Server::start(&p);
    let body = serde_json::to_vec(&json!({
        "deployment": { "ref": "v1.4.2", "environment": "production" },
        "repository": { "full_name": "acme/shop" },
    }))
    .unwrap();

    // A tampered body: refused, nothing starts.
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let (status, refused) = github(&server, "deployment", &tampered, &github_signature(&body));
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused}");
    // No signature at all.
    let (status, _) = send(
        server
            .post("/hooks/gh", &body)
            .header("X-GitHub-Event", "deployment"),
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Signed, but an event the hook does not take.
    let (status, ignored) = github(&server, "push", &body, &github_signature(&body));
    assert_eq!(status, StatusCode::ACCEPTED, "{ignored}");
    assert_eq!(ignored, json!({ "ignored": "event push" }));
    // An unknown hook.
    let (status, _) = send(server.post("/hooks/nope", &body));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(p.history(&[]).is_empty(), "nothing ran yet");

    // Correctly signed: the run starts.
    let (status, started) = github(&server, "deployment", &body, &github_signature(&body));
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let id = started["run_id"].as_str().expect("run_id");

    let runs = finished_runs(&p, 1);
    assert_eq!(runs.len(), 1, "only the signed deployment ran: {runs:?}");
    let run = &runs[0];
    assert_eq!(run["id"], id, "{run}");
    assert_eq!(run["trigger_kind"], "webhook", "{run}");
    assert_eq!(run["actor"], "hook:gh", "{run}");
    assert_eq!(run["status"], "succeeded", "{run}");
    let deployed = std::fs::read_to_string(p.path().join("deployed")).unwrap();
    assert_eq!(deployed.trim(), "v1.4.2 production");

    // Inputs that don't fit the runbook: 400 with problems, no run.
    let missing = br#"{"release": {}}"#;
    let (status, bad) = github_delivery(
        &server,
        "release",
        "delivery-2",
        missing,
        &github_signature(missing),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert!(bad["problems"].is_array(), "{bad}");
    // The same delivery again (a replay): refused.
    let (status, replay) = github(&server, "deployment", &body, &github_signature(&body));
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{replay}");
    assert!(
        replay["error"].as_str().unwrap().contains("replay"),
        "{replay}"
    );
    // Over the body limit: 413.
    let big = vec![b' '; 2 * 1024 * 1024];
    let (status, _) = github_delivery(&server, "deployment", "delivery-3", &big, "sha256=00");
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(p.history(&[]).len(), 1, "no second run");

    let out = server.output();
    assert!(out.contains("hook gh: delivery refused"), "{out}");
    assert!(!out.contains(GITHUB_SECRET), "secret in output:\n{out}");
    assert!(!out.contains("v1.4.2"), "body in output:\n{out}");
}

#[test]
fn github_actions_filter_and_the_hook_rate_limit() {
    let p = project();
    let server = Server::start(&p);
    let release = |action: Option<&str>| {
        let mut payload = json!({ "release": { "tag_name": "v2.0.0" } });
        if let Some(action) = action {
            payload["action"] = json!(action);
        }
        serde_json::to_vec(&payload).unwrap()
    };
    let deliver = |id: &str, body: &[u8]| {
        github_to(
            &server,
            "releases",
            "release",
            id,
            body,
            &github_signature(body),
        )
    };

    // Another action, or none: acknowledged, nothing started.
    let (status, ignored) = deliver("rel-1", &release(Some("created")));
    assert_eq!(status, StatusCode::ACCEPTED, "{ignored}");
    assert_eq!(
        ignored,
        json!({ "ignored": "event release with action created" })
    );
    let (status, ignored) = deliver("rel-2", &release(None));
    assert_eq!(status, StatusCode::ACCEPTED, "{ignored}");
    assert_eq!(
        ignored,
        json!({ "ignored": "event release with no action" })
    );
    assert!(p.history(&[]).is_empty());

    // The action it takes: a run.
    let (status, started) = deliver("rel-3", &release(Some("published")));
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert!(started["run_id"].is_string(), "{started}");
    let runs = finished_runs(&p, 1);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "succeeded", "{runs:?}");
    assert_eq!(p.read("deployed").trim(), "v2.0.0 release");

    // Its own rate limit (3 an hour): the fourth signed delivery is refused.
    let response = server
        .post("/hooks/releases", &release(Some("published")))
        .header("X-GitHub-Event", "release")
        .header("X-GitHub-Delivery", "rel-4")
        .header(
            "X-Hub-Signature-256",
            github_signature(&release(Some("published"))),
        )
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    let limited: Value = response.json().unwrap();
    let error = limited["error"].as_str().unwrap();
    assert!(
        error.contains("webhook `releases`") && error.contains("3 requests per 1h"),
        "{limited}"
    );
    assert_eq!(p.history(&[]).len(), 1, "no second run");
    // The `gh` hook has a limit of its own, untouched.
    let (status, ignored) = github(&server, "push", b"{}", &github_signature(b"{}"));
    assert_eq!(status, StatusCode::ACCEPTED, "{ignored}");

    let metrics = server
        .client
        .get(format!("{}/metrics", server.base))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(r#"steward_requests_limited_total{reason="hook_rate"} 1"#),
        "{metrics}"
    );
}

#[test]
fn standard_webhooks_check_the_timestamp_window() {
    let p = project();
    let server = Server::start(&p);
    let body = br#"{"ref": "main"}"#;

    // Stale (a replay of an old delivery) and from the future: refused.
    let (status, stale) = standard(&server, "msg_1", now() - 10 * 60, body);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{stale}");
    assert!(
        stale["error"].as_str().unwrap().contains("stale"),
        "{stale}"
    );
    let (status, _) = standard(&server, "msg_2", now() + 10 * 60, body);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Signed for another body.
    let ts = now();
    let (status, _) = send(
        server
            .post("/hooks/std", br#"{"ref": "evil"}"#)
            .header("webhook-id", "msg_3")
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", standard_signature("msg_3", ts, body)),
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(p.history(&[]).is_empty(), "nothing ran");

    let (status, started) = standard(&server, "msg_ok", now(), body);
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let id = started["run_id"].as_str().unwrap();
    assert_eq!(
        started["links"]["self"],
        format!("/api/v1/runs/{id}").as_str()
    );
    let runs = finished_runs(&p, 1);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["id"], id);
    assert_eq!(runs[0]["trigger_kind"], "webhook");
    assert_eq!(runs[0]["actor"], "hook:std");
    let deployed = std::fs::read_to_string(p.path().join("deployed")).unwrap();
    assert_eq!(deployed.trim(), "main msg_ok");
    // The same message replayed within the window: refused.
    let (status, replay) = standard(&server, "msg_ok", now(), body);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{replay}");
    assert_eq!(p.history(&[]).len(), 1);

    let out = server.output();
    assert!(out.contains("hook std: delivery refused: stale"), "{out}");
    assert!(
        !out.contains(&standard_secret()),
        "secret in output:\n{out}"
    );
    assert!(
        !out.contains(&BASE64.encode(STANDARD_KEY)),
        "secret in output:\n{out}"
    );
}
