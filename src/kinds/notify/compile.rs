//! `notify:`

use super::{
    Channel, EmailChannel, EmailSpec, NotifySpec, NotifyStep, PagerDutyAction, PagerDutyChannel,
    PagerDutySpec, SEVERITIES, SmtpTls, WebhookChannel, WebhookSpec,
};
use crate::diagnostic::Span;
use crate::syntax::{Scalar, Spanned};
use crate::template::{Template, is_dynamic};

use crate::kind::compile::values;
use crate::kinds::http::{Fields, at};

/// PagerDuty's Events API v2 endpoint.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// The header of a webhook's signature when the step names none.
pub const SIGNATURE_HEADER: &str = "X-Steward-Signature";

pub(super) fn compile(notify: &Spanned<NotifySpec>, f: &mut Fields) -> Option<NotifyStep> {
    let spec = &notify.value;
    let before = f.diagnostics.len();
    let channels: Vec<(&str, Span)> = [
        spec.slack.as_ref().map(|c| ("slack", c.span)),
        spec.webhook.as_ref().map(|c| ("webhook", c.span)),
        spec.pagerduty.as_ref().map(|c| ("pagerduty", c.span)),
        spec.email.as_ref().map(|c| ("email", c.span)),
    ]
    .into_iter()
    .flatten()
    .collect();
    match channels.as_slice() {
        [] => {
            f.error(
                notify.span,
                "a `notify` step needs a channel",
                "add one of: slack, webhook, pagerduty, email",
            );
            return None;
        }
        [_] => {}
        [(first, _), (second, span), ..] => {
            f.error(
                *span,
                format!("a `notify` step sends to one channel: `{first}` and `{second}` given"),
                "use one `notify` step per channel",
            );
            return None;
        }
    }
    let channel = if let Some(slack) = &spec.slack {
        Channel::Slack {
            url: f.url(&slack.value.url, slack.span),
        }
    } else if let Some(webhook) = &spec.webhook {
        Channel::Webhook(compile_webhook(&webhook.value, webhook.span, f))
    } else if let Some(pd) = &spec.pagerduty {
        Channel::Pagerduty(compile_pagerduty(&pd.value, pd.span, f)?)
    } else {
        Channel::Email(compile_email(spec.email.as_ref()?, f)?)
    };
    // An acknowledge or resolve has no message; a webhook's `json:` is its own.
    let needs_text = !matches!(
        &channel,
        Channel::Pagerduty(PagerDutyChannel {
            action: PagerDutyAction::Acknowledge | PagerDutyAction::Resolve,
            ..
        }) | Channel::Webhook(WebhookChannel { json: Some(_), .. })
    );
    if spec.text.is_none() && needs_text {
        f.error(
            notify.span,
            "a `notify` step needs `text`",
            "add the message: `text: \"deployed {{ inputs.version }}\"`",
        );
    }
    let severity = match &spec.severity {
        None => Template::text("info"),
        Some(s) => {
            if !is_dynamic(&s.value) && !SEVERITIES.contains(&s.value.trim()) {
                f.error(
                    s.span,
                    format!("unknown severity `{}`", s.value.trim()),
                    format!("one of: {}", SEVERITIES.join(", ")),
                );
            }
            f.text(s.value.trim(), s.span)
        }
    };
    let step = NotifyStep {
        channel,
        text: f.opt(&spec.text),
        severity,
        title: f.opt(&spec.title),
        link: f.opt(&spec.link),
        fields: f.map(&spec.fields),
    };
    (f.diagnostics.len() == before).then_some(step)
}

fn compile_webhook(spec: &WebhookSpec, span: Span, f: &mut Fields) -> WebhookChannel {
    WebhookChannel {
        url: f.url(&spec.url, span),
        json: spec.json.as_ref().map(|j| f.value(j)),
        secret: f.opt(&spec.secret),
        signature_header: spec.signature_header.as_ref().map_or_else(
            || SIGNATURE_HEADER.to_owned(),
            |h| h.value.trim().to_owned(),
        ),
        headers: f.map(&spec.headers),
    }
}

fn compile_pagerduty(spec: &PagerDutySpec, span: Span, f: &mut Fields) -> Option<PagerDutyChannel> {
    let action = match &spec.action {
        None => PagerDutyAction::Trigger,
        Some(a) => {
            PagerDutyAction::from_name(f.word(a, "PagerDuty action", PagerDutyAction::NAMES)?)?
        }
    };
    if action != PagerDutyAction::Trigger && spec.dedup_key.is_none() {
        let at = spec.action.as_ref().map_or(span, |a| a.span);
        f.error(
            at,
            format!("a PagerDuty `{}` needs `dedup_key`", action.name()),
            "the key of the incident, as given to its `trigger` (or `{{ steps.<id>.result.dedup_key }}`)",
        );
    }
    let routing_key = &spec.routing_key;
    Some(PagerDutyChannel {
        routing_key: f.text(&routing_key.value, at(routing_key.span, span)),
        action,
        dedup_key: f.opt(&spec.dedup_key),
        source: f.opt(&spec.source),
        component: f.opt(&spec.component),
        group: f.opt(&spec.group),
        class: f.opt(&spec.class),
        url: match &spec.url {
            Some(u) => f.url(u, span),
            None => Template::text(PAGERDUTY_URL),
        },
    })
}

fn compile_email(email: &Spanned<EmailSpec>, f: &mut Fields) -> Option<EmailChannel> {
    let spec = &email.value;
    if spec.to.0.is_empty() {
        f.error(
            email.span,
            "an email needs at least one recipient in `to`",
            "e.g. `to: oncall@example.com`",
        );
    }
    // `tls` and `port` may be templates (outside a step template), rendered
    // when the step runs, so that a runbook can take its mail relay as inputs.
    let dynamic = |field: &Option<Spanned<Scalar>>| {
        field
            .as_ref()
            .filter(|v| !values::in_template(f.params) && is_dynamic(&v.value.0))
            .map(|v| (v.value.0.trim().to_owned(), v.span))
    };
    let (tls_dynamic, port_dynamic) = (dynamic(&spec.tls), dynamic(&spec.port));
    let tls_from = tls_dynamic.map(|(text, span)| f.text(&text, span));
    let port_from = port_dynamic.map(|(text, span)| f.text(&text, span));
    let tls = match &spec.tls {
        None => SmtpTls::Starttls,
        Some(_) if tls_from.is_some() => SmtpTls::Starttls,
        Some(t) => SmtpTls::from_name(f.word(t, "SMTP security", SmtpTls::NAMES)?)?,
    };
    let port = match &spec.port {
        None => None,
        Some(_) if port_from.is_some() => None,
        Some(p) => {
            let n = values::count(p, f.params, 1, "the SMTP port", f.diagnostics)?;
            match u16::try_from(n) {
                Ok(port) => Some(port),
                Err(_) => {
                    f.error(
                        p.span,
                        format!("port {n} is out of range"),
                        "a port is 1 to 65535",
                    );
                    return None;
                }
            }
        }
    };
    Some(EmailChannel {
        to: spec.to.0.iter().map(|t| f.text(&t.value, t.span)).collect(),
        from: f.text(&spec.from.value, spec.from.span),
        subject: f.opt(&spec.subject),
        server: f.text(spec.server.value.trim(), spec.server.span),
        port,
        port_from,
        tls,
        tls_from,
        username: f.opt(&spec.username),
        password: f.opt(&spec.password),
        ca_cert: f.opt(&spec.ca_cert),
    })
}
