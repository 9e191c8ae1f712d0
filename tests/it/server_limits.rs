//! `steward serve`'s limits against a real server process on 127.0.0.1:
//! rate limits per token, and time limits on slow clients (which must not
//! cut the requests that last as long as their run).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{self, Project, serve, unindent};
use reqwest::StatusCode;
use serde_json::{Value, json};

const CI_TOKEN: &str = "ci-token-value-0d6e21";
const READER_TOKEN: &str = "reader-token-value-93ac";

const CONFIG: &str = r#"
server:
  rate_limit: { requests: 100, per: 1m }
  timeouts: { headers: 1s, body: 1s, request: 1s }
  tokens:
    - name: ci
      secret: CI_TOKEN
      actions: [run, read]
      rate_limit: { requests: 3, per: 1h }
    - name: reader
      secret: READER_TOKEN
"#;

fn project() -> Project {
    let p = Project::new();
    p.write("steward.yaml", CONFIG);
    p.runbook(
        "slow",
        r#"
steps:
  - id: nap
    shell: sleep 2
"#,
    );
    p
}

fn start(p: &Project) -> serve::Served {
    serve::Served::start(
        p,
        &[("CI_TOKEN", CI_TOKEN), ("READER_TOKEN", READER_TOKEN)],
        &[],
    )
}

fn get(server: &serve::Served, path: &str, token: &str) -> reqwest::blocking::Response {
    server
        .client
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .expect("send the request")
}

/// A raw connection to the server, reads bounded by `limit`.
fn connect(server: &serve::Served, limit: Duration) -> TcpStream {
    let addr = server.base.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(limit)).expect("read timeout");
    stream
}

/// Reads until the server closes the connection; fails if it is still
/// open when the read timeout passes.
fn read_to_close(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return String::from_utf8_lossy(&got).into_owned();
            }
            Err(e) => panic!(
                "the connection was still open ({e}); read so far: {}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

#[test]
fn a_token_over_its_rate_limit_gets_429_naming_it() {
    let p = project();
    let server = start(&p);
    for _ in 0..3 {
        assert_eq!(
            get(&server, "/api/v1/runs", CI_TOKEN).status(),
            StatusCode::OK
        );
    }
    let refused = get(&server, "/api/v1/runs", CI_TOKEN);
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // One request in 20 minutes comes back.
    assert!((1..=1200).contains(&retry), "{retry}");
    let body: Value = refused.json().unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("token `ci`") && error.contains("3 requests per 1h"),
        "{body}"
    );
    assert_eq!(body["limit"], json!({ "requests": 3, "per": "1h" }));
    assert_eq!(body["retry_after_seconds"], json!(retry));

    // Other tokens have their own budget; a bad token is still a 401.
    assert_eq!(
        get(&server, "/api/v1/runs", READER_TOKEN).status(),
        StatusCode::OK
    );
    assert_eq!(
        get(&server, "/api/v1/runs", "no-such-token").status(),
        StatusCode::UNAUTHORIZED
    );
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(r#"steward_requests_limited_total{reason="token_rate"} 1"#),
        "{metrics}"
    );
    assert!(!server.output().contains(CI_TOKEN), "{}", server.output());
}

#[test]
fn a_client_sending_its_headers_too_slowly_is_cut_off() {
    let p = project();
    let server = start(&p);
    let mut stream = connect(&server, Duration::from_secs(10));
    let started = Instant::now();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let answer = read_to_close(&mut stream);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    // The server still answers others.
    let health = server.client.get(server.url("/health")).send().unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[test]
fn a_client_sending_its_body_too_slowly_gets_408() {
    let p = project();
    let server = start(&p);
    let mut stream = connect(&server, Duration::from_secs(10));
    let started = Instant::now();
    let head = format!(
        "POST /api/v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {READER_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"runbook\""
    );
    stream.write_all(head.as_bytes()).unwrap();
    let answer = read_to_close(&mut stream);
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("not sent within 1s"), "{answer}");
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(r#"steward_requests_limited_total{reason="body_timeout"} 1"#),
        "{metrics}"
    );
}

#[test]
fn waiting_for_a_run_and_its_event_stream_outlast_the_request_limit() {
    let p = project();
    let server = start(&p);
    // `?wait=true` on a two-second run, with a one-second request limit.
    let response = server
        .client
        .post(server.url("/api/v1/runs?wait=true"))
        .bearer_auth(CI_TOKEN)
        .json(&json!({ "runbook": "slow" }))
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().unwrap();
    assert_eq!(body["status"], "succeeded", "{body}");

    let response = server
        .client
        .post(server.url("/api/v1/runs"))
        .bearer_auth(CI_TOKEN)
        .json(&json!({ "runbook": "slow" }))
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = response.json::<Value>().unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stream = get(&server, &format!("/api/v1/runs/{id}/events"), READER_TOKEN);
    assert_eq!(stream.status(), StatusCode::OK);
    let events = stream.text().unwrap();
    assert!(events.contains("event: run_finished"), "{events}");
}

#[test]
fn a_request_not_answered_in_time_gets_503() {
    let p = project();
    p.runbook(
        "quick",
        &unindent(
            r#"
            steps:
              - id: x
                shell: "true"
            "#,
        ),
    );
    let server = start(&p);
    let start_quick = || {
        server
            .client
            .post(server.url("/api/v1/runs"))
            .bearer_auth(READER_TOKEN)
            .json(&json!({ "runbook": "quick" }))
            .send()
            .unwrap()
    };
    // (`reader` may not run: a 403, but the store is open.)
    assert_eq!(start_quick().status(), StatusCode::FORBIDDEN);
    // Another process holds the store's write lock: recording a new run
    // waits (up to the store's busy timeout, longer than the one-second
    // request limit).
    let db = rusqlite::Connection::open(p.file(".steward/steward.db")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE;").unwrap();
    let started = Instant::now();
    let response = server
        .client
        .post(server.url("/api/v1/runs"))
        .bearer_auth(CI_TOKEN)
        .json(&json!({ "runbook": "quick" }))
        .send()
        .unwrap();
    let took = started.elapsed();
    db.execute_batch("ROLLBACK;").unwrap();
    drop(db);
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not answered within 1s"),
        "{body}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(r#"steward_requests_limited_total{reason="request_timeout"} 1"#),
        "{metrics}"
    );
    // The run itself goes on once the store is free.
    assert!(
        support::wait_until(Duration::from_secs(30), || {
            let out = p.steward(&["history", "--output", "json"]);
            let runs: Value = serde_json::from_str(&out.stdout).unwrap_or_default();
            runs[0]["status"] == "succeeded"
        }),
        "{}",
        server.output()
    );
}

#[test]
fn bad_limits_are_refused_at_start_naming_the_field() {
    let p = Project::new();
    p.write(
        "steward.yaml",
        &unindent(
            r#"
            server:
              rate_limit: { requests: 0, per: 1m }
            "#,
        ),
    );
    let out = p.steward(&["serve", "--listen", "127.0.0.1:0"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("server.rate_limit.requests: must be more than zero"),
        "{}",
        out.stderr
    );

    p.write(
        "steward.yaml",
        &unindent(
            r#"
            server:
              timeouts: { body: soon }
            "#,
        ),
    );
    let out = p.steward(&["serve", "--listen", "127.0.0.1:0"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("server.timeouts.body: `soon` is not a duration"),
        "{}",
        out.stderr
    );
}
