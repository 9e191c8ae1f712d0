//! Validating a run request's inputs against the runbook's declarations.
//! Every trigger (CLI, API, chat, webhook, schedule) goes through here.

use indexmap::IndexMap;
use regex::Regex;
use serde::Serialize;

use crate::diagnostic::did_you_mean;
use crate::plan::{InputDecl, InputType};

/// An input value as it arrives.
#[derive(Debug, Clone, PartialEq)]
pub enum RawInput {
    /// Text, from `-i name=value` or a chat command: converted to the type.
    Text(String),
    /// A JSON value, from the API: must have the type (or be text that converts).
    Json(serde_json::Value),
}

/// One problem with a run request's inputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputProblem {
    /// The input it concerns.
    pub input: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for InputProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "input `{}`: {}", self.input, self.message)
    }
}

/// Why a value does not fit an input's declaration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueProblem {
    /// Text that does not read as the input's type.
    #[error("expected {expected}, got `{text}`")]
    Unreadable {
        /// What was expected (`an int`, `true or false`…).
        expected: &'static str,
        /// The text as given.
        text: String,
    },
    /// A value of another type.
    #[error("expected {expected}, got {got}")]
    WrongType {
        /// The declared type, with its article.
        expected: &'static str,
        /// What the value is.
        got: String,
    },
    /// A value outside the input's `enum`.
    #[error("{value} is not one of {allowed}")]
    NotAllowed {
        /// The value.
        value: serde_json::Value,
        /// The allowed values, listed.
        allowed: String,
    },
    /// Text that does not match the input's `pattern`.
    #[error("`{text}` doesn't match the pattern `{pattern}`")]
    NoMatch {
        /// The text.
        text: String,
        /// The pattern.
        pattern: String,
    },
    /// The declaration's pattern is not a regular expression.
    #[error("bad pattern: {0}")]
    BadPattern(#[from] regex::Error),
}

/// Checks and converts `raw` against `decls`, filling in defaults.
/// Returns every problem at once.
pub fn resolve_inputs(
    decls: &IndexMap<String, InputDecl>,
    raw: &IndexMap<String, RawInput>,
) -> Result<IndexMap<String, serde_json::Value>, Vec<InputProblem>> {
    let mut problems = Vec::new();
    for name in raw.keys() {
        if !decls.contains_key(name) {
            let near = did_you_mean(name, decls.keys().map(String::as_str));
            let message = match (near, decls.is_empty()) {
                (Some(near), _) => format!("no such input; did you mean `{near}`?"),
                (None, true) => "no such input; this runbook takes no inputs".to_owned(),
                (None, false) => format!(
                    "no such input; the inputs are: {}",
                    decls.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            };
            problems.push(InputProblem {
                input: name.clone(),
                message,
            });
        }
    }
    let mut values = IndexMap::new();
    for (name, decl) in decls {
        let value = match raw.get(name) {
            Some(RawInput::Text(text)) => convert_text(decl.kind, text),
            Some(RawInput::Json(serde_json::Value::String(text))) => convert_text(decl.kind, text),
            Some(RawInput::Json(value)) => Ok(value.clone()),
            None => match &decl.default {
                Some(default) => {
                    values.insert(name.clone(), default.clone());
                    continue;
                }
                None if decl.required => {
                    problems.push(InputProblem {
                        input: name.clone(),
                        message: "required, no value given".to_owned(),
                    });
                    continue;
                }
                None => {
                    values.insert(name.clone(), serde_json::Value::Null);
                    continue;
                }
            },
        };
        match value.and_then(|v| check_value(decl, &v)) {
            Ok(v) => {
                values.insert(name.clone(), v);
            }
            Err(problem) => problems.push(InputProblem {
                input: name.clone(),
                message: problem.to_string(),
            }),
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

fn convert_text(kind: InputType, text: &str) -> Result<serde_json::Value, ValueProblem> {
    let unreadable = |expected| ValueProblem::Unreadable {
        expected,
        text: text.to_owned(),
    };
    let trimmed = text.trim();
    match kind {
        InputType::String => Ok(serde_json::Value::String(text.to_owned())),
        InputType::Int => trimmed
            .parse::<i64>()
            .map(serde_json::Value::from)
            .map_err(|_| unreadable("an int")),
        InputType::Number => trimmed
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(|f| {
                trimmed
                    .parse::<i64>()
                    .map(serde_json::Value::from)
                    .ok()
                    .or_else(|| serde_json::Number::from_f64(f).map(serde_json::Value::Number))
            })
            .ok_or_else(|| unreadable("a number")),
        InputType::Bool => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => Ok(true.into()),
            "false" | "no" | "0" | "off" => Ok(false.into()),
            _ => Err(unreadable("true or false")),
        },
    }
}

/// Checks a typed value against a declaration: type, enum, pattern.
pub fn check_value(
    decl: &InputDecl,
    value: &serde_json::Value,
) -> Result<serde_json::Value, ValueProblem> {
    use serde_json::Value as J;
    let fits = match (decl.kind, value) {
        (InputType::String, J::String(_)) | (InputType::Bool, J::Bool(_)) => true,
        (InputType::Int, J::Number(n)) => n.is_i64() || n.is_u64(),
        (InputType::Number, J::Number(_)) => true,
        _ => false,
    };
    if !fits {
        return Err(ValueProblem::WrongType {
            expected: article(decl.kind),
            got: describe(value),
        });
    }
    if let Some(allowed) = &decl.allowed {
        if !allowed.iter().any(|a| numeric_eq(a, value)) {
            let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
            return Err(ValueProblem::NotAllowed {
                value: value.clone(),
                allowed: list.join(", "),
            });
        }
    }
    if let (Some(pattern), J::String(text)) = (&decl.pattern, value) {
        if !full_match(pattern)?.is_match(text) {
            return Err(ValueProblem::NoMatch {
                text: text.clone(),
                pattern: pattern.clone(),
            });
        }
    }
    Ok(value.clone())
}

fn numeric_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A pattern that must match the whole value.
pub fn full_match(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{pattern})$"))
}

fn article(kind: InputType) -> &'static str {
    match kind {
        InputType::String => "a string",
        InputType::Int => "an int",
        InputType::Number => "a number",
        InputType::Bool => "a bool",
    }
}

fn describe(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::Bool(b) => format!("the bool {b}"),
        serde_json::Value::Number(n) => format!("the number {n}"),
        serde_json::Value::String(s) => format!("the string {s:?}"),
        serde_json::Value::Array(_) => "a list".into(),
        serde_json::Value::Object(_) => "a mapping".into(),
    }
}

#[cfg(test)]
mod tests;
