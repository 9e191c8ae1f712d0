//! PagerDuty, Events API v2: `trigger`, `acknowledge` or `resolve` an
//! incident, keyed by `dedup_key`.

use serde_json::{Value, json};

use super::{PagerDutyAction, PagerDutyChannel};
use crate::kind::StepContext;
use crate::kinds::http::{self, HttpError};

use super::{Delivery, Message, NotifyError, Post};

/// The longest summary PagerDuty accepts.
const MAX_SUMMARY: usize = 1024;

/// PagerDuty's severity for ours: `info`, `warning`, `critical` (PagerDuty's
/// fourth, `error`, is not produced).
pub fn severity(ours: &str) -> &'static str {
    match ours {
        "critical" => "critical",
        "warning" => "warning",
        _ => "info",
    }
}

/// The rendered settings of an event.
pub struct Event {
    /// The routing key.
    pub routing_key: String,
    /// What it does.
    pub action: PagerDutyAction,
    /// The incident's key.
    pub dedup_key: Option<String>,
    /// `source`, `component`, `group`, `class`.
    pub source: String,
    /// The affected component.
    pub component: Option<String>,
    /// A group of components.
    pub group: Option<String>,
    /// The event's class.
    pub class: Option<String>,
}

/// The Events API v2 body.
pub fn payload(event: &Event, message: &Message) -> Value {
    let mut body = json!({
        "routing_key": event.routing_key,
        "event_action": event.action.name(),
    });
    if let Some(key) = &event.dedup_key {
        body["dedup_key"] = key.clone().into();
    }
    if event.action != PagerDutyAction::Trigger {
        return body;
    }
    let summary: String = match &message.title {
        Some(title) => format!("{title}: {}", message.text),
        None => message.text.clone(),
    }
    .chars()
    .take(MAX_SUMMARY)
    .collect();
    let mut details = serde_json::Map::new();
    details.insert("runbook".into(), message.runbook.clone().into());
    details.insert("run_id".into(), message.run_id.clone().into());
    details.insert("run_status".into(), message.status.clone().into());
    for (k, v) in &message.fields {
        details.insert(k.clone(), v.clone().into());
    }
    let mut payload = json!({
        "summary": summary,
        "source": event.source,
        "severity": severity(message.severity),
        "custom_details": details,
    });
    for (name, value) in [
        ("component", &event.component),
        ("group", &event.group),
        ("class", &event.class),
    ] {
        if let Some(v) = value {
            payload[name] = v.clone().into();
        }
    }
    body["payload"] = payload;
    body["client"] = "steward".into();
    if let Some(link) = &message.link {
        body["client_url"] = link.clone().into();
        body["links"] = json!([{ "href": link, "text": "details" }]);
    }
    body
}

fn render_event(ctx: &StepContext<'_>, channel: &PagerDutyChannel) -> Result<Event, HttpError> {
    let opt = |t: &Option<crate::template::Template>| {
        t.as_ref()
            .map(|t| http::render(ctx, t))
            .transpose()
            .map(|v| v.filter(|s| !s.trim().is_empty()))
    };
    Ok(Event {
        routing_key: http::render(ctx, &channel.routing_key)?.trim().to_owned(),
        action: channel.action,
        dedup_key: opt(&channel.dedup_key)?,
        source: opt(&channel.source)?.unwrap_or_else(|| "steward".to_owned()),
        component: opt(&channel.component)?,
        group: opt(&channel.group)?,
        class: opt(&channel.class)?,
    })
}

pub(super) fn describe(
    ctx: &StepContext<'_>,
    channel: &PagerDutyChannel,
) -> Result<String, HttpError> {
    let event = render_event(ctx, channel)?;
    Ok(match &event.dedup_key {
        Some(key) => format!("pagerduty {} (dedup_key {key})", event.action.name()),
        None => format!("pagerduty {}", event.action.name()),
    })
}

pub(super) async fn send(
    ctx: &StepContext<'_>,
    channel: &PagerDutyChannel,
    message: &Message,
) -> Result<Delivery, NotifyError> {
    let event = render_event(ctx, channel)?;
    if event.routing_key.is_empty() {
        return Err(NotifyError::Invalid(
            "the PagerDuty `routing_key` is empty".into(),
        ));
    }
    if event.action != PagerDutyAction::Trigger && event.dedup_key.is_none() {
        return Err(NotifyError::Invalid(format!(
            "a PagerDuty `{}` needs a `dedup_key`, and it rendered empty",
            event.action.name()
        )));
    }
    let url = http::render(ctx, &channel.url)?;
    let body = payload(&event, message);
    let answer = Post {
        channel: "PagerDuty",
        url: &url,
        shown: &format!("PagerDuty {}", event.action.name()),
        body: &body,
        headers: Vec::new(),
        signature: None,
    }
    .send(ctx)
    .await?;
    let mut extra = serde_json::Map::new();
    let key = answer
        .json
        .as_ref()
        .and_then(|j| j.get("dedup_key"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or(event.dedup_key);
    if let Some(key) = key {
        extra.insert("dedup_key".into(), key.into());
    }
    Ok(Delivery {
        status: answer.status,
        extra,
    })
}
