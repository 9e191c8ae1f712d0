//! Email over SMTP (lettre, rustls): STARTTLS by default, implicit TLS, or
//! plain SMTP to a loopback server.

use std::net::IpAddr;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message as Mail};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{EmailChannel, SmtpTls};
use crate::kind::StepContext;
use crate::kinds::http::{self, HttpError};
use crate::outcome::FailureClass;

use super::{Delivery, Message, NotifyError};

/// Bound on the SMTP conversation's each step.
const TIMEOUT: Duration = Duration::from_secs(30);

struct Rendered {
    to: Vec<String>,
    from: String,
    subject: String,
    server: String,
    tls: SmtpTls,
    port: u16,
}

/// The connection security and the port, rendered when they are templates.
fn connection(
    ctx: &StepContext<'_>,
    channel: &EmailChannel,
) -> Result<(SmtpTls, u16), NotifyError> {
    let tls = match &channel.tls_from {
        None => channel.tls,
        Some(t) => {
            let text = http::render(ctx, t)?;
            let name = text.trim().to_ascii_lowercase();
            SmtpTls::from_name(&name).ok_or_else(|| {
                NotifyError::Invalid(format!(
                    "`tls` is `{}`, not one of: {}",
                    text.trim(),
                    SmtpTls::NAMES.join(", ")
                ))
            })?
        }
    };
    let port = match (&channel.port_from, channel.port) {
        (Some(t), _) => {
            let text = http::render(ctx, t)?;
            match text.trim().parse::<u16>() {
                _ if text.trim().is_empty() => tls.default_port(),
                Ok(port) if port > 0 => port,
                _ => {
                    return Err(NotifyError::Invalid(format!(
                        "`port` is `{}`, not a port number (1 to 65535)",
                        text.trim()
                    )));
                }
            }
        }
        (None, Some(port)) => port,
        (None, None) => tls.default_port(),
    };
    Ok((tls, port))
}

fn render(
    ctx: &StepContext<'_>,
    channel: &EmailChannel,
    message: &Message,
) -> Result<Rendered, NotifyError> {
    let subject = match &channel.subject {
        Some(s) => http::render(ctx, s)?,
        None => subject(message),
    };
    let (tls, port) = connection(ctx, channel)?;
    Ok(Rendered {
        tls,
        port,
        to: channel
            .to
            .iter()
            .map(|t| http::render(ctx, t))
            .collect::<Result<_, _>>()?,
        from: http::render(ctx, &channel.from)?,
        subject,
        server: http::render(ctx, &channel.server)?.trim().to_owned(),
    })
}

/// The default subject: `[WARNING] deploy: the title, or the text's first line`.
pub fn subject(message: &Message) -> String {
    let about = message
        .title
        .clone()
        .unwrap_or_else(|| message.text.lines().next().unwrap_or_default().to_owned());
    format!(
        "[{}] {}: {about}",
        message.severity.to_ascii_uppercase(),
        message.runbook
    )
}

/// The plain-text body: the text, the fields, the link and the run.
pub fn body(message: &Message) -> String {
    let mut body = format!("{}\n", message.text.trim_end());
    if !message.fields.is_empty() || message.link.is_some() {
        body.push('\n');
    }
    for (name, value) in &message.fields {
        body.push_str(&format!("{name}: {value}\n"));
    }
    if let Some(link) = &message.link {
        body.push_str(&format!("Details: {link}\n"));
    }
    body.push_str(&format!(
        "\n-- \nsteward, runbook {}, run {} ({})\n",
        message.runbook, message.run_id, message.status
    ));
    body
}

pub(super) fn describe(ctx: &StepContext<'_>, channel: &EmailChannel) -> Result<String, HttpError> {
    let to: Vec<String> = channel
        .to
        .iter()
        .map(|t| http::render(ctx, t))
        .collect::<Result<_, _>>()?;
    let server = http::render(ctx, &channel.server)?;
    let port = match connection(ctx, channel) {
        Ok((_, port)) => port.to_string(),
        Err(_) => "?".to_owned(),
    };
    Ok(format!(
        "email to {} via {}:{port}",
        to.join(", "),
        server.trim(),
    ))
}

