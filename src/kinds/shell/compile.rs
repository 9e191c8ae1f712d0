//! `shell:`

use super::{ShellSpec, ShellStep};
use crate::diagnostic::Diagnostic;
use crate::syntax::Spanned;
use crate::template::Escape;

use crate::kind::compile::{Checker, Scope, StepRef};

/// The default interpreter of `shell` steps.
pub const DEFAULT_INTERPRETER: &[&str] = &["bash", "-eo", "pipefail"];

pub(super) fn compile(
    shell: &Spanned<crate::syntax::StrOr<ShellSpec>>,
    checker: &Checker,
    scope: &Scope,
    diagnostics: &mut Vec<Diagnostic>,
    refs: &mut Vec<StepRef>,
) -> Option<ShellStep> {
    let spec = &shell.value.0;
    // The short form has no position of its own: it is the `shell:` value.
    let run_span = if spec.run.span.line == 0 {
        shell.span
    } else {
        spec.run.span
    };
    if spec.run.value.trim().is_empty() {
        diagnostics.push(Diagnostic::new(run_span, "empty shell script"));
        return None;
    }
    let run = checker.template(
        &spec.run.value,
        run_span,
        Escape::Shell,
        scope,
        diagnostics,
        refs,
    );
    let cwd = spec
        .cwd
        .as_ref()
        .map(|c| checker.template(&c.value, c.span, Escape::None, scope, diagnostics, refs));
    let env = spec
        .env
        .iter()
        .map(|(k, v)| {
            (
                k.value.clone(),
                checker.template(&v.value, v.span, Escape::None, scope, diagnostics, refs),
            )
        })
        .collect();
    let interpreter = match &spec.interpreter {
        None => DEFAULT_INTERPRETER
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        Some(text) => match shlex::split(&text.value) {
            Some(words) if !words.is_empty() => words,
            _ => {
                diagnostics.push(
                    Diagnostic::new(text.span, format!("invalid interpreter `{}`", text.value))
                        .hint("a program and its flags, e.g. `python3` or `sh -e`"),
                );
                return None;
            }
        },
    };
    Some(ShellStep {
        run,
        cwd,
        env,
        interpreter,
    })
}
