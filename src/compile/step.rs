//! One step: its kind, common fields, `uses` expansion and `undo`.

use std::collections::HashSet;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::plan::{ForEach, Section, Step, TemplateUse};
use crate::spec::{RetrySpec, StepSpec};

use super::kinds;
use super::retry::compile_retry;
use super::scope::{Checker, Scope, StepRef};
use super::values::{self, Params};
use super::{Library, LibraryEntry, value};

/// The kinds a step may have; exactly one per step.
pub const KINDS: &[&str] = &["shell", "sleep", "uses"];

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
}

/// A compiled step (`None` when it has errors) and the `steps.<id>` reads
/// found in it, which are checked either way.
pub struct Compiled {
    /// The step.
    pub step: Option<Step>,
    /// Reads of other steps (implied dependencies).
    pub refs: Vec<StepRef>,
}

/// Names of the kind keys present in a step.
pub fn kinds_of(spec: &StepSpec) -> Vec<(&'static str, crate::spec::yaml::Span)> {
    let mut kinds = Vec::new();
    if let Some(s) = &spec.shell {
        kinds.push(("shell", s.span));
    }
    if let Some(s) = &spec.sleep {
        kinds.push(("sleep", s.span));
    }
    if let Some(s) = &spec.uses {
        kinds.push(("uses", s.span));
    }
    kinds
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

    let kinds = kinds_of(spec);
    match kinds.as_slice() {
        [] => {
            diagnostics.push(
                Diagnostic::new(id_span, format!("step `{id}` has no kind"))
                    .hint(format!("add one of: {}", KINDS.join(", "))),
            );
            return Some(Compiled { step: None, refs });
        }
        [_] => {}
        [(first, _), (second, span), ..] => {
            diagnostics.push(
                Diagnostic::new(
                    *span,
                    format!("step `{id}` has two kinds: `{first}` and `{second}`"),
                )
                .hint("a step does one thing; split it into two steps"),
            );
            return Some(Compiled { step: None, refs });
        }
    }
    if spec.uses.is_none() && !spec.with.is_empty() {
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

    // A `uses` step takes its kind (and defaults for its common fields) from
    // the template; its own common fields win.
    let mut template = None;
    let mut base: Option<&StepSpec> = None;
    let mut params_lit = Params::new();
    if let Some(uses) = &spec.uses {
        match env.library.get(&uses.value) {
            None => {
                let near = did_you_mean(&uses.value, env.library.names());
                diagnostics.push(
                    Diagnostic::new(uses.span, format!("unknown step template `{}`", uses.value))
                        .hint(match near {
                            Some(near) => format!("did you mean `{near}`?"),
                            None => format!(
                                "templates are the files of `steps/`; found: {}",
                                list_or_none(env.library.names())
                            ),
                        }),
                );
                return Some(Compiled { step: None, refs });
            }
            Some(LibraryEntry::Broken(path)) => {
                diagnostics.push(
                    Diagnostic::new(
                        uses.span,
                        format!("step template `{}` has errors", uses.value),
                    )
                    .hint(format!("run `steward validate {path}`")),
                );
                return Some(Compiled { step: None, refs });
            }
            Some(LibraryEntry::Valid { spec: tpl, source }) => {
                let mut params = Vec::new();
                for (name, value) in &spec.with {
                    if !tpl.params.contains_key(name.value.as_str()) {
                        let near =
                            did_you_mean(&name.value, tpl.params.keys().map(|k| k.value.as_str()));
                        diagnostics.push(
                            Diagnostic::new(
                                name.span,
                                format!(
                                    "template `{}` has no parameter `{}`",
                                    uses.value, name.value
                                ),
                            )
                            .hint(match near {
                                Some(near) => format!("did you mean `{near}`?"),
                                None => format!(
                                    "its parameters are: {}",
                                    list_or_none(tpl.params.keys().map(|k| k.value.as_str()))
                                ),
                            }),
                        );
                        continue;
                    }
                    if !value::is_dynamic_value(&value.value) {
                        params_lit.insert(name.value.clone(), value.value.clone());
                    }
                    let v = value::compile(value, env.checker, body_scope, diagnostics, &mut refs);
                    params.push((name.value.clone(), v));
                }
                for (name, param) in &tpl.params {
                    let given = spec.with.contains_key(name.value.as_str());
                    if !given {
                        match &param.default {
                            Some(default) => {
                                params_lit.insert(name.value.clone(), default.clone());
                                params.push((
                                    name.value.clone(),
                                    crate::plan::Value::Literal(default.clone()),
                                ));
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
                            None => params.push((
                                name.value.clone(),
                                crate::plan::Value::Literal(serde_json::Value::Null),
                            )),
                        }
                    }
                }
                template = Some((
                    uses,
                    TemplateUse {
                        name: uses.value.clone(),
                        params,
                    },
                    tpl,
                    source,
                ));
                base = Some(&tpl.step);
            }
        }
    }

    let kind = match &template {
        Some((uses, _, tpl, source)) => {
            // The template's own errors are reported against its file; here
            // only what the parameters make of it.
            let checker = Checker::new(source);
            let names: HashSet<String> = tpl.params.keys().map(|k| k.value.clone()).collect();
            let tscope = Scope {
                params: Some(&names),
                run: true,
                item: spec.for_each.is_some() || tpl.step.for_each.is_some(),
                ..Scope::default()
            };
            let mut inner = Vec::new();
            let mut ignored = Vec::new();
            let kind = kinds::compile_kind(
                &tpl.step,
                &checker,
                &tscope,
                Some(&params_lit),
                &mut inner,
                &mut ignored,
            );
            for d in inner {
                diagnostics.push(Diagnostic::new(
                    uses.span,
                    format!("in template `{}`: {}", uses.value, d.message),
                ));
            }
            kind
        }
        None => kinds::compile_kind(
            spec,
            env.checker,
            body_scope,
            env.params,
            diagnostics,
            &mut refs,
        ),
    };

    let pick = |f: fn(&StepSpec) -> bool| -> &StepSpec {
        match base {
            Some(b) if !f(spec) && f(b) => b,
            _ => spec,
        }
    };

    let when_spec = pick(|s| s.when.is_some());
    let when = when_spec.when.as_ref().map(|w| {
        env.checker
            .expr(&w.value.0, w.span, &env.scope, diagnostics, &mut refs)
    });

    let for_each = spec.for_each.as_ref().map(|f| match &f.value {
        serde_json::Value::String(text) => {
            ForEach::Expr(
                env.checker
                    .expr(text, f.span, &env.scope, diagnostics, &mut refs),
            )
        }
        serde_json::Value::Array(_) => {
            match value::compile(f, env.checker, &env.scope, diagnostics, &mut refs) {
                crate::plan::Value::List(items) => ForEach::Items(items),
                crate::plan::Value::Literal(serde_json::Value::Array(items)) => {
                    ForEach::Items(items.into_iter().map(crate::plan::Value::Literal).collect())
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
    });
    let result_scope = Scope {
        result: true,
        ..body_scope.clone()
    };

    let mut assert = Vec::new();
    for a in base
        .into_iter()
        .chain([spec])
        .filter_map(|s| s.assert.as_ref())
    {
        for cond in &a.0 {
            assert.push(env.checker.expr(
                &cond.value,
                cond.span,
                &result_scope,
                diagnostics,
                &mut refs,
            ));
        }
    }
    let mut outputs: Vec<(String, crate::plan::Value)> = Vec::new();
    for (name, v) in &spec.outputs {
        outputs.push((
            name.value.clone(),
            value::compile(v, env.checker, &result_scope, diagnostics, &mut refs),
        ));
    }

    let retry_spec = merge_retry([
        env.default_retry,
        base.and_then(|b| b.retry.as_ref()),
        spec.retry.as_ref(),
    ]);
    let params_for_typed = if template.is_some() {
        Some(&params_lit)
    } else {
        env.params
    };
    let retry = compile_retry(&retry_spec, params_for_typed, diagnostics).unwrap_or_default();
    let timeout_spec = pick(|s| s.timeout.is_some());
    let timeout = match &timeout_spec.timeout {
        Some(t) => values::duration(t, params_for_typed, diagnostics),
        None => env.default_timeout,
    };
    let continue_on_error = spec
        .continue_on_error
        .or(base.and_then(|b| b.continue_on_error))
        .unwrap_or(false);

    let undo = spec.undo.as_ref().and_then(|u| {
        let undo_id =
            u.id.as_ref()
                .map_or_else(|| format!("{id}-undo"), |i| i.value.clone());
        let mut undo_spec = (**u).clone();
        undo_spec.needs = None;
        let compiled = compile_step(&undo_id, &undo_spec, Section::Undo, env, diagnostics)?;
        refs.extend(compiled.refs.into_iter().filter(|r| r.id != id));
        compiled.step.map(Box::new)
    });

    let step = kind
        .filter(|_| diagnostics.len() == before)
        .map(|kind| Step {
            id: id.to_owned(),
            name: spec
                .name
                .clone()
                .or_else(|| base.and_then(|b| b.name.clone())),
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
            template: template.map(|(_, t, _, _)| t),
            kind,
        });
    Some(Compiled { step, refs })
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

fn list_or_none<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
