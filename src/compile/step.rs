//! One step: its kind, common fields, `uses` expansion and `undo`.

use crate::diagnostic::Diagnostic;
use crate::plan::{ForEach, Section, Step};
use crate::spec::{RetrySpec, StepSpec};
use crate::syntax::Spanned;

use super::retry::compile_retry;
use super::{Library, uses};
use crate::kind::compile::value;
use crate::kind::compile::values::{self, Params};
use crate::kind::compile::{Checker, Scope, StepRef};

/// The kinds a step may have (exactly one per step): the table's, and `uses`.
fn kind_keys() -> Vec<&'static str> {
    crate::kinds::KEYS.iter().copied().chain(["uses"]).collect()
}

/// Everything a step is compiled against.
pub struct StepEnv<'a> {
    /// Checker over the file the step is written in.
    pub checker: &'a Checker<'a>,
    /// Names readable by the step's templates.
    pub scope: Scope<'a>,
    /// `defaults.retry` of the runbook.
    pub default_retry: Option<&'a RetrySpec>,
    /// `defaults.timeout` of the runbook.
    pub default_timeout: Option<std::time::Duration>,
    /// Step templates.
    pub library: &'a Library,
    /// Literal parameters, when compiling a template's step.
    pub params: Option<&'a Params>,
    /// The name of the runbook being compiled (`runbook` steps that would
    /// start it again are cycles).
    pub runbook: &'a str,
}

/// A compiled step (`None` when it has errors) and the `steps.<id>` reads
/// found in it, which are checked either way.
pub struct Compiled {
    /// The step.
    pub step: Option<Step>,
    /// Reads of other steps (implied dependencies).
    pub refs: Vec<StepRef>,
}

