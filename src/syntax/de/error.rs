//! What goes wrong while reading a node, and where.

use std::fmt;

use serde::de;

use crate::diagnostic::Span;

/// One deserialization problem, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct DeError {
    /// Where the problem is.
    pub span: Span,
    /// What it is.
    pub kind: DeErrorKind,
}

/// The kinds of problem serde finds.
#[derive(Debug, Clone, PartialEq)]
pub enum DeErrorKind {
    /// A key the struct doesn't have.
    UnknownField {
        /// The key as written.
        field: String,
        /// The keys that would be accepted.
        expected: &'static [&'static str],
    },
    /// A required key is absent.
    MissingField(&'static str),
    /// Anything else, as serde or a `Deserialize` impl worded it.
    Message(String),
}

/// The error type threaded through serde; records are kept in [`NodeDe`].
#[derive(Debug)]
pub struct Error {
    pub(super) kind: DeErrorKind,
    pub(super) recorded: bool,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DeErrorKind::UnknownField { field, .. } => write!(f, "unknown key `{field}`"),
            DeErrorKind::MissingField(field) => write!(f, "missing key `{field}`"),
            DeErrorKind::Message(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error {
            kind: DeErrorKind::Message(msg.to_string()),
            recorded: false,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        Error {
            kind: DeErrorKind::MissingField(field),
            recorded: false,
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Error {
            kind: DeErrorKind::UnknownField {
                field: field.to_owned(),
                expected,
            },
            recorded: false,
        }
    }
}
