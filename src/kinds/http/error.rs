//! Why a request failed, in words an operator can act on: connection
//! refused, DNS, TLS and timeouts are told apart, and each has its class
//! (which decides `retry.on`).

use std::error::Error as StdError;
use std::time::Duration;

use crate::duration::human;
use crate::outcome::FailureClass;

/// Why an HTTP request (of an `http` or `notify` step) failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A template could not be rendered.
    #[error("{0}")]
    Render(String),
    /// The rendered URL is not a usable URL.
    #[error("invalid URL `{url}`: {reason}")]
    Url {
        /// The URL as rendered.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A certificate or key could not be read or parsed.
    #[error("{what}: {reason}")]
    Pem {
        /// Which field (`ca_cert`, `client_cert`…).
        what: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The client could not be built.
    #[error("can't set up the HTTP client: {0}")]
    Client(String),
    /// Nothing listens at the address.
    #[error("connection refused by {authority}: nothing listens there ({target})")]
    Refused {
        /// `host:port`.
        authority: String,
        /// What was asked, e.g. `GET http://…`.
        target: String,
    },
    /// The host name did not resolve.
    #[error("DNS lookup of `{host}` failed: {detail} ({target})")]
    Dns {
        /// The host.
        host: String,
        /// The resolver's words.
        detail: String,
        /// What was asked.
        target: String,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with {authority} failed: {detail} ({target})")]
    Tls {
        /// `host:port`.
        authority: String,
        /// What rustls said, explained.
        detail: String,
        /// What was asked.
        target: String,
    },
    /// Another failure to connect.
    #[error("can't connect to {authority}: {detail} ({target})")]
    Connect {
        /// `host:port`.
        authority: String,
        /// The underlying error.
        detail: String,
        /// What was asked.
        target: String,
    },
    /// No complete answer in time.
    #[error("no answer within {} ({target}); the request's `timeout` fired", human(*limit))]
    Timeout {
        /// The bound.
        limit: Duration,
        /// What was asked.
        target: String,
    },
    /// The request failed after connecting (reset, bad answer, redirects).
    #[error("request failed: {detail} ({target})")]
    Request {
        /// The underlying error.
        detail: String,
        /// What was asked.
        target: String,
    },
}

impl HttpError {
    /// The failure class, for `retry.on`.
    pub fn class(&self) -> FailureClass {
        match self {
            HttpError::Refused { .. }
            | HttpError::Dns { .. }
            | HttpError::Tls { .. }
            | HttpError::Connect { .. } => FailureClass::Connect,
            HttpError::Timeout { .. } => FailureClass::Timeout,
            _ => FailureClass::Other,
        }
    }
}

/// Where a request went, for messages.
pub struct Target<'a> {
    /// What was asked, e.g. `GET https://host/health` or `the Slack webhook`.
    pub shown: &'a str,
    /// The URL (its host and port are shown; never its path or query).
    pub url: &'a reqwest::Url,
    /// The request's bound.
    pub limit: Duration,
}

/// Explains a reqwest error.
pub fn classify(error: reqwest::Error, to: &Target<'_>) -> HttpError {
    // The URL may hold a secret: messages show `to.shown`, masked by the caller.
    let error = error.without_url();
    let timed_out = error.is_timeout();
    let is_connect = error.is_connect();
    let error: &(dyn StdError + 'static) = &error;
    let host = to.url.host_str().unwrap_or("?").to_owned();
    let authority = match to.url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    let target = to.shown.to_owned();
    if timed_out || chain(error).any(|e| e.downcast_ref::<tokio::time::error::Elapsed>().is_some())
    {
        return HttpError::Timeout {
            limit: to.limit,
            target,
        };
    }
    if let Some(detail) = tls_cause(error) {
        return HttpError::Tls {
            authority,
            detail,
            target,
        };
    }
    let io_kind =
        chain(error).find_map(|e| e.downcast_ref::<std::io::Error>().map(std::io::Error::kind));
    if io_kind == Some(std::io::ErrorKind::ConnectionRefused) {
        return HttpError::Refused { authority, target };
    }
    let detail = describe_chain(error);
    if is_connect {
        if detail.contains("dns error") || detail.contains("lookup address") {
            let detail = deepest(error);
            return HttpError::Dns {
                host,
                detail,
                target,
            };
        }
        return HttpError::Connect {
            authority,
            detail,
            target,
        };
    }
    HttpError::Request { detail, target }
}

/// The error and its sources, looking inside I/O errors (whose `source`
/// skips the error they wrap).
fn chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let mut next: Option<&'a (dyn StdError + 'static)> = Some(error);
    std::iter::from_fn(move || {
        let current = next?;
        next = match current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => current.source(),
        };
        Some(current)
    })
}

/// The TLS failure inside an error, explained, if there is one.
pub fn tls_cause(error: &(dyn StdError + 'static)) -> Option<String> {
    chain(error)
        .find_map(|e| e.downcast_ref::<rustls::Error>())
        .map(explain_tls)
}

fn explain_tls(error: &rustls::Error) -> String {
    use rustls::{CertificateError, Error};
    match error {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server's certificate is signed by an unknown CA; set `ca_cert` to the CA that signed it".to_owned()
        }
        Error::InvalidCertificate(CertificateError::NotValidForName)
        | Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
            "the server's certificate is not valid for this host name".to_owned()
        }
        Error::InvalidCertificate(CertificateError::Expired)
        | Error::InvalidCertificate(CertificateError::ExpiredContext { .. }) => {
            "the server's certificate has expired".to_owned()
        }
        Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            "the server did not answer in TLS (is it a plain `http://` server?)".to_owned()
        }
        Error::AlertReceived(alert) => {
            format!("the server refused the handshake ({alert:?}); does it want a client certificate (`client_cert`)?")
        }
        other => other.to_string(),
    }
}

/// The error's message and its causes, `a: b: c`, without repeats.
pub fn describe_chain(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in chain(error) {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

fn deepest(error: &(dyn StdError + 'static)) -> String {
    chain(error)
        .last()
        .map(ToString::to_string)
        .unwrap_or_default()
}
