//! Values whose strings are templates: vars, outputs, `with:`.

use crate::diagnostic::Diagnostic;
use crate::plan::Value;
use crate::spec::Spanned;
use crate::template::{Escape, is_dynamic};

use super::scope::{Checker, Scope, StepRef};

/// Compiles a YAML value, checking every template string in it.
pub fn compile(
    value: &Spanned<serde_json::Value>,
    checker: &Checker,
    scope: &Scope,
    diagnostics: &mut Vec<Diagnostic>,
    refs: &mut Vec<StepRef>,
) -> Value {
    walk(&value.value, value, checker, scope, diagnostics, refs)
}

/// Whether any string inside holds template syntax.
pub fn is_dynamic_value(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => is_dynamic(s),
        serde_json::Value::Array(items) => items.iter().any(is_dynamic_value),
        serde_json::Value::Object(map) => map.values().any(is_dynamic_value),
        _ => false,
    }
}

fn walk(
    value: &serde_json::Value,
    at: &Spanned<serde_json::Value>,
    checker: &Checker,
    scope: &Scope,
    diagnostics: &mut Vec<Diagnostic>,
    refs: &mut Vec<StepRef>,
) -> Value {
    if !is_dynamic_value(value) {
        return Value::Literal(value.clone());
    }
    match value {
        serde_json::Value::String(s) => {
            Value::Template(checker.template(s, at.span, Escape::None, scope, diagnostics, refs))
        }
        serde_json::Value::Array(items) => Value::List(
            items
                .iter()
                .map(|v| walk(v, at, checker, scope, diagnostics, refs))
                .collect(),
        ),
        serde_json::Value::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| (k.clone(), walk(v, at, checker, scope, diagnostics, refs)))
                .collect(),
        ),
        other => Value::Literal(other.clone()),
    }
}