/// Compiles one step. `id` was checked by the caller.
pub fn compile_step(
    id: &str,
    spec: &StepSpec,
    section: Section,
    env: &StepEnv,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Compiled> {
    let before = diagnostics.len();
    let mut refs = Vec::new();
    let id_span = spec.id.as_ref().map(|i| i.span).unwrap_or_default();

    match super::kind::present(spec).as_slice() {
        [] => {
            diagnostics.push(
                Diagnostic::new(id_span, format!("step `{id}` has no kind"))
                    .hint(format!("add one of: {}", kind_keys().join(", "))),
            );
            return Some(Compiled { step: None, refs });
        }
        [_] => {}
        [(first, _), (second, span), ..] => {
            diagnostics.push(
                Diagnostic::new(
                    env.checker.key_of(*span, second),
                    format!("step `{id}` has two kinds: `{first}` and `{second}`"),
                )
                .hint("a step does one thing; split it into two steps"),
            );
            return Some(Compiled { step: None, refs });
        }
    }
    if spec.runbook.is_none()
        && let Some((key, _)) = spec.inputs.first()
    {
        diagnostics.push(
            Diagnostic::new(key.span, "`inputs` gives inputs to a `runbook` step")
                .hint("this step has no `runbook`; a `uses` template takes `with:`"),
        );
    }
    if spec.uses.is_none() {
        if let Some((key, _)) = spec.with.first() {
            diagnostics.push(
                Diagnostic::new(key.span, "`with` gives parameters to a `uses` template")
                    .hint("this step has no `uses`"),
            );
        }
    }

    let item_scope = Scope {
        item: true,
        ..env.scope.clone()
    };
    let body_scope = if spec.for_each.is_some() {
        &item_scope
    } else {
        &env.scope
    };
    let result_scope = Scope {
        result: true,
        ..body_scope.clone()
    };

    // A `uses` step is the template's step, compiled in the template's own
    // file and scope; the caller's common fields override it.
    let (base, template, template_retry, literal) = match &spec.uses {
        Some(uses) => match uses::expand(id, uses, spec, env, body_scope, diagnostics, &mut refs) {
            Some(e) => (e.base, Some(e.template), e.retry, Some(e.literal)),
            None => return Some(Compiled { step: None, refs }),
        },
        None => (None, None, None, None),
    };
    let kind = match &base {
        Some(b) => Some(b.kind.clone()),
        None if template.is_some() => None,
        None => super::kind::compile_kind(spec, env, body_scope, diagnostics, &mut refs),
    };

    let when = match &spec.when {
        Some(w) => Some(
            env.checker
                .expr(&w.value.0, w.span, &env.scope, diagnostics, &mut refs),
        ),
        None => base.as_ref().and_then(|b| b.when.clone()),
    };
    let for_each = match &spec.for_each {
        Some(f) => Some(for_each(f, env, diagnostics, &mut refs)),
        None => base.as_ref().and_then(|b| b.for_each.clone()),
    };
    let mut assert = base.as_ref().map(|b| b.assert.clone()).unwrap_or_default();
    for cond in spec.assert.iter().flat_map(|a| &a.0) {
        assert.push(env.checker.expr(
            &cond.value,
            cond.span,
            &result_scope,
            diagnostics,
            &mut refs,
        ));
    }
    let mut outputs = base.as_ref().map(|b| b.outputs.clone()).unwrap_or_default();
    for (name, v) in &spec.outputs {
        let compiled = value::compile(v, env.checker, &result_scope, diagnostics, &mut refs);
        outputs.retain(|(n, _)| *n != name.value);
        outputs.push((name.value.clone(), compiled));
    }
    let retry = match (&base, &spec.retry) {
        (Some(b), None) => b.retry.clone(),
        _ => {
            let merged = merge_retry([
                env.default_retry,
                template_retry.as_ref(),
                spec.retry.as_ref(),
            ]);
            compile_retry(&merged, literal.as_ref().or(env.params), diagnostics).unwrap_or_default()
        }
    };
    let timeout = match (&spec.timeout, &base) {
        (Some(t), _) => values::duration(t, env.params, diagnostics),
        (None, Some(b)) => b.timeout,
        (None, None) => env.default_timeout,
    };
    let continue_on_error = spec
        .continue_on_error
        .or(base.as_ref().map(|b| b.continue_on_error))
        .unwrap_or(false);
    let undo = match &spec.undo {
        Some(u) => {
            let undo_id =
                u.id.as_ref()
                    .map_or_else(|| format!("{id}-undo"), |i| i.value.clone());
            let mut undo_spec = (**u).clone();
            undo_spec.needs = None;
            let compiled = compile_step(&undo_id, &undo_spec, Section::Undo, env, diagnostics)?;
            refs.extend(compiled.refs.into_iter().filter(|r| r.id != id));
            compiled.step.map(Box::new)
        }
        None => base.as_ref().and_then(|b| b.undo.clone()),
    };

    let step = kind
        .filter(|_| diagnostics.len() == before)
        .map(|kind| Step {
            id: id.to_owned(),
            name: spec
                .name
                .clone()
                .or_else(|| base.as_ref().and_then(|b| b.name.clone())),
            section,
            needs: Vec::new(),
            when,
            retry,
            timeout,
            undo,
            continue_on_error,
            for_each,
            assert,
            outputs,
            template,
            kind,
        });
    Some(Compiled { step, refs })
}

fn for_each(
    f: &Spanned<serde_json::Value>,
    env: &StepEnv,
    diagnostics: &mut Vec<Diagnostic>,
    refs: &mut Vec<StepRef>,
) -> ForEach {
    match &f.value {
        serde_json::Value::String(text) => {
            ForEach::Expr(
                env.checker
                    .expr(text, f.span, &env.scope, diagnostics, refs),
            )
        }
        serde_json::Value::Array(_) => {
            match value::compile(f, env.checker, &env.scope, diagnostics, refs) {
                crate::template::TemplatedValue::List(items) => ForEach::Items(items),
                crate::template::TemplatedValue::Literal(serde_json::Value::Array(items)) => {
                    ForEach::Items(
                        items
                            .into_iter()
                            .map(crate::template::TemplatedValue::Literal)
                            .collect(),
                    )
                }
                _ => ForEach::Items(Vec::new()),
            }
        }
        _ => {
            diagnostics.push(Diagnostic::new(
                f.span,
                "`for_each` takes a list or an expression that gives one",
            ));
            ForEach::Items(Vec::new())
        }
    }
}

fn merge_retry(layers: [Option<&RetrySpec>; 3]) -> RetrySpec {
    let mut merged = RetrySpec::default();
    for layer in layers.into_iter().flatten() {
        macro_rules! take {
            ($($f:ident),*) => {$( if layer.$f.is_some() { merged.$f = layer.$f.clone(); } )*};
        }
        take!(attempts, delay, backoff, max_delay, jitter, on, deadline);
    }
    merged
}
