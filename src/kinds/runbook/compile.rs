//! `runbook:` (with `inputs:`): a child run of another runbook. The child
//! must exist, its inputs must be known and its required ones given, and no
//! chain of runbooks may lead back to this one.

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::kind::CompileCx;
use crate::kind::compile::value;
use crate::syntax::Spanned;

use super::RunbookStep;

pub(super) fn compile(name: &Spanned<String>, cx: &mut CompileCx<'_, '_>) -> Option<RunbookStep> {
    let step_inputs = cx.step_inputs;
    let diagnostics = &mut *cx.diagnostics;
    let before = diagnostics.len();
    let mut inputs = Vec::new();
    for (key, v) in step_inputs {
        inputs.push((
            key.value.clone(),
            value::compile(v, cx.checker, cx.scope, diagnostics, cx.refs),
        ));
    }
    let Some(child_inputs) = cx.runbooks.inputs_of(&name.value) else {
        let hint = did_you_mean(&name.value, cx.runbooks.names())
            .map(|n| format!("did you mean `{n}`?"))
            .unwrap_or_else(|| {
                "a `runbook` step starts a runbook of this project's `runbooks/`".into()
            });
        diagnostics.push(
            Diagnostic::new(
                name.span,
                format!("no runbook `{}` in this project", name.value),
            )
            .hint(hint),
        );
        return None;
    };
    if !cx.runbook.is_empty()
        && let Some(chain) = cx.runbooks.call_chain(&name.value, cx.runbook)
    {
        let mut whole = vec![cx.runbook.to_owned()];
        whole.extend(chain);
        diagnostics.push(
            Diagnostic::new(name.span, format!("runbook cycle: {}", whole.join(" → ")))
                .hint("a runbook can't start itself, directly or through others"),
        );
    }
    for (key, _) in step_inputs {
        if !child_inputs.contains_key(&key.value) {
            let hint = did_you_mean(&key.value, child_inputs.keys().map(String::as_str))
                .map(|n| format!("did you mean `{n}`?"))
                .unwrap_or_else(|| {
                    let known: Vec<&str> = child_inputs.keys().map(String::as_str).collect();
                    if known.is_empty() {
                        format!("`{}` takes no inputs", name.value)
                    } else {
                        format!("its inputs: {}", known.join(", "))
                    }
                });
            diagnostics.push(
                Diagnostic::new(
                    key.span,
                    format!("runbook `{}` has no input `{}`", name.value, key.value),
                )
                .hint(hint),
            );
        }
    }
    let missing: Vec<&str> = child_inputs
        .iter()
        .filter(|(input, required)| **required && !step_inputs.keys().any(|k| &k.value == *input))
        .map(|(input, _)| input.as_str())
        .collect();
    if !missing.is_empty() {
        diagnostics.push(
            Diagnostic::new(
                name.span,
                format!(
                    "runbook `{}` needs {} `{}`",
                    name.value,
                    if missing.len() == 1 {
                        "input"
                    } else {
                        "inputs"
                    },
                    missing.join("`, `")
                ),
            )
            .hint("give it under `inputs:` of this step"),
        );
    }
    (diagnostics.len() == before).then(|| RunbookStep {
        name: name.value.clone(),
        inputs,
    })
}
