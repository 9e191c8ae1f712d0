//! Why a `sql` step failed, in words an operator can act on, and which
//! failures count as "could not connect" for `retry.on: [connect]`.

use std::time::Duration;

use tokio_postgres::error::{DbError, ErrorPosition};

use super::lex::line_col;
use crate::outcome::FailureClass;

/// A failed `sql` attempt. No variant ever holds the connection string's
/// password: targets are shown masked.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// A template could not be rendered.
    #[error("{0}")]
    Render(String),
    /// The connection string does not parse.
    #[error("invalid connection string {shown}: {reason}")]
    Url {
        /// The string, password masked.
        shown: String,
        /// What is wrong.
        reason: String,
    },
    /// TLS could not be set up on our side (a bad `sslrootcert`…).
    #[error("TLS setup for {shown}: {reason}")]
    Tls {
        /// The target, password masked.
        shown: String,
        /// What is wrong.
        reason: String,
    },
    /// No connection: refused, unreachable, DNS, TLS handshake.
    #[error("can't connect to {shown}: {reason}")]
    Connect {
        /// The target, password masked.
        shown: String,
        /// What went wrong.
        reason: String,
    },
    /// Connecting took longer than the connect timeout.
    #[error("can't connect to {shown}: no answer within {}s (connect_timeout)", after.as_secs_f64())]
    ConnectTimeout {
        /// The target, password masked.
        shown: String,
        /// The timeout.
        after: Duration,
    },
    /// The server refused the login (bad password, unknown role or database).
    #[error("the server refused the login to {shown}: {message} (SQLSTATE {code})")]
    Login {
        /// The target, password masked.
        shown: String,
        /// The server's message.
        message: String,
        /// The SQLSTATE.
        code: String,
        /// Whether it is worth retrying (`too many connections`, starting up).
        transient: bool,
    },
    /// The SQL text or the `params` don't fit together; found before sending.
    #[error("{0}")]
    Syntax(String),
    /// The server rejected a statement.
    #[error("{}", describe_db(.message, .code, .at.as_deref(), .detail.as_deref(), .hint.as_deref()))]
    Db {
        /// The server's message.
        message: String,
        /// The SQLSTATE.
        code: String,
        /// Where: statement, line and column, and the line's text.
        at: Option<String>,
        /// The server's detail.
        detail: Option<String>,
        /// The server's hint.
        hint: Option<String>,
    },
    /// A value of the result has a type the step can't turn into JSON.
    #[error(
        "column `{column}` has type {type_name}, which the sql step can't convert to JSON{}; \
         cast it in the query, e.g. `{column}::text`",
        reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
    )]
    Convert {
        /// The column's name.
        column: String,
        /// Its PostgreSQL type.
        type_name: String,
        /// Why, when the type is known but a value isn't representable.
        reason: Option<String>,
    },
    /// The connection failed in the middle of the step.
    #[error("connection to {shown} lost: {reason}")]
    Lost {
        /// The target, password masked.
        shown: String,
        /// What the client said.
        reason: String,
    },
    /// The attempt was cancelled (Ctrl-C, timeout).
    #[error("cancelled")]
    Cancelled,
}

impl SqlError {
    /// The failure class for retry decisions.
    pub fn class(&self) -> FailureClass {
        match self {
            SqlError::Connect { .. } | SqlError::ConnectTimeout { .. } => FailureClass::Connect,
            SqlError::Login {
                transient: true, ..
            } => FailureClass::Connect,
            _ => FailureClass::Other,
        }
    }

    /// A statement's error from the client's, placing the server's position
    /// in `sql` (the text that was sent). `statement`: its number in a script
    /// and the line of the script it starts on.
    pub fn from_query(
        error: &tokio_postgres::Error,
        sql: &str,
        statement: Option<(usize, usize)>,
        shown: &str,
    ) -> Self {
        match error.as_db_error() {
            Some(db) => Self::from_db(db, sql, statement),
            None => SqlError::Lost {
                shown: shown.to_owned(),
                reason: innermost(error),
            },
        }
    }

    fn from_db(db: &DbError, sql: &str, statement: Option<(usize, usize)>) -> Self {
        let position = match db.position() {
            Some(ErrorPosition::Original(p)) => Some(*p as usize),
            _ => None,
        };
        let at = match (position, statement) {
            (Some(p), _) => {
                let (line, col) = line_col(sql, p);
                let text = sql.lines().nth(line - 1).unwrap_or_default().trim();
                let (what, line) = match statement {
                    Some((number, first_line)) => {
                        (format!("statement {number}, "), first_line + line - 1)
                    }
                    None => (String::new(), line),
                };
                Some(format!(
                    "{what}line {line}, column {col}: `{}`",
                    shorten(text)
                ))
            }
            (None, Some((number, first_line))) => Some(format!(
                "statement {number} (line {first_line}): `{}`",
                shorten(sql.lines().next().unwrap_or_default().trim())
            )),
            (None, None) => None,
        };
        SqlError::Db {
            message: db.message().to_owned(),
            code: db.code().code().to_owned(),
            at,
            detail: db.detail().map(str::to_owned),
            hint: db.hint().map(str::to_owned),
        }
    }

    /// A connection error: a login refused by the server, or no connection.
    pub fn from_connect(error: &tokio_postgres::Error, shown: &str) -> Self {
        match error.as_db_error() {
            Some(db) => {
                let code = db.code().code().to_owned();
                // 08: connection exception; 57P03: starting up; 53300: too many connections.
                let transient = code.starts_with("08") || code == "57P03" || code == "53300";
                SqlError::Login {
                    shown: shown.to_owned(),
                    message: db.message().to_owned(),
                    code,
                    transient,
                }
            }
            None => SqlError::Connect {
                shown: shown.to_owned(),
                reason: innermost(error),
            },
        }
    }
}

/// The most specific message of an error's chain ("Connection refused (os
/// error 111)" rather than "error connecting to server").
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() {
            message = text;
        }
        source = s.source();
    }
    message
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text.to_owned()
    }
}

fn describe_db(
    message: &str,
    code: &str,
    at: Option<&str>,
    detail: Option<&str>,
    hint: Option<&str>,
) -> String {
    let mut text = format!("{message} (SQLSTATE {code})");
    if let Some(at) = at {
        text.push_str(&format!(" at {at}"));
    }
    if let Some(detail) = detail {
        text.push_str(&format!("; detail: {detail}"));
    }
    if let Some(hint) = hint {
        text.push_str(&format!("; hint: {hint}"));
    }
    text
}
