//! A compiled `sql` step.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::template::Template;
use crate::template::TemplatedValue as Value;

/// A compiled `sql` step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SqlStep {
    /// The connection string (never shown with its password).
    pub url: Template,
    /// A database replacing the connection string's, when given.
    pub database: Option<Template>,
    /// What to run.
    pub run: SqlRun,
    /// Whether the whole step runs in one transaction.
    pub transaction: bool,
    /// Bound on connecting; `None`: the URL's `connect_timeout`, else 10s.
    #[serde(with = "crate::duration::millis_opt")]
    pub connect_timeout: Option<Duration>,
}

/// A `query` or a `script`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlRun {
    /// One statement; values interpolated into it are SQL literals.
    Query {
        /// The statement.
        text: Template,
        /// Bound to `$1`, `$2`…
        params: Vec<Value>,
    },
    /// Several statements, run one by one.
    Script(Template),
}

impl SqlRun {
    /// The template of the SQL text.
    pub fn text(&self) -> &Template {
        match self {
            SqlRun::Query { text, .. } | SqlRun::Script(text) => text,
        }
    }
}
