//! Typed scalars of the spec: durations, counts and flags. Inside a step
//! template they may be `{{ params.x }}`, resolved when `uses` expands.

use std::time::Duration;

use indexmap::IndexMap;

use crate::diagnostic::Diagnostic;
use crate::spec::{Scalar, Spanned};

/// Literal parameter values of a `uses` expansion, for typed fields.
pub type Params = IndexMap<String, serde_json::Value>;

/// Resolves `{{ params.x }}` in a typed field; other text is returned as is.
pub fn resolve(
    scalar: &Spanned<Scalar>,
    params: Option<&Params>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<String> {
    let text = &scalar.value.0;
    if !crate::template::is_dynamic(text) {
        return Some(text.clone());
    }
    let Some(params) = params else {
        diagnostics.push(
            Diagnostic::new(
                scalar.span,
                "this field must be known before the run starts",
            )
            .hint("templates are allowed here only inside a step template, over `params`"),
        );
        return None;
    };
    let env = crate::template::environment();
    let ctx = serde_json::json!({ "params": params });
    match env.render_str(text, ctx) {
        Ok(rendered) => Some(rendered),
        Err(e) => {
            diagnostics.push(
                Diagnostic::new(scalar.span, format!("can't resolve this field: {e}")).hint(
                    "typed fields (counts, durations) of a step template may read only `params` given as literals in `with:`",
                ),
            );
            None
        }
    }
}

/// Parses `30s`, `5m`, `1h30m`, `250ms`, `2 days`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.chars().all(|c| c.is_ascii_digit()) && !text.is_empty() {
        return Err(format!("`{text}` has no unit"));
    }
    humantime::parse_duration(text).map_err(|e| format!("`{text}` is not a duration ({e})"))
}

/// A duration field.
pub fn duration(
    scalar: &Spanned<Scalar>,
    params: Option<&Params>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Duration> {
    let text = resolve(scalar, params, diagnostics)?;
    match parse_duration(&text) {
        Ok(d) => Some(d),
        Err(message) => {
            diagnostics.push(
                Diagnostic::new(scalar.span, format!("bad duration: {message}"))
                    .hint("write a number and a unit: `500ms`, `30s`, `5m`, `2h`, `1h30m`, `1d`"),
            );
            None
        }
    }
}

/// A whole number field with a lower bound.
pub fn count(
    scalar: &Spanned<Scalar>,
    params: Option<&Params>,
    min: u64,
    what: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<u64> {
    let text = resolve(scalar, params, diagnostics)?;
    match text.trim().parse::<u64>() {
        Ok(n) if n >= min => Some(n),
        Ok(n) => {
            diagnostics.push(Diagnostic::new(
                scalar.span,
                format!("{what} must be at least {min}, not {n}"),
            ));
            None
        }
        Err(_) => {
            diagnostics.push(Diagnostic::new(
                scalar.span,
                format!("{what} must be a whole number, not `{text}`"),
            ));
            None
        }
    }
}

/// A boolean field.
pub fn flag(
    scalar: &Spanned<Scalar>,
    params: Option<&Params>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<bool> {
    let text = resolve(scalar, params, diagnostics)?;
    match text.trim() {
        "true" | "True" => Some(true),
        "false" | "False" => Some(false),
        other => {
            diagnostics.push(Diagnostic::new(
                scalar.span,
                format!("expected `true` or `false`, not `{other}`"),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("5").unwrap_err().contains("no unit"));
    }
}
