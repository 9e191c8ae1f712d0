//! The `http` step against real servers on loopback: polling a health
//! endpoint, statuses outside `expect_status`, timeouts, refused
//! connections, TLS with a test CA, and secrets masked everywhere.

use std::time::Duration;

use crate::support::net::http::{Reply, Server};
use crate::support::net::tls::TestCa;
use crate::support::{Project, net, unindent, unique};
use serde_json::json;

mod requests;

/// The health endpoint of every operations guide: healthy on the third call.
fn health_server() -> Server {
    Server::start(|_, n| {
        if n >= 3 {
            Reply::json(200, json!({ "status": "healthy", "version": "1.4.2" }))
        } else {
            Reply::json(200, json!({ "status": "starting" }))
        }
    })
}

#[test]
fn polling_until_healthy_succeeds_on_the_third_call() {
    let server = health_server();
    let p = Project::with_runbook(
        "health",
        &format!(
            r#"
steps:
  - id: healthy
    http: {{ url: "{}" }}
    assert: ["result.json.status == 'healthy'"]
    retry: {{ attempts: 10, delay: 20ms }}
    outputs:
      version: "{{{{ result.json.version }}}}"
"#,
            server.url("/health")
        ),
    );
    let out = p.run_json("health", &[]);
    out.expect_code(0);
    assert_eq!(out.attempts("healthy"), 3);
    let result = &out.step("healthy")["result"];
    assert_eq!(result["status"], 200);
    assert_eq!(result["json"]["status"], "healthy");
    assert_eq!(result["headers"]["content-type"], "application/json");
    assert!(
        result["body"]
            .as_str()
            .is_some_and(|b| b.contains("healthy"))
    );
    assert!(result["elapsed_ms"].is_u64(), "{result}");
    assert_eq!(out.step("healthy")["outputs"]["version"], "1.4.2");
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn the_http_health_step_template_polls_until_healthy() {
    let server = health_server();
    let p = Project::new();
    let template = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("steps/http-health.yaml");
    p.step_template(
        "http-health",
        &std::fs::read_to_string(template).expect("steps/http-health.yaml"),
    );
    p.runbook(
        "uses",
        &format!(
            r#"steps:
  - id: healthy
    uses: http-health
    with: {{ url: "{}", delay: 20ms, timeout: 2s }}
"#,
            server.url("/health")
        ),
    );
    let out = p.run_json("uses", &[]);
    out.expect_code(0);
    assert_eq!(out.attempts("healthy"), 3);
    assert_eq!(out.step("healthy")["result"]["json"]["status"], "healthy");
}

#[test]
fn an_endpoint_that_never_recovers_fails_with_the_last_status_and_body() {
    let server = Server::start(|_, n| Reply::text(503, &format!("database not ready (check {n})")));
    let p = Project::with_runbook(
        "down",
        &format!(
            r#"steps:
  - id: up
    http: {}
    retry: {{ attempts: 3, delay: 10ms, on: [{{ status: [5xx] }}] }}
"#,
            server.url("/health")
        ),
    );
    let out = p.run_json("down", &[]);
    out.expect_code(1);
    assert_eq!(out.attempts("up"), 3);
    let error = out.error("up");
    assert!(error.contains("HTTP 503 Service Unavailable"), "{error}");
    assert!(
        error.contains("database not ready (check 3)"),
        "the last body: {error}"
    );
    assert!(
        error.contains("expected 2xx") && error.contains("after 3 attempts"),
        "{error}"
    );
    assert_eq!(out.step("up")["result"]["status"], 503);
}

#[test]
fn an_assert_that_never_holds_shows_the_last_answer() {
    let server = Server::start(|_, _| {
        Reply::json(
            200,
            json!({ "status": "starting", "detail": "warming caches" }),
        )
    });
    let p = Project::with_runbook(
        "never",
        &format!(
            r#"steps:
  - id: up
    http: {}
    assert: "result.json.status == 'healthy'"
    retry: {{ attempts: 3, delay: 10ms }}
"#,
            server.url("/health")
        ),
    );
    let out = p.run_json("never", &[]);
    out.expect_code(1);
    assert_eq!(out.attempts("up"), 3);
    let error = out.error("up");
    assert!(error.contains("assert failed"), "{error}");
    assert!(
        error.contains("HTTP 200") && error.contains("warming caches"),
        "{error}"
    );
}

#[test]
fn a_hanging_server_trips_the_request_timeout() {
    let server = Server::start(|_, _| Reply::hang());
    let p = Project::with_runbook(
        "hang",
        &format!(
            r#"steps:
  - id: slow
    http: {{ url: "{}", timeout: 300ms }}
    retry: {{ attempts: 2, delay: 10ms, on: [timeout] }}
"#,
            server.url("/slow")
        ),
    );
    let out = p.run_json("hang", &[]);
    out.expect_code(1);
    assert_eq!(
        out.attempts("slow"),
        2,
        "a timeout is retried by `on: [timeout]`"
    );
    let error = out.error("slow");
    assert!(error.contains("no answer within 300ms"), "{error}");
    assert!(error.contains("`timeout` fired"), "{error}");
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
}

#[test]
fn a_refused_connection_is_a_connect_failure() {
    let port = net::closed_port();
    let p = Project::with_runbook(
        "refused",
        &format!(
            r#"
steps:
  - id: retried
    needs: []
    http: http://127.0.0.1:{port}/health
    retry: {{ attempts: 3, delay: 10ms, on: [connect] }}
  - id: not_retried
    needs: []
    http: http://127.0.0.1:{port}/health
    retry: {{ attempts: 3, delay: 10ms, on: [timeout] }}
"#
        ),
    );
    let out = p.run_json("refused", &[]);
    out.expect_code(1);
    assert_eq!(out.attempts("retried"), 3);
    let error = out.error("retried");
    assert!(error.contains("connection refused by 127.0.0.1"), "{error}");
    assert!(error.contains("nothing listens there"), "{error}");
    assert_eq!(out.attempts("not_retried"), 1);
    assert!(
        out.error("not_retried").contains("not retried"),
        "{}",
        out.error("not_retried")
    );
}

#[test]
fn an_unknown_host_is_a_dns_failure() {
    let p = Project::with_runbook(
        "dns",
        &unindent(
            r#"
            steps:
              - id: dns
                http: http://no-such-host.invalid/health
            "#,
        ),
    );
    let out = p.run_json("dns", &[]);
    out.expect_code(1);
    let error = out.error("dns");
    assert!(
        error.contains("DNS lookup of `no-such-host.invalid` failed"),
        "{error}"
    );
}

#[test]
fn secrets_in_urls_and_headers_never_appear_in_any_output() {
    let token = unique("tok 3n/v+");
    let password = unique("pw");
    // The server echoes what it got, in the body and a header.
    let server = Server::start(|req, _| {
        let echo = format!("{} {:?}", req.target, req.headers);
        let status = if req.path() == "/fail" { 500 } else { 200 };
        Reply {
            headers: vec![(
                "X-Echo".into(),
                req.header("authorization").unwrap_or("-").to_owned(),
            )],
            ..Reply::json(status, json!({ "echo": echo }))
        }
    });
    let base = server.url("");
    let with_password = base.replacen("http://", "http://admin:{{ secrets.PASSWORD }}@", 1);
    let p = Project::with_runbook(
        "secret",
        &format!(
            r#"
secrets: [API_TOKEN, PASSWORD]
steps:
  - id: query
    http:
      url: "{base}/ok?token={{{{ secrets.API_TOKEN | urlencode }}}}"
      headers: {{ Authorization: "Bearer {{{{ secrets.API_TOKEN }}}}" }}
      query: {{ key: "{{{{ secrets.API_TOKEN }}}}" }}
  - id: basic
    http: "{with_password}/ok"
  - id: failing
    continue_on_error: true
    http: {{ url: "{base}/fail/{{{{ secrets.API_TOKEN | urlencode }}}}", headers: {{ Authorization: "{{{{ secrets.PASSWORD }}}}" }} }}
"#
        ),
    );
    for args in [&["--output", "json"][..], &[][..]] {
        let out = p.run_with("secret", args, |t| {
            t.env("API_TOKEN", &token).env("PASSWORD", &password)
        });
        out.expect_code(0);
        let all = p.everything(&out);
        for secret in [token.as_str(), password.as_str()] {
            assert!(!all.contains(secret), "`{secret}` leaked:\n{all}");
        }
        let rfc = token
            .replace(' ', "%20")
            .replace('/', "%2F")
            .replace('+', "%2B");
        let jinja = token.replace(' ', "%20").replace('+', "%2B");
        let form = token
            .replace('/', "%2F")
            .replace('+', "%2B")
            .replace(' ', "+");
        for encoded in [rfc, jinja, form] {
            assert!(
                !all.contains(&encoded),
                "the URL-encoded token `{encoded}` leaked:\n{all}"
            );
        }
        assert!(all.contains("***"));
    }
    let got = server.requests();
    assert!(
        got[0]
            .header("authorization")
            .is_some_and(|a| a.ends_with(&token)),
        "the server gets the real value"
    );
    assert!(
        got[1].header("authorization").is_some(),
        "basic auth from the URL"
    );
}

#[test]
fn dry_run_shows_the_request_without_sending_it() {
    let server = Server::start(|_, _| Reply::text(200, "ok"));
    let p = Project::with_runbook(
        "dry",
        &format!(
            r#"steps:
  - id: ping
    http: {{ url: "{}", json: {{ a: 1 }} }}
"#,
            server.url("/ping")
        ),
    );
    let out = p.run("dry", &["--dry-run"]);
    out.expect_code(0);
    assert!(
        out.all_output()
            .contains(&format!("POST {} with a JSON body", server.url("/ping"))),
        "{}",
        out.all_output()
    );
    assert!(server.requests().is_empty());
}

#[test]
fn validation_errors_point_at_the_field() {
    let p = Project::with_runbook(
        "bad",
        r#"steps:
  - id: method
    http: { method: FETCH, url: "http://localhost/" }
  - id: status
    http: { url: "http://localhost/", expect_status: [200, OK] }
  - id: bodies
    http: { url: "http://localhost/", json: { a: 1 }, body: "b" }
  - id: scheme
    http: ftp://localhost/file
  - id: unknown
    http: { url: "http://localhost/", retries: 3 }
"#,
    );
    let stderr = p
        .test()
        .args(["validate", "runbooks/bad.yaml"])
        .status(2)
        .run()
        .stderr;
    for (message, at) in [
        ("unknown HTTP method `FETCH`", "bad.yaml:3:21"),
        ("invalid status `OK`", "bad.yaml:5:60"),
        (
            "an `http` step has one body: `json` and `body` given",
            "bad.yaml:7:61",
        ),
        ("unsupported URL scheme `ftp`", "bad.yaml:9:11"),
        ("unknown key `retries`", "bad.yaml:11:39"),
    ] {
        assert!(stderr.contains(message), "no `{message}` in:\n{stderr}");
        assert!(stderr.contains(at), "no position {at} in:\n{stderr}");
    }
}
