//! A connection string, read: what tokio-postgres is given, the TLS mode
//! (libpq's `sslmode`, which tokio-postgres only partly knows), and how the
//! string is shown (its password masked).

use std::path::PathBuf;
use std::time::Duration;

use tokio_postgres::config::SslMode;

use super::error::SqlError;
use crate::secrets::MASK;

/// The connect timeout when neither the step nor the URL sets one.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How TLS is used, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Never.
    Disable,
    /// When the server offers it, without checking its certificate.
    Prefer,
    /// Always, without checking the certificate (unless `sslrootcert`).
    Require,
    /// Always; the certificate must chain to a trusted root.
    VerifyCa,
    /// Always; the certificate must chain to a root and name the host.
    VerifyFull,
}

/// A parsed connection string.
#[derive(Debug, Clone)]
pub struct Target {
    /// What tokio-postgres connects with.
    pub config: tokio_postgres::Config,
    /// How TLS is used.
    pub tls: TlsMode,
    /// `sslrootcert`: the only roots trusted, when given.
    pub root_cert: Option<PathBuf>,
    /// The string with its password masked, for messages.
    pub shown: String,
    /// The password (raw and percent-decoded), to mask in any message.
    pub secrets: Vec<String>,
}

impl Target {
    /// Reads a `postgres://` URL or a `key=value` connection string.
    pub fn parse(url: &str) -> Result<Target, SqlError> {
        let shown = mask(url);
        let bad = |reason: String| SqlError::Url {
            shown: shown.clone(),
            reason,
        };
        let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
        let (rest, ssl) = if is_url {
            strip_url(url)
        } else {
            strip_pairs(url)
        };
        let mut config: tokio_postgres::Config = rest
            .parse()
            .map_err(|e: tokio_postgres::Error| bad(e.to_string()))?;
        let (mut tls, mut root_cert) = (TlsMode::Prefer, None);
        for (key, value) in ssl {
            match key.as_str() {
                "sslmode" => {
                    tls = match value.as_str() {
                        "disable" => TlsMode::Disable,
                        "allow" | "prefer" => TlsMode::Prefer,
                        "require" => TlsMode::Require,
                        "verify-ca" => TlsMode::VerifyCa,
                        "verify-full" => TlsMode::VerifyFull,
                        other => {
                            return Err(bad(format!(
                                "unknown sslmode `{other}` (disable, prefer, require, verify-ca, verify-full)"
                            )));
                        }
                    }
                }
                _ => root_cert = Some(PathBuf::from(value)),
            }
        }
        if tls == TlsMode::Require && root_cert.is_some() {
            tls = TlsMode::VerifyCa;
        }
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        });
        let mut secrets = Vec::new();
        if let Some(password) = config.get_password() {
            secrets.push(String::from_utf8_lossy(password).into_owned());
        }
        if let Some(raw) = raw_password(url) {
            secrets.push(raw);
        }
        secrets.retain(|s| !s.is_empty());
        secrets.dedup();
        Ok(Target {
            config,
            tls,
            root_cert,
            shown,
            secrets,
        })
    }

    /// Connects to `database` instead of the string's own.
    pub fn set_database(&mut self, database: &str) {
        self.config.dbname(database);
        self.shown = format!("{}, database {database}", self.shown);
    }

    /// The connect timeout: the step's, else the URL's, else 10s.
    pub fn connect_timeout(&self, step: Option<Duration>) -> Duration {
        step.or_else(|| self.config.get_connect_timeout().copied())
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT)
    }
}

/// Removes `sslmode` and `sslrootcert` from a URL's query; returns the rest
/// and the removed pairs (values percent-decoded).
fn strip_url(url: &str) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), Vec::new());
    };
    let (mut kept, mut ssl) = (Vec::new(), Vec::new());
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == "sslmode" || key == "sslrootcert" {
            ssl.push((key.to_owned(), percent_decode(value)));
        } else {
            kept.push(pair);
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, ssl)
}

