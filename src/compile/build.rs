//! A runbook's spec to its [`Plan`], in named steps: its name, inputs,
//! secrets, vars, environment, concurrency, typed fields, the ids of its
//! steps, the steps of each list with their DAG, and its outputs.

use std::collections::HashSet;

use indexmap::IndexMap;
use sha2::{Digest, Sha256};

use crate::diagnostic::Diagnostic;
use crate::kind::compile::values::{self, Params};
use crate::kind::compile::{Checker, Scope, value};
use crate::plan::{Concurrency, InputDecl, OnConflict, Plan, Section, Step};
use crate::spec::{ConcurrencySpec, RunbookSpec, TriggersSpec};
use crate::syntax::{Spanned, StrOr};
use crate::template::{Escape, Template, TemplatedValue};

use super::ids::{self, Ids, Lists};
use super::{Library, Source, dag, inputs, is_env_name, is_identifier, retry, step, valid_id};

/// Compiles `spec`; every problem goes to `diagnostics` (the plan is only
/// good when there are none).
pub fn build(
    spec: &RunbookSpec,
    source: Source,
    library: &Library,
    values: Option<&IndexMap<String, serde_json::Value>>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Plan> {
    let checker = Checker::new(source.text);
    let name = runbook_name(spec, source, diagnostics);
    let inputs = compile_inputs(spec, diagnostics);
    let input_names: HashSet<String> = spec.inputs.keys().map(|k| k.value.clone()).collect();
    let known = known_inputs(&inputs, values);
    let secret_names = check_secrets(spec, diagnostics);

    let mut refs = Vec::new();
    let (vars, var_names) = compile_vars(
        spec,
        &checker,
        &input_names,
        &secret_names,
        diagnostics,
        &mut refs,
    );
    let base_scope = Scope {
        inputs: Some(&input_names),
        secrets: Some(&secret_names),
        vars: Some(&var_names),
        run: true,
        ..Scope::default()
    };
    let env = spec
        .env
        .iter()
        .map(|(k, v)| {
            let t = checker.template(
                &v.value,
                v.span,
                Escape::None,
                &base_scope,
                diagnostics,
                &mut refs,
            );
            (k.value.clone(), t)
        })
        .collect();
    let concurrency = spec
        .concurrency
        .as_ref()
        .map(|c| compile_concurrency(c, &checker, &base_scope, diagnostics, &mut refs));
    let timeout = spec
        .timeout
        .as_ref()
        .and_then(|t| values::duration(t, Some(&known), diagnostics));
    let max_parallel = spec
        .max_parallel
        .as_ref()
        .and_then(|m| values::count(m, Some(&known), 1, "max_parallel", diagnostics))
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let default_timeout = spec
        .defaults
        .timeout
        .as_ref()
        .and_then(|t| values::duration(t, Some(&known), diagnostics));
    if let Some(retry) = &spec.defaults.retry {
        retry::compile_retry(retry, Some(&known), diagnostics);
    }

    let lists: Lists = [
        ("steps", Section::Main, &spec.steps),
        ("on_failure", Section::OnFailure, &spec.on_failure),
        ("finally", Section::Finally, &spec.finally),
    ];
    let ids = ids::check(&lists, diagnostics);
    let step_env = step::StepEnv {
        checker: &checker,
        scope: Scope {
            steps: true,
            ..base_scope.clone()
        },
        default_retry: spec.defaults.retry.as_ref(),
        default_timeout,
        library,
        params: Some(&known),
        runbook: &name,
    };
    let mut sections = compile_sections(&lists, &ids, &step_env, diagnostics).into_iter();
    let outputs = compile_outputs(spec, &checker, &base_scope, &ids.main, diagnostics);
    check_schedules(&spec.triggers, diagnostics);

    Some(Plan {
        name,
        description: spec.description.clone(),
        tags: spec.tags.clone(),
        source_path: source.path.to_owned(),
        source_sha256: hex::encode(Sha256::digest(source.text.as_bytes())),
        inputs,
        secrets: spec.secrets.iter().map(|s| s.value.clone()).collect(),
        vars,
        env,
        concurrency,
        timeout,
        max_parallel,
        triggers: spec.triggers.clone(),
        steps: sections.next().unwrap_or_default(),
        on_failure: sections.next().unwrap_or_default(),
        finally: sections.next().unwrap_or_default(),
        outputs,
    })
}

/// `name:`, or the file's stem.
fn runbook_name(spec: &RunbookSpec, source: Source, diagnostics: &mut Vec<Diagnostic>) -> String {
    let Some(name) = &spec.name else {
        return source.stem.to_owned();
    };
    if !valid_id(name) {
        diagnostics.push(
            Diagnostic::new(name.span, format!("invalid runbook name `{}`", name.value))
                .hint("runbook names are `[a-z0-9_-]+`"),
        );
    }
    name.value.clone()
}

/// The declared inputs that are valid.
fn compile_inputs(
    spec: &RunbookSpec,
    diagnostics: &mut Vec<Diagnostic>,
) -> IndexMap<String, InputDecl> {
    let mut inputs = IndexMap::new();
    for (input_name, decl) in &spec.inputs {
        if let Some(decl) = decl
            .get()
            .and_then(|d| inputs::compile_input(input_name, d, diagnostics))
        {
            inputs.insert(input_name.value.clone(), decl);
        }
    }
    inputs
}

/// What typed fields (durations, counts, flags) may read: the values given
/// for the run, else the inputs' defaults.
fn known_inputs(
    inputs: &IndexMap<String, InputDecl>,
    values: Option<&IndexMap<String, serde_json::Value>>,
) -> Params {
    let known: serde_json::Map<String, serde_json::Value> = inputs
        .iter()
        .filter_map(|(name, decl)| {
            values
                .and_then(|v| v.get(name))
                .or(decl.default.as_ref())
                .map(|v| (name.clone(), v.clone()))
        })
        .collect();
    IndexMap::from([("inputs".to_owned(), serde_json::Value::Object(known))])
}

/// The secrets' names: environment variable names, each listed once.
fn check_secrets(spec: &RunbookSpec, diagnostics: &mut Vec<Diagnostic>) -> HashSet<String> {
    let mut names = HashSet::new();
    for secret in &spec.secrets {
        if !is_env_name(secret) {
            diagnostics.push(
                Diagnostic::new(
                    secret.span,
                    format!("invalid secret name `{}`", secret.value),
                )
                .hint("secret names are environment variable names: `[A-Za-z_][A-Za-z0-9_]*`"),
            );
        }
        if !names.insert(secret.value.clone()) {
            diagnostics.push(Diagnostic::new(
                secret.span,
                format!("secret `{}` is listed twice", secret.value),
            ));
        }
    }
    names
}

/// `vars:`, in order: each may read the ones above it.
fn compile_vars(
    spec: &RunbookSpec,
    checker: &Checker,
    input_names: &HashSet<String>,
    secret_names: &HashSet<String>,
    diagnostics: &mut Vec<Diagnostic>,
    refs: &mut Vec<crate::kind::compile::StepRef>,
) -> (Vec<(String, TemplatedValue)>, Vec<String>) {
    let mut names: Vec<String> = Vec::new();
    let mut vars = Vec::new();
    for (var, v) in &spec.vars {
        if !is_identifier(var) {
            diagnostics.push(Diagnostic::new(
                var.span,
                format!("invalid var name `{}`", var.value),
            ));
        }
        let scope = Scope {
            inputs: Some(input_names),
            secrets: Some(secret_names),
            vars: Some(&names),
            run: true,
            ..Scope::default()
        };
        vars.push((
            var.value.clone(),
            value::compile(v, checker, &scope, diagnostics, refs),
        ));
        names.push(var.value.clone());
    }
    (vars, names)
}

/// `concurrency:`: the key (a template) and what a second run does.
fn compile_concurrency(
    c: &Spanned<StrOr<ConcurrencySpec>>,
    checker: &Checker,
    scope: &Scope,
    diagnostics: &mut Vec<Diagnostic>,
    refs: &mut Vec<crate::kind::compile::StepRef>,
) -> Concurrency {
    let on_conflict = match c
        .value
        .on_conflict
        .as_ref()
        .map(|o| (o.value.as_str(), o.span))
    {
        None | Some(("wait", _)) => OnConflict::Wait,
        Some(("fail", _)) => OnConflict::Fail,
        Some((other, span)) => {
            diagnostics.push(
                Diagnostic::new(span, format!("unknown on_conflict `{other}`"))
                    .hint("`wait` (default) or `fail`"),
            );
            OnConflict::Wait
        }
    };
    let key: Template =
        checker.template(&c.value.key, c.span, Escape::None, scope, diagnostics, refs);
    Concurrency { key, on_conflict }
}

/// The steps of each list, with the `needs` of each resolved into the DAG.
fn compile_sections(
    lists: &Lists,
    ids: &Ids,
    env: &step::StepEnv,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Vec<Step>> {
    let mut sections = Vec::new();
    for ((list, section, steps), list_ids) in lists.iter().zip(&ids.per_list) {
        let mut compiled = Vec::new();
        for (s, id) in steps.iter().zip(list_ids) {
            let (Some(s), Some(id)) = (s.get(), id) else {
                continue;
            };
            if let Some(c) = step::compile_step(&id.value, s, *section, env, diagnostics) {
                compiled.push((id, s, c));
            }
        }
        let nodes: Vec<dag::Node> = compiled
            .iter()
            .map(|(id, s, c)| dag::Node {
                id,
                needs: s.needs.as_deref(),
                refs: &c.refs,
            })
            .collect();
        let readable = |id: &str| *section != Section::Main && ids.main.contains(id);
        let elsewhere = dag::Elsewhere {
            lists: &ids.where_is,
            readable: &readable,
        };
        let needs = dag::resolve(&nodes, list, &elsewhere, diagnostics);
        drop(nodes);
        sections.push(
            compiled
                .into_iter()
                .zip(needs)
                .filter_map(|((_, _, c), needs)| c.step.map(|step| Step { needs, ..step }))
                .collect(),
        );
    }
    sections
}

/// `outputs:`: templates over the main steps.
fn compile_outputs(
    spec: &RunbookSpec,
    checker: &Checker,
    base_scope: &Scope,
    main_ids: &HashSet<String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<(String, TemplatedValue)> {
    let scope = Scope {
        steps: true,
        ..base_scope.clone()
    };
    let mut refs = Vec::new();
    let outputs = spec
        .outputs
        .iter()
        .map(|(name, v)| {
            (
                name.value.clone(),
                value::compile(v, checker, &scope, diagnostics, &mut refs),
            )
        })
        .collect();
    for r in refs {
        if !main_ids.contains(&r.id) {
            diagnostics.push(Diagnostic::new(
                r.span,
                format!("`steps.{}` names an unknown step", r.id),
            ));
        }
    }
    outputs
}

/// `triggers.schedule`: each cron expression and time zone must parse. Only
/// `steward serve` acts on them; checking here finds mistakes at `validate`.
fn check_schedules(triggers: &TriggersSpec, diagnostics: &mut Vec<Diagnostic>) {
    let Some(schedules) = &triggers.schedule else {
        return;
    };
    for entry in &schedules.0 {
        let spec = &entry.value.0;
        if let Err(e) = crate::schedule::Schedule::parse(&spec.cron, spec.timezone.as_deref()) {
            diagnostics
                .push(Diagnostic::new(entry.span, format!("schedule: {e}")).maybe_hint(e.hint()));
        }
    }
}
