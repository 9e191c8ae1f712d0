//! Reading YAML with positions: the node tree ([`yaml`]), a serde
//! deserializer over it that records every error at its node ([`de`]), the
//! field wrappers that keep positions ([`Spanned`], [`Lenient`]) and short
//! forms ([`Scalar`], [`StrOr`], [`OneOrMany`]), and [`parse`], which turns a
//! file into a typed document and every problem into a [`Diagnostic`].

pub mod de;
mod scalar;
mod spanned;
pub mod yaml;

pub use scalar::{FromScalar, OneOrMany, Scalar, StrOr};
pub use spanned::{Lenient, Spanned};

use crate::diagnostic::{Diagnostic, Span, did_you_mean};
use de::{DeError, DeErrorKind};

/// Reads `source` as `what` (`a runbook`, …): the value when it could be
/// read, and every problem found either way.
pub fn parse<T: serde::de::DeserializeOwned>(
    source: &str,
    what: &str,
) -> (Option<T>, Vec<Diagnostic>) {
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
