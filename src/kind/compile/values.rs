//! Typed scalars of the spec: durations, counts and flags. They may be
//! templates over what is known before the run starts: `{{ params.x }}`
//! inside a step template, resolved when `uses` expands, and
//! `{{ inputs.x }}` elsewhere, resolved with the run's inputs.

use std::time::Duration;

use indexmap::IndexMap;

use crate::diagnostic::Diagnostic;
use crate::syntax::{Scalar, Spanned};

/// What typed fields may read, by root name: `params` (the literal
/// parameters of a `uses` expansion) inside a step template; `inputs` (the
/// run's values, or the declared defaults when compiling without a run)
/// elsewhere. [`with_params`] wraps a template's parameters.
pub type Params = IndexMap<String, serde_json::Value>;

/// Whether typed fields are being compiled inside a step template (their
/// context holds `params`), where they can't be left to run time.
pub fn in_template(params: Option<&Params>) -> bool {
    params.is_some_and(|p| p.contains_key("params"))
}

/// The typed-field context of a step template: its literal parameters.
pub fn with_params(params: &IndexMap<String, serde_json::Value>) -> Params {
    let map: serde_json::Map<String, serde_json::Value> =
        params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    IndexMap::from([("params".to_owned(), serde_json::Value::Object(map))])
}

/// Resolves `{{ params.x }}` or `{{ inputs.x }}` in a typed field; other
/// text is returned as is.
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
            .hint(
                "templates are allowed here only over `inputs`, or `params` inside a step template",
            ),
        );
        return None;
    };
    let env = crate::template::environment();
    match env.render_str(text, params) {
        Ok(rendered) => Some(rendered),
        Err(e) => {
            let hint = if params.contains_key("params") {
                "typed fields (counts, durations) of a step template may read only `params` given as literals or from `inputs` in `with:`"
            } else {
                "typed fields (counts, durations, flags) may read only `inputs`, and only inputs with a default (or given a value), as they are set when the run starts"
            };
            diagnostics.push(
                Diagnostic::new(scalar.span, format!("can't resolve this field: {e}")).hint(hint),
            );
            None
        }
    }
}

/// A duration field.
pub fn duration(
    scalar: &Spanned<Scalar>,
    params: Option<&Params>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Duration> {
    let text = resolve(scalar, params, diagnostics)?;
    match crate::duration::parse(&text) {
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
