//! A generic webhook: the default envelope or the step's `json:`, signed
//! with HMAC-SHA256 when a key is given.

use serde_json::{Value, json};

use super::WebhookChannel;
use crate::kind::StepContext;
use crate::kinds::http::{self, HttpError};

use super::{Delivery, Message, NotifyError, Post};

/// The default body: `{runbook, run_id, status, severity, text, link}`,
/// with `title` and `fields` when the step has them.
pub fn envelope(message: &Message) -> Value {
    let mut body = json!({
        "runbook": message.runbook,
        "run_id": message.run_id,
        "status": message.status,
        "severity": message.severity,
        "text": message.text,
        "link": message.link,
    });
    if let Some(title) = &message.title {
        body["title"] = title.clone().into();
    }
    if !message.fields.is_empty() {
        let fields: serde_json::Map<String, Value> = message
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        body["fields"] = fields.into();
    }
    body
}

pub(super) fn describe(
    ctx: &StepContext<'_>,
    channel: &WebhookChannel,
) -> Result<String, HttpError> {
    let url = http::parse_url(&http::render(ctx, &channel.url)?)?;
    let signed = if channel.secret.is_some() {
        " (signed)"
    } else {
        ""
    };
    Ok(format!("webhook POST {}{signed}", http::shown_url(&url)))
}

pub(super) async fn send(
    ctx: &StepContext<'_>,
    channel: &WebhookChannel,
    message: &Message,
) -> Result<Delivery, NotifyError> {
    let url = http::render(ctx, &channel.url)?;
    let body = match &channel.json {
        Some(v) => ctx.renderer.value(v, ctx.ctx)?,
        None => envelope(message),
    };
    let key = channel
        .secret
        .as_ref()
        .map(|s| http::render(ctx, s))
        .transpose()?;
    if key.as_deref().is_some_and(str::is_empty) {
        return Err(NotifyError::Invalid(
            "the webhook's `secret` is empty: nothing to sign with".into(),
        ));
    }
    let shown = format!(
        "POST {}",
        http::parse_url(&url)
            .map(|u| http::shown_url(&u))
            .unwrap_or_default()
    );
    let answer = Post {
        channel: "the webhook",
        url: &url,
        shown: &shown,
        body: &body,
        headers: http::render_pairs(ctx, &channel.headers)?,
        signature: key.map(|k| (channel.signature_header.as_str(), k)),
    }
    .send(ctx)
    .await?;
    Ok(Delivery {
        status: answer.status,
        extra: serde_json::Map::new(),
    })
}