/// The `key=value` pairs of a libpq-style string: keys with the raw text of
/// their values (quotes kept).
fn pairs(text: &str) -> Vec<(&str, &str)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_ws = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = skip_ws(i);
        if i >= b.len() {
            break;
        }
        let key_start = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &text[key_start..i];
        i = skip_ws(i);
        if b.get(i) == Some(&b'=') {
            i = skip_ws(i + 1);
        }
        let value_start = i;
        if b.get(i) == Some(&b'\'') {
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
        }
        out.push((key, &text[value_start..i.min(b.len())]));
    }
    out
}

fn unquote(value: &str) -> String {
    match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        Some(inner) => inner.replace("\\'", "'").replace("\\\\", "\\"),
        None => value.to_owned(),
    }
}

fn strip_pairs(text: &str) -> (String, Vec<(String, String)>) {
    let (mut kept, mut ssl) = (Vec::new(), Vec::new());
    for (key, value) in pairs(text) {
        if key == "sslmode" || key == "sslrootcert" {
            ssl.push((key.to_owned(), unquote(value)));
        } else {
            kept.push(format!("{key}={value}"));
        }
    }
    (kept.join(" "), ssl)
}

/// The password as written in the string, if any.
fn raw_password(url: &str) -> Option<String> {
    if let Some((_, rest)) = url.split_once("://") {
        if let Some(at) = rest.rfind('@') {
            if let Some((_, password)) = rest[..at].split_once(':') {
                return Some(password.to_owned());
            }
        }
        return url.split_once('?').and_then(|(_, q)| {
            q.split('&')
                .find_map(|p| p.strip_prefix("password=").map(str::to_owned))
        });
    }
    pairs(url)
        .into_iter()
        .find(|(k, _)| *k == "password")
        .map(|(_, v)| unquote(v))
}

/// The connection string with its password replaced by `***`; a string in
/// neither form is not shown at all.
pub fn mask(url: &str) -> String {
    if !url.contains("://") && !url.contains('=') {
        return MASK.to_owned();
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        let mut rest = rest.to_owned();
        if let Some(at) = rest.rfind('@') {
            if let Some(colon) = rest[..at].find(':') {
                rest.replace_range(colon + 1..at, MASK);
            }
        }
        if let Some((base, query)) = rest.split_once('?') {
            let query: Vec<String> = query
                .split('&')
                .map(|p| {
                    if p.starts_with("password=") {
                        format!("password={MASK}")
                    } else {
                        p.to_owned()
                    }
                })
                .collect();
            rest = format!("{base}?{}", query.join("&"));
        }
        return format!("{scheme}://{rest}");
    }
    pairs(url)
        .into_iter()
        .map(|(k, v)| {
            if k == "password" {
                format!("{k}={MASK}")
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn percent_decode(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords() {
        assert_eq!(
            mask("postgres://app:s3cr%40t@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            mask("postgres://app@db/x?password=pw&sslmode=require"),
            "postgres://app@db/x?password=***&sslmode=require"
        );
        assert_eq!(
            mask("host=db password='a b' user=app"),
            "host=db password=*** user=app"
        );
        assert_eq!(mask("postgres://db/x"), "postgres://db/x");
        assert_eq!(mask("postgresql:/app:pw@db/x"), "***");
    }

    #[test]
    fn reads_sslmode_and_passwords() {
        let t =
            Target::parse("postgres://app:p%40ss@db:5432/x?sslmode=verify-full&connect_timeout=3")
                .unwrap();
        assert_eq!(t.tls, TlsMode::VerifyFull);
        assert_eq!(t.config.get_dbname(), Some("x"));
        assert_eq!(t.connect_timeout(None), Duration::from_secs(3));
        assert!(t.secrets.contains(&"p@ss".to_owned()) && t.secrets.contains(&"p%40ss".to_owned()));
        let t =
            Target::parse("host=db user=app password='x y' sslmode=require sslrootcert=/ca.pem")
                .unwrap();
        assert_eq!(
            (t.tls, t.root_cert.as_deref()),
            (TlsMode::VerifyCa, Some(std::path::Path::new("/ca.pem")))
        );
        assert_eq!(t.secrets, ["x y"]);
        assert_eq!(
            Target::parse("postgres://db/x").unwrap().tls,
            TlsMode::Prefer
        );
        let e = Target::parse("postgres://u:pw@db/x?sslmode=bogus")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown sslmode") && !e.contains("pw@"), "{e}");
    }
}
