//! `POST /hooks/slack` against a real `steward serve` on 127.0.0.1: slash
//! commands signed the way Slack signs them (v0 HMAC-SHA256 over
//! `v0:TIMESTAMP:BODY`), a loopback server standing in for Slack's
//! `response_url` (Slack itself can't be reached here), and approval
//! buttons pressed with signed interactivity payloads.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::net::http::{Reply, Request, Server as Receiver};
use crate::support::{self, Project, net, serve, wait_for};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

mod approvals;
mod signatures;

const SECRET: &str = "slack-signing-secret-5e0c71";

/// A user in a channel.
struct Who {
    id: &'static str,
    name: &'static str,
    channel: &'static str,
}

const ALICE: Who = Who {
    id: "U0ALICE",
    name: "alice",
    channel: "deploys",
};
const BOB: Who = Who {
    id: "U0BOB",
    name: "bob",
    channel: "random",
};
const CAROL: Who = Who {
    id: "U0CAROL",
    name: "carol",
    channel: "random",
};

fn project() -> Project {
    let p = Project::new();
    p.write(
        "steward.yaml",
        r#"
server:
  slack:
    signing_secret: SLACK_SIGNING_SECRET
    response_urls: ["http://127.0.0.1:"]
    groups:
      oncall: [U0CAROL, dave]
      unused: []
"#,
    );
    p.runbook(
        "deploy",
        r##"
description: Deploy a version.
inputs:
  version: { type: string, required: true }
  env: { type: string, default: staging }
triggers:
  chat: { allow: ["#deploys", "@oncall"] }
steps:
  - id: wait-for-release
    shell: for i in $(seq 1 300); do [ -e release ] && exit 0; sleep 0.1; done; exit 1
  - id: record
    needs: [wait-for-release]
    shell: echo "{{ inputs.version }} {{ inputs.env }}" >> deployed
"##,
    );
    p.runbook(
        "risky",
        r#"
triggers:
  chat: { command: risk, allow: [alice, U0CAROL] }
steps:
  - id: gate
    approval: { message: "Drop the <old> cache?", approvers: [carol] }
  - id: act
    needs: [gate]
    shell: echo done > acted
"#,
    );
    p.runbook(
        "broken",
        r#"
triggers:
  chat: { allow: ["*"] }
steps:
  - id: explode
    shell: echo "disk <full>" >&2; exit 3
"#,
    );
    p.runbook(
        "ghost",
        r#"
triggers:
  chat: { allow: ["@undefined"] }
steps:
  - id: noop
    shell: "true"
"#,
    );
    p.runbook(
        "private",
        r#"
steps:
  - id: noop
    shell: "true"
"#,
    );
    p
}

