//! The `notify` step kind: one message, one channel, each channel a module.
//! `result` is `{delivered, status}` (the HTTP status, or the SMTP reply
//! code of an email), plus `dedup_key` for PagerDuty.

mod compile;
mod email;
mod pagerduty;
mod plan;
mod slack;
mod spec;
mod webhook;

pub use compile::{PAGERDUTY_URL, SIGNATURE_HEADER};
pub use plan::{
    Channel, EmailChannel, NotifyStep, PagerDutyAction, PagerDutyChannel, SEVERITIES, SmtpTls,
    WebhookChannel,
};
pub use spec::{EmailSpec, NotifySpec, PagerDutySpec, SlackSpec, WebhookSpec};

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::kinds::http::{self, Fields, HttpError, Target};
use crate::outcome::FailureClass;

use crate::kind::{Attempt, CompileCx, DescribeError, Failure, Kind, StepContext};
use crate::syntax::Spanned;

/// Bound on one delivery.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The request failed (connect, TLS, timeout…).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The receiver answered with a status other than 2xx.
    #[error("{channel} answered {status_line}{excerpt}")]
    Rejected {
        /// `Slack`, `the webhook`…
        channel: String,
        /// The status code.
        status: u16,
        /// `HTTP 400 Bad Request`.
        status_line: String,
        /// The start of the answer's body.
        excerpt: String,
    },
    /// A value is not usable (a severity, an address).
    #[error("{0}")]
    Invalid(String),
    /// The SMTP conversation failed.
    #[error("{message}")]
    Smtp {
        /// What happened.
        message: String,
        /// Its class (`HttpStatus` carries the SMTP reply code).
        class: FailureClass,
    },
}

impl NotifyError {
    fn class(&self) -> FailureClass {
        match self {
            NotifyError::Http(e) => e.class(),
            NotifyError::Rejected { status, .. } => FailureClass::HttpStatus(*status),
            NotifyError::Invalid(_) => FailureClass::Other,
            NotifyError::Smtp { class, .. } => *class,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            NotifyError::Rejected { status, .. } => Some(*status),
            NotifyError::Smtp {
                class: FailureClass::HttpStatus(code),
                ..
            } => Some(*code),
            _ => None,
        }
    }
}

impl From<crate::template::RenderError> for NotifyError {
    fn from(e: crate::template::RenderError) -> Self {
        NotifyError::Http(HttpError::Render(e.to_string()))
    }
}

/// The message, rendered, with the run it is about.
pub struct Message {
    /// The text (empty for a PagerDuty acknowledge or resolve).
    pub text: String,
    /// `info`, `warning` or `critical`.
    pub severity: &'static str,
    /// A short title.
    pub title: Option<String>,
    /// A link to more.
    pub link: Option<String>,
    /// Extra facts.
    pub fields: Vec<(String, String)>,
    /// The runbook's name.
    pub runbook: String,
    /// The run's id.
    pub run_id: String,
    /// The run's status so far.
    pub status: String,
}

/// A delivered message.
pub struct Delivery {
    /// The receiver's status (HTTP status or SMTP reply code).
    pub status: u16,
    /// Extra `result` fields.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl NotifyStep {
    fn message(&self, ctx: &StepContext<'_>) -> Result<Message, NotifyError> {
        let opt = |t: &Option<crate::template::Template>| {
            t.as_ref().map(|t| http::render(ctx, t)).transpose()
        };
        let severity = http::render(ctx, &self.severity)?;
        let severity = SEVERITIES
            .iter()
            .find(|s| **s == severity.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                NotifyError::Invalid(format!(
                    "unknown severity `{}`: one of info, warning, critical",
                    severity.trim()
                ))
            })?;
        let run = |name: &str| {
            ctx.ctx
                .get_attr("run")
                .and_then(|run| run.get_attr(name))
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        Ok(Message {
            text: opt(&self.text)?.unwrap_or_default(),
            severity,
            title: opt(&self.title)?.filter(|t| !t.trim().is_empty()),
            link: opt(&self.link)?.filter(|l| !l.trim().is_empty()),
            fields: http::render_pairs(ctx, &self.fields)?,
            runbook: run("runbook"),
            run_id: ctx.run_id.to_owned(),
            status: run("status"),
        })
    }

    async fn send(&self, ctx: &StepContext<'_>) -> Result<Delivery, NotifyError> {
        let message = self.message(ctx)?;
        match &self.channel {
            Channel::Slack { url } => slack::send(ctx, url, &message).await,
            Channel::Webhook(w) => webhook::send(ctx, w, &message).await,
            Channel::Pagerduty(p) => pagerduty::send(ctx, p, &message).await,
            Channel::Email(e) => email::send(ctx, e, &message).await,
        }
    }
}

