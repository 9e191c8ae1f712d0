//! minijinja templates and expressions: one environment, strict about
//! undefined names, escaping by context (a value put into a shell script is
//! shell-quoted, one put into SQL text is a SQL literal, `| ident` a quoted
//! identifier; `| raw` opts out).

mod escape;
mod render;
mod value;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde::{Deserialize, Serialize};

pub use escape::{shell_quote, sql_ident, sql_literal};
pub use render::{RenderError, Renderer, to_json};
pub use value::TemplatedValue;

/// Where a rendered template lands, which decides how values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Escape {
    /// Inserted as is.
    None,
    /// Each value is quoted as one shell word.
    Shell,
    /// Each value is quoted as a SQL literal (`| ident`: an identifier).
    Sql,
}

impl Escape {
    fn prefix(self) -> &'static str {
        match self {
            Escape::None => "text:",
            Escape::Shell => "shell:",
            Escape::Sql => "sql:",
        }
    }
}

/// A template string from a runbook, checked by the compiler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// The template text as written.
    pub source: String,
    /// How values are escaped when rendered.
    pub escape: Escape,
}

impl Template {
    /// A template with no escaping.
    pub fn text(source: impl Into<String>) -> Self {
        Template {
            source: source.into(),
            escape: Escape::None,
        }
    }

    /// Whether the text holds any template syntax at all.
    pub fn is_dynamic(&self) -> bool {
        is_dynamic(&self.source)
    }

    /// The expression, when the whole template is one `{{ expression }}`:
    /// such a value keeps its type (a number stays a number).
    pub fn sole_expression(&self) -> Option<&str> {
        sole_expression(&self.source)
    }

    /// The name the template is registered under in a run's environment.
    pub fn key(&self) -> String {
        format!("{}{}", self.escape.prefix(), self.source)
    }
}

/// Whether `text` holds template syntax.
pub fn is_dynamic(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// `{{ expr }}` alone (no other text, one expression) → `expr`.
pub fn sole_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then(|| inner.trim())
}

/// Where `}}` stands in an expression outside its string literals (byte
/// offset). minijinja's lexer takes it for the end of `{{ … }}` and then
/// panics on what follows, so an expression holding one is refused before
/// it is compiled. Nested map literals close with `} }` instead.
pub fn stray_variable_end(expr: &str) -> Option<usize> {
    let bytes = expr.as_bytes();
    let mut quote = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b'}' && bytes.get(i + 1) == Some(&b'}') => return Some(i),
            None => {}
        }
        i += 1;
    }
    None
}

/// An expression (`when`, `assert`, `for_each`), as written. A value wrapped
/// in `{{ }}` is accepted and unwrapped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expr {
    /// The expression text.
    pub source: String,
}

impl Expr {
    /// An expression from its text, unwrapping a surrounding `{{ }}`.
    pub fn new(text: &str) -> Self {
        Expr {
            source: sole_expression(text).unwrap_or(text.trim()).to_owned(),
        }
    }
}

/// The environment every template and expression is checked and rendered in.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.set_auto_escape_callback(|name| {
        if name.starts_with(Escape::Shell.prefix()) {
            AutoEscape::Custom("shell")
        } else if name.starts_with(Escape::Sql.prefix()) {
            AutoEscape::Custom("sql")
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(escape::format_value);
    env.add_filter("raw", |value: Value| {
        Value::from_safe_string(value.to_string())
    });
    env.add_filter("shell_quote", |value: Value| {
        Value::from_safe_string(escape::quote_value(&value))
    });
    env.add_filter("tojson", escape::to_json);
    env.add_filter("ident", escape::ident);
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_end_inside_an_expression_is_found_outside_strings() {
        assert_eq!(stray_variable_end("a }} b"), Some(2));
        assert_eq!(stray_variable_end("{'a': {'b': 1}}"), Some(13));
        assert_eq!(stray_variable_end("{'a': {'b': 1} }"), None);
        assert_eq!(stray_variable_end("x == '}}'"), None);
        assert_eq!(stray_variable_end(r#"x == "a\"}}" "#), None);
        assert_eq!(stray_variable_end("x == 'it''s' }}"), Some(13));
        // Each such expression would make minijinja's lexer panic; refused
        // first, it never reaches it.
        let env = environment();
        for ok in ["{'a': {'b': 1} }", "x == '}}'"] {
            assert!(env.compile_expression(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn sole_expressions() {
        assert_eq!(sole_expression("{{ a.b }}"), Some("a.b"));
        assert_eq!(sole_expression(" {{a}} "), Some("a"));
        assert_eq!(sole_expression("x {{ a }}"), None);
        assert_eq!(sole_expression("{{ a }}{{ b }}"), None);
        assert_eq!(Expr::new("{{ x > 1 }}").source, "x > 1");
        assert_eq!(Expr::new("x > 1").source, "x > 1");
    }
}
