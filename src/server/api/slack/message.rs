//! The Slack messages Steward sends: plain answers, approval requests with
//! buttons, and run results. Every value from a run or a user is escaped
//! for Slack's `mrkdwn` (`&`, `<`, `>`), so nothing turns into a mention or
//! a link it wasn't.

use serde_json::{Value, json};

use crate::outcome::RunStatus;

/// The `action_id` of the approve button.
pub const APPROVE: &str = "steward_approve";
/// The `action_id` of the reject button.
pub const REJECT: &str = "steward_reject";

/// Escapes text for Slack's `mrkdwn`.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack mention of a user id; empty ids give `someone`.
pub fn mention(user_id: &str) -> String {
    if !user_id.is_empty() && user_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        format!("<@{user_id}>")
    } else {
        "someone".to_owned()
    }
}

/// A reply only the user who typed the command sees.
pub fn ephemeral(text: &str) -> Value {
    json!({ "response_type": "ephemeral", "text": text })
}

/// A message the whole channel sees.
pub fn in_channel(text: &str) -> Value {
    json!({ "response_type": "in_channel", "text": text })
}

/// Replaces the message a button was pressed on.
pub fn replace(text: &str) -> Value {
    json!({ "replace_original": true, "text": text })
}

/// How to use the command.
pub fn help(command: &str) -> Value {
    let c = escape(command);
    ephemeral(&format!(
        "*Steward*\n\
         • `{c} list`: the runbooks you may start here\n\
         • `{c} NAME name=value …`: start a runbook, e.g. `{c} deploy version=1.4.2 env=staging`\n\
         • `{c} status RUN_ID`: a run's status\n\
         Quote values with spaces: `message=\"all good\"`."
    ))
}

/// The approval request of a waiting step, with Approve and Reject buttons
/// whose value is `RUN_ID:STEP`.
pub fn approval_request(
    runbook: &str,
    run_id: &str,
    step: &str,
    message: &str,
    approvers: &[String],
) -> Value {
    let who = if approvers.is_empty() {
        "anyone allowed to run it".to_owned()
    } else {
        approvers
            .iter()
            .map(|a| escape(a))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let text = format!(
        "*Approval needed* for step `{}` of *{}* (run `{}`)\n>{}\nMay decide: {who}",
        escape(step),
        escape(runbook),
        escape(run_id),
        escape(message).replace('\n', "\n>"),
    );
    let value = format!("{run_id}:{step}");
    json!({
        "response_type": "in_channel",
        "text": format!("Approval needed for step {step} of {runbook}"),
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": text } },
            {
                "type": "actions",
                "block_id": "steward_approval",
                "elements": [
                    {
                        "type": "button",
                        "action_id": APPROVE,
                        "style": "primary",
                        "text": { "type": "plain_text", "text": "Approve" },
                        "value": value,
                    },
                    {
                        "type": "button",
                        "action_id": REJECT,
                        "style": "danger",
                        "text": { "type": "plain_text", "text": "Reject" },
                        "value": value,
                    },
                ],
            },
        ],
    })
}

/// What a run ended with.
pub struct Outcome<'a> {
    /// The runbook.
    pub runbook: &'a str,
    /// The run.
    pub run_id: &'a str,
    /// How it ended.
    pub status: RunStatus,
    /// How long it took.
    pub duration_ms: u64,
    /// The first failed step and its error.
    pub failed: Option<(&'a str, &'a str)>,
    /// The run's own error (timeout, cancellation…).
    pub error: Option<&'a str>,
}

/// The final message of a run.
pub fn finished(outcome: &Outcome<'_>) -> Value {
    let icon = match outcome.status {
        RunStatus::Succeeded => ":white_check_mark:",
        RunStatus::Cancelled => ":no_entry_sign:",
        _ => ":x:",
    };
    let seconds = outcome.duration_ms as f64 / 1000.0;
    let mut text = format!(
        "{icon} *{}* {} in {seconds:.1}s (run `{}`)",
        escape(outcome.runbook),
        outcome.status,
        escape(outcome.run_id),
    );
    if let Some((step, error)) = outcome.failed {
        text.push_str(&format!(
            "\nstep `{}` failed: {}",
            escape(step),
            escape(&excerpt(error))
        ));
    } else if let Some(error) = outcome.error {
        text.push_str(&format!("\n{}", escape(&excerpt(error))));
    }
    in_channel(&text)
}

/// At most 500 characters of an error, on a char boundary.
fn excerpt(text: &str) -> String {
    const MAX: usize = 500;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_slack_would_read_as_markup() {
        assert_eq!(
            escape("<!channel> & <@U1>"),
            "&lt;!channel&gt; &amp; &lt;@U1&gt;"
        );
        assert_eq!(mention("U1"), "<@U1>");
        assert_eq!(mention("U1> <!here"), "someone");
    }

    #[test]
    fn approval_requests_carry_the_run_and_step_in_both_buttons() {
        let m = approval_request("deploy", "r-1", "go", "ship <it>?", &["alice".into()]);
        let elements = m["blocks"][1]["elements"].as_array().unwrap();
        assert_eq!(elements.len(), 2);
        assert_eq!(elements[0]["action_id"], APPROVE);
        assert_eq!(elements[1]["action_id"], REJECT);
        assert!(elements.iter().all(|e| e["value"] == "r-1:go"));
        let text = m["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(text.contains("ship &lt;it&gt;?"), "{text}");
        assert!(text.contains("alice"), "{text}");
    }

    #[test]
    fn final_messages_name_the_failed_step_and_cut_long_errors() {
        let long = "é".repeat(600);
        let m = finished(&Outcome {
            runbook: "deploy",
            run_id: "r-1",
            status: RunStatus::Failed,
            duration_ms: 1234,
            failed: Some(("smoke", &long)),
            error: None,
        });
        let text = m["text"].as_str().unwrap();
        assert!(text.starts_with(":x: *deploy* failed in 1.2s"), "{text}");
        assert!(text.contains("step `smoke` failed"), "{text}");
        assert!(text.chars().count() < 600, "{}", text.chars().count());
    }
}
