//! What reaches the server: TLS (a test CA, `insecure`, client certificates),
//! methods, headers, query and bodies; and the bound on a large answer.

use super::*;

#[test]
fn tls_with_a_test_ca_insecure_and_client_certificates() {
    let ca = TestCa::new();
    let server = Server::start_tls(ca.server_config(false), |_, _| {
        Reply::json(200, json!({ "ok": true }))
    });
    let mutual = Server::start_tls(ca.server_config(true), |_, _| {
        Reply::json(200, json!({ "mutual": true }))
    });
    let client = ca.leaf(&["steward-client"], true);
    let p = Project::new();
    p.write("certs/ca.pem", &ca.pem());
    p.write("certs/client.pem", &client.cert_pem);
    p.write("certs/client.key", &client.key_pem);
    p.runbook(
        "tls",
        &format!(
            r#"
steps:
  - id: trusted
    needs: []
    http: {{ url: "{url}", ca_cert: certs/ca.pem }}
  - id: untrusted
    needs: []
    continue_on_error: true
    http: {url}
  - id: insecure
    needs: []
    http: {{ url: "{url}", insecure: true }}
  - id: with_client_cert
    needs: []
    http: {{ url: "{mutual}", ca_cert: certs/ca.pem, client_cert: certs/client.pem, client_key: certs/client.key }}
  - id: without_client_cert
    needs: []
    continue_on_error: true
    http: {{ url: "{mutual}", ca_cert: certs/ca.pem }}
"#,
            url = server.url("/"),
            mutual = mutual.url("/"),
        ),
    );
    let out = p.run_json("tls", &[]);
    out.expect_code(0);
    assert_eq!(
        out.status("trusted"),
        "succeeded",
        "{}",
        out.error("trusted")
    );
    assert_eq!(out.step("trusted")["result"]["json"]["ok"], true);
    assert_eq!(
        out.status("insecure"),
        "succeeded",
        "{}",
        out.error("insecure")
    );
    let error = out.error("untrusted");
    assert_eq!(out.status("untrusted"), "failed");
    assert!(error.contains("TLS handshake with 127.0.0.1"), "{error}");
    assert!(
        error.contains("unknown CA") && error.contains("ca_cert"),
        "{error}"
    );
    assert_eq!(
        out.status("with_client_cert"),
        "succeeded",
        "{}",
        out.error("with_client_cert")
    );
    assert_eq!(out.status("without_client_cert"), "failed");
    assert!(
        out.error("without_client_cert").contains("TLS"),
        "{}",
        out.error("without_client_cert")
    );
    assert_eq!(
        server.requests().len(),
        2,
        "the untrusted attempt never reached the server"
    );
}

#[test]
fn methods_headers_query_and_bodies_reach_the_server() {
    let server = Server::start(|req, _| match req.path() {
        "/missing" => Reply::text(404, "no such thing"),
        "/old" => Reply {
            headers: vec![("Location".into(), "/new".into())],
            ..Reply::text(302, "")
        },
        _ => Reply::json(201, json!({ "created": true })),
    });
    let p = Project::with_runbook(
        "shapes",
        &format!(
            r#"
inputs:
  replicas: {{ type: int, default: 3 }}
  version: {{ type: string, default: "1.4.2" }}
steps:
  - id: create
    http:
      method: post
      url: "{base}/deploys"
      headers: {{ X-Request-Id: "req-{{{{ inputs.version }}}}", X-Count: 7 }}
      query: {{ env: staging, v: "{{{{ inputs.version }}}}" }}
      json: {{ version: "{{{{ inputs.version }}}}", replicas: "{{{{ inputs.replicas }}}}", canary: true }}
  - id: form
    http: {{ method: PUT, url: "{base}/form", form: {{ a: "x y", b: "{{{{ inputs.replicas }}}}" }} }}
  - id: text
    http: {{ url: "{base}/text", body: "plain {{{{ inputs.version }}}}" }}
  - id: gone
    http: {{ url: "{base}/missing", expect_status: [404, 410] }}
  - id: redirected
    http: {base}/old
  - id: not_followed
    http: {{ url: "{base}/old", follow_redirects: false, expect_status: 3xx }}
"#,
            base = server.url("")
        ),
    );
    let out = p.run_json("shapes", &[]);
    out.expect_code(0);
    let requests = server.requests();
    let create = &requests[0];
    assert_eq!(create.method, "POST");
    assert_eq!(create.target, "/deploys?env=staging&v=1.4.2");
    assert_eq!(create.header("x-request-id"), Some("req-1.4.2"));
    assert_eq!(create.header("x-count"), Some("7"));
    assert_eq!(create.header("content-type"), Some("application/json"));
    assert_eq!(
        create.json(),
        json!({ "version": "1.4.2", "replicas": 3, "canary": true })
    );
    assert_eq!(out.step("create")["result"]["status"], 201);
    let form = &requests[1];
    assert_eq!(
        (form.method.as_str(), form.body.as_slice()),
        ("PUT", &b"a=x+y&b=3"[..])
    );
    assert_eq!(
        form.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let text = &requests[2];
    assert_eq!(
        (text.method.as_str(), text.body.as_slice()),
        ("POST", &b"plain 1.4.2"[..])
    );
    assert_eq!(out.step("gone")["result"]["status"], 404);
    assert_eq!(out.step("redirected")["result"]["status"], 201);
    assert_eq!(out.step("not_followed")["result"]["status"], 302);
}

#[test]
fn a_large_body_is_bounded() {
    let server = Server::start(|_, _| Reply::text(200, &"x".repeat(3 * 1024 * 1024)));
    let p = Project::with_runbook(
        "big",
        &format!(
            r#"steps:
  - id: big
    http: {}
"#,
            server.url("/big")
        ),
    );
    let out = p.run_json("big", &[]);
    out.expect_code(0);
    let result = &out.step("big")["result"];
    assert_eq!(result["truncated"], true);
    assert_eq!(result["body"].as_str().map(str::len), Some(1024 * 1024));
}
