//! The `notify` step against real receivers on loopback: Slack's and a
//! generic webhook's JSON (signed with HMAC-SHA256), PagerDuty's Events API
//! v2, and email over plain SMTP and STARTTLS. No secret appears in any
//! output.

use crate::support::net::http::{Reply, Request, Server};
use crate::support::net::smtp::SmtpServer;
use crate::support::net::tls::TestCa;
use crate::support::{Project, unindent, unique};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

mod email;

/// Whether `X-Steward-Signature` is the HMAC-SHA256 of the body with `key`.
fn signed_with(req: &Request, key: &str) -> bool {
    let Some(sig) = req
        .header("x-steward-signature")
        .and_then(|s| s.strip_prefix("sha256="))
    else {
        return false;
    };
    let Ok(sig) = hex::decode(sig) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("a key");
    mac.update(&req.body);
    mac.verify_slice(&sig).is_ok()
}

#[test]
fn slack_gets_the_text_and_an_attachment_coloured_by_severity() {
    let slack = Server::start(|_, _| Reply::text(200, "ok"));
    let p = Project::with_runbook(
        "deploy",
        r#"
secrets: [SLACK_WEBHOOK_URL]
inputs:
  version: { type: string, default: "1.4.2" }
steps:
  - id: announce
    notify:
      slack: "{{ secrets.SLACK_WEBHOOK_URL }}"
      text: "Deploying {{ inputs.version }}"
  - id: alarm
    notify:
      slack: { url: "{{ secrets.SLACK_WEBHOOK_URL }}" }
      text: "Rollback of {{ inputs.version }}"
      title: Deploy failed
      severity: critical
      link: https://ci.example.com/42
      fields: { env: staging, replicas: 3 }
"#,
    );
    let hook = slack.url("/services/T000/B000/XXXX");
    let out = p.run_with("deploy", &["--output", "json"], |t| {
        t.env("SLACK_WEBHOOK_URL", &hook)
    });
    out.expect_code(0);
    assert_eq!(
        out.step("announce")["result"],
        json!({ "delivered": true, "status": 200 })
    );
    let got = slack.requests();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].path(), "/services/T000/B000/XXXX");
    let info = got[0].json();
    assert_eq!(info["text"], "Deploying 1.4.2");
    assert_eq!(info["attachments"][0]["color"], "#2eb886");
    let critical = got[1].json();
    let attachment = &critical["attachments"][0];
    assert_eq!(attachment["color"], "#d00000");
    let blocks = attachment["blocks"].as_array().expect("blocks");
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "Deploy failed");
    assert_eq!(blocks[1]["text"]["text"], "Rollback of 1.4.2");
    assert_eq!(blocks[2]["fields"][0]["text"], "*env*\nstaging");
    assert_eq!(blocks[2]["fields"][1]["text"], "*replicas*\n3");
    let context = blocks[3]["elements"][0]["text"].as_str().expect("context");
    assert!(
        context.contains("critical") && context.contains(&out.run_id()),
        "{context}"
    );
    assert!(
        context.contains("<https://ci.example.com/42|details>"),
        "{context}"
    );
    assert!(
        !p.everything(&out).contains("B000/XXXX"),
        "the webhook URL is a secret"
    );
}

#[test]
fn a_webhook_gets_the_default_envelope_signed_with_hmac_sha256() {
    let key = unique("hmac-key");
    let check = key.clone();
    let hook = Server::start(move |req, _| {
        if signed_with(req, &check) {
            Reply::json(202, json!({ "accepted": true }))
        } else {
            Reply::text(401, "bad signature")
        }
    });
    let p = Project::with_runbook(
        "hooked",
        &format!(
            r#"
secrets: [HOOK_KEY]
steps:
  - id: default
    notify:
      webhook: {{ url: "{url}", secret: "{{{{ secrets.HOOK_KEY }}}}" }}
      text: "deployed"
      severity: warning
      link: https://ci.example.com/7
  - id: custom
    notify:
      webhook:
        url: "{url}"
        secret: "{{{{ secrets.HOOK_KEY }}}}"
        json: {{ event: deploy, ok: "{{{{ run.status == 'running' }}}}", count: 2, who: "{{{{ run.runbook }}}}" }}
  - id: unsigned
    continue_on_error: true
    notify: {{ webhook: "{url}", text: "no signature" }}
"#,
            url = hook.url("/hook")
        ),
    );
    let out = p.run_with("hooked", &["--output", "json"], |t| t.env("HOOK_KEY", &key));
    out.expect_code(0);
    assert_eq!(
        out.step("default")["result"],
        json!({ "delivered": true, "status": 202 })
    );
    let got = hook.requests();
    assert_eq!(
        got[0].json(),
        json!({
            "runbook": "hooked",
            "run_id": out.run_id(),
            "status": "running",
            "severity": "warning",
            "text": "deployed",
            "link": "https://ci.example.com/7",
        })
    );
    assert_eq!(
        got[1].json(),
        json!({ "event": "deploy", "ok": true, "count": 2, "who": "hooked" })
    );
    assert_eq!(out.status("unsigned"), "failed");
    let error = out.error("unsigned");
    assert!(
        error.contains("the webhook answered HTTP 401 Unauthorized: bad signature"),
        "{error}"
    );
    assert_eq!(
        out.step("unsigned")["result"],
        json!({ "delivered": false, "status": 401 })
    );
    assert!(!p.everything(&out).contains(&key));
}

