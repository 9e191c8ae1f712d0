//! The serde model of runbook and step-template files, with positions.
//!
//! [`parse_runbook`] and [`parse_template`] never stop at the first problem:
//! they return what could be read and every problem found.

pub mod de;
mod http;
mod notify;
mod runbook;
mod scalar;
mod spanned;
mod sql;
mod step;
mod template_file;
pub mod yaml;

pub use http::HttpSpec;
pub use notify::{EmailSpec, NotifySpec, PagerDutySpec, SlackSpec, WebhookSpec};
pub use runbook::{
    ChatTriggerSpec, ConcurrencySpec, DefaultsSpec, InputSpec, RunbookSpec, ScheduleSpec,
    TriggersSpec,
};
pub use scalar::{FromScalar, OneOrMany, Scalar, StrOr};
pub use spanned::{Lenient, Spanned};
pub use sql::SqlSpec;
pub use step::{ApprovalSpec, RetryOnSpec, RetrySpec, ShellSpec, StepSpec};
pub use template_file::{ParamSpec, StepTemplateSpec};

use crate::diagnostic::Span;
use crate::diagnostic::{Diagnostic, did_you_mean};
use de::{DeError, DeErrorKind};

/// Parses a runbook file. `None` when nothing usable could be read.
pub fn parse_runbook(source: &str) -> (Option<RunbookSpec>, Vec<Diagnostic>) {
    parse(source, "a runbook")
}

/// Parses a step-template file (`steps/<name>.yaml`).
pub fn parse_template(source: &str) -> (Option<StepTemplateSpec>, Vec<Diagnostic>) {
    parse(source, "a step template")
}

/// Parses `steward.yaml`.
pub fn parse_config(source: &str) -> (Option<crate::config::Config>, Vec<Diagnostic>) {
    if yaml::parse(source).is_ok_and(|n| n.is_none()) {
        return (Some(crate::config::Config::default()), Vec::new());
    }
    parse(source, "a project configuration")
}

fn parse<T: serde::de::DeserializeOwned>(source: &str, what: &str) -> (Option<T>, Vec<Diagnostic>) {
    let node = match yaml::parse(source) {
        Ok(Some(node)) => node,
        Ok(None) => {
            return (
                None,
                vec![Diagnostic::whole_file(format!(
                    "the file is empty, expected {what}"
                ))],
            );
        }
        Err(e) => {
            // Only a syntax error is about indentation and quoting; not a
            // duplicate key, a second document or too many aliases.
            let syntax = e.message.starts_with("invalid YAML");
            return (
                None,
                vec![Diagnostic::new(e.span, e.message).maybe_hint(syntax.then(|| {
                    "check the indentation and quoting near here: quote a value that holds `: `, starts with `{`, `*` or `&`, or has a `{{ template }}` inside `{ … }` or `[ … ]`".to_owned()
                }))],
            );
        }
    };
    if node.as_map().is_none() {
        return (
            None,
            vec![Diagnostic::new(
                node.span,
                format!(
                    "expected {what} (a mapping of keys), found {}",
                    node.kind_name()
                ),
            )],
        );
    }
    let (value, errors) = de::from_node::<T>(&node);
    if value.is_some() {
        return (value, errors.into_iter().map(to_diagnostic).collect());
    }
    // One top-level key failed and stopped the rest: read each key on its
    // own so that every key's problems are reported. The file stays invalid.
    let mut all = errors;
    if let Some(entries) = node.as_map() {
        for entry in entries {
            let single = yaml::Node {
                span: node.span,
                value: yaml::NodeValue::Map(vec![entry.clone()]),
            };
            let (_, found) = de::from_node::<T>(&single);
            all.extend(
                found
                    .into_iter()
                    .filter(|e| !matches!(e.kind, DeErrorKind::MissingField(_))),
            );
        }
    }
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    for d in all.into_iter().map(to_diagnostic) {
        if !diagnostics.contains(&d) {
            diagnostics.push(d);
        }
    }
    diagnostics.sort_by_key(|d| d.span.map(|s| (s.line, s.col)));
    (None, diagnostics)
}

fn to_diagnostic(error: DeError) -> Diagnostic {
    match error.kind {
        DeErrorKind::UnknownField { field, expected } => {
            let hint = match did_you_mean(&field, expected.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("the keys allowed here are: {}", expected.join(", ")),
            };
            Diagnostic::new(
                Span::new(error.span.line, error.span.col, field.chars().count()),
                format!("unknown key `{field}`"),
            )
            .hint(hint)
        }
        DeErrorKind::MissingField(field) => {
            Diagnostic::new(error.span, format!("missing key `{field}`"))
        }
        DeErrorKind::Message(message) => Diagnostic::new(error.span, tidy(&message)),
    }
}

/// serde's wording, in the terms an operator knows.
fn tidy(message: &str) -> String {
    let words: Vec<String> = message
        .replace("invalid type: ", "")
        .replace("unknown variant", "unknown value")
        .split(' ')
        .map(|w| match w.trim_end_matches(',') {
            "map" => w.replacen("map", "mapping", 1),
            "sequence" => w.replacen("sequence", "list", 1),
            _ => w.to_owned(),
        })
        .collect();
    words.join(" ")
}
