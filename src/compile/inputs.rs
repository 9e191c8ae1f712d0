//! Input declarations: a type, a default that fits it, an enum and a pattern.

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::inputs::{check_value, full_match};
use crate::plan::{InputDecl, InputType};
use crate::spec::InputSpec;
use crate::syntax::Spanned;

/// Validates one input declaration.
pub fn compile_input(
    name: &Spanned<String>,
    spec: &InputSpec,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<InputDecl> {
    let before = diagnostics.len();
    if !is_identifier(name) {
        diagnostics.push(
            Diagnostic::new(name.span, format!("invalid input name `{}`", name.value)).hint(
                "input names are lower-case words: letters, digits and `_`, starting with a letter",
            ),
        );
    }
    let kind = match &spec.kind {
        None => InputType::String,
        Some(kind) => match InputType::from_name(kind) {
            Some(kind) => kind,
            None => {
                let near = did_you_mean(kind, InputType::NAMES.iter().copied());
                diagnostics.push(
                    Diagnostic::new(kind.span, format!("unknown input type `{}`", kind.value))
                        .hint(match near {
                            Some(near) => format!("did you mean `{near}`?"),
                            None => "the types are string, int, number and bool".to_owned(),
                        }),
                );
                return None;
            }
        },
    };
    let pattern = spec.pattern.as_ref().and_then(|p| match full_match(p) {
        Ok(_) => Some(p.value.clone()),
        Err(e) => {
            diagnostics.push(
                Diagnostic::new(p.span, "invalid pattern").hint(
                    e.to_string()
                        .lines()
                        .last()
                        .unwrap_or("not a regular expression")
                        .trim()
                        .to_owned(),
                ),
            );
            None
        }
    });
    if pattern.is_some() && kind != InputType::String {
        if let Some(p) = &spec.pattern {
            diagnostics.push(Diagnostic::new(
                p.span,
                format!(
                    "`pattern` applies to strings, but this input is {}",
                    kind.name()
                ),
            ));
        }
    }
    let mut decl = InputDecl {
        kind,
        description: spec.description.clone(),
        default: None,
        required: spec.required.unwrap_or(spec.default.is_none()),
        allowed: None,
        pattern,
    };
    if let Some(allowed) = &spec.allowed {
        for value in &allowed.value {
            if let Err(problem) = check_value(&decl, value) {
                diagnostics.push(Diagnostic::new(
                    allowed.span,
                    format!("enum value {value} doesn't fit: {problem}"),
                ));
            }
        }
        decl.allowed = Some(allowed.value.clone());
    }
    if let Some(default) = &spec.default {
        if spec.required == Some(true) {
            diagnostics.push(
                Diagnostic::new(default.span, "a required input's default is never used").hint(
                    "drop `required: true` (an input with a default is optional) or the default",
                ),
            );
        }
        match check_value(&decl, &default.value) {
            Ok(value) => decl.default = Some(value),
            Err(problem) => diagnostics.push(Diagnostic::new(
                default.span,
                format!(
                    "default of input `{}` doesn't fit its declaration: {problem}",
                    name.value
                ),
            )),
        }
    }
    (diagnostics.len() == before).then_some(decl)
}

/// `[a-z][a-z0-9_]*`: usable as `inputs.<name>` in a template.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
