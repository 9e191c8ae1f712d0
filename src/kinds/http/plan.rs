//! A compiled `http` step.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::retry::StatusPattern;
use crate::template::Template;
use crate::template::TemplatedValue as Value;

/// A compiled `http` step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpStep {
    /// The method, upper case.
    pub method: String,
    /// The URL.
    pub url: Template,
    /// Request headers.
    pub headers: Vec<(String, Template)>,
    /// Query parameters added to the URL.
    pub query: Vec<(String, Template)>,
    /// The body, if any.
    pub body: Option<HttpBody>,
    /// Bound on the request.
    #[serde(with = "crate::duration::millis")]
    pub timeout: Duration,
    /// Whether redirects are followed.
    pub follow_redirects: bool,
    /// Statuses that count as success.
    pub expect_status: Vec<StatusMatch>,
    /// TLS options.
    pub tls: TlsOptions,
}

/// The body of a request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpBody {
    /// JSON.
    Json(Value),
    /// Text, sent as is.
    Text(Template),
    /// `application/x-www-form-urlencoded`.
    Form(Vec<(String, Template)>),
}

/// TLS options of a client.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TlsOptions {
    /// A CA to trust: a PEM file or PEM text.
    pub ca_cert: Option<Template>,
    /// Accept any certificate.
    pub insecure: bool,
    /// A client certificate: a PEM file or PEM text.
    pub client_cert: Option<Template>,
    /// Its key: a PEM file or PEM text.
    pub client_key: Option<Template>,
}

/// A set of HTTP statuses: `204`, `2xx`, `200-399`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusMatch {
    /// A code or a class.
    Pattern(StatusPattern),
    /// An inclusive range.
    Range(u16, u16),
}

impl StatusMatch {
    /// Any `2xx`.
    pub fn success() -> Vec<StatusMatch> {
        vec![StatusMatch::Range(200, 299)]
    }

    /// Whether `status` is in the set.
    pub fn matches(&self, status: u16) -> bool {
        match self {
            StatusMatch::Pattern(p) => p.matches(status),
            StatusMatch::Range(from, to) => (*from..=*to).contains(&status),
        }
    }

    /// Parses `204`, `2xx`, `20x` or `200-299`.
    pub fn parse(text: &str) -> Option<StatusMatch> {
        let text = text.trim();
        if let Some((from, to)) = text.split_once('-') {
            let from: u16 = from.trim().parse().ok()?;
            let to: u16 = to.trim().parse().ok()?;
            return ((100..=599).contains(&from) && (from..=599).contains(&to))
                .then_some(StatusMatch::Range(from, to));
        }
        text.parse().ok().map(StatusMatch::Pattern)
    }

    /// A list for messages: `2xx`, `200, 404`.
    pub fn list(set: &[StatusMatch]) -> String {
        set.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for StatusMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusMatch::Pattern(p) => write!(f, "{p}"),
            StatusMatch::Range(200, 299) => f.write_str("2xx"),
            StatusMatch::Range(from, to) => write!(f, "{from}-{to}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_sets() {
        let range = StatusMatch::parse("200-399").expect("a range");
        assert!(range.matches(302) && !range.matches(404));
        let class = StatusMatch::parse("4xx").expect("a class");
        assert!(class.matches(429) && !class.matches(500));
        assert!(StatusMatch::parse("204").expect("a code").matches(204));
        for bad in ["2x", "600", "abc", "300-200", "99-200", ""] {
            assert_eq!(StatusMatch::parse(bad), None, "{bad}");
        }
        assert_eq!(StatusMatch::list(&StatusMatch::success()), "2xx");
    }
}