impl Kind for NotifyStep {
    const KEY: &'static str = "notify";
    type Spec = NotifySpec;

    fn compile(spec: &Spanned<NotifySpec>, cx: &mut CompileCx<'_, '_>) -> Option<Self> {
        compile::compile(spec, &mut Fields::of(cx))
    }

    fn source(&self) -> String {
        format!(
            "notify {}: {}",
            self.channel.name(),
            self.text
                .as_ref()
                .map(|t| t.source.as_str())
                .unwrap_or_default()
        )
    }

    fn describe(&self, ctx: &StepContext<'_>) -> Result<String, DescribeError> {
        let redact = |text: &str| ctx.redactor.redact(text).into_owned();
        let message = self.message(ctx).map_err(|e| ctx.cannot_describe(e))?;
        let what = match &self.channel {
            Channel::Slack { .. } => "slack".to_owned(),
            Channel::Webhook(w) => webhook::describe(ctx, w).map_err(|e| ctx.cannot_describe(e))?,
            Channel::Pagerduty(p) => {
                pagerduty::describe(ctx, p).map_err(|e| ctx.cannot_describe(e))?
            }
            Channel::Email(e) => email::describe(ctx, e).map_err(|e| ctx.cannot_describe(e))?,
        };
        let shown = match message.text.lines().next() {
            Some(line) if !line.trim().is_empty() => {
                format!("notify {what} [{}]: {line}", message.severity)
            }
            _ => format!("notify {what} [{}]", message.severity),
        };
        Ok(redact(&shown))
    }

    async fn execute(&self, ctx: &StepContext<'_>) -> Attempt {
        let outcome = tokio::select! {
            outcome = self.send(ctx) => outcome,
            () = ctx.cancel.cancelled() => return Attempt::failed(FailureClass::Other, "cancelled"),
        };
        match outcome {
            Ok(delivery) => {
                let mut result =
                    serde_json::json!({ "delivered": true, "status": delivery.status });
                if let Some(map) = result.as_object_mut() {
                    map.extend(delivery.extra);
                }
                Attempt {
                    output: Some(format!(
                        "delivered to {} ({})",
                        self.channel.name(),
                        delivery.status
                    )),
                    result,
                    failure: None,
                    exit_code: None,
                }
            }
            Err(e) => Attempt {
                result: serde_json::json!({ "delivered": false, "status": e.status() }),
                failure: Some(Failure {
                    class: e.class(),
                    message: ctx.redactor.redact(&e.to_string()).into_owned(),
                }),
                exit_code: None,
                output: None,
            },
        }
    }
}

/// A JSON `POST` to a receiver, signed when a key is given.
struct Post<'a> {
    /// The receiver, for messages: `Slack`, `the webhook`…
    channel: &'a str,
    /// The URL, rendered.
    url: &'a str,
    /// What the messages show of the request (never a secret URL).
    shown: &'a str,
    /// The body.
    body: &'a serde_json::Value,
    /// Extra headers.
    headers: Vec<(String, String)>,
    /// HMAC-SHA256 header and key.
    signature: Option<(&'a str, String)>,
}

impl Post<'_> {
    async fn send(self, ctx: &StepContext<'_>) -> Result<http::Answer, NotifyError> {
        let url = http::parse_url(self.url)?;
        let client = ctx
            .resources
            .get::<http::HttpClients>()
            .get(&http::ClientOptions::default())?;
        let bytes =
            serde_json::to_vec(self.body).map_err(|e| NotifyError::Invalid(e.to_string()))?;
        let mut request = client
            .post(url.clone())
            .timeout(TIMEOUT)
            .header("content-type", "application/json");
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some((header, key)) = &self.signature {
            request = request.header(*header, sign(key.as_bytes(), &bytes)?);
        }
        let target = Target {
            shown: self.shown,
            url: &url,
            limit: TIMEOUT,
        };
        let answer = http::exchange(request.body(bytes), &target).await?;
        if !(200..300).contains(&answer.status) {
            return Err(NotifyError::Rejected {
                channel: self.channel.to_owned(),
                status: answer.status,
                status_line: answer.status_line(),
                excerpt: http::excerpt(&answer.body),
            });
        }
        Ok(answer)
    }
}

/// `sha256=<hex>`: the HMAC-SHA256 of `body` with `key`.
pub fn sign(key: &[u8], body: &[u8]) -> Result<String, NotifyError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key)
        .map_err(|e| NotifyError::Invalid(format!("signing key: {e}")))?;
    mac.update(body);
    Ok(format!(
        "sha256={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_rfc_4231() {
        // RFC 4231, test case 2.
        let sig = sign(b"Jefe", b"what do ya want for nothing?").expect("a signature");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
