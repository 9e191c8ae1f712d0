//! Context-aware escaping: a value interpolated into a shell script becomes
//! exactly one shell word, and one interpolated into SQL text exactly one
//! SQL literal, whatever it holds.

use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Error, Output, State, Value};

/// Quotes `text` as one shell word (unchanged when it is already safe).
pub fn shell_quote(text: &str) -> String {
    if text.is_empty() {
        return "''".to_owned();
    }
    let safe = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if safe {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// A value as shell words: a list becomes one word per item.
pub(crate) fn quote_value(value: &Value) -> String {
    match value.kind() {
        ValueKind::Seq => match value.try_iter() {
            Ok(items) => items
                .map(|item| quote_value(&item))
                .collect::<Vec<_>>()
                .join(" "),
            Err(_) => shell_quote(&value.to_string()),
        },
        ValueKind::Map => shell_quote(&json_text(value)),
        ValueKind::None | ValueKind::Undefined => "''".to_owned(),
        ValueKind::Bool => if value.is_true() { "true" } else { "false" }.to_owned(),
        _ => shell_quote(&value.to_string()),
    }
}

fn json_text(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

/// The `tojson` filter: compact JSON, usable in any context.
pub(crate) fn to_json(value: Value) -> Result<Value, Error> {
    serde_json::to_string(&value)
        .map(Value::from)
        .map_err(|e| Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))
}

/// Quotes `text` as a SQL string literal: `'it''s'`, or `E'a\\b'` when it
/// holds a backslash (so that it means the same whatever
/// `standard_conforming_strings` says), as libpq's `PQescapeLiteral` does.
pub fn sql_literal(text: &str) -> String {
    let quoted = text.replace('\'', "''");
    if text.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// Quotes `name` as a SQL identifier: `"users"`, `"My ""odd"" table"`. The
/// name is taken exactly (no case folding, no splitting at dots).
pub fn sql_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A value as SQL: a string is a literal, a number stays a number, a list is
/// its items as literals separated by commas (for `IN (…)` and `ARRAY[…]`),
/// a map is its JSON as a literal.
pub(crate) fn sql_value(value: &Value) -> String {
    match value.kind() {
        ValueKind::Seq => match value.try_iter() {
            Ok(items) => items
                .map(|item| sql_value(&item))
                .collect::<Vec<_>>()
                .join(", "),
            Err(_) => sql_literal(&value.to_string()),
        },
        ValueKind::Map => sql_literal(&json_text(value)),
        ValueKind::None | ValueKind::Undefined => "NULL".to_owned(),
        ValueKind::Bool => if value.is_true() { "TRUE" } else { "FALSE" }.to_owned(),
        ValueKind::Number => {
            let text = value.to_string();
            let finite = text.parse::<f64>().is_ok_and(f64::is_finite);
            if finite { text } else { sql_literal(&text) }
        }
        _ => sql_literal(&value.to_string()),
    }
}

/// The `ident` filter: a name (or a list of names, joined by dots into a
/// qualified name) quoted as a SQL identifier. The result is final only in
/// SQL text; elsewhere it is escaped for its context like any value.
pub(crate) fn ident(state: &State, value: Value) -> Result<Value, Error> {
    let invalid = |why: &str| {
        Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("`ident`: {why}"),
        )
    };
    let name = |v: &Value| -> Result<String, Error> {
        match v.as_str() {
            Some("") => Err(invalid("an empty name")),
            Some(s) if s.contains('\0') => Err(invalid("a name with a NUL character")),
            Some(s) => Ok(sql_ident(s)),
            None => Err(invalid(&format!("expected a name, not {}", v.kind()))),
        }
    };
    let quoted = match value.kind() {
        ValueKind::Seq => {
            let parts = value
                .try_iter()?
                .map(|v| name(&v))
                .collect::<Result<Vec<_>, _>>()?;
            if parts.is_empty() {
                return Err(invalid("an empty list"));
            }
            parts.join(".")
        }
        _ => name(&value)?,
    };
    Ok(match state.auto_escape() {
        AutoEscape::Custom("sql") => Value::from_safe_string(quoted),
        _ => Value::from(quoted),
    })
}

/// The formatter of the environment: escapes by the template's context.
pub(crate) fn format_value(out: &mut Output, state: &State, value: &Value) -> Result<(), Error> {
    match state.auto_escape() {
        AutoEscape::Custom("shell") if !value.is_safe() => {
            out.write_str(&quote_value(value))?;
        }
        AutoEscape::Custom("sql") if !value.is_safe() => {
            out.write_str(&sql_value(value))?;
        }
        _ => match value.kind() {
            ValueKind::Bool => out.write_str(if value.is_true() { "true" } else { "false" })?,
            ValueKind::Map | ValueKind::Seq if !value.is_safe() => {
                out.write_str(&json_text(value))?;
            }
            ValueKind::None => {}
            _ => write!(out, "{value}")?,
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("1.4.2"), "1.4.2");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(
            shell_quote("x'; touch /tmp/p; echo '"),
            r"'x'\''; touch /tmp/p; echo '\'''"
        );
        assert_eq!(shell_quote(""), "''");
        assert_eq!(quote_value(&Value::from(vec!["a b", "c"])), "'a b' c");
    }

    #[test]
    fn sql_quoting() {
        assert_eq!(sql_literal("it's"), "'it''s'");
        assert_eq!(
            sql_literal("'; DROP TABLE users; --"),
            "'''; DROP TABLE users; --'"
        );
        assert_eq!(sql_literal(r"a\'b"), r"E'a\\''b'");
        assert_eq!(sql_ident(r#"My "odd" table"#), r#""My ""odd"" table""#);
        assert_eq!(sql_value(&Value::from(vec!["a", "b'c"])), "'a', 'b''c'");
        assert_eq!(sql_value(&Value::from(42)), "42");
        assert_eq!(sql_value(&Value::from(1.5)), "1.5");
        assert_eq!(sql_value(&Value::from(f64::NAN)), "'NaN'");
        assert_eq!(sql_value(&Value::from(true)), "TRUE");
        assert_eq!(sql_value(&Value::from(())), "NULL");
    }

    #[test]
    fn sql_templates() {
        let env = crate::template::environment();
        let render = |name: &str, text: &str, ctx: minijinja::Value| {
            let mut env = env.clone();
            env.add_template_owned(name.to_owned(), text.to_owned())
                .unwrap();
            env.get_template(name).unwrap().render(ctx).unwrap()
        };
        let ctx = minijinja::context! { v => "x'y", t => "Users", q => vec!["public", "t"] };
        assert_eq!(
            render(
                "sql:a",
                "SELECT {{ v }}, {{ t | ident }}, {{ q | ident }}, {{ t | raw }}",
                ctx.clone()
            ),
            r#"SELECT 'x''y', "Users", "public"."t", Users"#
        );
        // Outside SQL, `ident` is quoted again for its context.
        assert_eq!(
            render("shell:a", "echo {{ t | ident }}", ctx),
            r#"echo '"Users"'"#
        );
    }
}