#[test]
fn a_failing_receiver_is_retried_by_status() {
    let hook = Server::start(|_, n| {
        if n < 2 {
            Reply::text(503, "busy")
        } else {
            Reply::text(200, "ok")
        }
    });
    let p = Project::with_runbook(
        "retry",
        &format!(
            r#"steps:
  - id: hook
    notify: {{ webhook: "{}", text: hi }}
    retry: {{ attempts: 3, delay: 10ms, on: [{{ status: [5xx] }}] }}
"#,
            hook.url("/h")
        ),
    );
    let out = p.run_json("retry", &[]);
    out.expect_code(0);
    assert_eq!(out.attempts("hook"), 2);
    assert_eq!(out.step("hook")["result"]["status"], 200);
}

#[test]
fn pagerduty_gets_events_api_v2_trigger_acknowledge_and_resolve() {
    let pd = Server::start(|req, _| {
        let key = req.json()["dedup_key"]
            .as_str()
            .unwrap_or("srv-generated")
            .to_owned();
        Reply::json(
            202,
            json!({ "status": "success", "message": "Event processed", "dedup_key": key }),
        )
    });
    let p = Project::with_runbook(
        "page",
        &format!(
            r#"
secrets: [PD_ROUTING_KEY]
steps:
  - id: open
    notify:
      pagerduty: {{ routing_key: "{{{{ secrets.PD_ROUTING_KEY }}}}", url: "{url}", component: api, group: prod }}
      text: "api is down"
      title: Outage
      severity: warning
      fields: {{ region: eu-west-1 }}
      link: https://status.example.com
  - id: ack
    notify:
      pagerduty: {{ routing_key: "{{{{ secrets.PD_ROUTING_KEY }}}}", url: "{url}", action: acknowledge, dedup_key: "{{{{ steps.open.result.dedup_key }}}}" }}
  - id: resolve
    notify:
      pagerduty: {{ routing_key: "{{{{ secrets.PD_ROUTING_KEY }}}}", url: "{url}", action: resolve, dedup_key: "{{{{ steps.open.result.dedup_key }}}}" }}
"#,
            url = pd.url("/v2/enqueue")
        ),
    );
    let key = unique("R0UT1NG");
    let out = p.run_with("page", &["--output", "json"], |t| {
        t.env("PD_ROUTING_KEY", &key)
    });
    out.expect_code(0);
    assert_eq!(
        out.step("open")["result"],
        json!({ "delivered": true, "status": 202, "dedup_key": "srv-generated" })
    );
    let got = pd.requests();
    let trigger = got[0].json();
    assert_eq!(trigger["routing_key"], key.as_str());
    assert_eq!(trigger["event_action"], "trigger");
    assert!(trigger.get("dedup_key").is_none());
    let payload = &trigger["payload"];
    assert_eq!(payload["summary"], "Outage: api is down");
    assert_eq!(payload["severity"], "warning");
    assert_eq!(payload["source"], "steward");
    assert_eq!(
        (payload["component"].clone(), payload["group"].clone()),
        (json!("api"), json!("prod"))
    );
    assert_eq!(payload["custom_details"]["region"], "eu-west-1");
    assert_eq!(payload["custom_details"]["runbook"], "page");
    assert_eq!(trigger["links"][0]["href"], "https://status.example.com");
    for (req, action) in [(&got[1], "acknowledge"), (&got[2], "resolve")] {
        assert_eq!(
            req.json(),
            json!({ "routing_key": key.as_str(), "event_action": action, "dedup_key": "srv-generated" })
        );
    }
    assert!(
        !p.everything(&out).contains(&key),
        "the routing key is a secret"
    );
}

#[test]
fn validation_errors_point_at_the_field() {
    let p = Project::with_runbook(
        "bad",
        r#"steps:
  - id: unknown_channel
    notify: { teams: "http://localhost/", text: hi }
  - id: two_channels
    notify: { slack: "http://localhost/", webhook: "http://localhost/", text: hi }
  - id: no_text
    notify: { slack: "http://localhost/" }
  - id: severity
    notify: { slack: "http://localhost/", text: hi, severity: urgent }
  - id: resolve
    notify: { pagerduty: { routing_key: k, action: resolve }, text: hi }
  - id: action
    notify: { pagerduty: { routing_key: k, action: trigerr }, text: hi }
"#,
    );
    let stderr = p
        .test()
        .args(["validate", "runbooks/bad.yaml"])
        .status(2)
        .run()
        .stderr;
    for (message, at) in [
        ("unknown key `teams`", "bad.yaml:3:15"),
        (
            "a `notify` step sends to one channel: `slack` and `webhook` given",
            "bad.yaml:5:52",
        ),
        ("a `notify` step needs `text`", "bad.yaml:7:13"),
        ("unknown severity `urgent`", "bad.yaml:9:63"),
        ("a PagerDuty `resolve` needs `dedup_key`", "bad.yaml:11:52"),
        ("unknown PagerDuty action `trigerr`", "bad.yaml:13:52"),
    ] {
        assert!(stderr.contains(message), "no `{message}` in:\n{stderr}");
        assert!(stderr.contains(at), "no position {at} in:\n{stderr}");
    }
    assert!(stderr.contains("did you mean `trigger`?"), "{stderr}");
}
