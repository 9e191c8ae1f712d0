//! The step kinds, one folder per YAML key, each behind [`Kind`], and the
//! table that registers them: [`with_kinds!`] is the one list of kinds. It
//! generates the kind fields of [`StepSpec`](crate::spec::StepSpec) (and so
//! the JSON Schema), the plan's [`StepKind`] and its dispatch, and
//! the compiler's choice of kind (`compile/kind.rs`). Adding a kind is a folder and a line here
//! (see docs/adding-a-step-kind.md).

pub mod approval;
pub mod http;
pub mod notify;
pub mod runbook;
pub mod shell;
pub mod sleep;
pub mod sql;

use serde::{Deserialize, Serialize};

use crate::kind::{Attempt, DescribeError, Kind, StepContext};

/// Calls `$callback!` with the table of kinds: for each, the doc comment of
/// its YAML key (shown by editors through the schema), the key, the plan's
/// variant and the kind's type. The order is the order of the schema's
/// properties and of the compiler's list of kinds.
macro_rules! with_kinds {
    ($callback:path) => {
        $callback! {
            /// Run a script with bash (`-eo pipefail`) or another interpreter.
            shell: Shell($crate::kinds::shell::ShellStep),
            /// Wait for a duration, e.g. `10s`.
            sleep: Sleep($crate::kinds::sleep::SleepStep),
            /// Send an HTTP request and check its answer: `http: URL` or
            /// `{ method, url, headers, json, expect_status, … }`.
            http: Http($crate::kinds::http::HttpStep),
            /// Send a message to one channel: `slack`, `webhook`, `pagerduty` or `email`.
            notify: Notify($crate::kinds::notify::NotifyStep),
            /// Run SQL on PostgreSQL: a `query` with `params`, or a `script`.
            sql: Sql($crate::kinds::sql::SqlStep),
            /// Wait until someone approves (or rejects) the run going on:
            /// `approval: MESSAGE` or `{ message, approvers, timeout }`.
            approval: Approval($crate::kinds::approval::ApprovalStep),
            /// Run another runbook of the project as a child run and wait for it;
            /// its inputs go in `inputs:`.
            runbook: Runbook($crate::kinds::runbook::RunbookStep),
        }
    };
}
pub(crate) use with_kinds;

macro_rules! step_kind {
    ($($(#[doc = $doc:literal])* $key:ident : $variant:ident($ty:path),)*) => {
        /// What a compiled step does: one variant per kind of the table,
        /// stored under its YAML key.
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum StepKind {
            $($(#[doc = $doc])* $variant($ty),)*
        }

        /// Every form a secret's value may take in a step of any kind, the
        /// value itself first (see [`Kind::secret_forms`]).
        pub fn secret_forms(secret: &str) -> Vec<String> {
            let mut forms = vec![secret.to_owned()];
            $(forms.extend(<$ty as Kind>::secret_forms(secret));)*
            forms
        }

        /// The YAML keys of the kinds, in the table's order.
        pub const KEYS: &[&str] = &[$(<$ty as Kind>::KEY,)*];

        impl StepKind {
            /// The YAML key of the kind.
            pub fn name(&self) -> &'static str {
                match self {
                    $(StepKind::$variant(_) => <$ty as Kind>::KEY,)*
                }
            }

            /// What the attempt will do, rendered (see [`Kind::describe`]).
            pub fn describe(&self, ctx: &StepContext<'_>) -> Result<String, DescribeError> {
                match self {
                    $(StepKind::$variant(s) => s.describe(ctx),)*
                }
            }

            /// The unrendered text of what the step does (see [`Kind::source`]).
            pub fn source(&self) -> String {
                match self {
                    $(StepKind::$variant(s) => s.source(),)*
                }
            }

            /// Runs one attempt (see [`Kind::execute`]).
            pub async fn execute(&self, ctx: &StepContext<'_>) -> Attempt {
                match self {
                    $(StepKind::$variant(s) => s.execute(ctx).await,)*
                }
            }

            /// What a failed `assert` judged (see [`Kind::explain`]).
            pub fn explain(&self, result: &serde_json::Value) -> Option<String> {
                match self {
                    $(StepKind::$variant(_) => <$ty>::explain(result),)*
                }
            }
        }
    };
}

with_kinds!(step_kind);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_stored_under_its_yaml_key() {
        let sleep = StepKind::Sleep(sleep::SleepStep {
            duration: std::time::Duration::from_secs(1),
        });
        let stored = serde_json::to_value(&sleep).expect("serialises");
        assert_eq!(stored, serde_json::json!({ "sleep": { "duration": 1000 } }));
        assert_eq!(sleep.name(), "sleep");
        assert_eq!(
            KEYS,
            [
                "shell", "sleep", "http", "notify", "sql", "approval", "runbook"
            ]
        );
    }
}