fn is_loopback(server: &str) -> bool {
    server.eq_ignore_ascii_case("localhost")
        || server
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn invalid(what: &str, error: impl std::fmt::Display) -> NotifyError {
    NotifyError::Invalid(format!("{what}: {error}"))
}

pub(super) async fn send(
    ctx: &StepContext<'_>,
    channel: &EmailChannel,
    message: &Message,
) -> Result<Delivery, NotifyError> {
    let rendered = render(ctx, channel, message)?;
    let mut builder = Mail::builder()
        .from(
            rendered
                .from
                .parse::<Mailbox>()
                .map_err(|e| invalid("invalid `from` address", e))?,
        )
        .subject(rendered.subject);
    for to in &rendered.to {
        builder = builder.to(to
            .parse::<Mailbox>()
            .map_err(|e| invalid(&format!("invalid recipient `{to}`"), e))?);
    }
    let mail = builder
        .header(ContentType::TEXT_PLAIN)
        .body(body(message))
        .map_err(|e| invalid("can't build the email", e))?;

    let server = rendered.server;
    let port = rendered.port;
    let tls = match rendered.tls {
        SmtpTls::None if !is_loopback(&server) => {
            return Err(NotifyError::Invalid(format!(
                "plain SMTP (`tls: none`) is allowed only to a loopback server, not `{server}`; use `tls: starttls` or `tls: tls`"
            )));
        }
        SmtpTls::None => Tls::None,
        mode => {
            let mut params = TlsParameters::builder(server.clone());
            if let Some(ca) = &channel.ca_cert {
                let pem = http::pem(&http::render(ctx, ca)?, "ca_cert", ctx.workdir).await?;
                let cert =
                    Certificate::from_pem(pem.as_bytes()).map_err(|e| invalid("ca_cert", e))?;
                params = params.add_root_certificate(cert);
            }
            let params = params.build_rustls().map_err(|e| invalid("TLS setup", e))?;
            if mode == SmtpTls::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        }
    };
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.clone())
        .port(port)
        .tls(tls)
        .timeout(Some(TIMEOUT));
    // A username that renders empty means no login (a relay that takes mail
    // without one), so that a runbook can make the login optional.
    let user = match &channel.username {
        Some(user) => http::render(ctx, user)?,
        None => String::new(),
    };
    if !user.trim().is_empty() {
        let password = match &channel.password {
            Some(p) => http::render(ctx, p)?,
            None => String::new(),
        };
        transport = transport.credentials(Credentials::new(user, password));
    }
    let response = transport
        .build()
        .send(mail)
        .await
        .map_err(|e| smtp_error(&e, &server, port))?;
    Ok(Delivery {
        status: u16::from(response.code()),
        extra: serde_json::Map::new(),
    })
}

fn smtp_error(error: &lettre::transport::smtp::Error, server: &str, port: u16) -> NotifyError {
    let detail = http::error::describe_chain(error);
    let at = format!("{server}:{port}");
    let (class, message) = if let Some(code) = error.status() {
        let code = u16::from(code);
        (
            FailureClass::HttpStatus(code),
            format!("the SMTP server {at} refused the email ({code}): {detail}"),
        )
    } else if error.is_timeout() {
        (
            FailureClass::Timeout,
            format!("the SMTP server {at} did not answer in time: {detail}"),
        )
    } else if let Some(tls) = http::error::tls_cause(error) {
        (
            FailureClass::Connect,
            format!("TLS with the SMTP server {at} failed: {tls}"),
        )
    } else if error.is_tls() {
        (
            FailureClass::Connect,
            format!("TLS with the SMTP server {at} failed: {detail}"),
        )
    } else if detail.contains("Connection refused") || detail.contains("connection refused") {
        (
            FailureClass::Connect,
            format!("connection refused by the SMTP server {at}: nothing listens there"),
        )
    } else if error.is_client() || error.is_response() {
        (
            FailureClass::Other,
            format!("SMTP with {at} failed: {detail}"),
        )
    } else {
        (
            FailureClass::Connect,
            format!("can't reach the SMTP server {at}: {detail}"),
        )
    };
    NotifyError::Smtp { message, class }
}