fn start(p: &Project) -> serve::Served {
    serve::Served::start(p, &[("SLACK_SIGNING_SECRET", SECRET)], &[])
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `v0=` + hex HMAC-SHA256 of `v0:TIMESTAMP:BODY`, as Slack documents it.
fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn command_body(who: &Who, text: &str, response_url: &str) -> String {
    form(&[
        ("token", "legacy-verification-token"),
        ("team_id", "T0TEAM"),
        ("channel_id", &format!("C0{}", who.channel.to_uppercase())),
        ("channel_name", who.channel),
        ("user_id", who.id),
        ("user_name", who.name),
        ("command", "/runbook"),
        ("text", text),
        ("response_url", response_url),
        // Slack's trigger ids differ for every command.
        ("trigger_id", &support::unique("trigger")),
    ])
}

/// Posts a raw body with the given timestamp and signature.
fn post_signed(
    server: &serve::Served,
    body: &str,
    timestamp: i64,
    signature: &str,
) -> (StatusCode, String) {
    let response = server
        .client
        .post(format!("{}/hooks/slack", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Slack-Request-Timestamp", timestamp.to_string())
        .header("X-Slack-Signature", signature)
        .body(body.to_owned())
        .send()
        .expect("send to /hooks/slack");
    let status = response.status();
    (status, response.text().expect("read the answer"))
}

/// A signed slash command; its JSON answer.
fn command(server: &serve::Served, who: &Who, text: &str, response_url: &str) -> Value {
    let body = command_body(who, text, response_url);
    let ts = now();
    let (status, text) = post_signed(server, &body, ts, &sign(SECRET, ts, &body));
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A signed press of a button of an approval request.
fn press(server: &serve::Served, who: &Who, action_id: &str, value: &str, response_url: &str) {
    let payload = json!({
        "type": "block_actions",
        "user": { "id": who.id, "username": who.name, "name": who.name, "team_id": "T0TEAM" },
        "channel": { "id": "C0RANDOM", "name": who.channel },
        "response_url": response_url,
        "actions": [{ "type": "button", "block_id": "steward_approval", "action_id": action_id, "value": value }],
    });
    let body = form(&[("payload", &payload.to_string())]);
    let ts = now();
    let (status, text) = post_signed(server, &body, ts, &sign(SECRET, ts, &body));
    assert_eq!(status, StatusCode::OK, "{text}");
}

fn posts_to(receiver: &Receiver, path: &str) -> Vec<Value> {
    receiver
        .requests()
        .iter()
        .filter(|r: &&Request| r.path() == path)
        .map(Request::json)
        .collect()
}

/// Waits until `path` got a post whose text contains `needle`; returns it.
fn wait_post(receiver: &Receiver, path: &str, needle: &str) -> Value {
    let mut found = None;
    wait_for(
        &format!("a post to {path} containing {needle:?}"),
        Duration::from_secs(30),
        || {
            found = posts_to(receiver, path)
                .into_iter()
                .find(|m| m.to_string().contains(needle));
            found.is_some()
        },
    );
    found.unwrap()
}

fn show(p: &Project, run_id: &str) -> Value {
    let out = p.steward(&["show", run_id, "--output", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).expect("show --output json")
}

fn run_id_in(text: &str) -> String {
    let start = text.find("(run `").expect("a run id") + "(run `".len();
    text[start..].split('`').next().unwrap().to_owned()
}

#[test]
fn a_slash_command_answers_at_once_then_reports_the_result() {
    let receiver = Receiver::start(|_, _| Reply::text(200, "ok"));
    let p = project();
    let server = start(&p);
    let url = receiver.url("/commands/1");

    let answer = command(&server, &ALICE, "deploy version=1.4.2", &url);
    assert_eq!(answer["response_type"], "in_channel", "{answer}");
    let text = answer["text"].as_str().unwrap();
    assert!(text.contains("<@U0ALICE> started *deploy*"), "{text}");
    assert!(text.contains("`version=1.4.2`"), "{text}");
    // The answer came while the run waits for `release`: nothing is
    // reported or recorded yet.
    assert!(posts_to(&receiver, "/commands/1").is_empty());
    assert!(!p.exists("deployed"));
    let run_id = run_id_in(text);

    p.write("release", "");
    let result = wait_post(&receiver, "/commands/1", "succeeded");
    let text = result["text"].as_str().unwrap();
    assert!(text.contains("*deploy* succeeded"), "{text}");
    assert_eq!(result["response_type"], "in_channel");
    assert_eq!(p.read("deployed").trim(), "1.4.2 staging");

    let run = show(&p, &run_id);
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["trigger_kind"], "chat");
    assert_eq!(run["actor"], "alice (slack U0ALICE)");
    assert_eq!(run["origin"], "slack #deploys");

    // A member of @oncall may start it from any channel; a failure names
    // its step and error, escaped for Slack.
    p.write("release", "");
    command(&server, &CAROL, "deploy version=2.0 env=prod", &url);
    wait_for("the second deploy", Duration::from_secs(30), || {
        p.read("deployed").lines().count() == 2
    });
    command(&server, &BOB, "broken", &receiver.url("/commands/2"));
    let failed = wait_post(&receiver, "/commands/2", "failed");
    let text = failed["text"].as_str().unwrap();
    assert!(text.contains("step `explode` failed"), "{text}");
    assert!(!text.contains("<full>"), "{text}");
}

#[test]
fn list_and_status_show_only_what_the_user_may_start() {
    let receiver = Receiver::start(|_, _| Reply::text(200, "ok"));
    let p = project();
    let server = start(&p);
    let url = receiver.url("/commands/1");

    let help = command(&server, &BOB, "", &url);
    assert_eq!(help["response_type"], "ephemeral");
    assert!(
        help["text"].as_str().unwrap().contains("/runbook list"),
        "{help}"
    );

    let listed = command(&server, &ALICE, "list", &url)["text"].to_string();
    assert!(listed.contains("/runbook deploy"), "{listed}");
    assert!(listed.contains("version, env=staging"), "{listed}");
    assert!(listed.contains("/runbook risk"), "{listed}");
    assert!(listed.contains("/runbook broken"), "{listed}");
    assert!(!listed.contains("private"), "{listed}");
    let listed = command(&server, &BOB, "list", &url)["text"].to_string();
    assert!(
        listed.contains("broken") && !listed.contains("deploy"),
        "{listed}"
    );

    let answer = command(&server, &ALICE, "deploy version=1", &url);
    let run_id = run_id_in(answer["text"].as_str().unwrap());
    let mut status = Value::Null;
    wait_for("the first step to show", Duration::from_secs(30), || {
        status = command(&server, &ALICE, &format!("status {run_id}"), &url);
        status.to_string().contains("wait-for-release")
    });
    assert_eq!(status["response_type"], "ephemeral");
    let text = status["text"].as_str().unwrap();
    assert!(text.contains(&format!("*deploy* run `{run_id}`")), "{text}");
    assert!(text.contains("`wait-for-release`"), "{text}");
    // Bob may not start deploy, so he doesn't see its runs.
    let hidden = command(&server, &BOB, &format!("status {run_id}"), &url);
    assert!(
        hidden["text"].as_str().unwrap().starts_with("No run"),
        "{hidden}"
    );
    p.write("release", "");
}

#[test]
fn refusals_start_nothing_and_say_why() {
    let receiver = Receiver::start(|_, _| Reply::text(200, "ok"));
    let p = project();
    let server = start(&p);
    let url = receiver.url("/commands/1");
    let says = |who: &Who, text: &str, url: &str, needle: &str| {
        let answer = command(&server, who, text, url);
        assert_eq!(answer["response_type"], "ephemeral", "{answer}");
        let said = answer["text"].as_str().unwrap();
        assert!(said.contains(needle), "{text}: {said}");
    };
    says(
        &BOB,
        "deploy version=1",
        &url,
        "You may not start `deploy` here",
    );
    says(&ALICE, "deploy", &url, "input `version`");
    says(
        &ALICE,
        "deploy version=1 colour=red",
        &url,
        "input `colour`",
    );
    says(&ALICE, "deploy 1.4.2", &url, "`1.4.2` is not an input");
    says(&ALICE, "deploy version=\"1.4", &url, "unclosed quote");
    says(&ALICE, "ghost", &url, "You may not start `ghost` here");
    says(
        &ALICE,
        "private",
        &url,
        "No runbook `private` can be started from chat",
    );
    says(&ALICE, "nothing-here", &url, "`/runbook list` shows");
    // Progress may only go to the configured response URLs.
    says(
        &ALICE,
        "deploy version=1",
        "https://attacker.example/collect",
        "not one Steward may post to",
    );
    assert!(p.run_ids().is_empty(), "{:?}", p.run_ids());
    assert!(receiver.requests().is_empty());
}
