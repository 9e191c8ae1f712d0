//! The `notify` step kind, as written: one channel and a message.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::syntax::Spanned;
use crate::syntax::{FromScalar, OneOrMany, Scalar, StrOr};

/// A `notify` step: a message sent to exactly one channel.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifySpec {
    /// Slack: the incoming-webhook URL (usually `{{ secrets.X }}`), or `{ url }`.
    pub slack: Option<Spanned<StrOr<SlackSpec>>>,
    /// Any HTTP endpoint: its URL, or `{ url, json, secret, headers }`.
    pub webhook: Option<Spanned<StrOr<WebhookSpec>>>,
    /// PagerDuty Events API v2: the routing key, or `{ routing_key, action, dedup_key, … }`.
    pub pagerduty: Option<Spanned<StrOr<PagerDutySpec>>>,
    /// Email over SMTP: `{ to, from, server, … }`.
    pub email: Option<Spanned<EmailSpec>>,
    /// The message (a template). Required except for a PagerDuty
    /// `acknowledge` or `resolve` and a webhook with its own `json`.
    pub text: Option<Spanned<String>>,
    /// `info` (default), `warning` or `critical`: Slack's colour, the
    /// webhook's `severity`, PagerDuty's severity, the email subject's tag.
    /// A template, e.g. `"{{ 'critical' if run.status == 'failed' else 'info' }}"`.
    pub severity: Option<Spanned<String>>,
    /// A short title (a template): Slack's heading, the email subject.
    pub title: Option<Spanned<String>>,
    /// A link to more, e.g. a dashboard or the CI job (a template).
    pub link: Option<Spanned<String>>,
    /// Extra facts, name → value (templates): Slack fields, the webhook's
    /// `fields`, PagerDuty's `custom_details`, lines of the email.
    #[serde(default)]
    pub fields: IndexMap<Spanned<String>, Spanned<Scalar>>,
}

/// A Slack incoming webhook.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackSpec {
    /// The incoming-webhook URL (a template; never shown).
    pub url: Spanned<String>,
}

impl FromScalar for SlackSpec {
    fn from_scalar(url: String) -> Self {
        SlackSpec {
            url: Spanned::new(Default::default(), url),
        }
    }
}

/// A generic webhook: a JSON `POST`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// The URL (a template).
    pub url: Spanned<String>,
    /// The JSON body (strings are templates). Default: the envelope
    /// `{runbook, run_id, status, severity, text, link}` (plus `title` and
    /// `fields` when given).
    pub json: Option<Spanned<serde_json::Value>>,
    /// A key (usually `{{ secrets.X }}`) to sign the body with HMAC-SHA256;
    /// the signature goes in `signature_header` as `sha256=<hex>`.
    pub secret: Option<Spanned<String>>,
    /// The header of the signature (default `X-Steward-Signature`).
    pub signature_header: Option<Spanned<String>>,
    /// Extra request headers (values are templates, never shown).
    #[serde(default)]
    pub headers: IndexMap<Spanned<String>, Spanned<Scalar>>,
}

impl FromScalar for WebhookSpec {
    fn from_scalar(url: String) -> Self {
        WebhookSpec {
            url: Spanned::new(Default::default(), url),
            json: None,
            secret: None,
            signature_header: None,
            headers: IndexMap::new(),
        }
    }
}

/// A PagerDuty Events API v2 event.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PagerDutySpec {
    /// The integration's routing key (usually `{{ secrets.X }}`; never shown).
    pub routing_key: Spanned<String>,
    /// `trigger` (default), `acknowledge` or `resolve`.
    pub action: Option<Spanned<Scalar>>,
    /// Groups events into one incident; needed to acknowledge or resolve
    /// (a template, e.g. `"deploy-{{ inputs.env }}"`). The answer's key is
    /// `result.dedup_key`.
    pub dedup_key: Option<Spanned<String>>,
    /// The affected system (a template; default `steward`).
    pub source: Option<Spanned<String>>,
    /// The affected component (a template).
    pub component: Option<Spanned<String>>,
    /// A logical group of components (a template).
    pub group: Option<Spanned<String>>,
    /// The class of the event (a template).
    pub class: Option<Spanned<String>>,
    /// The Events API endpoint (default
    /// `https://events.pagerduty.com/v2/enqueue`).
    pub url: Option<Spanned<String>>,
}

impl FromScalar for PagerDutySpec {
    fn from_scalar(routing_key: String) -> Self {
        PagerDutySpec {
            routing_key: Spanned::new(Default::default(), routing_key),
            action: None,
            dedup_key: None,
            source: None,
            component: None,
            group: None,
            class: None,
            url: None,
        }
    }
}

/// An email sent over SMTP.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailSpec {
    /// Recipients: one address or a list (templates).
    pub to: OneOrMany<Spanned<String>>,
    /// The sender address (a template), e.g. `Steward <steward@example.com>`.
    pub from: Spanned<String>,
    /// The subject (a template). Default: `[SEVERITY] runbook: title`, the
    /// title being the first line of `text` when there is no `title`.
    pub subject: Option<Spanned<String>>,
    /// The SMTP server's host name or address (a template).
    pub server: Spanned<String>,
    /// The port (default 587 with `starttls`, 465 with `tls`, 25 with `none`).
    /// A template is rendered when the step runs; empty: the default.
    pub port: Option<Spanned<Scalar>>,
    /// `starttls` (default), `tls` (implicit TLS) or `none` (plain SMTP,
    /// allowed only to a loopback address). A template is rendered when the
    /// step runs.
    pub tls: Option<Spanned<Scalar>>,
    /// SMTP login user (a template); when it renders empty, no login.
    pub username: Option<Spanned<String>>,
    /// SMTP login password (usually `{{ secrets.X }}`).
    pub password: Option<Spanned<String>>,
    /// A CA certificate to trust for the server (PEM file or text).
    pub ca_cert: Option<Spanned<String>>,
}
