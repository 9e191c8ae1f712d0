//! `approval:`

use super::{ApprovalSpec, ApprovalStep};
use crate::diagnostic::Diagnostic;
use crate::syntax::{Spanned, StrOr};
use crate::template::Escape;

use crate::kind::compile::values::{self, Params};
use crate::kind::compile::{Checker, Scope, StepRef};

pub(super) fn compile(
    approval: &Spanned<StrOr<ApprovalSpec>>,
    checker: &Checker,
    scope: &Scope,
    params: Option<&Params>,
    diagnostics: &mut Vec<Diagnostic>,
    refs: &mut Vec<StepRef>,
) -> Option<ApprovalStep> {
    let before = diagnostics.len();
    let spec: &ApprovalSpec = &approval.value;
    // The short form's message has no position of its own: the key's.
    let message_span = if spec.message.span == Default::default() {
        approval.span
    } else {
        spec.message.span
    };
    if spec.message.value.trim().is_empty() {
        diagnostics.push(
            Diagnostic::new(message_span, "an approval needs a message")
                .hint("say what is to be approved, e.g. `approval: Restore {{ inputs.backup }} into production?`"),
        );
    }
    let message = checker.template(
        &spec.message.value,
        message_span,
        Escape::None,
        scope,
        diagnostics,
        refs,
    );
    let mut approvers = Vec::new();
    for who in &spec.approvers {
        let name = who.value.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            diagnostics.push(
                Diagnostic::new(who.span, format!("invalid approver `{}`", who.value))
                    .hint("approvers are user names, without spaces"),
            );
        } else {
            approvers.push(name.to_owned());
        }
    }
    // Outside a step template, a templated timeout is rendered when the step
    // starts, so that a runbook can take it as an input.
    let (timeout, timeout_from) = match &spec.timeout {
        Some(t) if !values::in_template(params) && crate::template::is_dynamic(&t.value.0) => {
            let template =
                checker.template(&t.value.0, t.span, Escape::None, scope, diagnostics, refs);
            (None, Some(template))
        }
        Some(t) => (values::duration(t, params, diagnostics), None),
        None => (None, None),
    };
    (diagnostics.len() == before).then_some(ApprovalStep {
        message,
        approvers,
        timeout,
        timeout_from,
    })
}
