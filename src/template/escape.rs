//! Context-aware escaping: a value interpolated into a shell script becomes
//! exactly one shell word, whatever it holds.

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

/// The formatter of the environment: escapes by the template's context.
pub(crate) fn format_value(out: &mut Output, state: &State, value: &Value) -> Result<(), Error> {
    match state.auto_escape() {
        AutoEscape::Custom("shell") if !value.is_safe() => {
            out.write_str(&quote_value(value))?;
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
}
