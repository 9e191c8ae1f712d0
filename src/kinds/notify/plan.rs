//! A compiled `notify` step.

use serde::{Deserialize, Serialize};

use crate::template::Template;
use crate::template::TemplatedValue as Value;

/// The severities of a message.
pub const SEVERITIES: &[&str] = &["info", "warning", "critical"];

/// A compiled `notify` step: a message and its channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotifyStep {
    /// Where the message goes.
    pub channel: Channel,
    /// The message.
    pub text: Option<Template>,
    /// `info`, `warning` or `critical` (checked when rendered).
    pub severity: Template,
    /// A short title.
    pub title: Option<Template>,
    /// A link to more.
    pub link: Option<Template>,
    /// Extra facts.
    pub fields: Vec<(String, Template)>,
}

/// A channel with its settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A Slack incoming webhook.
    Slack {
        /// The webhook URL.
        url: Template,
    },
    /// A generic JSON webhook.
    Webhook(WebhookChannel),
    /// PagerDuty Events API v2.
    Pagerduty(PagerDutyChannel),
    /// SMTP.
    Email(EmailChannel),
}

impl Channel {
    /// The channel's YAML key.
    pub fn name(&self) -> &'static str {
        match self {
            Channel::Slack { .. } => "slack",
            Channel::Webhook(_) => "webhook",
            Channel::Pagerduty(_) => "pagerduty",
            Channel::Email(_) => "email",
        }
    }
}

/// A generic webhook.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookChannel {
    /// The URL.
    pub url: Template,
    /// The body; `None`: the default envelope.
    pub json: Option<Value>,
    /// The HMAC-SHA256 key.
    pub secret: Option<Template>,
    /// The header of the signature.
    pub signature_header: String,
    /// Extra headers.
    pub headers: Vec<(String, Template)>,
}

/// What a PagerDuty event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PagerDutyAction {
    /// Open (or add to) an incident.
    Trigger,
    /// Acknowledge it.
    Acknowledge,
    /// Resolve it.
    Resolve,
}

impl PagerDutyAction {
    /// The names accepted in a runbook.
    pub const NAMES: &'static [&'static str] = &["trigger", "acknowledge", "resolve"];

    /// The action from its name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "trigger" => PagerDutyAction::Trigger,
            "acknowledge" => PagerDutyAction::Acknowledge,
            "resolve" => PagerDutyAction::Resolve,
            _ => return None,
        })
    }

    /// The Events API's `event_action`.
    pub fn name(self) -> &'static str {
        match self {
            PagerDutyAction::Trigger => "trigger",
            PagerDutyAction::Acknowledge => "acknowledge",
            PagerDutyAction::Resolve => "resolve",
        }
    }
}

/// A PagerDuty event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PagerDutyChannel {
    /// The routing key.
    pub routing_key: Template,
    /// What the event does.
    pub action: PagerDutyAction,
    /// The incident's key.
    pub dedup_key: Option<Template>,
    /// The affected system.
    pub source: Option<Template>,
    /// The affected component.
    pub component: Option<Template>,
    /// A group of components.
    pub group: Option<Template>,
    /// The event's class.
    pub class: Option<Template>,
    /// The endpoint.
    pub url: Template,
}

/// How an SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain, then upgraded with `STARTTLS` (required).
    Starttls,
    /// TLS from the first byte.
    Tls,
    /// Plain text; loopback only.
    None,
}

impl SmtpTls {
    /// The names accepted in a runbook.
    pub const NAMES: &'static [&'static str] = &["starttls", "tls", "none"];

    /// The mode from its name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "starttls" => SmtpTls::Starttls,
            "tls" => SmtpTls::Tls,
            "none" => SmtpTls::None,
            _ => return None,
        })
    }

    /// The usual port of the mode.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        }
    }
}

/// An email.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailChannel {
    /// Recipients.
    pub to: Vec<Template>,
    /// Sender.
    pub from: Template,
    /// Subject; `None`: derived from the message.
    pub subject: Option<Template>,
    /// SMTP server.
    pub server: Template,
    /// Its port; `None`: the usual port of the connection security.
    pub port: Option<u16>,
    /// A `port` given as a template, rendered when the step runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_from: Option<Template>,
    /// Connection security.
    pub tls: SmtpTls,
    /// A `tls` given as a template, rendered when the step runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_from: Option<Template>,
    /// Login user.
    pub username: Option<Template>,
    /// Login password.
    pub password: Option<Template>,
    /// A CA to trust.
    pub ca_cert: Option<Template>,
}
