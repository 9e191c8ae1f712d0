//! Approval buttons record the Slack user; a dead `response_url` does not hold
//! the run; Slack requests share a rate limit.

use super::*;

#[test]
fn approval_buttons_record_the_slack_user() {
    let receiver = Receiver::start(|_, _| Reply::text(200, "ok"));
    let p = project();
    let server = start(&p);
    let answer = command(&server, &ALICE, "risk", &receiver.url("/commands/1"));
    let run_id = run_id_in(answer["text"].as_str().unwrap());

    let request = wait_post(&receiver, "/commands/1", "Approval needed");
    let section = request["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(section.contains("Drop the &lt;old&gt; cache?"), "{section}");
    let buttons = request["blocks"][1]["elements"].as_array().unwrap();
    let approve = buttons[0].clone();
    assert_eq!(approve["action_id"], "steward_approve");
    let value = approve["value"].as_str().unwrap();
    assert_eq!(value, format!("{run_id}:gate"));

    // Alice may start it but isn't among its approvers.
    press(
        &server,
        &ALICE,
        "steward_approve",
        value,
        &receiver.url("/actions/1"),
    );
    let refusal = wait_post(&receiver, "/actions/1", "Not recorded");
    assert_eq!(refusal["response_type"], "ephemeral");
    assert_eq!(refusal["replace_original"], false);
    // Bob may not even decide on runs of `risky`.
    press(
        &server,
        &BOB,
        "steward_approve",
        value,
        &receiver.url("/actions/2"),
    );
    wait_post(&receiver, "/actions/2", "You may not decide");
    assert!(!p.exists("acted"));

    press(
        &server,
        &CAROL,
        "steward_approve",
        value,
        &receiver.url("/actions/3"),
    );
    let replaced = wait_post(&receiver, "/actions/3", "approved by");
    assert_eq!(replaced["replace_original"], true);
    assert!(
        replaced["text"].as_str().unwrap().contains("<@U0CAROL>"),
        "{replaced}"
    );
    wait_post(&receiver, "/commands/1", "succeeded");
    assert_eq!(p.read("acted").trim(), "done");

    let run = show(&p, &run_id);
    let decision = &run["approvals"][0]["decision"];
    assert_eq!(decision["approved"], true);
    assert_eq!(decision["by"], "carol");
    assert_eq!(decision["via"], "slack");
    let decided: Vec<Value> = p
        .audit_events(&run_id)
        .into_iter()
        .filter(|e| e["event"] == "approval_decided")
        .collect();
    assert_eq!(decided.len(), 1, "{decided:?}");
    assert_eq!(decided[0]["by"], "carol");
    // A decision from Slack isn't announced twice in the channel.
    let posts = posts_to(&receiver, "/commands/1");
    assert!(
        posts.iter().all(|m| !m.to_string().contains("via slack")),
        "{posts:?}"
    );

    // A press after the decision changes nothing.
    press(
        &server,
        &CAROL,
        "steward_reject",
        value,
        &receiver.url("/actions/4"),
    );
    wait_post(&receiver, "/actions/4", "Not recorded");
    assert_eq!(
        show(&p, &run_id)["approvals"][0]["decision"]["approved"],
        true
    );
}

#[test]
fn a_dead_response_url_does_not_hold_the_run() {
    let p = project();
    let server = start(&p);
    let dead = format!("http://127.0.0.1:{}/commands/9", net::closed_port());
    let answer = command(&server, &ALICE, "deploy version=3", &dead);
    let run_id = run_id_in(answer["text"].as_str().unwrap());
    p.write("release", "");
    wait_for("the run to end", Duration::from_secs(30), || {
        show(&p, &run_id)["status"] == "succeeded"
    });
    wait_for(
        "the failed post to be logged",
        Duration::from_secs(30),
        || {
            server
                .output()
                .contains("slack: can't post to the response_url at 127.0.0.1:")
        },
    );
    assert!(
        !server.output().contains("/commands/9"),
        "{}",
        server.output()
    );
}

#[test]
fn slack_requests_share_a_rate_limit() {
    let p = project();
    p.write(
        "steward.yaml",
        r#"
server:
  rate_limit: { requests: 2, per: 1h }
  slack:
    signing_secret: SLACK_SIGNING_SECRET
    response_urls: ["http://127.0.0.1:"]
"#,
    );
    let server = start(&p);
    let url = "http://127.0.0.1:9/commands/1";
    for who in [&ALICE, &BOB] {
        let help = command(&server, who, "help", url);
        assert!(
            help["text"].as_str().unwrap().contains("/runbook list"),
            "{help}"
        );
    }
    let limited = command(&server, &CAROL, "deploy version=1", url);
    assert_eq!(limited["response_type"], "ephemeral");
    assert!(
        limited["text"]
            .as_str()
            .unwrap()
            .contains("more requests from Slack than it takes"),
        "{limited}"
    );
    assert!(p.run_ids().is_empty());
}
