//! `uses:` — a step template from `steps/`, its parameters, and its step
//! compiled in its own file and scope.

use std::collections::HashSet;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::plan::{Step, TemplateUse};
use crate::spec::StepSpec;
use crate::syntax::Spanned;
use crate::template::Escape;
use crate::template::TemplatedValue as Value;

use super::LibraryEntry;
use super::step::{StepEnv, compile_step};
use crate::kind::compile::value;
use crate::kind::compile::values::{self, Params};
use crate::kind::compile::{Checker, Scope, StepRef};

/// A template expanded for one step.
pub struct Expanded {
    /// The template's step, compiled with its parameters (`None` if broken).
    pub base: Option<Step>,
    /// Name and parameters, for the plan.
    pub template: TemplateUse,
    /// The template's own `retry:`, merged under the caller's.
    pub retry: Option<crate::spec::RetrySpec>,
    /// What the step's merged typed fields may read: the parameters known
    /// before the run (literals, or read from `inputs`), and the caller's.
    pub literal: Params,
}

/// Resolves `uses` and `with`, and compiles the template's step. Problems
/// inside the template are reported at `uses`, prefixed with its name.
pub fn expand(
    id: &str,
    uses: &Spanned<String>,
    spec: &StepSpec,
    env: &StepEnv,
    caller_scope: &Scope,
    diagnostics: &mut Vec<Diagnostic>,
    refs: &mut Vec<StepRef>,
) -> Option<Expanded> {
    let (tpl, source) = match env.library.get(&uses.value) {
        None => {
            let near = did_you_mean(&uses.value, env.library.names());
            diagnostics.push(
                Diagnostic::new(uses.span, format!("unknown step template `{}`", uses.value)).hint(
                    match near {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!(
                            "templates are the files of `steps/`; found: {}",
                            list_or_none(env.library.names())
                        ),
                    },
                ),
            );
            return None;
        }
        Some(LibraryEntry::Broken(path)) => {
            diagnostics.push(
                Diagnostic::new(
                    uses.span,
                    format!("step template `{}` has errors", uses.value),
                )
                .hint(format!("run `steward validate {path}`")),
            );
            return None;
        }
        Some(LibraryEntry::Valid { spec, source }) => (spec, source),
    };

    let mut params = Vec::new();
    let mut literal = Params::new();
    for (name, given) in &spec.with {
        let Some(param) = tpl.params.get(name.value.as_str()) else {
            let names = || tpl.params.keys().map(|k| k.value.as_str());
            diagnostics.push(
                Diagnostic::new(
                    name.span,
                    format!(
                        "template `{}` has no parameter `{}`",
                        uses.value, name.value
                    ),
                )
                .hint(match did_you_mean(&name.value, names()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("its parameters are: {}", list_or_none(names())),
                }),
            );
            continue;
        };
        if !value::is_dynamic_value(&given.value) {
            literal.insert(name.value.clone(), given.value.clone());
        } else if let Some(known) = known_value(&given.value, env.params) {
            literal.insert(name.value.clone(), known);
        }
        let escape = if param.script {
            Escape::Shell
        } else {
            Escape::None
        };
        let v = value::compile_as(given, escape, env.checker, caller_scope, diagnostics, refs);
        params.push((name.value.clone(), v));
    }
    for (name, param) in &tpl.params {
        if spec.with.contains_key(name.value.as_str()) {
            continue;
        }
        match &param.default {
            Some(default) => {
                literal.insert(name.value.clone(), default.clone());
                params.push((name.value.clone(), Value::Literal(default.clone())));
            }
            None if param.required != Some(false) => diagnostics.push(
                Diagnostic::new(
                    uses.span,
                    format!(
                        "template `{}` needs the parameter `{}`",
                        uses.value, name.value
                    ),
                )
                .hint(format!("add `with: {{ {}: … }}`", name.value)),
            ),
            None => params.push((name.value.clone(), Value::Literal(serde_json::Value::Null))),
        }
    }

    let checker = Checker::new(source);
    let names: HashSet<String> = tpl.params.keys().map(|k| k.value.clone()).collect();
    let own = values::with_params(&literal);
    let tenv = StepEnv {
        checker: &checker,
        scope: Scope {
            params: Some(&names),
            run: true,
            item: spec.for_each.is_some() || tpl.step.for_each.is_some(),
            ..Scope::default()
        },
        default_retry: env.default_retry,
        default_timeout: env.default_timeout,
        library: env.library,
        params: Some(&own),
        runbook: env.runbook,
    };
    let mut inner = Vec::new();
    let base = compile_step(id, &tpl.step, crate::plan::Section::Main, &tenv, &mut inner)
        .and_then(|c| c.step);
    for d in inner {
        diagnostics.push(
            Diagnostic::new(
                uses.span,
                format!("in template `{}`: {}", uses.value, d.message),
            )
            .maybe_hint(d.hint),
        );
    }
    // The caller's `retry` is merged with the template's: it may read both.
    let mut known = env.params.cloned().unwrap_or_default();
    known.extend(own);
    Some(Expanded {
        base,
        template: TemplateUse {
            name: uses.value.clone(),
            params,
        },
        retry: tpl.step.retry.clone(),
        literal: known,
    })
}

/// A `with:` string that reads only what is known before the run starts
/// (`"{{ inputs.attempts }}"`), rendered, so that the template's typed
/// fields can use it.
fn known_value(given: &serde_json::Value, known: Option<&Params>) -> Option<serde_json::Value> {
    let (serde_json::Value::String(text), Some(known)) = (given, known) else {
        return None;
    };
    crate::template::environment()
        .render_str(text, known)
        .ok()
        .map(serde_json::Value::String)
}

pub(super) fn list_or_none<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
