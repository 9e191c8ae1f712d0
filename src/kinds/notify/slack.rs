//! Slack, through an incoming webhook: the text as the notification, and an
//! attachment coloured by severity whose blocks hold the title, the text,
//! the fields and the run.

use serde_json::{Value, json};

use crate::kind::StepContext;
use crate::kinds::http;
use crate::template::Template;

use super::{Delivery, Message, NotifyError, Post};

/// The attachment colour of a severity.
pub fn colour(severity: &str) -> &'static str {
    match severity {
        "critical" => "#d00000",
        "warning" => "#daa038",
        _ => "#2eb886",
    }
}

/// The JSON a Slack incoming webhook receives.
pub fn payload(message: &Message) -> Value {
    let mut blocks = Vec::new();
    if let Some(title) = &message.title {
        blocks.push(json!({ "type": "header", "text": { "type": "plain_text", "text": title } }));
    }
    blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": message.text } }));
    if !message.fields.is_empty() {
        let fields: Vec<Value> = message
            .fields
            .iter()
            .map(|(name, value)| json!({ "type": "mrkdwn", "text": format!("*{name}*\n{value}") }))
            .collect();
        blocks.push(json!({ "type": "section", "fields": fields }));
    }
    let mut context = format!(
        "{} · `{}` · run {}",
        message.severity, message.runbook, message.run_id
    );
    if let Some(link) = &message.link {
        context.push_str(&format!(" · <{link}|details>"));
    }
    blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": context }] }));
    json!({
        "text": message.text,
        "attachments": [{
            "color": colour(message.severity),
            "fallback": message.text,
            "blocks": blocks,
        }],
    })
}

pub(super) async fn send(
    ctx: &StepContext<'_>,
    url: &Template,
    message: &Message,
) -> Result<Delivery, NotifyError> {
    let url = http::render(ctx, url)?;
    let body = payload(message);
    let answer = Post {
        channel: "Slack",
        url: &url,
        shown: "the Slack webhook",
        body: &body,
        headers: Vec::new(),
        signature: None,
    }
    .send(ctx)
    .await?;
    Ok(Delivery {
        status: answer.status,
        extra: serde_json::Map::new(),
    })
}
