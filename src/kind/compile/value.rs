//! Values whose strings are templates: vars, outputs, `with:`.

use crate::diagnostic::Diagnostic;
use crate::syntax::Spanned;
use crate::template::TemplatedValue as Value;
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
    compile_as(value, Escape::None, checker, scope, diagnostics, refs)
}

/// Compiles a YAML value whose template strings escape for `escape`.
pub fn compile_as(
    value: &Spanned<serde_json::Value>,
    escape: Escape,
    checker: &Checker,
    scope: &Scope,
    diagnostics: &mut Vec<Diagnostic>,
    refs: &mut Vec<StepRef>,
) -> Value {
    let mut walker = Walker {
        at: value,
        escape,
        checker,
        scope,
        diagnostics,
        refs,
    };
    walker.walk(&value.value)
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

struct Walker<'a, 'c> {
    at: &'a Spanned<serde_json::Value>,
    escape: Escape,
    checker: &'a Checker<'c>,
    scope: &'a Scope<'a>,
    diagnostics: &'a mut Vec<Diagnostic>,
    refs: &'a mut Vec<StepRef>,
}

impl Walker<'_, '_> {
    fn walk(&mut self, value: &serde_json::Value) -> Value {
        if !is_dynamic_value(value) {
            return Value::Literal(value.clone());
        }
        match value {
            serde_json::Value::String(s) => Value::Template(self.checker.template(
                s,
                self.at.span,
                self.escape,
                self.scope,
                self.diagnostics,
                self.refs,
            )),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(|v| self.walk(v)).collect())
            }
            serde_json::Value::Object(map) => {
                Value::Map(map.iter().map(|(k, v)| (k.clone(), self.walk(v))).collect())
            }
            other => Value::Literal(other.clone()),
        }
    }
}
